/* ONNX import: a node's attributes, checked and read into ml_attrs (the loader's one-line
 * errors name the node and attribute). */
#include <string.h>
#include "nn/onnx/priv.h"

/* Read an ints attribute of exactly want entries in [lo, hi]; 0 if absent. */
static ml_status attr_ints(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name,
                           int want, int lo, int hi, int *out)
{
    int64_t v[8];
    int cnt = 0;
    int r = mlx_attr_ints(n, name, v, 8, &cnt);
    if (r == 0)
        return ML_OK;
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be a list of at most 8 integers", who, name);
    if (cnt != want)
        return mlx_fail(L, ML_EUNSUPP, "%s: attribute %s has %d entries; only 2-D (%d) is supported", who, name,
                    cnt, want);
    for (int i = 0; i < cnt; i++) {
        if (v[i] < lo || v[i] > hi)
            return mlx_fail(L, ML_EFORMAT, "%s: attribute %s[%d] = %lld out of range [%d, %d]", who, name, i,
                        (long long)v[i], lo, hi);
        out[i] = (int)v[i];
    }
    return ML_OK;
}

ml_status mlx_attr_int_in(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name,
                          int64_t lo, int64_t hi, int *out)
{
    int64_t v;
    int r = mlx_attr_int(n, name, &v);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be an integer", who, name);
    if (r == 0)
        return ML_OK;
    if (v < lo || v > hi)
        return mlx_fail(L, ML_EUNSUPP, "%s: attribute %s = %lld not supported (%lld..%lld)", who, name,
                    (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return ML_OK;
}

static ml_status attr_float(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name, float *out)
{
    int r = mlx_attr_float(n, name, out);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be a float", who, name);
    return ML_OK;
}


static ml_status window_attrs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, ml_attrs *a, int pool)
{
    const char *ap = NULL;
    size_t aplen = 0;
    int r = mlx_attr_string(n, "auto_pad", &ap, &aplen);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute auto_pad must be a string", who);
    int valid = r > 0 && aplen == 5 && !memcmp(ap, "VALID", 5);
    if (r > 0 && aplen == 10 && !memcmp(ap, "SAME_UPPER", 10))
        a->auto_pad = 1;
    else if (r > 0 && aplen == 10 && !memcmp(ap, "SAME_LOWER", 10))
        a->auto_pad = 2;
    else if (r > 0 && !(aplen == 6 && !memcmp(ap, "NOTSET", 6)) && !valid)
        return mlx_fail(L, ML_EFORMAT, "%s: auto_pad '%.*s' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", who,
                    (int)(aplen > 32 ? 32 : aplen), ap);
    TRY(attr_ints(L, n, who, "kernel_shape", 2, 1, 1 << 16, a->kernel));
    TRY(attr_ints(L, n, who, "strides", 2, 1, 1 << 16, a->strides));
    if (!valid && !a->auto_pad) /* ONNX: pads are ignored (zero) unless auto_pad is NOTSET */
        TRY(attr_ints(L, n, who, "pads", 4, 0, 1 << 16, a->pads));
    TRY(attr_ints(L, n, who, "dilations", 2, 1, 1 << 16, a->dilations));
    if (pool && (a->kernel[0] < 1 || a->kernel[1] < 1))
        return mlx_fail(L, ML_EFORMAT, "%s: kernel_shape is required", who);
    return ML_OK;
}

ml_status mlx_op_attrs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, ml_op op, ml_attrs *a)
{
    int v = 0;
    switch (op) {
    case ML_OP_CONV:
        TRY(window_attrs(L, n, who, a, 0));
        return mlx_attr_int_in(L, n, who, "group", 1, 1 << 20, &a->group);
    case ML_OP_MAXPOOL:
    case ML_OP_AVGPOOL:
        TRY(window_attrs(L, n, who, a, 1));
        TRY(mlx_attr_int_in(L, n, who, "ceil_mode", 0, 1, &a->ceil_mode));
        TRY(mlx_attr_int_in(L, n, who, "storage_order", 0, 0, &v));
        return mlx_attr_int_in(L, n, who, "count_include_pad", 0, 1, &a->count_include_pad);
    case ML_OP_BATCHNORM:
        TRY(attr_float(L, n, who, "epsilon", &a->epsilon));
        TRY(attr_float(L, n, who, "momentum", &a->momentum));
        TRY(mlx_attr_int_in(L, n, who, "training_mode", 0, 0, &v));
        v = 1;
        TRY(mlx_attr_int_in(L, n, who, "spatial", 1, 1, &v));
        if (!(a->epsilon >= 0 && a->epsilon < 1))
            return mlx_fail(L, ML_EFORMAT, "%s: epsilon %g out of range", who, a->epsilon);
        return ML_OK;
    case ML_OP_GEMM:
        TRY(attr_float(L, n, who, "alpha", &a->alpha));
        TRY(attr_float(L, n, who, "beta", &a->beta));
        TRY(mlx_attr_int_in(L, n, who, "transA", 0, 1, &a->transA));
        return mlx_attr_int_in(L, n, who, "transB", 0, 1, &a->transB);
    case ML_OP_FLATTEN:
        return mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS, &a->axis);
    case ML_OP_LEAKYRELU:
        a->alpha = 0.01f;
        return attr_float(L, n, who, "alpha", &a->alpha);
    case ML_OP_SOFTMAX:
        a->softmax_flat = L->opset < 13;
        a->axis = L->opset < 13 ? 1 : -1;
        return mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS, &a->axis);
    case ML_OP_CLIP:
        if (L->opset < 11) {
            TRY(attr_float(L, n, who, "min", &a->clip_min));
            return attr_float(L, n, who, "max", &a->clip_max);
        }
        return ML_OK;
    default:
        return ML_OK;
    }
}

