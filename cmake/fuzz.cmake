# libFuzzer targets (fuzz/fuzz_*.c), one per parser: configure with
#   CC=clang cmake -S . -B build-fuzz -DML_FUZZ=ON
# UBSan does not recover: undefined behaviour aborts the run like an ASan report does
# (fuzz/run.sh also sets UBSAN_OPTIONS=halt_on_error=1 and fails on any sanitizer report).
option(ML_FUZZ "Build libFuzzer targets (needs clang and libomp)" OFF)
if(ML_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
  file(GLOB ML_FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
  foreach(f ${ML_FUZZ_SRC})
    get_filename_component(name ${f} NAME_WE)
    add_executable(${name} ${f})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${name} PRIVATE memlev_static)
    if(name STREQUAL "fuzz_config")
      target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src/cli/opts.c ${CMAKE_SOURCE_DIR}/src/cli/progress.c
                                     ${CMAKE_SOURCE_DIR}/src/cli/common.c)
    endif()
  endforeach()
endif()
