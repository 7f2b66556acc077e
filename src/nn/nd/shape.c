/* Shape inference of the N-D inference-only ops (nd.h): output dims at batch 1 and the
 * per-node plan (slice starts and steps, resize scales, reduced axes). */
#include <math.h>
#include <string.h>
#include "nn/nd/nd.h"

#define ERR(code, ...) ml_error_set(err, code, __VA_ARGS__)

int ml__nd_unary(ml_op op) { return op >= ML_OP_TANH && op <= ML_OP_SHRINK; }

int ml__nd_op(ml_op op)
{
    return (op >= ML_OP_TRANSPOSE && op <= ML_OP_REDUCESUMSQUARE && op != ML_OP_LOGSOFTMAX) || ml__nd_unary(op) ||
           op == ML_OP_ARGMAX || op == ML_OP_ARGMIN;
}

static int norm_axis(int ax, int r) { return ax < 0 ? ax + r : ax; }

static ml_status infer_concat(ml_net *net, ml_node *nd, ml_plan *p, int64_t *od, int *ond, ml_error *err)
{
    const ml_tensor *T = net->tensors;
    const ml_tensor *x = &T[nd->inputs[0]];
    int r = x->ndim, ax = norm_axis(nd->attrs.axis, r);
    if (r < 1 || ax < 0 || ax >= r)
        return ERR(ML_EFORMAT, "node '%s' (Concat): axis %d out of range for %d dims", nd->name, nd->attrs.axis, r);
    if (ax == 0)
        return ERR(ML_EUNSUPP, "node '%s' (Concat): axis 0 (the batch axis) is not supported", nd->name);
    memcpy(od, x->dims, sizeof x->dims);
    od[0] = 1;
    od[ax] = 0;
    p->item_batch = 0;
    for (int k = 0; k < nd->ninputs; k++) {
        if (nd->inputs[k] < 0)
            return ERR(ML_EFORMAT, "node '%s' (Concat): input %d is empty", nd->name, k);
        const ml_tensor *t = &T[nd->inputs[k]];
        if (t->ndim != r)
            return ERR(ML_EFORMAT, "node '%s' (Concat): inputs have %d and %d dims", nd->name, r, t->ndim);
        if (!ml_is_activation(t) && t->dims[0] > 1) {
            /* a constant as long as the batch: one entry per batch item (fixed-batch graphs) */
            if (p->item_batch && p->item_batch != t->dims[0])
                return ERR(ML_EFORMAT, "node '%s' (Concat): constants of %lld and %d batch items", nd->name,
                           (long long)t->dims[0], p->item_batch);
            p->item_batch = (int)t->dims[0];
        }
        for (int d = 1; d < r; d++)
            if (d != ax && t->dims[d] != od[d])
                return ERR(ML_EFORMAT, "node '%s' (Concat): input %d has %lld at axis %d, expected %lld", nd->name, k,
                           (long long)t->dims[d], d, (long long)od[d]);
        od[ax] += t->dims[ax];
    }
    *ond = r;
    return ML_OK;
}

static ml_status infer_slice(ml_node *nd, const ml_tensor *x, ml_plan *p, int64_t *od, ml_error *err)
{
    const ml_attrs *a = &nd->attrs;
    int r = x->ndim;
    unsigned seen = 0;
    for (int d = 0; d < r; d++) {
        p->nd_lo[d] = 0;
        p->nd_step[d] = 1;
        od[d] = x->dims[d];
    }
    for (int i = 0; i < a->nslice; i++) {
        int ax = norm_axis(a->slice_axes[i], r);
        if (ax < 0 || ax >= r || (seen >> ax & 1))
            return ERR(ML_EFORMAT, "node '%s' (Slice): axis %d out of range or repeated", nd->name, a->slice_axes[i]);
        seen |= 1u << ax;
        int64_t dim = x->dims[ax], st = a->steps[i], s = a->starts[i], e = a->ends[i];
        if (st == 0)
            return ERR(ML_EFORMAT, "node '%s' (Slice): step 0", nd->name);
        if (ax == 0) {
            if (s != 0 || st != 1 || e < (int64_t)1 << 30)
                return ERR(ML_EUNSUPP, "node '%s' (Slice): slicing axis 0 (the batch axis) is not supported", nd->name);
            continue;
        }
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        int64_t len = st > 0 ? (e - s + st - 1) / st : (s - e + (-st) - 1) / (-st);
        if (len < 1)
            return ERR(ML_EUNSUPP, "node '%s' (Slice): empty output at axis %d", nd->name, ax);
        p->nd_lo[ax] = s;
        p->nd_step[ax] = st;
        od[ax] = len;
    }
    od[0] = 1;
    return ML_OK;
}

static ml_status infer_pad(ml_node *nd, const ml_tensor *x, int64_t *od, ml_error *err)
{
    const ml_attrs *a = &nd->attrs;
    int r = x->ndim;
    if (a->npadnd != 2 * r)
        return ERR(ML_EFORMAT, "node '%s' (Pad): %d pads for %d dims", nd->name, a->npadnd, r);
    if (a->padnd[0] || a->padnd[r])
        return ERR(ML_EUNSUPP, "node '%s' (Pad): padding axis 0 (the batch axis) is not supported", nd->name);
    for (int d = 0; d < r; d++) {
        int64_t b = a->padnd[d], e = a->padnd[r + d];
        if (b < 0 || e < 0 || b > (1 << 20) || e > (1 << 20))
            return ERR(ML_EUNSUPP, "node '%s' (Pad): pads %lld, %lld at axis %d (negative pads crop: not supported)",
                       nd->name, (long long)b, (long long)e, d);
        if (a->pad_mode == 1 && (b >= x->dims[d] || e >= x->dims[d]))
            return ERR(ML_EUNSUPP, "node '%s' (Pad): reflect pads must be shorter than the axis", nd->name);
        od[d] = x->dims[d] + b + e;
    }
    od[0] = 1;
    return ML_OK;
}

static ml_status infer_resize(ml_node *nd, const ml_tensor *x, ml_plan *p, int64_t *od, ml_error *err)
{
    const ml_attrs *a = &nd->attrs;
    int r = x->ndim;
    if (a->nscales != r && a->nsizes != r)
        return ERR(ML_EFORMAT, "node '%s' (Resize): %d scales and %d sizes for %d dims", nd->name, a->nscales, a->nsizes, r);
    od[0] = 1;
    p->nd_scale[0] = 1;
    for (int d = 1; d < r; d++) {
        if (a->nscales == r) {
            double s = a->scales[d];
            if (!(s > 0) || s > 1 << 16)
                return ERR(ML_EFORMAT, "node '%s' (Resize): scale %g at axis %d", nd->name, s, d);
            od[d] = (int64_t)floor(s * (double)x->dims[d]);
            p->nd_scale[d] = s;
        } else {
            od[d] = a->sizes[d];
            p->nd_scale[d] = (double)a->sizes[d] / (double)x->dims[d];
        }
        if (od[d] < 1 || od[d] > (1 << 24))
            return ERR(ML_EFORMAT, "node '%s' (Resize): output length %lld at axis %d", nd->name, (long long)od[d], d);
    }
    if (a->nscales == r && a->scales[0] != 1)
        return ERR(ML_EUNSUPP, "node '%s' (Resize): resizing axis 0 (the batch axis) is not supported", nd->name);
    return ML_OK;
}

static ml_status infer_reduce(ml_node *nd, const ml_tensor *x, ml_plan *p, int64_t *od, int *ond, ml_error *err)
{
    const ml_attrs *a = &nd->attrs;
    int r = x->ndim;
    unsigned mask = 0;
    if (nd->op == ML_OP_GLOBALMAXPOOL) {
        if (r < 3)
            return ERR(ML_EFORMAT, "node '%s' (GlobalMaxPool): input has %d dims", nd->name, r);
        for (int d = 2; d < r; d++)
            mask |= 1u << d;
    } else {
        if (a->naxes == 0)
            return ERR(ML_EUNSUPP, "node '%s' (%s): reducing every axis takes in the batch axis (not supported)", nd->name,
                       ml_op_name(nd->op));
        for (int i = 0; i < a->naxes; i++) {
            int ax = norm_axis(a->axes[i], r);
            if (ax < 0 || ax >= r || (mask >> ax & 1))
                return ERR(ML_EFORMAT, "node '%s' (%s): axis %d out of range or repeated", nd->name, ml_op_name(nd->op),
                           a->axes[i]);
            if (ax == 0)
                return ERR(ML_EUNSUPP, "node '%s' (%s): reducing axis 0 (the batch axis) is not supported", nd->name,
                           ml_op_name(nd->op));
            mask |= 1u << ax;
        }
    }
    p->nd_red = mask;
    int k = 0;
    for (int d = 0; d < r; d++) {
        if (!(mask >> d & 1))
            od[k++] = x->dims[d];
        else if (a->keepdims || nd->op == ML_OP_GLOBALMAXPOOL)
            od[k++] = 1;
    }
    od[0] = 1;
    *ond = k;
    return ML_OK;
}

ml_status ml__nd_infer(ml_net *net, int ni, int64_t *od, int *ond, ml_error *err)
{
    ml_node *nd = &net->nodes[ni];
    ml_plan *p = &net->priv->plan[ni];
    const ml_tensor *x = &net->tensors[nd->inputs[0]];
    const ml_attrs *a = &nd->attrs;
    int r = x->ndim;
    if (!ml__nd_op(nd->op))
        return ERR(ML_EUNSUPP, "node '%s': unsupported op", nd->name);
    if (nd->op != ML_OP_CONCAT && !ml_is_activation(x))
        return ERR(ML_EUNSUPP, "node '%s' (%s): first input '%s' is a constant", nd->name, ml_op_name(nd->op), x->name);
    *ond = r;
    memcpy(od, x->dims, sizeof x->dims);
    if (ml__nd_unary(nd->op))
        return ML_OK;
    switch (nd->op) {
    case ML_OP_TRANSPOSE: {
        unsigned seen = 0;
        if (a->nperm != r)
            return ERR(ML_EUNSUPP, "node '%s' (Transpose): perm has %d entries for %d dims (the default reverses the batch axis)",
                       nd->name, a->nperm, r);
        for (int d = 0; d < r; d++) {
            int q = a->perm[d];
            if (q < 0 || q >= r || (seen >> q & 1))
                return ERR(ML_EFORMAT, "node '%s' (Transpose): perm is not a permutation", nd->name);
            seen |= 1u << q;
            od[d] = x->dims[q];
        }
        if (a->perm[0] != 0)
            return ERR(ML_EUNSUPP, "node '%s' (Transpose): moving axis 0 (the batch axis) is not supported", nd->name);
        return ML_OK;
    }
    case ML_OP_CONCAT:
        return infer_concat(net, nd, p, od, ond, err);
    case ML_OP_SLICE:
        return infer_slice(nd, x, p, od, err);
    case ML_OP_PAD:
        return infer_pad(nd, x, od, err);
    case ML_OP_RESIZE:
        return infer_resize(nd, x, p, od, err);
    default:
        return infer_reduce(nd, x, p, od, ond, err);
    }
}
