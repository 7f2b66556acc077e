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

/* plan flags */
#define F_BIAS 1  /* the forward adds a bias */
#define F_INFER 2 /* inference: forward only, Winograd where it applies, fused ReLU */
#define F_RELU 4

typedef struct {
    int nb;    /* images per chunk; 0 = empty slot */
    int flags; /* F_* */
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    dnnl_primitive_t r_x, r_y, r_w, r_wd, r_dy, r_dx, r_dw; /* reorders */
    dnnl_memory_desc_t u_src, u_wei, u_dst, u_bias;          /* memlev's layouts */
    dnnl_memory_desc_t b_src, b_wei, b_dst, bd_wei, bd_dst, bd_src, bw_dwei;
    dnnl_memory_desc_t pad_fwd, pad_bwd_d, pad_bwd_w, pad_rw, pad_rwd; /* scratchpads (user-managed) */
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
    float *fold;             /* inference: weights and bias with the BN folded in */
    size_t fold_cap;
    /* inference: per node, the weights already in the plan's layout (oneDNN's Winograd
     * weight transform costs more than the convolution of a batch), with the hash of the
     * weights, bias and BN they were made from */
    float **wcache;
    size_t *wcache_bytes;
    uint64_t *wcache_key;
    size_t wcache_total;
};

/* inference weight caches use at most this much memory in all (ResNet-34: 340 MB) */
#define WCACHE_MAX ((size_t)1 << 30)

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
    for (int n = 0; d->wcache && n < d->nnodes; n++)
        free(d->wcache[n]);
    free(d->wcache);
    free(d->wcache_bytes);
    free(d->wcache_key);
    free(d->stream);
    free(d->scratch);
    free(d->plans);
    free(d->next);
    free(d->wblk);
    free(d->fold);
    free(d);
}

/* on unless a test turned it off or MEMLEV_CONV=builtin asks for memlev's own kernels
 * (im2col, Winograd) for comparison */
static int enabled = -1;

void ml_dnnl_conv_enable(int on)
{
    enabled = on;
}

int ml_dnnl_conv_ok(const ml_geom *g)
{
    if (enabled < 0) {
        const char *e = getenv("MEMLEV_CONV");
        enabled = !(e && !strcmp(e, "builtin"));
    }
    return enabled && g->group == 1;
}

static dnnl_primitive_t make_prim(const_dnnl_primitive_desc_t pd)
{
    dnnl_primitive_t p = NULL;
    return dnnl_primitive_create(&p, pd) == dnnl_success ? p : NULL;
}

/* attributes: user-managed scratchpad, plus a sum post-op when sum, a ReLU when relu */
static dnnl_primitive_attr_t make_attr(int sum, int relu)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&attr) ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))
        goto fail;
    if ((sum || relu) && dnnl_post_ops_create(&po))
        goto fail;
    if ((sum && dnnl_post_ops_append_sum(po, 1.0f)) ||
        (relu && dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f)) ||
        (po && dnnl_primitive_attr_set_post_ops(attr, po)))
        goto fail;
    if (po) dnnl_post_ops_destroy(po);
    return attr;
fail:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return NULL;
}

/* reorder a -> b (adding to b when sum); its scratchpad descriptor goes to *pad, or NULL
 * is returned when it needs one and pad is NULL */
static dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *a,
                                     const dnnl_memory_desc_t *b, int sum, dnnl_memory_desc_t *pad)
{
    dnnl_primitive_attr_t attr = make_attr(sum, 0);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (attr && dnnl_reorder_primitive_desc_create(&pd, a, eng, b, eng, attr) == dnnl_success) {
        const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        const size_t need = sp ? dnnl_memory_desc_get_size(sp) : 0;
        if (pad && sp)
            *pad = *sp;
        if (!need || pad)
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

static int plan_make_infer(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p);

/* right/bottom padding that gives the output size (none where the last stride ends early) */
static void right_pad(const ml_geom *g, dnnl_dims_t pr)
{
    pr[0] = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph;
    pr[1] = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw;
    for (int i = 0; i < 2; i++)
        if (pr[i] < 0 && pr[i] > -(i ? g->sw : g->sh)) pr[i] = 0;
}

/* Build the primitives for chunks of nb images; 0 on success. */
static int plan_make(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p)
{
    memset(p, 0, sizeof *p);
    if (flags & F_INFER)
        return plan_make_infer(eng, g, nb, flags, p);
    const int bias = flags & F_BIAS;
    dnnl_dims_t sd = {nb, g->c, g->h, g->w}, wd = {g->m, g->c, g->kh, g->kw};
    dnnl_dims_t dd = {nb, g->m, g->oh, g->ow}, bd = {g->m};
    dnnl_dims_t st = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
    dnnl_dims_t pr;
    right_pad(g, pr);
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
    dnnl_primitive_attr_t attr = make_attr(0, 0);
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
    p->r_x = make_reorder(eng, &p->u_src, &p->b_src, 0, NULL);
    p->r_y = make_reorder(eng, &p->b_dst, &p->u_dst, 0, NULL);
    p->r_dy = make_reorder(eng, &p->u_dst, &p->bd_dst, 0, NULL);
    p->r_dx = make_reorder(eng, &p->bd_src, &p->u_src, 1, NULL);
    p->r_dw = make_reorder(eng, &p->bw_dwei, &p->u_wei, 0, NULL);
    if (p->fwd && p->bwd_d && p->bwd_w && p->r_x && p->r_y && p->r_dy && p->r_dx && p->r_dw) {
        p->nb = nb;
        p->flags = flags;
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

/* Inference: forward only, the BN already folded into weights and bias by the caller, ReLU
 * as a post-op; Winograd F(4x4,3x3) where oneDNN has it for this layer, else direct. */
static int plan_make_infer(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p)
{
    dnnl_dims_t sd = {nb, g->c, g->h, g->w}, wd = {g->m, g->c, g->kh, g->kw};
    dnnl_dims_t dd = {nb, g->m, g->oh, g->ow}, bd = {g->m};
    dnnl_dims_t st = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw}, pr;
    right_pad(g, pr);
    dnnl_memory_desc_t as, aw, ad;
    if (dnnl_memory_desc_init_by_tag(&p->u_src, 4, sd, dnnl_f32, dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&p->u_wei, 4, wd, dnnl_f32, dnnl_oihw) ||
        dnnl_memory_desc_init_by_tag(&p->u_dst, 4, dd, dnnl_f32, dnnl_nchw) ||
        dnnl_memory_desc_init_by_tag(&p->u_bias, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&as, 4, sd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&aw, 4, wd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&ad, 4, dd, dnnl_f32, dnnl_format_tag_any))
        return -1;
    const dnnl_alg_kind_t algs[2] = {dnnl_convolution_winograd, dnnl_convolution_direct};
    for (int k = 0; k < 2; k++) {
        dnnl_convolution_desc_t fd;
        dnnl_primitive_desc_t fpd = NULL;
        dnnl_primitive_attr_t attr = make_attr(0, flags & F_RELU);
        if (attr &&
            !dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_inference, algs[k], &as, &aw,
                                                        (flags & F_BIAS) ? &p->u_bias : NULL, &ad, st, dil,
                                                        pl, pr) &&
            !dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL)) {
            p->b_src = *md_of(fpd, dnnl_query_src_md);
            p->b_wei = *md_of(fpd, dnnl_query_weights_md);
            p->b_dst = *md_of(fpd, dnnl_query_dst_md);
            p->pad_fwd = *md_of(fpd, dnnl_query_scratchpad_md);
            p->fwd = make_prim(fpd);
            p->r_x = make_reorder(eng, &p->u_src, &p->b_src, 0, NULL);
            p->r_y = make_reorder(eng, &p->b_dst, &p->u_dst, 0, NULL);
        }
        if (fpd) dnnl_primitive_desc_destroy(fpd);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (p->fwd && p->r_x && p->r_y) {
            p->nb = nb;
            p->flags = flags;
            return 0;
        }
        plan_free(p); /* it clears the user descriptors too: set them again */
        if (dnnl_memory_desc_init_by_tag(&p->u_src, 4, sd, dnnl_f32, dnnl_nchw) ||
            dnnl_memory_desc_init_by_tag(&p->u_wei, 4, wd, dnnl_f32, dnnl_oihw) ||
            dnnl_memory_desc_init_by_tag(&p->u_dst, 4, dd, dnnl_f32, dnnl_nchw) ||
            dnnl_memory_desc_init_by_tag(&p->u_bias, 1, bd, dnnl_f32, dnnl_x))
            return -1;
    }
    return -1;
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
    if (bytes(&p->pad_rw) > b) b = bytes(&p->pad_rw);
    if (bytes(&p->pad_rwd) > b) b = bytes(&p->pad_rwd);
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
    d->wcache = calloc((size_t)net->nnodes, sizeof *d->wcache);
    d->wcache_bytes = calloc((size_t)net->nnodes, sizeof *d->wcache_bytes);
    d->wcache_key = calloc((size_t)net->nnodes, sizeof *d->wcache_key);
    if (!d->stream || !d->scratch || !d->plans || !d->next || !d->wcache || !d->wcache_bytes ||
        !d->wcache_key || dnnl_engine_create(&d->eng, dnnl_cpu, 0))
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
static const plan *plan_for(ml_net *net, int node, const ml_geom *g, int nb, int flags)
{
    struct ml_dnnl *d = state(net);
    if (!d)
        return NULL;
    plan *slots = d->plans[node];
    for (int s = 0; s < SLOTS; s++)
        if (slots[s].nb == nb && slots[s].flags == flags)
            return &slots[s];
    plan *p = &slots[d->next[node]];
    d->next[node] = (d->next[node] + 1) % SLOTS;
    plan_free(p);
    /* planned for one thread: it runs on one thread of the caller's loop */
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = plan_make(d->eng, g, nb, flags, p);
    omp_set_num_threads(saved);
    /* the weight reorders run once per batch outside the chunk loop, on all threads (each
     * element of the result is computed alone, so the thread count does not show) */
    if (!rc) {
        p->r_w = make_reorder(d->eng, &p->u_wei, &p->b_wei, 0, &p->pad_rw);
        if (!(flags & F_INFER))
            p->r_wd = make_reorder(d->eng, &p->u_wei, &p->bd_wei, 0, &p->pad_rwd);
        rc = !p->r_w || (!(flags & F_INFER) && !p->r_wd);
    }
    if (rc) {
        plan_free(p);
        return NULL;
    }
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

/* the layer's weights into d->wblk in layout `to` (before the chunk loop, on thread 0's
 * scratch) */
static int weights_to(struct ml_dnnl *d, const plan *p, dnnl_primitive_t r, const dnnl_memory_desc_t *to,
                      const dnnl_memory_desc_t *pad, const float *w)
{
    float *xb, *yb, *dxb, *dwb, *sp;
    carve(d, p, 0, &xb, &yb, &dxb, &dwb, &sp);
    const marg a[2] = {{DNNL_ARG_FROM, &p->u_wei, (void *)w}, {DNNL_ARG_TO, to, d->wblk}};
    return run(d, 0, r, 2, a, pad, sp);
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
static int plans_ready(ml_net *net, int node, const ml_geom *g, int batch, int flags, const plan **pl)
{
    const int nch = chunk_count(batch);
    for (int ch = 0; ch < nch; ch++) {
        const int nb = chunk_start(batch, ch + 1) - chunk_start(batch, ch);
        if (!(pl[ch] = plan_for(net, node, g, nb, flags)))
            return 0;
    }
    for (int ch = 0; ch < nch; ch++) /* plan_for may have replaced a slot: look again */
        for (int s = 0; s < SLOTS; s++) {
            const plan *q = &net->priv->dnnl->plans[node][s];
            if (q->nb == chunk_start(batch, ch + 1) - chunk_start(batch, ch) && q->flags == flags)
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
    if (!plans_ready(net, node, g, batch, bias ? F_BIAS : 0, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (weights_to(d, pl[0], pl[0]->r_w, &pl[0]->b_wei, &pl[0]->pad_rw, w))
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
    if (!plans_ready(net, node, g, batch, bias ? F_BIAS : 0, pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    if (dx && weights_to(d, pl[0], pl[0]->r_wd, &pl[0]->bd_wei, &pl[0]->pad_rwd, w))
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

/* 64-bit hash of n floats, in fixed blocks combined in order: thread-count independent */
#define HBLK 65536
static uint64_t hash_floats(const float *v, size_t n, uint64_t h)
{
    if (!v)
        return h * 0x9E3779B97F4A7C15ull + 1;
    const size_t nblk = (n + HBLK - 1) / HBLK;
    uint64_t *part = malloc(nblk * sizeof *part);
    if (!part)
        return 0; /* 0 is never a stored key: forces a rebuild */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblk; b++) {
        const size_t i1 = (b + 1) * HBLK < n ? (b + 1) * HBLK : n;
        uint64_t a[4] = {b + 1, 0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull};
        size_t i = b * HBLK;
        for (; i + 4 <= i1; i += 4)
            for (int k = 0; k < 4; k++) {
                uint32_t u;
                memcpy(&u, &v[i + k], sizeof u);
                a[k] = (a[k] ^ u) * 0x100000001B3ull;
            }
        for (; i < i1; i++) {
            uint32_t u;
            memcpy(&u, &v[i], sizeof u);
            a[0] = (a[0] ^ u) * 0x100000001B3ull;
        }
        part[b] = a[0] ^ (a[1] << 1 | a[1] >> 63) ^ (a[2] << 2 | a[2] >> 62) ^ (a[3] << 3 | a[3] >> 61);
    }
    for (size_t b = 0; b < nblk; b++)
        h = (h ^ part[b]) * 0x9E3779B97F4A7C15ull + (h >> 29);
    free(part);
    return h;
}

/* The node's weights in the plan's layout, from the cache when weights, bias and BN are
 * unchanged; else folded, reordered and kept (within WCACHE_MAX). NULL on failure. */
static const float *infer_weights(struct ml_dnnl *d, int node, const plan *p, const ml_geom *g,
                                  const float *w, const float *bias, const float *scale,
                                  const float *shift, const float **bias_out)
{
    const size_t K = (size_t)g->c * g->kh * g->kw, M = (size_t)g->m;
    uint64_t key = hash_floats(w, M * K, 1469598103934665603ull);
    key = hash_floats(bias, M, key);
    key = hash_floats(scale, M, key);
    key = hash_floats(shift, M, key);
    key = key ? key : 1;
    const size_t wb = bytes(&p->b_wei);
    if (d->fold_cap < M * (K + 1)) {
        free(d->fold);
        if (!(d->fold = malloc(sizeof(float) * M * (K + 1)))) {
            d->fold_cap = 0;
            return NULL;
        }
        d->fold_cap = M * (K + 1);
    }
    float *wf = d->fold, *bf = d->fold + M * K;
    *bias_out = bias;
    if (scale) { /* (conv(x, w) + b) s + t = conv(x, w s) + (b s + t) */
#pragma omp parallel for schedule(static)
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
        free(d->wcache[node]);
        d->wcache[node] = NULL;
        d->wcache_bytes[node] = 0;
        if (d->wcache_total + wb <= WCACHE_MAX && (d->wcache[node] = aligned_alloc(64, (wb + 63) / 64 * 64))) {
            d->wcache_bytes[node] = wb;
            d->wcache_total += wb;
        }
    }
    float *dst = d->wcache[node] ? d->wcache[node] : d->wblk;
    float *keep = d->wblk;
    d->wblk = dst; /* weights_to writes into d->wblk */
    const int bad = weights_to(d, p, p->r_w, &p->b_wei, &p->pad_rw, w);
    d->wblk = keep;
    if (bad)
        return NULL;
    d->wcache_key[node] = d->wcache[node] ? key : 0;
    return dst;
}

int ml_dnnl_conv_infer(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                       const float *bias, const float *scale, const float *shift, int relu, int batch,
                       float *y)
{
    const plan *pl[ML_DW_CHUNKS];
    const int has_bias = bias || scale;
    if (!plans_ready(net, node, g, batch, F_INFER | (has_bias ? F_BIAS : 0) | (relu ? F_RELU : 0), pl))
        return -1;
    struct ml_dnnl *d = net->priv->dnnl;
    const float *wb = infer_weights(d, node, pl[0], g, w, bias, scale, shift, &bias);
    if (!wb)
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
        const marg a[4] = {{DNNL_ARG_SRC, &p->b_src, xb}, {DNNL_ARG_WEIGHTS, &p->b_wei, (void *)wb},
                           {DNNL_ARG_DST, &p->b_dst, yb}, {DNNL_ARG_BIAS, &p->u_bias, (void *)bias}};
        bad |= reorder(d, t, p->r_x, &p->u_src, x + (size_t)n0 * xin, &p->b_src, xb) ||
               run(d, t, p->fwd, bias ? 4 : 3, a, &p->pad_fwd, pad) ||
               reorder(d, t, p->r_y, &p->b_dst, yb, &p->u_dst, y + (size_t)n0 * yout);
    }
    return bad ? -1 : 0;
}
