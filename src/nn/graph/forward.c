/* Inference: workspace buffers, the node loop with the fusion plan made at finalize
 * (Conv+BN+Relu, BN+Relu, Add+Relu), and top-1 evaluation on a data set. Batch items are
 * split across OpenMP threads inside the layer kernels; no reduction crosses items, so
 * results do not depend on the thread count. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "nn/backend.h"
#include "nn/nd/nd.h"

ml_status ml__ws_reserve(ml_net *net, int batch, int training, ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    if (!net->finalized || !p) return ml_error_set(err, ML_EINVAL, "net: not finalized");
    if (batch < 1) return ml_error_set(err, ML_EINVAL, "net: batch %d must be positive", batch);
    for (int i = 0; i < net->nnodes; i++)
        if (p->plan[i].item_batch && p->plan[i].item_batch != batch)
            return ml_error_set(err, ML_EINVAL, "node '%s' (%s): a constant operand holds %d batch items, the batch is %d",
                                net->nodes[i].name, ml_op_name(net->nodes[i].op), p->plan[i].item_batch, batch);
    if (batch > p->cap) {
        for (int t = 0; t < net->ntensors; t++) {
            if (!p->item[t] || t == net->input) continue;
            float *b = ml__realloc(p->act[t], (size_t)batch * p->item[t] * sizeof(float));
            if (!b) return ml_error_set(err, ML_ENOMEM, "net: out of memory for activations (batch %d)", batch);
            p->act[t] = b;
            if (p->dact[t]) { ml__free(p->dact[t]); p->dact[t] = NULL; }
        }
        p->cap = batch;
    }
    if (training)
        for (int t = 0; t < net->ntensors; t++) {
            if (!p->item[t] || p->dact[t]) continue;
            if (!(p->dact[t] = ml__calloc((size_t)p->cap * p->item[t], sizeof(float))))
                return ml_error_set(err, ML_ENOMEM, "net: out of memory for gradients");
        }
    int threads = omp_get_max_threads();
    size_t per = 1, fold = 1, wsz = 1, wino = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ml_node *nd = &net->nodes[i];
        const ml_geom *g = &p->plan[i].g;
        if (nd->op == ML_OP_CONV) {
            ml_conv_ws cw;
            p->plan[i].conv->workspace(g, batch, threads, training, &cw);
            size_t wn = (size_t)g->m * (g->c / g->group) * g->kh * g->kw;
            if (cw.col > per) per = cw.col;
            if (cw.wino > wino) wino = cw.wino;
            if (wn > wsz) wsz = wn;
            if ((size_t)g->m > fold) fold = (size_t)g->m;
        } else if (nd->op == ML_OP_BATCHNORM) {
            size_t c = (size_t)net->tensors[nd->inputs[0]].dims[1];
            if (c > fold) fold = c;
        }
    }
    if (per > p->scratch_per || threads > p->scratch_threads) {
        ml__free(p->scratch);
        p->scratch = ml__malloc((size_t)threads * 2 * per * sizeof(float));
        if (!p->scratch) { p->scratch_per = 0; p->scratch_threads = 0; return ml_error_set(err, ML_ENOMEM, "net: out of memory for im2col"); }
        p->scratch_per = per;
        p->scratch_threads = threads;
    }
    if (2 * fold > p->fold_cap) {
        ml__free(p->fold);
        if (!(p->fold = ml__malloc(2 * fold * sizeof(float)))) { p->fold_cap = 0; return ml_error_set(err, ML_ENOMEM, "net: out of memory"); }
        p->fold_cap = 2 * fold;
    }
    if (wino > p->wino_cap) {
        ml__free(p->wino);
        if (!(p->wino = ml__malloc(wino * sizeof(float)))) { p->wino_cap = 0; return ml_error_set(err, ML_ENOMEM, "net: out of memory for Winograd transforms"); }
        p->wino_cap = wino;
    }
    if (training && (size_t)ML_DW_CHUNKS * wsz > p->wpart_cap) {
        ml__free(p->wpart);
        if (!(p->wpart = ml__malloc((size_t)ML_DW_CHUNKS * wsz * sizeof(float)))) { p->wpart_cap = 0; return ml_error_set(err, ML_ENOMEM, "net: out of memory"); }
        p->wpart_cap = (size_t)ML_DW_CHUNKS * wsz;
    }
    return ML_OK;
}

float *ml__ws_scratch(ml_net *net, int thread)
{
    struct ml_net_priv *p = net->priv;
    return p->scratch + (size_t)thread * 2 * p->scratch_per;
}

float *ml__val(ml_net *net, int t, const float *x)
{
    if (t < 0) return NULL;
    if (net->tensors[t].data) return net->tensors[t].data;
    if (t == net->input) return (float *)x;
    return net->priv->act[t];
}

int ml__bn_fold_node(ml_net *net, int j, float *f)
{
    const ml_node *bn = &net->nodes[j];
    int c = (int)net->tensors[bn->inputs[0]].dims[1];
    ml__bn_fold(ml__val(net, bn->inputs[1], NULL), ml__val(net, bn->inputs[2], NULL), ml__val(net, bn->inputs[3], NULL),
               ml__val(net, bn->inputs[4], NULL), bn->attrs.epsilon, c, f, f + c);
    return c;
}

/* BN node j folded into per-channel scale/shift at p->fold */
static void fold_bn(ml_net *net, int j, float **s, float **sh)
{
    float *f = net->priv->fold;
    int c = ml__bn_fold_node(net, j, f);
    *s = f;
    *sh = f + c;
}

/* Forward of the nodes whose kernel is the same in inference and training: ReLU, pools,
 * the element-wise binaries (relu: a ReLU fused into them), Gemm/MatMul and the
 * shape-only ops. Returns 0 when nd is none of these. */
int ml__forward_common(ml_net *net, const ml_node *nd, const float *x, const float *a, int batch, int relu,
                      float *y)
{
    struct ml_net_priv *p = net->priv;
    const ml_plan *pl = &p->plan[nd - net->nodes];
    const size_t nin = p->item[nd->inputs[0]];
    switch (nd->op) {
    case ML_OP_RELU:
        ml__relu_forward(a, (size_t)batch * nin, y);
        return 1;
    case ML_OP_MAXPOOL:
        ml__maxpool_forward(&pl->g, a, batch, y);
        return 1;
    case ML_OP_AVGPOOL:
        ml__avgpool_forward(&pl->g, nd->attrs.count_include_pad, a, batch, y);
        return 1;
    case ML_OP_GLOBALAVGPOOL: {
        int c = (int)net->tensors[nd->inputs[0]].dims[1];
        ml__gap_forward(a, batch, c, (int)(nin / (size_t)c), y);
        return 1;
    }
    case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV:
    case ML_OP_POW: case ML_OP_MAX: case ML_OP_MIN: case ML_OP_PRELU:
        ml__binary_forward(nd->op, pl, a, ml__val(net, nd->inputs[1], x), batch, relu, y);
        return 1;
    case ML_OP_GEMM: case ML_OP_MATMUL: {
        const ml_tensor *C = nd->ninputs > 2 && nd->inputs[2] >= 0 ? &net->tensors[nd->inputs[2]] : NULL;
        ml__gemm_forward(nd, &net->tensors[nd->inputs[1]], C, a, batch, (int)nin, (int)p->item[nd->output], y);
        return 1;
    }
    case ML_OP_SIGMOID:
        ml__sigmoid_forward(a, (size_t)batch * nin, y);
        return 1;
    case ML_OP_LEAKYRELU:
        ml__leakyrelu_forward(a, (size_t)batch * nin, nd->attrs.alpha, y);
        return 1;
    case ML_OP_CLIP:
        ml__clip_forward(a, (size_t)batch * nin, nd->attrs.clip_min, nd->attrs.clip_max, y);
        return 1;
    case ML_OP_SOFTMAX: case ML_OP_LOGSOFTMAX: {
        const ml_tensor *t = &net->tensors[nd->inputs[0]];
        int ax = pl->axis;
        size_t outer = (size_t)batch, len = 1, inner = 1;
        for (int d = 1; d < ax; d++) outer *= (size_t)t->dims[d];
        for (int d = ax; d < t->ndim; d++) {
            if (d == ax || nd->attrs.softmax_flat) len *= (size_t)t->dims[d];
            else inner *= (size_t)t->dims[d];
        }
        ml__softmax_forward(a, outer, len, inner, y);
        if (nd->op == ML_OP_LOGSOFTMAX)
            ml__log_forward(y, outer * len * inner, y);
        return 1;
    }
    case ML_OP_FLATTEN: case ML_OP_RESHAPE: case ML_OP_IDENTITY:
        if (y != a) memcpy(y, a, (size_t)batch * nin * sizeof(float));
        return 1;
    default:
        return 0;
    }
}

ml_status ml_net_forward(ml_net *net, const float *x, int batch, float *logits, ml_error *err)
{
    ml_status st = ml__ws_reserve(net, batch, 0, err);
    if (st) return st;
    for (const ml_conv_backend *const *b = ml__conv_backends; *b; b++)
        if ((*b)->begin_pass)
            (*b)->begin_pass(net);
    struct ml_net_priv *p = net->priv;
    const int start = ml__dnnl_forward_chunked(net, x, batch);
    if (start < 0) {
        p->dnnl_oom = 0;
        return ml_error_set(err, ML_ENOMEM, "net: out of memory for chunked inference");
    }
    for (int i = start; i < net->nnodes; i++) {
        const ml_node *nd = &net->nodes[i];
        const ml_plan *pl = &p->plan[i];
        if (pl->skip) continue;
        int out = nd->output, relu = pl->fuse_relu >= 0;
        if (pl->fuse_bn >= 0) out = net->nodes[pl->fuse_bn].output;
        if (relu) out = net->nodes[pl->fuse_relu].output;
        const float *a = ml__val(net, nd->inputs[0], x);
        float *y = ml__val(net, out, x);
        const ml_tensor *ti = &net->tensors[nd->inputs[0]];
        switch (nd->op) {
        case ML_OP_CONV: {
            float *s = NULL, *sh = NULL;
            if (pl->fuse_bn >= 0) fold_bn(net, pl->fuse_bn, &s, &sh);
            const ml_conv_args ca = {.node = i, .g = &pl->g, .x = a, .w = ml__val(net, nd->inputs[1], x),
                                     .bias = nd->ninputs > 2 ? ml__val(net, nd->inputs[2], x) : NULL,
                                     .scale = s, .shift = sh, .relu = relu, .batch = batch};
            pl->conv->infer(net, &ca, y);
            if (p->dnnl_oom) {
                p->dnnl_oom = 0;
                return ml_error_set(err, ML_ENOMEM, "node '%s': out of memory", nd->name);
            }
            break;
        }
        case ML_OP_BATCHNORM: {
            float *s, *sh;
            fold_bn(net, i, &s, &sh);
            size_t hw = p->item[nd->inputs[0]] / (size_t)ti->dims[1];
            ml__bn_infer(a, s, sh, batch, (int)ti->dims[1], (int)hw, relu, y);
            break;
        }
        default:
            if (ml__nd_op(nd->op)) {
                if ((st = ml__nd_forward(net, i, x, batch, y, err)))
                    return st;
            } else if (!ml__forward_common(net, nd, x, a, batch, relu, y))
                return ml_error_set(err, ML_EUNSUPP, "node '%s': op %d has no inference kernel", nd->name, (int)nd->op);
        }
    }
    memcpy(logits, ml__val(net, net->output, x), (size_t)batch * net->classes * sizeof(float));
    return ML_OK;
}

ml_status ml_net_evaluate(ml_net *net, const ml_dataset *ds, size_t limit, int batch, ml_progress_fn progress,
                          void *progress_ctx, double *accuracy, double *images_per_s, ml_error *err)
{
    if (!net->finalized) return ml_error_set(err, ML_EINVAL, "net: not finalized");
    size_t n = limit && limit < ds->n ? limit : ds->n;
    const int64_t *is = net->input_shape;
    if (is[1] != ds->c || is[2] != ds->h || is[3] != ds->w)
        return ml_error_set(err, ML_EINVAL, "model input is %lldx%lldx%lld, data '%s' is %dx%dx%d", (long long)is[1],
                            (long long)is[2], (long long)is[3], ds->name, ds->c, ds->h, ds->w);
    if (batch < 1) batch = 64;
    float *logits = ml__malloc((size_t)batch * net->classes * sizeof *logits);
    if (!logits) return ml_error_set(err, ML_ENOMEM, "evaluate: out of memory");
    size_t correct = 0;
    double t0 = ml_now();
    for (size_t b0 = 0; b0 < n; b0 += (size_t)batch) {
        int bn = (int)(n - b0 < (size_t)batch ? n - b0 : (size_t)batch);
        ml_status st = ml_net_forward(net, ml_dataset_image(ds, b0), bn, logits, err);
        if (st) { ml__free(logits); return st; }
        for (int i = 0; i < bn; i++) {
            const float *l = logits + (size_t)i * net->classes;
            int best = 0;
            for (int k = 1; k < net->classes; k++)
                if (l[k] > l[best]) best = k;
            correct += best == ds->labels[b0 + (size_t)i];
        }
        if (progress) progress(progress_ctx, "inference", (double)(b0 + (size_t)bn), (double)n);
    }
    double dt = ml_now() - t0;
    ml__free(logits);
    *accuracy = (double)correct / (double)n;
    if (images_per_s) *images_per_s = dt > 0 ? (double)n / dt : 0;
    return ML_OK;
}
