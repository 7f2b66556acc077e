# Hot device kernels: allow glibc's vectorised libm (libmvec) by dropping errno semantics.
# Results stay bit-identical for any thread count (the same code runs for every device).
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/device/population.c PROPERTIES COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math;-fsimd-cost-model=unlimited")
