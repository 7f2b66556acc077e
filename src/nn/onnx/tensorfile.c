/* ONNX TensorProto files (the input_N.pb / output_N.pb of ONNX's backend test suite):
 * read one into an ml_onnx_tensor. */
#include <string.h>
#include "core/alloc.h"
#include "nn/onnx/priv.h"

void ml_onnx_tensor_clear(ml_onnx_tensor *t)
{
    if (!t)
        return;
    ml__free(t->name);
    ml__free(t->data);
    ml__free(t->ints);
    memset(t, 0, sizeof *t);
}

ml_status ml_onnx_tensor_load(const char *path, ml_onnx_tensor *out, ml_error *err)
{
    if (!path || !out)
        return ml_error_set(err, ML_EINVAL, "ml_onnx_tensor_load: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t len = 0;
    ml_status st = mlx_read_file(path, &buf, &len, err);
    if (st)
        return st;
    Onnx__TensorProto *t = NULL;
    if (mlx_wire_check(&onnx__tensor_proto__descriptor, buf, len) == 0)
        t = onnx__tensor_proto__unpack(NULL, len, buf);
    ml__free(buf);
    if (!t)
        return ml_error_set(err, ML_EFORMAT, "%s: not an ONNX TensorProto (malformed or truncated protobuf)", path);
    mlx_const c;
    st = mlx_const_decode(t, path, &c, err);
    if (!st) {
        out->name = ml__strdup(t->name ? t->name : "");
        if (!out->name) {
            mlx_const_clear(&c);
            st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
        }
    }
    onnx__tensor_proto__free_unpacked(t, NULL);
    if (st)
        return st;
    out->ndim = c.rank;
    memcpy(out->dims, c.dims, sizeof out->dims);
    out->n = (size_t)c.n;
    out->data = c.data;
    out->ints = c.ints;
    return ML_OK;
}
