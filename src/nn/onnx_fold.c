/* ONNX import, constant folding: Constant nodes, nodes whose inputs are all constants,
 * and the shape arithmetic PyTorch emits for dynamic batch sizes (Shape, Gather,
 * Unsqueeze, Squeeze, Concat, Cast), evaluated at batch 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/onnx_priv.h"

#define TRY(x) do { ml_status s_ = (x); if (s_) return s_; } while (0)

ml_status mlx_const_alloc(mlx_loader *L, mlx_const *r, int rank, const int64_t *dims, int ints)
{
    memset(r, 0, sizeof *r);
    r->rank = rank;
    for (int i = 0; i < rank; i++)
        r->dims[i] = dims[i];
    r->n = mlx_numel(dims, (size_t)rank);
    if (r->n < 0)
        return mlx_fail(L, ML_EFORMAT, "constant folding gives absurd dims");
    r->data = malloc(((size_t)r->n ? (size_t)r->n : 1) * sizeof(float));
    if (ints)
        r->ints = malloc(((size_t)r->n ? (size_t)r->n : 1) * sizeof(int64_t));
    if (!r->data || (ints && !r->ints)) {
        mlx_const_clear(r);
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    }
    return ML_OK;
}

/* Elementwise a op b with numpy broadcasting (float). */
static ml_status fold_binary(mlx_loader *L, const char *who, ml_op op, const mlx_const *a, const mlx_const *b, mlx_const *r)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t ad[MLX_MAX_RANK], bd[MLX_MAX_RANK], od[MLX_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        ad[i] = i >= rank - a->rank ? a->dims[i - (rank - a->rank)] : 1;
        bd[i] = i >= rank - b->rank ? b->dims[i - (rank - b->rank)] : 1;
        if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1)
            return mlx_fail(L, ML_EFORMAT, "%s: constant shapes do not broadcast", who);
        od[i] = ad[i] == 1 ? bd[i] : ad[i];
    }
    TRY(mlx_const_alloc(L, r, rank, od, 0));
    for (int64_t k = 0; k < r->n; k++) {
        int64_t rem = k, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int64_t idx = rem % od[i];
            rem /= od[i];
            ia += (ad[i] == 1 ? 0 : idx) * sa;
            ib += (bd[i] == 1 ? 0 : idx) * sb;
            sa *= ad[i];
            sb *= bd[i];
        }
        float x = a->data[ia], y = b->data[ib];
        r->data[k] = op == ML_OP_ADD ? x + y : op == ML_OP_SUB ? x - y : op == ML_OP_MUL ? x * y : x / y;
    }
    return ML_OK;
}

/* Target dims of Reshape (shape from an int tensor; 0 copies, -1 infers). */
ml_status mlx_reshape_dims(mlx_loader *L, const char *who, const int64_t *in, int inrank, int64_t n_in,
                              const mlx_const *shape, int64_t *out, int *outrank)
{
    if (!shape->ints || shape->rank != 1 || shape->n < 1 || shape->n > MLX_MAX_RANK)
        return mlx_fail(L, ML_EFORMAT, "%s: shape must be a 1-D integer constant of 1..%d entries", who, MLX_MAX_RANK);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < shape->n; i++) {
        int64_t v = shape->ints[i];
        if (v == 0 && in)
            v = i < inrank ? in[i] : -2;
        if (v == -1 && infer < 0) {
            infer = i;
            out[i] = 1;
            continue;
        }
        if (v < (in ? 1 : 0) || v > MLX_MAX_ELEMS)
            return mlx_fail(L, ML_EFORMAT, "%s: bad shape entry %lld", who, (long long)shape->ints[i]);
        out[i] = v;
        if (v && known > MLX_MAX_ELEMS / v)
            return mlx_fail(L, ML_EFORMAT, "%s: absurd shape", who);
        known *= v;
    }
    if (in) {
        if (infer >= 0) {
            if (known == 0 || n_in % known)
                return mlx_fail(L, ML_EFORMAT, "%s: cannot reshape %lld values", who, (long long)n_in);
            out[infer] = n_in / known;
        } else if (known != n_in) {
            return mlx_fail(L, ML_EFORMAT, "%s: cannot reshape %lld values to %lld", who, (long long)n_in, (long long)known);
        }
    }
    *outrank = (int)shape->n;
    return ML_OK;
}

/* Fold a node whose inputs are all constants into a new constant called outname. */
ml_status mlx_fold_node(mlx_loader *L, const char *who, ml_op op, const Onnx__NodeProto *n, const int *in,
                           int nin, const char *outname)
{
    mlx_const r;
    const mlx_const *a = &L->consts[L->vals[in[0]].ci];
    switch (op) {
    case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV: {
        const mlx_const *b = &L->consts[L->vals[in[1]].ci];
        if (a->ints || b->ints)
            return mlx_fail(L, ML_EUNSUPP, "%s: integer arithmetic is not supported", who);
        TRY(fold_binary(L, who, op, a, b, &r));
        break;
    }
    case ML_OP_IDENTITY:
    case ML_OP_RESHAPE:
    case ML_OP_FLATTEN: {
        int64_t dims[MLX_MAX_RANK];
        int rank = a->rank;
        memcpy(dims, a->dims, sizeof dims);
        if (op == ML_OP_RESHAPE) {
            if (nin < 2)
                return mlx_fail(L, ML_EFORMAT, "%s: Reshape needs 2 inputs", who);
            TRY(mlx_reshape_dims(L, who, a->dims, a->rank, a->n, &L->consts[L->vals[in[1]].ci], dims, &rank));
        } else if (op == ML_OP_FLATTEN) {
            int64_t axis = 1;
            if (mlx_attr_int(n, "axis", &axis) < 0)
                return mlx_fail(L, ML_EFORMAT, "%s: attribute axis must be an integer", who);
            int64_t ax = axis < 0 ? axis + a->rank : axis;
            if (ax < 0 || ax > a->rank)
                return mlx_fail(L, ML_EFORMAT, "%s: axis %lld out of range", who, (long long)axis);
            dims[0] = mlx_numel(a->dims, (size_t)ax);
            dims[1] = a->n / (dims[0] ? dims[0] : 1);
            rank = 2;
        }
        TRY(mlx_const_alloc(L, &r, rank, dims, a->ints != NULL));
        if (r.n != a->n) {
            mlx_const_clear(&r);
            return mlx_fail(L, ML_EFORMAT, "%s: element count changes", who);
        }
        memcpy(r.data, a->data, (size_t)a->n * sizeof(float));
        if (a->ints)
            memcpy(r.ints, a->ints, (size_t)a->n * sizeof(int64_t));
        break;
    }
    default:
        return mlx_fail(L, ML_EUNSUPP, "%s: all inputs are constants (cannot fold %s)", who, ml_op_name(op));
    }
    return mlx_add_const(L, outname, &r);
}


ml_status mlx_constant_node(mlx_loader *L, const Onnx__NodeProto *n, const char *who)
{
    mlx_const c;
    memset(&c, 0, sizeof c);
    const Onnx__AttributeProto *a;
    char what[600];
    snprintf(what, sizeof what, "%s: value", who);
    if ((a = mlx_attr(n, "value"))) {
        if (!a->t)
            return mlx_fail(L, ML_EFORMAT, "%s: value is not a tensor", who);
        if (mlx_const_decode(a->t, what, &c, L->err))
            return mlx_prefix(L, L->err ? L->err->code : ML_EFORMAT);
    } else if ((a = mlx_attr(n, "value_float")) || (a = mlx_attr(n, "value_floats"))) {
        int one = a->has_f && a->n_floats == 0;
        int64_t d = one ? 1 : (int64_t)a->n_floats;
        TRY(mlx_const_alloc(L, &c, one ? 0 : 1, &d, 0));
        for (int64_t i = 0; i < c.n; i++)
            c.data[i] = one ? a->f : a->floats[i];
    } else if ((a = mlx_attr(n, "value_int")) || (a = mlx_attr(n, "value_ints"))) {
        int one = a->has_i && a->n_ints == 0;
        int64_t d = one ? 1 : (int64_t)a->n_ints;
        TRY(mlx_const_alloc(L, &c, one ? 0 : 1, &d, 1));
        for (int64_t i = 0; i < c.n; i++) {
            c.ints[i] = one ? a->i : a->ints[i];
            c.data[i] = (float)c.ints[i];
        }
    } else {
        return mlx_fail(L, ML_EUNSUPP, "%s: Constant without a dense tensor, float or int value", who);
    }
    return mlx_add_const(L, n->output[0], &c);
}

