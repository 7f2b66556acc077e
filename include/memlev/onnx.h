/* ONNX model files: import into and export from the network engine (nn.h).
 * Thread safety: loading and saving different nets may run concurrently; saving reads
 * the net, so nothing may change it meanwhile. */
#ifndef MEMLEV_ONNX_H
#define MEMLEV_ONNX_H
#include "memlev/api.h"

#include "memlev/api.h"
#include <stddef.h>
#include "memlev/error.h"
#include "memlev/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Load an ONNX model (opsets 7..18 of the default domain; see docs/onnx.md for the ops)
 * into a new finalized net. Initializers may be raw_data or typed fields (float, double,
 * int32, int64); Constant nodes and nodes whose inputs are all constants are folded.
 * The graph needs one float input of 1 to 4 dims, batch first (N,C,H,W for images; N may
 * be symbolic), and one output.
 * *out is owned by the caller (ml_net_free) and untouched on failure.
 * Errors (err->msg is one line starting with the path):
 *   ML_EIO      the file cannot be read
 *   ML_EFORMAT  malformed protobuf, wrong types, undefined inputs, bad sizes or dims
 *   ML_EUNSUPP  valid ONNX memlev does not run: "path: node 'n': unsupported op 'Tanh'"
 *   ML_ENOMEM   out of memory */
ML_API ml_status ml_onnx_load(const char *path, ml_net **out, ml_error *err);

/* The same from len bytes in memory; name stands for the path in messages. */
ML_API ml_status ml_onnx_load_buffer(const void *data, size_t len, const char *name, ml_net **out, ml_error *err);

/* Write net as an ONNX model (IR version 7, opset 13, initializers as little-endian
 * raw_data, batch axis symbolic "N") that onnx.checker accepts and PyTorch/onnxruntime
 * load. net must have its input and output set (finalized or not: the output shape is
 * recorded when known). Only tensors that nodes use are written. The file is written
 * atomically (temp file, then rename): no partial file on failure.
 * Errors: ML_EIO (cannot write), ML_EINVAL (net not exportable), ML_ENOMEM. */
ML_API ml_status ml_onnx_save(const ml_net *net, const char *path, ml_error *err);

/* The op types of the model at path that memlev does not run (unknown ops or domains),
 * each named once in node order, written to list as "Tanh, Upsample" (truncated to len;
 * list may be NULL when len is 0); *count gets how many. The model may still be refused
 * for an attribute or shape: ml_onnx_load decides. Errors: ML_EIO, ML_EFORMAT, ML_ENOMEM. */
ML_API ml_status ml_onnx_unsupported_ops(const char *path, char *list, size_t len, int *count, ml_error *err);

/* A tensor read from an ONNX TensorProto file (the input_0.pb / output_0.pb files of
 * ONNX's backend test suite). */
typedef struct ml_onnx_tensor {
    char *name;          /* owned; "" when the file names none */
    int ndim;            /* 0..8 */
    int64_t dims[8];
    size_t n;            /* number of elements */
    float *data;         /* owned, n values (float, double, int32, int64 converted) */
    int64_t *ints;       /* owned, the exact values of an int32/int64 tensor, else NULL */
} ml_onnx_tensor;

/* Read one TensorProto file into *out (caller frees with ml_onnx_tensor_clear; cleared on
 * failure). Errors: ML_EIO unreadable, ML_EFORMAT malformed, ML_EUNSUPP other element
 * types (string, float16, ...), ML_ENOMEM. */
ML_API ml_status ml_onnx_tensor_load(const char *path, ml_onnx_tensor *out, ml_error *err);
/* Free what a tensor owns and zero it; accepts NULL and cleared tensors. */
ML_API void ml_onnx_tensor_clear(ml_onnx_tensor *t);

/* Load like ml_onnx_load, binding the graph's inputs that are not initializers, in their
 * order in the graph: the one at position data_input becomes the engine's input (it must
 * be as for ml_onnx_load); every other one, i, becomes the constant values[i]
 * (weights fed at run time, as ONNX's test cases do). n must equal the number of such
 * inputs (ML_EFORMAT otherwise); values[data_input] is not read. */
ML_API ml_status ml_onnx_load_bound(const char *path, const ml_onnx_tensor *values, int n, int data_input,
                                    ml_net **out, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
