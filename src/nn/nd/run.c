/* Forward of the N-D inference-only ops (nd.h): the dims with the batch, then the kernel. */
#include <string.h>
#include "core/alloc.h"
#include "nn/nd/nd.h"

/* Concat: per batch item and outer position, each input's run along the axis in turn. A
 * constant input is one entry per batch item (its first dim is the batch) or one for all. */
static void concat(ml_net *net, const ml_node *nd, const float *x, int batch, float *y)
{
    const ml_tensor *T = net->tensors;
    const ml_tensor *t0 = &T[nd->output];
    int r = t0->ndim, ax = nd->attrs.axis < 0 ? nd->attrs.axis + r : nd->attrs.axis;
    int64_t outer = 1, orun = 0;
    for (int d = 1; d < ax; d++)
        outer *= t0->dims[d];
    int64_t run[ML_MAX_INPUTS];
    const float *src[ML_MAX_INPUTS];
    int per_item[ML_MAX_INPUTS];
    for (int k = 0; k < nd->ninputs; k++) {
        const ml_tensor *t = &T[nd->inputs[k]];
        run[k] = 1;
        for (int d = ax; d < r; d++)
            run[k] *= t->dims[d];
        orun += run[k];
        src[k] = ml__val(net, nd->inputs[k], x);
        per_item[k] = ml_is_activation(t) || t->dims[0] > 1;
    }
    const int nin = nd->ninputs;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++)
        for (int64_t o = 0; o < outer; o++) {
            float *Y = y + ((int64_t)b * outer + o) * orun;
            for (int k = 0; k < nin; k++) {
                const float *S = src[k] + ((per_item[k] ? (int64_t)b * outer : 0) + o) * run[k];
                memcpy(Y, S, (size_t)run[k] * sizeof *Y);
                Y += run[k];
            }
        }
}

ml_status ml__nd_forward(ml_net *net, int ni, const float *x, int batch, float *y, ml_error *err)
{
    const ml_node *nd = &net->nodes[ni];
    const ml_plan *p = &net->priv->plan[ni];
    const ml_tensor *ti = &net->tensors[nd->inputs[0]], *to = &net->tensors[nd->output];
    const float *a = ml__val(net, nd->inputs[0], x);
    int r = ti->ndim;
    int64_t dims[ML_MAX_DIMS], odims[ML_MAX_DIMS], xs[ML_MAX_DIMS];
    memcpy(dims, ti->dims, sizeof dims);
    memcpy(odims, to->dims, sizeof odims);
    dims[0] = odims[0] = batch;
    if (ml__nd_unary(nd->op)) {
        ml__nd_unary_forward(nd->op, &nd->attrs, a, (size_t)batch * net->priv->item[nd->inputs[0]], y);
        return ML_OK;
    }
    switch (nd->op) {
    case ML_OP_TRANSPOSE: {
        int64_t ps[ML_MAX_DIMS];
        ml__nd_strides(dims, r, xs);
        for (int d = 0; d < r; d++)
            ps[d] = xs[nd->attrs.perm[d]];
        ml__nd_strided(a, r, odims, ps, 0, y);
        return ML_OK;
    }
    case ML_OP_SLICE: {
        int64_t ss[ML_MAX_DIMS], base = 0;
        ml__nd_strides(dims, r, xs);
        for (int d = 0; d < r; d++) {
            ss[d] = xs[d] * p->nd_step[d];
            base += p->nd_lo[d] * xs[d];
        }
        ml__nd_strided(a, r, odims, ss, base, y);
        return ML_OK;
    }
    case ML_OP_CONCAT:
        concat(net, nd, x, batch, y);
        return ML_OK;
    case ML_OP_PAD:
        ml__nd_pad(&nd->attrs, a, r, dims, odims, y);
        return ML_OK;
    case ML_OP_RESIZE:
        if (ml__nd_resize(&nd->attrs, p->nd_scale, a, r, dims, odims, y))
            return ml_error_set(err, ML_ENOMEM, "node '%s' (Resize): out of memory", nd->name);
        return ML_OK;
    default:
        if (nd->op == ML_OP_GLOBALMAXPOOL || (nd->op >= ML_OP_REDUCESUM && nd->op <= ML_OP_REDUCESUMSQUARE) ||
            nd->op == ML_OP_ARGMAX || nd->op == ML_OP_ARGMIN) {
            ml__nd_reduce(nd->op, p->nd_red, nd->attrs.select_last, a, r, dims, y);
            return ML_OK;
        }
        return ml_error_set(err, ML_EUNSUPP, "node '%s': op %d has no inference kernel", nd->name, (int)nd->op);
    }
}
