# ONNX model format: generate the protobuf-c bindings for onnx.proto (committed under
# third_party/onnx) into ${CMAKE_BINARY_DIR}/gen and add them to the library.
find_program(ML_PROTOC_C protoc-c REQUIRED)
set(ML_ONNX_PROTO ${CMAKE_SOURCE_DIR}/third_party/onnx/onnx.proto)
set(ML_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${ML_GEN_DIR})
add_custom_command(
  OUTPUT ${ML_GEN_DIR}/onnx.pb-c.c ${ML_GEN_DIR}/onnx.pb-c.h
  COMMAND ${ML_PROTOC_C} --c_out=${ML_GEN_DIR} -I${CMAKE_SOURCE_DIR}/third_party/onnx ${ML_ONNX_PROTO}
  DEPENDS ${ML_ONNX_PROTO}
  COMMENT "protoc-c: onnx.proto -> onnx.pb-c.c"
  VERBATIM)
set_source_files_properties(${ML_GEN_DIR}/onnx.pb-c.c PROPERTIES GENERATED TRUE
  COMPILE_OPTIONS "-Wno-unused-parameter")
list(APPEND ML_LIB_EXTRA_SRC ${ML_GEN_DIR}/onnx.pb-c.c ${ML_GEN_DIR}/onnx.pb-c.h)
