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
 * The graph needs one 4-D float input (N,C,H,W; N may be symbolic) and one output.
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

#ifdef __cplusplus
}
#endif
#endif
