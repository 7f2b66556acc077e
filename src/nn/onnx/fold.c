/* ONNX import, constant folding: Constant nodes, nodes whose inputs are all constants,
 * and the shape arithmetic PyTorch emits for dynamic batch sizes and F.pad (Shape,
 * Gather, Unsqueeze, Squeeze, Concat, Cast, ConstantOfShape, Slice, Transpose),
 * evaluated at batch 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/onnx/priv.h"


ml_status mlx_const_alloc(mlx_loader *L, mlx_const *r, int rank, const int64_t *dims, int ints)
{
    memset(r, 0, sizeof *r);
    r->rank = rank;
    for (int i = 0; i < rank; i++)
        r->dims[i] = dims[i];
    r->n = mlx_numel(dims, (size_t)rank);
    if (r->n < 0)
        return mlx_fail(L, ML_EFORMAT, "constant folding gives absurd dims");
    r->data = ml__malloc(((size_t)r->n ? (size_t)r->n : 1) * sizeof(float));
    if (ints)
        r->ints = ml__malloc(((size_t)r->n ? (size_t)r->n : 1) * sizeof(int64_t));
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
    int ints = a->ints && b->ints;
    if (!ints && (a->ints || b->ints))
        return mlx_fail(L, ML_EFORMAT, "%s: operands differ in type (integer and float)", who);
    TRY(mlx_const_alloc(L, r, rank, od, ints));
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
        if (ints) {
            /* shape arithmetic; unsigned wrap-around instead of signed overflow */
            uint64_t x = (uint64_t)a->ints[ia], y = (uint64_t)b->ints[ib];
            int64_t v;
            if (op == ML_OP_DIV) {
                if (b->ints[ib] == 0 || (a->ints[ia] == INT64_MIN && b->ints[ib] == -1)) {
                    mlx_const_clear(r);
                    return mlx_fail(L, ML_EFORMAT, "%s: integer division by zero or overflow", who);
                }
                v = a->ints[ia] / b->ints[ib];
            } else {
                v = (int64_t)(op == ML_OP_ADD ? x + y : op == ML_OP_SUB ? x - y : x * y);
            }
            r->ints[k] = v;
            r->data[k] = (float)v;
            continue;
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


/* ---- shape arithmetic ---- */

int mlx_is_shape_op(const char *s)
{
    static const char *const ops[] = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast",
                                      "ConstantOfShape", "Slice", "Transpose"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(s, ops[i]))
            return 1;
    return 0;
}

static void copy_elems(mlx_const *dst, int64_t di, const mlx_const *src, int64_t si, int64_t count)
{
    memcpy(dst->data + di, src->data + si, (size_t)count * sizeof(float));
    if (dst->ints && src->ints)
        memcpy(dst->ints + di, src->ints + si, (size_t)count * sizeof(int64_t));
}

static int64_t span(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* Axes list from the "axes" attribute (opset < 13) or the second input (opset >= 13). */
static ml_status get_axes(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin,
                          int64_t *axes, int *naxes)
{
    *naxes = 0;
    if (nin > 1 && in[1] >= 0) {
        const mlx_const *a = &L->consts[L->vals[in[1]].ci];
        if (!a->ints || a->rank > 1 || a->n > MLX_MAX_RANK)
            return mlx_fail(L, ML_EFORMAT, "%s: axes must be a 1-D integer constant", who);
        for (int64_t i = 0; i < a->n; i++)
            axes[i] = a->ints[i];
        *naxes = (int)a->n;
        return ML_OK;
    }
    int r = mlx_attr_ints(n, "axes", axes, MLX_MAX_RANK, naxes);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: bad axes attribute", who);
    return ML_OK;
}

static ml_status norm_axis(mlx_loader *L, const char *who, int64_t *a, int rank)
{
    if (*a < -rank || *a >= rank)
        return mlx_fail(L, ML_EFORMAT, "%s: axis %lld out of range for rank %d", who, (long long)*a, rank);
    if (*a < 0)
        *a += rank;
    return ML_OK;
}

ml_status mlx_activation_dims(mlx_loader *L, int vi, int64_t *dims, int *rank)
{
    int ti = L->vals[vi].ti;
    if (ti != L->input) {
        ml_net_set_io(L->net, L->input, ti);
        if (ml_net_finalize(L->net, L->err))
            return mlx_prefix(L, L->err->code);
    }
    const ml_tensor *t = &L->net->tensors[ti];
    *rank = t->ndim;
    for (int i = 0; i < t->ndim; i++)
        dims[i] = t->dims[i];
    dims[0] = 1;
    return ML_OK;
}

static ml_status fold_shape(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, mlx_const *r)
{
    int64_t dims[MLX_MAX_RANK];
    int rank;
    const mlx_value *v = &L->vals[in[0]];
    if (v->kind == MLX_V_CONST) {
        const mlx_const *c = &L->consts[v->ci];
        rank = c->rank;
        memcpy(dims, c->dims, sizeof dims);
    } else {
        TRY(mlx_activation_dims(L, in[0], dims, &rank));
    }
    int64_t start = 0, end = rank;
    if (mlx_attr_int(n, "start", &start) < 0 || mlx_attr_int(n, "end", &end) < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: start and end must be integers", who);
    start = start < 0 ? start + rank : start;
    end = end < 0 ? end + rank : end;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < start ? start : end > rank ? rank : end;
    int64_t len = end - start;
    TRY(mlx_const_alloc(L, r, 1, &len, 1));
    for (int64_t i = 0; i < len; i++) {
        r->ints[i] = dims[start + i];
        r->data[i] = (float)dims[start + i];
    }
    return ML_OK;
}

static ml_status fold_gather(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, mlx_const *r)
{
    const mlx_const *d = &L->consts[L->vals[in[0]].ci], *ix = &L->consts[L->vals[in[1]].ci];
    int64_t axis = 0;
    if (mlx_attr_int(n, "axis", &axis) < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: axis must be an integer", who);
    if (!ix->ints)
        return mlx_fail(L, ML_EFORMAT, "%s: indices must be integers", who);
    if (d->rank < 1 || d->rank - 1 + ix->rank > MLX_MAX_RANK)
        return mlx_fail(L, ML_EUNSUPP, "%s: ranks %d and %d not supported", who, d->rank, ix->rank);
    TRY(norm_axis(L, who, &axis, d->rank));
    int ax = (int)axis, rank = 0;
    int64_t od[MLX_MAX_RANK];
    for (int i = 0; i < ax; i++)
        od[rank++] = d->dims[i];
    for (int i = 0; i < ix->rank; i++)
        od[rank++] = ix->dims[i];
    for (int i = ax + 1; i < d->rank; i++)
        od[rank++] = d->dims[i];
    TRY(mlx_const_alloc(L, r, rank, od, d->ints != NULL));
    int64_t outer = span(d->dims, 0, ax), inner = span(d->dims, ax + 1, d->rank), dax = d->dims[ax];
    for (int64_t o = 0, k = 0; o < outer; o++)
        for (int64_t j = 0; j < ix->n; j++, k++) {
            int64_t s = ix->ints[j] < 0 ? ix->ints[j] + dax : ix->ints[j];
            if (s < 0 || s >= dax) {
                mlx_const_clear(r);
                return mlx_fail(L, ML_EFORMAT, "%s: index %lld out of range", who, (long long)ix->ints[j]);
            }
            copy_elems(r, k * inner, d, (o * dax + s) * inner, inner);
        }
    return ML_OK;
}

static ml_status fold_squeeze(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin,
                              int unsqueeze, mlx_const *r)
{
    const mlx_const *d = &L->consts[L->vals[in[0]].ci];
    int64_t axes[MLX_MAX_RANK];
    int naxes;
    TRY(get_axes(L, who, n, in, nin, axes, &naxes));
    int orank = unsqueeze ? d->rank + naxes : d->rank;
    if (orank > MLX_MAX_RANK || (unsqueeze && naxes == 0))
        return mlx_fail(L, ML_EFORMAT, "%s: bad axes", who);
    char mark[MLX_MAX_RANK] = {0};
    for (int i = 0; i < naxes; i++) {
        TRY(norm_axis(L, who, &axes[i], orank));
        if (mark[axes[i]] || (!unsqueeze && d->dims[axes[i]] != 1))
            return mlx_fail(L, ML_EFORMAT, "%s: axis %lld repeated or not of size 1", who, (long long)axes[i]);
        mark[axes[i]] = 1;
    }
    int64_t od[MLX_MAX_RANK];
    int rank = 0;
    for (int i = 0, j = 0; i < orank; i++) {
        if (unsqueeze)
            od[rank++] = mark[i] ? 1 : d->dims[j++];
        else if (naxes ? !mark[i] : d->dims[i] != 1)
            od[rank++] = d->dims[i];
    }
    TRY(mlx_const_alloc(L, r, rank, od, d->ints != NULL));
    copy_elems(r, 0, d, 0, d->n);
    return ML_OK;
}

static ml_status fold_concat(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin,
                             mlx_const *r)
{
    int64_t axis;
    if (mlx_attr_int(n, "axis", &axis) != 1)
        return mlx_fail(L, ML_EFORMAT, "%s: integer attribute axis is required", who);
    const mlx_const *f = &L->consts[L->vals[in[0]].ci];
    if (f->rank < 1)
        return mlx_fail(L, ML_EFORMAT, "%s: cannot concatenate scalars", who);
    TRY(norm_axis(L, who, &axis, f->rank));
    int ax = (int)axis, ints = 1;
    int64_t od[MLX_MAX_RANK];
    memcpy(od, f->dims, sizeof od);
    od[ax] = 0;
    for (int k = 0; k < nin; k++) {
        if (in[k] < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: empty input", who);
        const mlx_const *c = &L->consts[L->vals[in[k]].ci];
        if (c->rank != f->rank)
            return mlx_fail(L, ML_EFORMAT, "%s: inputs differ in rank", who);
        for (int i = 0; i < f->rank; i++)
            if (i != ax && c->dims[i] != f->dims[i])
                return mlx_fail(L, ML_EFORMAT, "%s: inputs differ in dim %d", who, i);
        od[ax] += c->dims[ax];
        if (od[ax] > MLX_MAX_ELEMS)
            return mlx_fail(L, ML_EFORMAT, "%s: absurd size", who);
        ints &= c->ints != NULL;
    }
    TRY(mlx_const_alloc(L, r, f->rank, od, ints));
    int64_t outer = span(f->dims, 0, ax), inner = span(f->dims, ax + 1, f->rank), pos = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nin; k++) {
            const mlx_const *c = &L->consts[L->vals[in[k]].ci];
            int64_t chunk = c->dims[ax] * inner;
            copy_elems(r, pos, c, o * chunk, chunk);
            pos += chunk;
        }
    return ML_OK;
}

static ml_status fold_cast(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, mlx_const *r)
{
    const mlx_const *d = &L->consts[L->vals[in[0]].ci];
    int64_t to;
    if (mlx_attr_int(n, "to", &to) != 1)
        return mlx_fail(L, ML_EFORMAT, "%s: integer attribute 'to' is required", who);
    int ints = to == MLX_DT_INT64 || to == MLX_DT_INT32;
    if (!ints && to != MLX_DT_FLOAT && to != MLX_DT_DOUBLE)
        return mlx_fail(L, ML_EUNSUPP, "%s: cast to type %lld is not supported", who, (long long)to);
    TRY(mlx_const_alloc(L, r, d->rank, d->dims, ints));
    for (int64_t i = 0; i < d->n; i++) {
        if (ints) {
            float v = d->data[i];
            int64_t iv = d->ints ? d->ints[i] : (v > 9e18f || v < -9e18f || v != v) ? 0 : (int64_t)v;
            r->ints[i] = iv;
            r->data[i] = (float)iv;
        } else {
            r->data[i] = d->data[i];
        }
    }
    return ML_OK;
}

static ml_status fold_constant_of_shape(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in,
                                        mlx_const *r)
{
    const mlx_const *sh = &L->consts[L->vals[in[0]].ci];
    if (!sh->ints || sh->rank != 1 || sh->n > MLX_MAX_RANK)
        return mlx_fail(L, ML_EFORMAT, "%s: input must be a 1-D integer shape", who);
    mlx_const v;
    memset(&v, 0, sizeof v);
    const Onnx__AttributeProto *a = mlx_attr(n, "value");
    if (a) {
        if (!a->t || mlx_const_decode(a->t, who, &v, L->err))
            return a->t ? mlx_prefix(L, L->err->code) : mlx_fail(L, ML_EFORMAT, "%s: value is not a tensor", who);
        if (v.n != 1) {
            mlx_const_clear(&v);
            return mlx_fail(L, ML_EFORMAT, "%s: value must hold one element", who);
        }
    }
    ml_status st = mlx_const_alloc(L, r, (int)sh->n, sh->ints, v.ints != NULL);
    for (int64_t i = 0; !st && i < r->n; i++) {
        r->data[i] = v.data ? v.data[0] : 0.0f;
        if (r->ints)
            r->ints[i] = v.ints[0];
    }
    mlx_const_clear(&v);
    return st;
}

/* Decompose a flat index over dims and return the offset under strides. */
static int64_t offset_of(int64_t k, const int64_t *dims, const int64_t *strides, int rank, const int64_t *base)
{
    int64_t off = 0;
    for (int i = rank - 1; i >= 0; i--) {
        int64_t idx = k % dims[i];
        k /= dims[i];
        off += (base ? base[i] : 0) + idx * strides[i];
    }
    return off;
}

static void strides_of(const int64_t *dims, int rank, int64_t *st)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

static ml_status fold_transpose(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, mlx_const *r)
{
    const mlx_const *d = &L->consts[L->vals[in[0]].ci];
    int64_t perm[MLX_MAX_RANK];
    int np = 0;
    int got = mlx_attr_ints(n, "perm", perm, MLX_MAX_RANK, &np);
    if (got < 0 || (got == 1 && np != d->rank))
        return mlx_fail(L, ML_EFORMAT, "%s: bad perm", who);
    if (got == 0)
        for (int i = 0; i < d->rank; i++)
            perm[i] = d->rank - 1 - i;
    char seen[MLX_MAX_RANK] = {0};
    int64_t st[MLX_MAX_RANK], od[MLX_MAX_RANK], ost[MLX_MAX_RANK];
    strides_of(d->dims, d->rank, st);
    for (int i = 0; i < d->rank; i++) {
        if (perm[i] < 0 || perm[i] >= d->rank || seen[perm[i]]++)
            return mlx_fail(L, ML_EFORMAT, "%s: perm is not a permutation", who);
        od[i] = d->dims[perm[i]];
        ost[i] = st[perm[i]];
    }
    TRY(mlx_const_alloc(L, r, d->rank, od, d->ints != NULL));
    for (int64_t k = 0; k < r->n; k++)
        copy_elems(r, k, d, offset_of(k, od, ost, d->rank, NULL), 1);
    return ML_OK;
}

/* Integer list from input i (opset >= 10) or attribute name (opset < 10); 0 if absent. */
static ml_status int_list(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin, int i,
                          const char *name, int64_t *v, int *cnt)
{
    *cnt = -1;
    if (L->opset < 10) {
        int r = mlx_attr_ints(n, name, v, MLX_MAX_RANK, cnt);
        if (r < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: bad %s", who, name);
        if (r == 0)
            *cnt = -1;
        return ML_OK;
    }
    if (i >= nin || in[i] < 0)
        return ML_OK;
    const mlx_const *c = &L->consts[L->vals[in[i]].ci];
    if (!c->ints || c->rank != 1 || c->n > MLX_MAX_RANK)
        return mlx_fail(L, ML_EFORMAT, "%s: %s must be a 1-D integer constant", who, name);
    memcpy(v, c->ints, (size_t)c->n * sizeof *v);
    *cnt = (int)c->n;
    return ML_OK;
}

static ml_status fold_slice(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin,
                            mlx_const *r)
{
    const mlx_const *d = &L->consts[L->vals[in[0]].ci];
    int64_t starts[MLX_MAX_RANK], ends[MLX_MAX_RANK], axes[MLX_MAX_RANK], steps[MLX_MAX_RANK];
    int ns, ne, na, nst;
    TRY(int_list(L, who, n, in, nin, 1, "starts", starts, &ns));
    TRY(int_list(L, who, n, in, nin, 2, "ends", ends, &ne));
    TRY(int_list(L, who, n, in, nin, 3, "axes", axes, &na));
    TRY(int_list(L, who, n, in, nin, 4, "steps", steps, &nst));
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns) || d->rank < 1)
        return mlx_fail(L, ML_EFORMAT, "%s: starts, ends, axes and steps disagree", who);
    int64_t b[MLX_MAX_RANK], st[MLX_MAX_RANK], od[MLX_MAX_RANK], ost[MLX_MAX_RANK];
    strides_of(d->dims, d->rank, st);
    for (int i = 0; i < d->rank; i++) {
        b[i] = 0;
        od[i] = d->dims[i];
        ost[i] = st[i];
    }
    char seen[MLX_MAX_RANK] = {0};
    for (int j = 0; j < ns; j++) {
        int64_t ax = na >= 0 ? axes[j] : j;
        TRY(norm_axis(L, who, &ax, d->rank));
        int64_t dim = d->dims[ax], step = nst >= 0 ? steps[j] : 1, s = starts[j], e = ends[j];
        if (step == 0 || seen[ax]++)
            return mlx_fail(L, ML_EFORMAT, "%s: zero step or repeated axis", who);
        /* ONNX Slice: negative indices count from the end; clamp to [0, dim] (step > 0)
         * or [-1, dim - 1] (step < 0). */
        s = s < 0 ? (s < -dim ? -1 : s + dim) : s;
        e = e < 0 ? (e < -dim ? -1 : e + dim) : e;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            od[ax] = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < -1 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            od[ax] = s > e ? (s - e - step - 1) / -step : 0;
        }
        b[ax] = s * st[ax];
        ost[ax] = step * st[ax];
    }
    TRY(mlx_const_alloc(L, r, d->rank, od, d->ints != NULL));
    for (int64_t k = 0; k < r->n; k++)
        copy_elems(r, k, d, offset_of(k, od, ost, d->rank, b), 1);
    return ML_OK;
}

ml_status mlx_fold_shape_op(mlx_loader *L, const char *who, const Onnx__NodeProto *n, const int *in, int nin)
{
    const char *op = n->op_type;
    mlx_const r;
    memset(&r, 0, sizeof r);
    int lo = 1, hi = 1;
    if (!strcmp(op, "Gather"))
        lo = hi = 2;
    else if (!strcmp(op, "Concat"))
        hi = 1024;
    else if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze"))
        hi = 2;
    else if (!strcmp(op, "Slice"))
        hi = 5;
    if (nin < lo || nin > hi || in[0] < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: %d inputs", who, nin);
    ml_status st = !strcmp(op, "Shape") ? fold_shape(L, who, n, in, &r)
                 : !strcmp(op, "Gather") ? fold_gather(L, who, n, in, &r)
                 : !strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze") ? fold_squeeze(L, who, n, in, nin, op[0] == 'U', &r)
                 : !strcmp(op, "Concat") ? fold_concat(L, who, n, in, nin, &r)
                 : !strcmp(op, "ConstantOfShape") ? fold_constant_of_shape(L, who, n, in, &r)
                 : !strcmp(op, "Slice") ? fold_slice(L, who, n, in, nin, &r)
                 : !strcmp(op, "Transpose") ? fold_transpose(L, who, n, in, &r)
                 : fold_cast(L, who, n, in, &r);
    if (st)
        return st;
    return mlx_add_const(L, n->output[0], &r);
}
