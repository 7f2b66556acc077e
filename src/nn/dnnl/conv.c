/* The oneDNN back-end table (ml__conv_onednn, nn/backend.h): convolutions on oneDNN's
 * kernels, which JIT-compile for the CPU found (AVX-512 where present) and run on
 * channel-blocked layouts: training (forward, input gradient, weight gradient; direct
 * kernels) and inference (Winograd or direct, BN folded, ReLU fused, the
 * weights kept in oneDNN's layout between batches). Activations stay NCHW in memlev; each chunk of images is
 * reordered into the blocked layout, convolved and reordered back (the input gradient is
 * added to what dx holds by the reorder's sum post-op).
 *
 * Thread independence: the batch is cut into the same ML_DW_CHUNKS chunks as the im2col
 * path; each chunk is one OpenMP iteration whose primitives run on that thread alone
 * (oneDNN runs single-threaded inside a parallel region, and the primitives are created
 * while the thread count is 1, so they are planned for one thread whatever the caller
 * uses), each with its own scratchpad: Debian's oneDNN shares one library scratchpad
 * between threads, so primitives run concurrently only with user-managed ones. Weight
 * gradients are reduced over the chunks in a fixed order. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/dnnl/priv.h"

/* Training forward: y = conv(x) + bias; 0 when done, non-zero when oneDNN cannot run it */
int dn_conv_forward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                    const float *bias, int batch, float *y, int extra)
{
    const plan *pl[ML_DW_CHUNKS];
    if (!dn_plans_ready(net, node, g, batch, (bias ? F_BIAS : 0) | extra, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (dn_weights_to(d, pl[0], pl[0]->r_w, &pl[0]->b_wei, &pl[0]->pad_rw, w, d->wblk))
        return -1;
    return dn_forward_chunks(d, pl, g, x, d->wblk, bias, batch, y, NULL, NULL);
}

/* Training backward: dx += the input gradient (dx may be NULL), the weight gradient of chunk
 * ch into dw_parts + ch * (weight size); 0 when done, non-zero when oneDNN cannot run it
 * (outputs may be partly written) */
int dn_conv_backward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                     const float *dy, int batch, int bias, float *dx, float *dw_parts, int extra)
{
    const plan *pl[ML_DW_CHUNKS];
    if (!dn_plans_ready(net, node, g, batch, (bias ? F_BIAS : 0) | extra, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (dx && dn_weights_to(d, pl[0], pl[0]->r_wd, &pl[0]->bd_wei, &pl[0]->pad_rwd, w, d->wblk))
        return -1;
    const int nch = dn_chunk_count(batch, 0);
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * g->oh * g->ow;
    const size_t wsize = (size_t)g->m * g->c * g->kh * g->kw;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const int t = omp_get_thread_num(), n0 = dn_chunk_start(batch, 0, ch);
        const plan *p = pl[ch];
        float *xb, *dyb, *dxb, *dwb, *pad;
        dn_carve(d, p, t, &xb, &dyb, &dxb, &dwb, &pad);
        const marg aw[3] = {{DNNL_ARG_SRC, &p->b_src, xb}, {DNNL_ARG_DIFF_DST, &p->bd_dst, dyb},
                            {DNNL_ARG_DIFF_WEIGHTS, &p->bw_dwei, dwb}};
        bad |= dn_reorder(d, t, p->r_x, &p->u_src, x + (size_t)n0 * xin, &p->b_src, xb) ||
               dn_reorder(d, t, p->r_dy, &p->u_dst, dy + (size_t)n0 * yout, &p->bd_dst, dyb) ||
               dn_run(d, t, p->bwd_w, 3, aw, &p->pad_bwd_w, pad) ||
               dn_reorder(d, t, p->r_dw, &p->bw_dwei, dwb, &p->u_wei, dw_parts + (size_t)ch * wsize);
        if (dx) {
            const marg ad[3] = {{DNNL_ARG_DIFF_DST, &p->bd_dst, dyb}, {DNNL_ARG_WEIGHTS, &p->bd_wei, d->wblk},
                                {DNNL_ARG_DIFF_SRC, &p->bd_src, dxb}};
            bad |= dn_run(d, t, p->bwd_d, 3, ad, &p->pad_bwd_d, pad) ||
                   dn_reorder(d, t, p->r_dx, &p->bd_src, dxb, &p->u_src, dx + (size_t)n0 * xin);
        }
    }
    return bad ? -1 : 0;
}

const float *dn_infer_weights(struct ml_dnnl *d, int node, const plan *p, const ml_geom *g,
                              const float *w, const float *bias, const float *scale,
                              const float *shift, const float **bias_out, int *oom)
{
    const size_t K = (size_t)g->c * g->kh * g->kw, M = (size_t)g->m;
    uint64_t key = ml__hash_floats(w, M * K, 1469598103934665603ull);
    key = ml__hash_floats(bias, M, key);
    key = ml__hash_floats(scale, M, key);
    key = ml__hash_floats(shift, M, key);
    key = key ? key : 1;
    const size_t wb = dn_bytes(&p->b_wei);
    if (d->fold_cap < M * (K + 1)) {
        ml__free(d->fold);
        if (!(d->fold = ml__malloc(sizeof(float) * M * (K + 1)))) {
            d->fold_cap = 0;
            *oom = 1;
            return NULL;
        }
        d->fold_cap = M * (K + 1);
    }
    float *wf = d->fold, *bf = d->fold + M * K;
    *bias_out = bias;
    if (scale) { /* (conv(x, w) + b) s + t = conv(x, w s) + (b s + t); serial: M is small and
                  * a parallel region per layer and batch costs more under load */
        for (size_t m = 0; m < M; m++)
            bf[m] = (bias ? bias[m] : 0.0f) * scale[m] + shift[m];
        *bias_out = bf;
    }
    if (d->wcache[node] && d->wcache_key[node] == key && d->wcache_bytes[node] == wb)
        return d->wcache[node];
    if (scale) {
#pragma omp parallel for schedule(static)
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++)
                wf[m * K + k] = w[m * K + k] * scale[m];
        w = wf;
    }
    if (d->wcache_bytes[node] != wb) {
        d->wcache_total -= d->wcache_bytes[node];
        ml__free(d->wcache[node]);
        d->wcache[node] = NULL;
        d->wcache_bytes[node] = 0;
        if (d->wcache_total + wb <= WCACHE_MAX && (d->wcache[node] = ml__aligned_alloc(64, (wb + 63) / 64 * 64))) {
            d->wcache_bytes[node] = wb;
            d->wcache_total += wb;
        }
    }
    float *dst = d->wcache[node] ? d->wcache[node] : d->wblk;
    if (dn_weights_to(d, p, p->r_w, &p->b_wei, &p->pad_rw, w, dst))
        return NULL;
    d->wcache_key[node] = d->wcache[node] ? key : 0;
    return dst;
}

/* Can this node's output be left in oneDNN's layout for node next? Only when next's plans
 * for this batch exist already (from an earlier batch) and read exactly that layout. */
static int can_carry(ml_net *net, const plan **pl, int batch, int next, int next_flags)
{
    struct ml_dnnl *d = net->priv->dnnl;
    if (next < 0 || next >= d->nnodes)
        return 0;
    const int flags = pl[0]->flags, nch = dn_chunk_count(batch, flags);
    if (dn_chunk_count(batch, next_flags) != nch)
        return 0;
    for (int ch = 0; ch < nch; ch++) {
        const plan *q = NULL;
        for (int s = 0; s < SLOTS && !q; s++)
            if (d->plans[next][s].nb == pl[ch]->nb && d->plans[next][s].flags == next_flags)
                q = &d->plans[next][s];
        if (!q || !dnnl_memory_desc_equal(&q->b_src, &pl[ch]->b_dst))
            return 0;
    }
    for (int ch = 0; ch < nch; ch++) { /* the other buffer from the one being read */
        const int b = !d->carry_buf;
        const size_t need = dn_bytes(&pl[ch]->b_dst);
        if (d->carry_bytes[b][ch] < need) {
            ml__free(d->carry[b][ch]);
            d->carry_bytes[b][ch] = 0;
            if (!(d->carry[b][ch] = ml__aligned_alloc(64, (need + 63) / 64 * 64)))
                return 0;
            d->carry_bytes[b][ch] = need;
        }
    }
    return 1;
}

/* Inference: y = relu((conv(x, w) + bias) * scale + shift), with the scale folded into the
 * weights and Winograd where oneDNN has it. When node `next` is the next one to run and the
 * only reader of y, a oneDNN convolution with plan flags next_flags, y may be left unwritten
 * and passed to it in oneDNN's layout (next < 0: y is always written). 0 when done,
 * non-zero when oneDNN cannot run it. */
static int dn_conv_infer(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                         const float *bias, const float *scale, const float *shift, int relu, int batch,
                         float *y, int next, int next_flags)
{
    const plan *pl[ML_DW_CHUNKS];
    const int has_bias = bias || scale;
    struct ml_dnnl *d = net->priv->dnnl;
    const int carried_in = d && d->carry_node == node && d->carry_batch == batch;
    if (d && d->carry_node >= 0 && !carried_in && dn_carry_flush(d))
        return -1;
    if (!dn_plans_ready(net, node, g, batch, F_INFER | (has_bias ? F_BIAS : 0) | (relu ? F_RELU : 0), pl) ||
        (carried_in && !dnnl_memory_desc_equal(&pl[0]->b_src, &d->carry_pl[0]->b_dst))) {
        if (carried_in) dn_carry_flush(d); /* the fallback reads x */
        return -1;
    }
    d = net->priv->dnnl;
    const float *wb = dn_infer_weights(d, node, pl[0], g, w, bias, scale, shift, &bias, &net->priv->dnnl_oom);
    if (!wb) {
        if (carried_in) dn_carry_flush(d);
        return -1;
    }
    const int carry_out = can_carry(net, pl, batch, next, next_flags);
    const int in_buf = d->carry_buf, out_buf = !d->carry_buf;
    if (dn_forward_chunks(d, pl, g, x, wb, bias, batch, y, carried_in ? d->carry[in_buf] : NULL,
                          carry_out ? d->carry[out_buf] : NULL)) {
        d->carry_node = -1;
        return -1;
    }
    d->carry_node = -1;
    if (carry_out) {
        d->carried++;
        d->carry_node = next;
        d->carry_buf = out_buf;
        d->carry_batch = batch;
        d->carry_y = y;
        for (int ch = 0; ch < dn_chunk_count(batch, pl[0]->flags); ch++)
            d->carry_pl[ch] = pl[ch];
    }
    return 0;
}

long ml__dnnl_carried(const ml_net *net)
{
    return net->priv && net->priv->dnnl ? net->priv->dnnl->carried : 0;
}

/* nothing pending from a forward that stopped half-way */
static void onednn_begin_pass(ml_net *net)
{
    if (net->priv->dnnl)
        net->priv->dnnl->carry_node = -1;
}

int dn_infer_output(const ml_net *net, int i)
{
    const ml_plan *pl = &net->priv->plan[i];
    if (pl->fuse_relu >= 0)
        return net->nodes[pl->fuse_relu].output;
    if (pl->fuse_bn >= 0)
        return net->nodes[pl->fuse_bn].output;
    return net->nodes[i].output;
}

int dn_infer_flags(const ml_net *net, int i, int relu_of)
{
    const ml_plan *pl = &net->priv->plan[i];
    const int bias = net->nodes[i].ninputs > 2 || pl->fuse_bn >= 0;
    return F_INFER | (bias ? F_BIAS : 0) | (net->priv->plan[relu_of].fuse_relu >= 0 ? F_RELU : 0);
}

/* The node that runs right after conv node i when it is a oneDNN convolution and the only
 * reader of i's output (which may then stay in oneDNN's layout between them), with its
 * plan flags; else -1. */
static int conv_reader(const ml_net *net, int i, int *flags)
{
    const struct ml_net_priv *p = net->priv;
    const int out = dn_infer_output(net, i);
    int k = i + 1;
    while (k < net->nnodes && p->plan[k].skip)
        k++;
    if (k >= net->nnodes || net->nodes[k].op != ML_OP_CONV || net->nodes[k].inputs[0] != out ||
        p->nuse[out] != 1 || out == net->output || !ml__conv_is_onednn(p->plan[k].conv))
        return -1;
    *flags = dn_infer_flags(net, k, k);
    return k;
}

/* The table's entries: oneDNN where it can run the call, else the layer's builtin engine
 * (a batch whose chunk size oneDNN has no kernel for). Out of memory inside oneDNN is no
 * reason to fall back (the builtin kernels' bits differ): the flag dnnl_oom is left set and
 * the driver fails the call with ML_ENOMEM. */
static void onednn_infer(ml_net *net, const ml_conv_args *a, float *y)
{
    int next_flags = 0;
    const int next = conv_reader(net, a->node, &next_flags);
    if (dn_conv_infer(net, a->node, a->g, a->x, a->w, a->bias, a->scale, a->shift, a->relu, a->batch,
                      y, next, next_flags) && !net->priv->dnnl_oom)
        ml__conv_builtin(a->g)->infer(net, a, y);
}

static void onednn_forward(ml_net *net, const ml_conv_args *a, float *y)
{
    if (dn_conv_forward(net, a->node, a->g, a->x, a->w, a->bias, a->batch, y, 0) && !net->priv->dnnl_oom)
        ml__conv_builtin(a->g)->forward(net, a, y);
}

ml_status dn_backward_entry(ml_net *net, const ml_conv_args *a, const float *dy, float *dx, float *dw,
                            float *db, int extra, ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    const ml_geom *g = a->g;
    const int nch = ml_dw_chunks(a->batch);
    const size_t wsize = (size_t)g->m * (g->c / g->group) * g->kh * g->kw;
    if (p->wpart_cap < (size_t)nch * wsize)
        return ml_error_set(err, ML_ENOMEM, "conv backward: workspace too small");
    if (dn_conv_backward(net, a->node, g, a->x, a->w, dy, a->batch, db != NULL, dx, p->wpart, extra)) {
        if (p->dnnl_oom) { /* no fallback: its bits differ */
            p->dnnl_oom = 0;
            return ml_error_set(err, ML_ENOMEM, "conv backward: out of memory");
        }
        return ml__conv_builtin(g)->backward(net, a, dy, dx, dw, db, err);
    }
    ml__conv_reduce_parts(g, p->wpart, nch, 0, dw);
    if (db)
        ml__conv_bias_grad(g, dy, a->batch, db);
    return ML_OK;
}

static ml_status onednn_backward(ml_net *net, const ml_conv_args *a, const float *dy, float *dx,
                                 float *dw, float *db, ml_error *err)
{
    return dn_backward_entry(net, a, dy, dx, dw, db, 0, err);
}

static int onednn_supports(const ml_geom *g)
{
    return g->group == 1;
}

/* oneDNN keeps its buffers in the net's oneDNN state; the workspace is the fallback's */
static void onednn_workspace(const ml_geom *g, int batch, int threads, int training, ml_conv_ws *ws)
{
    ml__conv_builtin(g)->workspace(g, batch, threads, training, ws);
}

const ml_conv_backend ml__conv_onednn = {
    .name = "oneDNN",
    .supports = onednn_supports,
    .workspace = onednn_workspace,
    .infer = onednn_infer,
    .forward = onednn_forward,
    .backward = onednn_backward,
    .begin_pass = onednn_begin_pass,
};
