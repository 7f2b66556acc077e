/* Training convolutions on oneDNN's direct convolution kernels (forward, input gradient,
 * weight gradient), which JIT-compile for the CPU found (AVX-512 where present) and run on
 * channel-blocked layouts. Activations stay NCHW in memlev; each chunk of images is
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
#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "nn/internal.h"

#define SLOTS 4 /* chunk sizes remembered per layer (a batch gives at most two) */

typedef struct {
    int nb;   /* images per chunk; 0 = empty slot */
    int bias; /* the forward adds a bias */
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    dnnl_primitive_t r_x, r_y, r_w, r_wd, r_dy, r_dx, r_dw; /* reorders */
    dnnl_memory_desc_t u_src, u_wei, u_dst, u_bias;          /* memlev's layouts */
    dnnl_memory_desc_t b_src, b_wei, b_dst, bd_wei, bd_dst, bd_src, bw_dwei;
    dnnl_memory_desc_t pad_fwd, pad_bwd_d, pad_bwd_w; /* scratchpads (user-managed) */
} plan;

struct ml_dnnl {
    dnnl_engine_t eng;
    int threads;
    dnnl_stream_t *stream;   /* per thread */
    int nnodes;
    plan (*plans)[SLOTS];    /* per node */
    int *next;               /* per node: slot to replace next */
    float **scratch;         /* per thread: blocked src | dst | dsrc | dwei */
    size_t scratch_bytes;
    float *wblk;             /* blocked weights of the layer being run */
    size_t wblk_bytes;
};

static void plan_free(plan *p)
{
    dnnl_primitive_t *all[] = {&p->fwd, &p->bwd_d, &p->bwd_w, &p->r_x, &p->r_y, &p->r_w,
                               &p->r_wd, &p->r_dy, &p->r_dx, &p->r_dw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) dnnl_primitive_destroy(*all[i]);
    memset(p, 0, sizeof *p);
}

void ml_dnnl_free(struct ml_dnnl *d)
{
    if (!d)
        return;
    for (int n = 0; d->plans && n < d->nnodes; n++)
        for (int s = 0; s < SLOTS; s++)
            plan_free(&d->plans[n][s]);
    for (int t = 0; t < d->threads; t++) {
        if (d->stream && d->stream[t]) dnnl_stream_destroy(d->stream[t]);
        if (d->scratch) free(d->scratch[t]);
    }
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d->stream);
    free(d->scratch);
    free(d->plans);
    free(d->next);
    free(d->wblk);
    free(d);
}

static int enabled = 1;

void ml_dnnl_conv_enable(int on)
{
    enabled = on;
}

int ml_dnnl_conv_ok(const ml_geom *g)
{
    return enabled && g->group == 1;
}

static dnnl_primitive_t make_prim(const_dnnl_primitive_desc_t pd)
{
    dnnl_primitive_t p = NULL;
    return dnnl_primitive_create(&p, pd) == dnnl_success ? p : NULL;
}

/* attributes: user-managed scratchpad, plus a sum post-op when sum */
static dnnl_primitive_attr_t make_attr(int sum)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&attr) ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))
        goto fail;
    if (sum && (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, 1.0f) ||
                dnnl_primitive_attr_set_post_ops(attr, po)))
        goto fail;
    if (po) dnnl_post_ops_destroy(po);
    return attr;
fail:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return NULL;
}

/* reorder a -> b (adding to b when sum); NULL when it would need a scratchpad */
static dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *a,
                                     const dnnl_memory_desc_t *b, int sum)
{
    dnnl_primitive_attr_t attr = make_attr(sum);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (attr && dnnl_reorder_primitive_desc_create(&pd, a, eng, b, eng, attr) == dnnl_success) {
        const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (!pad || dnnl_memory_desc_get_size(pad) == 0)
            p = make_prim(pd);
        dnnl_primitive_desc_destroy(pd);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    return p;
}

static const dnnl_memory_desc_t *md_of(const_dnnl_primitive_desc_t pd, dnnl_query_t q)
{
    return dnnl_primitive_desc_query_md(pd, q, 0);
}

/* Build the primitives for chunks of nb images; 0 on success. */
static int plan_make(dnnl_engine_t eng, const ml_geom *g, int nb, int bias, plan *p)
{
    memset(p, 0, sizeof *p);
    dnnl_dims_t sd = {nb, g->c, g->h, g->w}, wd = {g->m, g->c, g->kh, g->kw};
    dnnl_dims_t dd = {nb, g->m, g->oh, g->ow}, bd = {g->m};
    dnnl_dims_t st = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
    /* right/bottom padding that gives the output size (none where the last stride ends early) */
    dnnl_dims_t pr = {(g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph,
                      (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw};
    for (int i = 0; i < 2; i++)
        if (pr[i] < 0 && pr[i] > -(i ? g->sw : g->sh)) pr[i] = 0;
    dnnl_memory_desc_t as, aw, ad;
    if (dnnl_memory_desc_init_by_tag(&p->u_src, 4, sd, dnnl_f32, dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&p->u_wei, 4, wd, dnnl_f32, dnnl_oihw) ||
        dnnl_memory_desc_init_by_tag(&p->u_dst, 4, dd, dnnl_f32, dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&p->u_bias, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&as, 4, sd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&aw, 4, wd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&ad, 4, dd, dnnl_f32, dnnl_format_tag_any))
        return -1;
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
    dnnl_primitive_attr_t attr = make_attr(0);
    int rc = -1;
    if (!attr ||
        dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                                   &as, &aw, bias ? &p->u_bias : NULL, &ad, st, dil, pl, pr) ||
        dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL) ||
        dnnl_dilated_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &as, &aw, &ad, st,
                                                         dil, pl, pr) ||
        dnnl_primitive_desc_create(&bpd, &bdd, attr, eng, fpd) ||
        dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &as, &aw, NULL,
                                                            &ad, st, dil, pl, pr) ||
        dnnl_primitive_desc_create(&wpd, &bwd, attr, eng, fpd))
        goto out;
    p->pad_fwd = *md_of(fpd, dnnl_query_scratchpad_md);
    p->pad_bwd_d = *md_of(bpd, dnnl_query_scratchpad_md);
    p->pad_bwd_w = *md_of(wpd, dnnl_query_scratchpad_md);
    p->b_src = *md_of(fpd, dnnl_query_src_md);
    p->b_wei = *md_of(fpd, dnnl_query_weights_md);
    p->b_dst = *md_of(fpd, dnnl_query_dst_md);
    p->bd_wei = *md_of(bpd, dnnl_query_weights_md);
    p->bd_dst = *md_of(bpd, dnnl_query_diff_dst_md);
    p->bd_src = *md_of(bpd, dnnl_query_diff_src_md);
    p->bw_dwei = *md_of(wpd, dnnl_query_diff_weights_md);
    /* the weight-gradient pass reads the same blocked src and dy as the others */
    if (!dnnl_memory_desc_equal(md_of(wpd, dnnl_query_src_md), &p->b_src) ||
        !dnnl_memory_desc_equal(md_of(wpd, dnnl_query_diff_dst_md), &p->bd_dst))
        goto out;
    p->fwd = make_prim(fpd);
    p->bwd_d = make_prim(bpd);
    p->bwd_w = make_prim(wpd);
    p->r_x = make_reorder(eng, &p->u_src, &p->b_src, 0);
    p->r_y = make_reorder(eng, &p->b_dst, &p->u_dst, 0);
    p->r_w = make_reorder(eng, &p->u_wei, &p->b_wei, 0);
    p->r_wd = make_reorder(eng, &p->u_wei, &p->bd_wei, 0);
    p->r_dy = make_reorder(eng, &p->u_dst, &p->bd_dst, 0);
    p->r_dx = make_reorder(eng, &p->bd_src, &p->u_src, 1);
    p->r_dw = make_reorder(eng, &p->bw_dwei, &p->u_wei, 0);
    if (p->fwd && p->bwd_d && p->bwd_w && p->r_x && p->r_y && p->r_w && p->r_wd && p->r_dy && p->r_dx && p->r_dw) {
        p->nb = nb;
        p->bias = bias;
        rc = 0;
    }
out:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    if (rc) plan_free(p);
    return rc;
}

static size_t bytes(const dnnl_memory_desc_t *md)
{
    return dnnl_memory_desc_get_size(md);
}

static size_t pad_bytes(const plan *p)
{
    size_t b = bytes(&p->pad_fwd);
    if (bytes(&p->pad_bwd_d) > b) b = bytes(&p->pad_bwd_d);
    if (bytes(&p->pad_bwd_w) > b) b = bytes(&p->pad_bwd_w);
    return b;
}

static struct ml_dnnl *state(ml_net *net)
{
    struct ml_net_priv *p = net->priv;
    const int threads = omp_get_max_threads();
    if (p->dnnl && p->dnnl->threads >= threads && p->dnnl->nnodes == net->nnodes)
        return p->dnnl;
    ml_dnnl_free(p->dnnl);
    struct ml_dnnl *d = p->dnnl = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->threads = threads;
    d->nnodes = net->nnodes;
    d->stream = calloc((size_t)threads, sizeof *d->stream);
    d->scratch = calloc((size_t)threads, sizeof *d->scratch);
    d->plans = calloc((size_t)net->nnodes, sizeof *d->plans);
    d->next = calloc((size_t)net->nnodes, sizeof *d->next);
    if (!d->stream || !d->scratch || !d->plans || !d->next || dnnl_engine_create(&d->eng, dnnl_cpu, 0))
        goto fail;
    for (int t = 0; t < threads; t++)
        if (dnnl_stream_create(&d->stream[t], d->eng, dnnl_stream_default_flags))
            goto fail;
    return d;
fail:
    ml_dnnl_free(d);
    p->dnnl = NULL;
    return NULL;
}

/* The plan of node `node` for chunks of nb images (made on first use); NULL if oneDNN
 * cannot run this layer or memory ran out. */
static const plan *plan_for(ml_net *net, int node, const ml_geom *g, int nb, int bias)
{
    struct ml_dnnl *d = state(net);
    if (!d)
        return NULL;
    plan *slots = d->plans[node];
    for (int s = 0; s < SLOTS; s++)
        if (slots[s].nb == nb && slots[s].bias == bias)
            return &slots[s];
    plan *p = &slots[d->next[node]];
    d->next[node] = (d->next[node] + 1) % SLOTS;
    plan_free(p);
    /* planned for one thread: it runs on one thread of the caller's loop */
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const int rc = plan_make(d->eng, g, nb, bias, p);
    omp_set_num_threads(saved);
    if (rc)
        return NULL;
    size_t need = bytes(&p->b_src) + bytes(&p->b_dst) + bytes(&p->bd_src) + bytes(&p->bw_dwei) +
                  pad_bytes(p) + 5 * 64;
    if (bytes(&p->bd_dst) > bytes(&p->b_dst))
        need += bytes(&p->bd_dst) - bytes(&p->b_dst);
    if (need > d->scratch_bytes) {
        for (int t = 0; t < d->threads; t++) {
            free(d->scratch[t]);
            if (!(d->scratch[t] = aligned_alloc(64, (need + 63) / 64 * 64))) {
                d->scratch_bytes = 0;
                plan_free(p);
                return NULL;
            }
        }
        d->scratch_bytes = need;
    }
    size_t wb = bytes(&p->b_wei) > bytes(&p->bd_wei) ? bytes(&p->b_wei) : bytes(&p->bd_wei);
    if (wb > d->wblk_bytes) {
        free(d->wblk);
        if (!(d->wblk = aligned_alloc(64, (wb + 63) / 64 * 64))) {
            d->wblk_bytes = 0;
            plan_free(p);
            return NULL;
        }
        d->wblk_bytes = wb;
    }
    return p;
}

/* Run prim with up to four (arg, desc, pointer) triples, and its scratchpad when it has one. */
typedef struct {
    int arg;
    const dnnl_memory_desc_t *md;
    void *ptr;
} marg;

static int run(struct ml_dnnl *d, int thread, dnnl_primitive_t prim, int n, const marg *a,
               const dnnl_memory_desc_t *pad, void *pad_ptr)
{
    dnnl_memory_t m[5] = {0};
    dnnl_exec_arg_t args[5];
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = dnnl_memory_create(&m[i], a[i].md, d->eng, a[i].ptr) != dnnl_success;
        args[i].arg = a[i].arg;
        args[i].memory = m[i];
    }
    if (!rc && pad && bytes(pad)) {
        rc = dnnl_memory_create(&m[n], pad, d->eng, pad_ptr) != dnnl_success;
        args[n].arg = DNNL_ARG_SCRATCHPAD;
        args[n].memory = m[n];
        n++;
    }
    if (!rc)
        rc = dnnl_primitive_execute(prim, d->stream[thread], n, args) != dnnl_success ||
             dnnl_stream_wait(d->stream[thread]) != dnnl_success;
    for (int i = 0; i < 5; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    return rc;
}

static int reorder(struct ml_dnnl *d, int thread, dnnl_primitive_t r, const dnnl_memory_desc_t *from,
                   const void *src, const dnnl_memory_desc_t *to, void *dst)
{
    const marg a[2] = {{DNNL_ARG_FROM, from, (void *)src}, {DNNL_ARG_TO, to, dst}};
    return run(d, thread, r, 2, a, NULL, NULL);
}

static float *align_up(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* per-thread scratch: blocked src | blocked dst or dy | blocked dx | blocked dW | scratchpad */
static void carve(const struct ml_dnnl *d, const plan *p, int thread, float **xb, float **yb,
                  float **dxb, float **dwb, float **pad)
{
    size_t dst = bytes(&p->b_dst) > bytes(&p->bd_dst) ? bytes(&p->b_dst) : bytes(&p->bd_dst);
    *xb = d->scratch[thread];
    *yb = align_up((float *)((char *)*xb + bytes(&p->b_src)));
    *dxb = align_up((float *)((char *)*yb + dst));
    *dwb = align_up((float *)((char *)*dxb + bytes(&p->bd_src)));
    *pad = align_up((float *)((char *)*dwb + bytes(&p->bw_dwei)));
}

static int chunk_count(int batch)
{
    return batch < ML_DW_CHUNKS ? batch : ML_DW_CHUNKS;
}

static int chunk_start(int batch, int ch)
{
    return (int)((long)batch * ch / chunk_count(batch));
}

/* Make the plans for every chunk size of this batch (floor and ceil of batch/chunks) and
 * put them in pl[ch]; 0 when oneDNN cannot run the layer. The weight layouts must agree,
 * since the weights are reordered once for all chunks. */
static int plans_ready(ml_net *net, int node, const ml_geom *g, int batch, int bias, const plan **pl)
{
    const int nch = chunk_count(batch);
    for (int ch = 0; ch < nch; ch++) {
        const int nb = chunk_start(batch, ch + 1) - chunk_start(batch, ch);
        if (!(pl[ch] = plan_for(net, node, g, nb, bias)))
            return 0;
    }
    for (int ch = 0; ch < nch; ch++) /* plan_for may have replaced a slot: look again */
        for (int s = 0; s < SLOTS; s++) {
            const plan *q = &net->priv->dnnl->plans[node][s];
            if (q->nb == chunk_start(batch, ch + 1) - chunk_start(batch, ch) && q->bias == bias)
                pl[ch] = q;
        }
    for (int ch = 0; ch < nch; ch++)
        if (pl[ch]->nb != chunk_start(batch, ch + 1) - chunk_start(batch, ch) ||
            !dnnl_memory_desc_equal(&pl[ch]->b_wei, &pl[0]->b_wei) ||
            !dnnl_memory_desc_equal(&pl[ch]->bd_wei, &pl[0]->bd_wei))
            return 0;
    return 1;
}

int ml_dnnl_conv_forward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                         const float *bias, int batch, float *y)
{
    const plan *pl[ML_DW_CHUNKS];
    if (!plans_ready(net, node, g, batch, bias != NULL, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (reorder(d, 0, pl[0]->r_w, &pl[0]->u_wei, w, &pl[0]->b_wei, d->wblk))
        return -1;
    const int nch = chunk_count(batch);
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * g->oh * g->ow;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const int t = omp_get_thread_num(), n0 = chunk_start(batch, ch);
        const plan *p = pl[ch];
        float *xb, *yb, *dxb, *dwb, *pad;
        carve(d, p, t, &xb, &yb, &dxb, &dwb, &pad);
        const marg a[4] = {{DNNL_ARG_SRC, &p->b_src, xb}, {DNNL_ARG_WEIGHTS, &p->b_wei, d->wblk},
                           {DNNL_ARG_DST, &p->b_dst, yb}, {DNNL_ARG_BIAS, &p->u_bias, (void *)bias}};
        bad |= reorder(d, t, p->r_x, &p->u_src, x + (size_t)n0 * xin, &p->b_src, xb) ||
               run(d, t, p->fwd, bias ? 4 : 3, a, &p->pad_fwd, pad) ||
               reorder(d, t, p->r_y, &p->b_dst, yb, &p->u_dst, y + (size_t)n0 * yout);
    }
    return bad ? -1 : 0;
}

int ml_dnnl_conv_backward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                          const float *dy, int batch, int bias, float *dx, float *dw_parts)
{
    const plan *pl[ML_DW_CHUNKS];
    if (!plans_ready(net, node, g, batch, bias, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (dx && reorder(d, 0, pl[0]->r_wd, &pl[0]->u_wei, w, &pl[0]->bd_wei, d->wblk))
        return -1;
    const int nch = chunk_count(batch);
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * g->oh * g->ow;
    const size_t wsize = (size_t)g->m * g->c * g->kh * g->kw;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const int t = omp_get_thread_num(), n0 = chunk_start(batch, ch);
        const plan *p = pl[ch];
        float *xb, *dyb, *dxb, *dwb, *pad;
        carve(d, p, t, &xb, &dyb, &dxb, &dwb, &pad);
        const marg aw[3] = {{DNNL_ARG_SRC, &p->b_src, xb}, {DNNL_ARG_DIFF_DST, &p->bd_dst, dyb},
                            {DNNL_ARG_DIFF_WEIGHTS, &p->bw_dwei, dwb}};
        bad |= reorder(d, t, p->r_x, &p->u_src, x + (size_t)n0 * xin, &p->b_src, xb) ||
               reorder(d, t, p->r_dy, &p->u_dst, dy + (size_t)n0 * yout, &p->bd_dst, dyb) ||
               run(d, t, p->bwd_w, 3, aw, &p->pad_bwd_w, pad) ||
               reorder(d, t, p->r_dw, &p->bw_dwei, dwb, &p->u_wei, dw_parts + (size_t)ch * wsize);
        if (dx) {
            const marg ad[3] = {{DNNL_ARG_DIFF_DST, &p->bd_dst, dyb}, {DNNL_ARG_WEIGHTS, &p->bd_wei, d->wblk},
                                {DNNL_ARG_DIFF_SRC, &p->bd_src, dxb}};
            bad |= run(d, t, p->bwd_d, 3, ad, &p->pad_bwd_d, pad) ||
                   reorder(d, t, p->r_dx, &p->bd_src, dxb, &p->u_src, dx + (size_t)n0 * xin);
        }
    }
    return bad ? -1 : 0;
}
