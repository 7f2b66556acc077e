/* Inference chunk by chunk: the leading run of a net's nodes that treat images
 * independently (oneDNN convolutions with their fused BN and ReLU, element-wise ops, pools,
 * reshapes) runs in one OpenMP loop over fixed chunks of images, each chunk through all of
 * those layers on one thread, instead of one parallel loop (and one barrier) per layer.
 * Under load a barrier per layer costs the whole team the slowest thread's delay every
 * layer; here the threads meet once per batch.
 *
 * The chunks are dn_chunk_count's (batch size only), each convolution runs the same oneDNN
 * primitive on the same chunk as the layer-by-layer path, and the other kernels compute
 * each element alone, so the logits are bit-identical to that path and independent of
 * the thread count. A convolution whose output only the next convolution reads hands it
 * over in oneDNN's blocked layout (per-thread buffers), from the first batch on. Everything
 * a chunk needs is made before the loop (plans, cached weights, folded biases); the loop
 * itself only runs primitives on per-thread memory. */
#include <omp.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/dnnl/priv.h"

struct dn_chunked {
    int nnodes, ntensors, threads;
    const plan *(*pl)[ML_DW_CHUNKS]; /* per conv node and chunk */
    const float **wb;                /* per conv node: weights in the plans' layout */
    const float **bias;              /* per conv node: bias to add (NULL: none) */
    float **fbias;                   /* per conv node: folded bias (owned) */
    size_t *fbias_cap;
    int *sum_add;                    /* per conv node: the Add fused into it, -1 none */
    int *sum_src;                    /* per conv node: that Add's other operand */
    int *fused;                      /* per node: an Add fused into the conv before it */
    int *slot;                       /* per tensor: its buffer in oneDNN's layout, -1 NCHW */
    int *last;                       /* per tensor: the last node reading it (prepare) */
    float *fold;                     /* BN scale | shift of the node being prepared */
    size_t fold_cap;
    float **slots;                   /* per thread: nslots buffers of slot_bytes */
    int nslots, slots_made;
    size_t slot_bytes;
};

void dn_chunked_free(struct dn_chunked *ck)
{
    if (!ck)
        return;
    for (int n = 0; ck->fbias && n < ck->nnodes; n++)
        ml__free(ck->fbias[n]);
    for (int i = 0; ck->slots && i < ck->threads * ck->slots_made; i++)
        ml__free(ck->slots[i]);
    ml__free(ck->slots);
    ml__free(ck->pl);
    ml__free(ck->wb);
    ml__free(ck->bias);
    ml__free(ck->fbias);
    ml__free(ck->fbias_cap);
    ml__free(ck->sum_add);
    ml__free(ck->sum_src);
    ml__free(ck->fused);
    ml__free(ck->slot);
    ml__free(ck->last);
    ml__free(ck->fold);
    ml__free(ck);
}

static struct dn_chunked *chunked_state(const ml_net *net, struct ml_dnnl *d)
{
    if (d->ck)
        return d->ck;
    struct dn_chunked *ck = ml__calloc(1, sizeof *ck);
    if (!ck)
        return NULL;
    const size_t n = (size_t)d->nnodes, nt = (size_t)net->ntensors;
    ck->nnodes = d->nnodes;
    ck->ntensors = net->ntensors;
    ck->threads = d->threads;
    ck->pl = ml__calloc(n, sizeof *ck->pl);
    ck->wb = ml__calloc(n, sizeof *ck->wb);
    ck->bias = ml__calloc(n, sizeof *ck->bias);
    ck->fbias = ml__calloc(n, sizeof *ck->fbias);
    ck->fbias_cap = ml__calloc(n, sizeof *ck->fbias_cap);
    ck->sum_add = ml__calloc(n, sizeof *ck->sum_add);
    ck->sum_src = ml__calloc(n, sizeof *ck->sum_src);
    ck->fused = ml__calloc(n, sizeof *ck->fused);
    ck->slot = ml__calloc(nt, sizeof *ck->slot);
    ck->last = ml__calloc(nt, sizeof *ck->last);
    if (!ck->pl || !ck->wb || !ck->bias || !ck->fbias || !ck->fbias_cap || !ck->sum_add || !ck->sum_src ||
        !ck->fused || !ck->slot || !ck->last) {
        dn_chunked_free(ck);
        return NULL;
    }
    return d->ck = ck;
}

/* Can node i run on a chunk of images alone, on one thread, with nothing shared written? */
static int chunkable(const ml_net *net, int i)
{
    const ml_node *nd = &net->nodes[i];
    const ml_plan *pl = &net->priv->plan[i];
    switch (nd->op) {
    case ML_OP_CONV:
        return pl->conv == &ml__conv_onednn && pl->g.group == 1;
    case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV:
        return !pl->item_batch;
    case ML_OP_RELU: case ML_OP_MAXPOOL: case ML_OP_AVGPOOL: case ML_OP_GLOBALAVGPOOL:
    case ML_OP_SIGMOID: case ML_OP_LEAKYRELU: case ML_OP_CLIP:
    case ML_OP_FLATTEN: case ML_OP_RESHAPE: case ML_OP_IDENTITY:
        return 1;
    default:
        return 0;
    }
}

/* conv node i's plan flags: its own fused BN and ReLU, and with a fused Add the sum and the
 * Add's ReLU */
static int conv_flags(const ml_net *net, const struct dn_chunked *ck, int i)
{
    const int k = ck->sum_add[i];
    return dn_infer_flags(net, i, k >= 0 ? k : i) | (k >= 0 ? F_SUM : 0);
}

/* conv node i's weights and bias for its plans ck->pl[i]; 0 when ready, 1 when they cannot
 * be kept (not cached), -1 when memory ran out */
static int conv_weights(ml_net *net, struct ml_dnnl *d, struct dn_chunked *ck, int i)
{
    const ml_node *nd = &net->nodes[i];
    const ml_plan *pl = &net->priv->plan[i];
    const ml_geom *g = &pl->g;
    float *s = NULL, *sh = NULL;
    if (pl->fuse_bn >= 0) {
        if (ck->fold_cap < 2 * (size_t)g->m) {
            ml__free(ck->fold);
            ck->fold_cap = 0;
            if (!(ck->fold = ml__malloc(2 * (size_t)g->m * sizeof(float))))
                return -1;
            ck->fold_cap = 2 * (size_t)g->m;
        }
        s = ck->fold; /* the BN reads the conv's output: g->m channels */
        sh = ck->fold + ml__bn_fold_node(net, pl->fuse_bn, s);
    }
    const float *b0 = nd->ninputs > 2 ? ml__val(net, nd->inputs[2], NULL) : NULL, *bias = b0;
    int oom = 0;
    const float *wb = dn_infer_weights(d, i, ck->pl[i][0], g, ml__val(net, nd->inputs[1], NULL), b0, s, sh,
                                       &bias, &oom);
    if (!wb)
        return oom ? -1 : 1;
    if (wb == d->wblk) /* not cached: the next layer's weights would overwrite them */
        return 1;
    ck->wb[i] = wb;
    ck->bias[i] = bias;
    if (bias && bias != b0) { /* the folded bias lives in d->fold: keep a copy */
        if (ck->fbias_cap[i] < (size_t)g->m) {
            ml__free(ck->fbias[i]);
            ck->fbias_cap[i] = 0;
            if (!(ck->fbias[i] = ml__malloc((size_t)g->m * sizeof(float))))
                return -1;
            ck->fbias_cap[i] = (size_t)g->m;
        }
        memcpy(ck->fbias[i], bias, (size_t)g->m * sizeof(float));
        ck->bias[i] = ck->fbias[i];
    }
    return 0;
}

/* the next node that runs after i (skipping fused ones), or n */
static int next_node(const ml_net *net, int i, int n)
{
    int k = i + 1;
    while (k < n && net->priv->plan[k].skip)
        k++;
    return k;
}

/* the tensor conv node i finally writes: its own (with BN, ReLU) or its fused Add's */
static int final_out(const ml_net *net, const struct dn_chunked *ck, int i)
{
    return ck->sum_add[i] >= 0 ? dn_infer_output(net, ck->sum_add[i]) : dn_infer_output(net, i);
}

static int same_layouts(const plan *const *a, const plan *const *b, int src_of_b, int nch)
{
    for (int ch = 0; ch < nch; ch++)
        if (!dnnl_memory_desc_equal(&a[ch]->b_dst, src_of_b ? &b[ch]->b_src : &b[ch]->b_dst))
            return 0;
    return 1;
}

/* May tensor t, written by conv node i, stay in oneDNN's layout? Only when every node
 * reading it is in the run and reads that layout: a conv (its input), or an Add fused into
 * a conv with the same output layout (the Add's other operand). */
static int stays_blocked(const ml_net *net, const struct dn_chunked *ck, int t, int i, int upto, int nch)
{
    if (t == net->output)
        return 0;
    for (int r = 0; r < net->nnodes; r++) {
        const ml_node *nd = &net->nodes[r];
        int reads = 0;
        for (int j = 0; j < nd->ninputs; j++)
            reads += nd->inputs[j] == t;
        if (!reads)
            continue;
        if (r >= upto || reads > 1 || net->priv->plan[r].skip)
            return 0;
        if (ck->fused[r]) {
            const int j = ck->fused[r] - 1; /* the conv it is fused into */
            if (ck->sum_src[j] != t || !same_layouts(ck->pl[i], ck->pl[j], 0, nch))
                return 0;
        } else if (nd->op != ML_OP_CONV || nd->inputs[0] != t || !same_layouts(ck->pl[i], ck->pl[r], 1, nch)) {
            return 0;
        }
    }
    return 1;
}

/* Which Adds fuse into the conv before them and which conv outputs stay in oneDNN's layout
 * (ck->slot[t] 1 or -1), from the plans without sums in ck->pl. */
static void choose_layouts(const ml_net *net, struct dn_chunked *ck, int upto, int nch, int fuse)
{
    const struct ml_net_priv *p = net->priv;
    for (int i = 0; i < upto; i++) {
        ck->sum_add[i] = -1;
        ck->fused[i] = 0;
    }
    for (int i = 0; fuse && i < upto; i++) { /* Conv(+BN) then a residual Add(+ReLU) */
        const int k = next_node(net, i, upto), t = dn_infer_output(net, i);
        if (p->plan[i].skip || net->nodes[i].op != ML_OP_CONV || k >= upto || net->nodes[k].op != ML_OP_ADD ||
            p->plan[i].fuse_relu >= 0 || p->nuse[t] != 1 || t == net->output)
            continue;
        const ml_plan *a = &p->plan[k];
        const ml_node *add = &net->nodes[k];
        if (!a->batched[0] || !a->batched[1] || a->opitem[0] != p->item[t] || a->opitem[1] != p->item[t] ||
            p->item[add->output] != p->item[t] || (add->inputs[0] == t) == (add->inputs[1] == t))
            continue;
        ck->sum_add[i] = k;
        ck->sum_src[i] = add->inputs[add->inputs[0] == t];
        ck->fused[k] = i + 1;
    }
    for (int changed = 1; changed;) { /* an Add whose other operand is not kept blocked unfuses */
        for (int t = 0; t < net->ntensors; t++)
            ck->slot[t] = -1;
        for (int i = 0; i < upto; i++)
            if (!p->plan[i].skip && net->nodes[i].op == ML_OP_CONV) {
                const int t = final_out(net, ck, i);
                ck->slot[t] = stays_blocked(net, ck, t, i, upto, nch) ? 1 : -1;
            }
        changed = 0;
        for (int i = 0; i < upto; i++)
            if (ck->sum_add[i] >= 0 && ck->slot[ck->sum_src[i]] < 0) {
                ck->fused[ck->sum_add[i]] = 0;
                ck->sum_add[i] = -1;
                changed = 1;
            }
    }
}

/* Buffers for the tensors kept in oneDNN's layout, reused once their last reader ran (an
 * Add's output takes its operand's buffer when the Add reads it last); ck->slot[t] becomes
 * the buffer's index. The number of buffers. */
static int assign_slots(const ml_net *net, struct dn_chunked *ck, int upto)
{
    int owner[64], n = 0;
    for (int t = 0; t < net->ntensors; t++)
        ck->last[t] = -1;
    for (int r = 0; r < upto; r++)
        for (int j = 0; j < net->nodes[r].ninputs; j++)
            ck->last[net->nodes[r].inputs[j]] = r;
    for (int i = 0; i < upto; i++) {
        if (net->priv->plan[i].skip || ck->fused[i] || net->nodes[i].op != ML_OP_CONV)
            continue;
        const int t = final_out(net, ck, i), k = ck->sum_add[i];
        if (ck->slot[t] >= 0) {
            int s = -1;
            if (k >= 0 && ck->last[ck->sum_src[i]] == k) /* in place */
                s = ck->slot[ck->sum_src[i]];
            for (int b = 0; b < n && s < 0; b++)
                if (owner[b] < 0)
                    s = b;
            if (s < 0) {
                if (n == 64)
                    return -1;
                s = n++;
            }
            owner[s] = t;
            ck->slot[t] = s;
        }
        for (int j = 0; j < net->nodes[i].ninputs; j++) { /* inputs read for the last time */
            const int in = net->nodes[i].inputs[j];
            if (ck->slot[in] >= 0 && ck->last[in] == i && owner[ck->slot[in]] == in)
                owner[ck->slot[in]] = -1;
        }
        if (k >= 0 && ck->last[ck->sum_src[i]] == k && owner[ck->slot[ck->sum_src[i]]] == ck->sum_src[i])
            owner[ck->slot[ck->sum_src[i]]] = -1;
    }
    return n;
}

/* Plans and weights of every conv in the run, fused as chosen; 0, 1 when a fused plan reads
 * or writes another layout than the unfused one (then nothing fuses), -1 out of memory */
static int final_plans(ml_net *net, struct ml_dnnl *d, struct dn_chunked *ck, int upto, int batch, int nch)
{
    for (int i = 0; i < upto; i++) {
        if (net->priv->plan[i].skip || net->nodes[i].op != ML_OP_CONV)
            continue;
        if (ck->sum_add[i] >= 0) {
            dnnl_memory_desc_t src[ML_DW_CHUNKS], dst[ML_DW_CHUNKS];
            for (int ch = 0; ch < nch; ch++) {
                src[ch] = ck->pl[i][ch]->b_src;
                dst[ch] = ck->pl[i][ch]->b_dst;
            }
            if (!dn_plans_ready(net, i, &net->priv->plan[i].g, batch, conv_flags(net, ck, i), ck->pl[i]))
                return net->priv->dnnl_oom ? -1 : 1;
            for (int ch = 0; ch < nch; ch++)
                if (!dnnl_memory_desc_equal(&src[ch], &ck->pl[i][ch]->b_src) ||
                    !dnnl_memory_desc_equal(&dst[ch], &ck->pl[i][ch]->b_dst))
                    return 1;
        }
        const int rc = conv_weights(net, d, ck, i);
        if (rc)
            return rc;
    }
    return 0;
}

/* Everything the chunks need for this batch; the number of leading nodes they run (0:
 * none), or -1 when memory ran out. */
static int prepare(ml_net *net, struct ml_dnnl *d, struct dn_chunked *ck, int batch)
{
    const int nch = dn_chunk_count(batch, F_INFER);
    int upto = 0;
    for (int i = 0; i < net->nnodes; i++) {
        if (net->priv->plan[i].skip)
            continue;
        if (!chunkable(net, i))
            break;
        if (net->nodes[i].op == ML_OP_CONV) {
            ck->sum_add[i] = -1;
            if (!dn_plans_ready(net, i, &net->priv->plan[i].g, batch, conv_flags(net, ck, i), ck->pl[i])) {
                if (net->priv->dnnl_oom)
                    return -1;
                break;
            }
        }
        upto = i + 1;
    }
    int rc = 1;
    for (int fuse = 1; fuse >= 0 && rc; fuse--) {
        choose_layouts(net, ck, upto, nch, fuse);
        rc = final_plans(net, d, ck, upto, batch, nch);
        if (rc < 0)
            return -1;
        if (rc && fuse) /* back to the plans without sums */
            for (int i = 0; i < upto; i++)
                if (ck->sum_add[i] >= 0) {
                    ck->sum_add[i] = -1;
                    if (!dn_plans_ready(net, i, &net->priv->plan[i].g, batch, conv_flags(net, ck, i), ck->pl[i]))
                        return net->priv->dnnl_oom ? -1 : 0;
                }
    }
    if (rc)
        return 0;
    const int n = assign_slots(net, ck, upto);
    if (n < 0)
        return 0;
    size_t need = 0;
    for (int i = 0; i < upto; i++)
        if (!net->priv->plan[i].skip && net->nodes[i].op == ML_OP_CONV && ck->slot[final_out(net, ck, i)] >= 0)
            for (int ch = 0; ch < nch; ch++)
                if (dn_bytes(&ck->pl[i][ch]->b_dst) > need)
                    need = dn_bytes(&ck->pl[i][ch]->b_dst);
    if (n > ck->nslots || need > ck->slot_bytes) {
        for (int j = 0; ck->slots && j < ck->threads * ck->slots_made; j++)
            ml__free(ck->slots[j]);
        ml__free(ck->slots);
        ck->slots_made = ck->nslots = 0;
        ck->slot_bytes = 0;
        if (!(ck->slots = ml__calloc((size_t)ck->threads * (size_t)n + 1, sizeof *ck->slots)))
            return -1;
        ck->slots_made = n;
        for (int j = 0; j < ck->threads * n; j++)
            if (!(ck->slots[j] = ml__aligned_alloc(64, (need + 63) / 64 * 64)))
                return -1;
        ck->nslots = n;
        ck->slot_bytes = need;
    }
    return upto;
}

/* Nodes [0, upto) on images [n0, n0 + nb) (chunk ch) on thread t; 0 when done. */
static int run_chunk(ml_net *net, struct ml_dnnl *d, const struct dn_chunked *ck, const float *x, int upto,
                     int ch, int n0, int nb, int t)
{
    struct ml_net_priv *p = net->priv;
    float *const *slots = ck->slots + (size_t)t * ck->slots_made;
    for (int i = 0; i < upto; i++) {
        const ml_node *nd = &net->nodes[i];
        const ml_plan *pl = &p->plan[i];
        if (pl->skip || ck->fused[i])
            continue;
        if (nd->op == ML_OP_CONV) {
            const plan *q = ck->pl[i][ch];
            const ml_geom *g = &pl->g;
            const int in = nd->inputs[0], out = final_out(net, ck, i);
            float *xb, *yb, *dxb, *dwb, *pad;
            dn_carve(d, q, t, &xb, &yb, &dxb, &dwb, &pad);
            if (ck->slot[in] >= 0)
                xb = slots[ck->slot[in]];
            else if (dn_reorder(d, t, q->r_x, &q->u_src, ml__val(net, in, x) + (size_t)n0 * g->c * g->h * g->w,
                                &q->b_src, xb))
                return -1;
            if (ck->slot[out] >= 0)
                yb = slots[ck->slot[out]];
            if (ck->sum_add[i] >= 0 && slots[ck->slot[ck->sum_src[i]]] != yb)
                memcpy(yb, slots[ck->slot[ck->sum_src[i]]], dn_bytes(&q->b_dst));
            const marg a[4] = {{DNNL_ARG_SRC, &q->b_src, xb}, {DNNL_ARG_WEIGHTS, &q->b_wei, (void *)ck->wb[i]},
                               {DNNL_ARG_DST, &q->b_dst, yb}, {DNNL_ARG_BIAS, &q->u_bias, (void *)ck->bias[i]}};
            if (dn_run(d, t, q->fwd, ck->bias[i] ? 4 : 3, a, &q->pad_fwd, pad) ||
                (ck->slot[out] < 0 && dn_reorder(d, t, q->r_y, &q->b_dst, yb, &q->u_dst,
                                                 ml__val(net, out, x) + (size_t)n0 * g->m * g->oh * g->ow)))
                return -1;
            continue;
        }
        const int out = dn_infer_output(net, i), relu = pl->fuse_relu >= 0;
        float *y = ml__val(net, out, x) + (size_t)n0 * p->item[out];
        switch (nd->op) {
        case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV: {
            const float *a = ml__val(net, nd->inputs[0], x) + (pl->batched[0] ? (size_t)n0 * pl->opitem[0] : 0);
            const float *b = ml__val(net, nd->inputs[1], x) + (pl->batched[1] ? (size_t)n0 * pl->opitem[1] : 0);
            ml__binary_forward(nd->op, pl, a, b, nb, relu, y);
            break;
        }
        default:
            if (!ml__forward_common(net, nd, x, ml__val(net, nd->inputs[0], x) + (size_t)n0 * p->item[nd->inputs[0]],
                                    nb, relu, y))
                return -1;
        }
    }
    return 0;
}

int ml__dnnl_forward_chunked(ml_net *net, const float *x, int batch)
{
    struct ml_net_priv *p = net->priv;
    if (p->chunked_off || omp_in_parallel())
        return 0;
    int any = 0;
    for (int i = 0; i < net->nnodes && !any; i++)
        any = !p->plan[i].skip && net->nodes[i].op == ML_OP_CONV && p->plan[i].conv == &ml__conv_onednn;
    if (!any)
        return 0;
    struct ml_dnnl *d = dn_state(net);
    struct dn_chunked *ck = d ? chunked_state(net, d) : NULL;
    if (!ck) {
        p->dnnl_oom = 1;
        return -1;
    }
    const int upto = prepare(net, d, ck, batch);
    if (upto < 0) {
        p->dnnl_oom = 1;
        return -1;
    }
    if (!upto)
        return 0;
    const int nch = dn_chunk_count(batch, F_INFER);
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const int n0 = dn_chunk_start(batch, F_INFER, ch);
        bad |= run_chunk(net, d, ck, x, upto, ch, n0, dn_chunk_start(batch, F_INFER, ch + 1) - n0,
                         omp_get_thread_num());
    }
    if (bad)
        return 0; /* the layer-by-layer loop computes it all again */
    for (int t = 0; t < net->ntensors; t++)
        d->carried += ck->slot[t] >= 0;
    return upto;
}
