# Hot device kernels: no errno semantics; with GCC, vectorise `omp simd` loops regardless of
# the cost model. Results stay bit-identical for any thread count (same arithmetic per device).
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(ML_KERNEL_FLAGS "-fno-math-errno;-fno-trapping-math;-fsimd-cost-model=unlimited")
else()
  set(ML_KERNEL_FLAGS "-fno-math-errno;-fno-trapping-math")
endif()
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/device/population.c ${CMAKE_SOURCE_DIR}/src/device/train.c PROPERTIES COMPILE_OPTIONS "${ML_KERNEL_FLAGS}")
