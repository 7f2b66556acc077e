/* Per-net oneDNN state: engine, per-thread streams and scratch, plans per layer and chunk
 * size; chunked execution of primitives on memlev's threads. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/dnnl/priv.h"

void ml__dnnl_free(struct ml_dnnl *d)
{
    if (!d)
        return;
    for (int n = 0; d->plans && n < d->nnodes; n++)
        for (int s = 0; s < SLOTS; s++)
            dn_plan_free(&d->plans[n][s]);
    for (int t = 0; t < d->threads; t++) {
        if (d->stream && d->stream[t]) dnnl_stream_destroy(d->stream[t]);
        if (d->scratch) ml__free(d->scratch[t]);
    }
    if (d->eng) dnnl_engine_destroy(d->eng);
    for (int n = 0; d->wcache && n < d->nnodes; n++)
        ml__free(d->wcache[n]);
    for (int b = 0; b < 2; b++)
        for (int ch = 0; ch < ML_DW_CHUNKS; ch++)
            ml__free(d->carry[b][ch]);
    dn_chunked_free(d->ck);
    ml__free(d->wcache);
    ml__free(d->wcache_bytes);
    ml__free(d->wcache_key);
    ml__free(d->stream);
    ml__free(d->scratch);
    ml__free(d->plans);
    ml__free(d->next);
    ml__free(d->wblk);
    ml__free(d->fold);
    ml__free(d);
}

const char *ml__dnnl_isa_label(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2: return "oneDNN avx2";
    case dnnl_cpu_isa_avx2_vnni: return "oneDNN avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "oneDNN avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "oneDNN avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "oneDNN avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "oneDNN avx512_core_amx";
    default: return "oneDNN";
    }
}

struct ml_dnnl *dn_state(ml_net *net)
{
    struct ml_net_priv *p = net->priv;
    const int threads = omp_get_max_threads();
    if (p->dnnl && p->dnnl->threads >= threads && p->dnnl->nnodes == net->nnodes)
        return p->dnnl;
    ml__dnnl_free(p->dnnl);
    struct ml_dnnl *d = p->dnnl = ml__calloc(1, sizeof *d);
    if (!d) {
        p->dnnl_oom = 1;
        return NULL;
    }
    d->threads = threads;
    d->nnodes = net->nnodes;
    d->carry_node = -1;
    d->stream = ml__calloc((size_t)threads, sizeof *d->stream);
    d->scratch = ml__calloc((size_t)threads, sizeof *d->scratch);
    d->plans = ml__calloc((size_t)net->nnodes, sizeof *d->plans);
    d->next = ml__calloc((size_t)net->nnodes, sizeof *d->next);
    d->wcache = ml__calloc((size_t)net->nnodes, sizeof *d->wcache);
    d->wcache_bytes = ml__calloc((size_t)net->nnodes, sizeof *d->wcache_bytes);
    d->wcache_key = ml__calloc((size_t)net->nnodes, sizeof *d->wcache_key);
    if (!d->stream || !d->scratch || !d->plans || !d->next || !d->wcache || !d->wcache_bytes ||
        !d->wcache_key) {
        p->dnnl_oom = 1;
        goto fail;
    }
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0))
        goto fail;
    for (int t = 0; t < threads; t++)
        if (dnnl_stream_create(&d->stream[t], d->eng, dnnl_stream_default_flags))
            goto fail;
    return d;
fail:
    ml__dnnl_free(d);
    p->dnnl = NULL;
    return NULL;
}

/* The plan of node `node` for chunks of nb images (made on first use); NULL if oneDNN
 * cannot run this layer or memory ran out. */
const plan *dn_plan_for(ml_net *net, int node, const ml_geom *g, int nb, int flags)
{
    struct ml_dnnl *d = dn_state(net);
    if (!d)
        return NULL;
    plan *slots = d->plans[node];
    for (int s = 0; s < SLOTS; s++)
        if (slots[s].nb == nb && slots[s].flags == flags)
            return &slots[s];
    plan *p = &slots[d->next[node]];
    d->next[node] = (d->next[node] + 1) % SLOTS;
    dn_plan_free(p);
    /* planned for one thread: it runs on one thread of the caller's loop */
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = dn_plan_make(d->eng, g, nb, flags, p);
    omp_set_num_threads(saved);
    /* the weight reorders run once per batch outside the chunk loop, on all threads (each
     * element of the result is computed alone, so the thread count does not show) */
    if (!rc) {
        p->r_w = dn_make_reorder(d->eng, &p->u_wei, &p->b_wei, 0, &p->pad_rw);
        if (!(flags & F_INFER))
            p->r_wd = dn_make_reorder(d->eng, &p->u_wei, &p->bd_wei, 0, &p->pad_rwd);
        rc = !p->r_w || (!(flags & F_INFER) && !p->r_wd);
    }
    if (rc) {
        dn_plan_free(p);
        return NULL;
    }
    size_t need = dn_bytes(&p->b_src) + dn_bytes(&p->b_dst) + dn_bytes(&p->bd_src) + dn_bytes(&p->bw_dwei) +
                  dn_pad_bytes(p) + 5 * 64;
    if (dn_bytes(&p->bd_dst) > dn_bytes(&p->b_dst))
        need += dn_bytes(&p->bd_dst) - dn_bytes(&p->b_dst);
    if (need > d->scratch_bytes) {
        for (int t = 0; t < d->threads; t++) {
            ml__free(d->scratch[t]);
            if (!(d->scratch[t] = ml__aligned_alloc(64, (need + 63) / 64 * 64))) {
                net->priv->dnnl_oom = 1;
                d->scratch_bytes = 0;
                dn_plan_free(p);
                return NULL;
            }
        }
        d->scratch_bytes = need;
    }
    size_t wb = dn_bytes(&p->b_wei) > dn_bytes(&p->bd_wei) ? dn_bytes(&p->b_wei) : dn_bytes(&p->bd_wei);
    if (wb > d->wblk_bytes) {
        ml__free(d->wblk);
        if (!(d->wblk = ml__aligned_alloc(64, (wb + 63) / 64 * 64))) {
            net->priv->dnnl_oom = 1;
            d->wblk_bytes = 0;
            dn_plan_free(p);
            return NULL;
        }
        d->wblk_bytes = wb;
    }
    return p;
}

/* Run prim with up to four (arg, desc, pointer) triples, and its scratchpad when it has one. */
int dn_run(struct ml_dnnl *d, int thread, dnnl_primitive_t prim, int n, const marg *a,
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
    if (!rc && pad && dn_bytes(pad)) {
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

int dn_reorder(struct ml_dnnl *d, int thread, dnnl_primitive_t r, const dnnl_memory_desc_t *from,
                   const void *src, const dnnl_memory_desc_t *to, void *dst)
{
    const marg a[2] = {{DNNL_ARG_FROM, from, (void *)src}, {DNNL_ARG_TO, to, dst}};
    return dn_run(d, thread, r, 2, a, NULL, NULL);
}

static float *align_up(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* per-thread scratch: blocked src | blocked dst or dy | blocked dx | blocked dW | scratchpad */
void dn_carve(const struct ml_dnnl *d, const plan *p, int thread, float **xb, float **yb,
                  float **dxb, float **dwb, float **pad)
{
    size_t dst = dn_bytes(&p->b_dst) > dn_bytes(&p->bd_dst) ? dn_bytes(&p->b_dst) : dn_bytes(&p->bd_dst);
    *xb = d->scratch[thread];
    *yb = align_up((float *)((char *)*xb + dn_bytes(&p->b_src)));
    *dxb = align_up((float *)((char *)*yb + dst));
    *dwb = align_up((float *)((char *)*dxb + dn_bytes(&p->bd_src)));
    *pad = align_up((float *)((char *)*dwb + dn_bytes(&p->bw_dwei)));
}

/* the layer's weights into dst in layout `to` (before the chunk loop, on thread 0's
 * scratch) */
int dn_weights_to(struct ml_dnnl *d, const plan *p, dnnl_primitive_t r, const dnnl_memory_desc_t *to,
                      const dnnl_memory_desc_t *pad, const float *w, float *dst)
{
    float *xb, *yb, *dxb, *dwb, *sp;
    dn_carve(d, p, 0, &xb, &yb, &dxb, &dwb, &sp);
    const marg a[2] = {{DNNL_ARG_FROM, &p->u_wei, (void *)w}, {DNNL_ARG_TO, to, dst}};
    return dn_run(d, 0, r, 2, a, pad, sp);
}

/* Chunks of a batch: training uses the ML_DW_CHUNKS partials of the weight gradient;
 * inference takes ~32 images per chunk (oneDNN's Winograd wants many tiles per call:
 * ResNet-34 at batch 64 ran 181 img/s in 8 chunks, 204 in 2), at least 2 chunks so two
 * threads have work. Both depend on the batch size only. */
int dn_chunk_count(int batch, int flags)
{
    if (!(flags & F_INFER))
        return ml_dw_chunks(batch);
    int n = (batch + 31) / 32;
    if (n < 2) n = 2;
    if (n > ML_DW_CHUNKS) n = ML_DW_CHUNKS;
    return n < batch ? n : batch;
}

int dn_chunk_start(int batch, int flags, int ch)
{
    return ml_split(batch, dn_chunk_count(batch, flags), ch);
}

/* Make the plans for every chunk size of this batch (floor and ceil of batch/chunks) and
 * put them in pl[ch]; 0 when oneDNN cannot run the layer. The weight layouts must agree,
 * since the weights are reordered once for all chunks. */
int dn_plans_ready(ml_net *net, int node, const ml_geom *g, int batch, int flags, const plan **pl)
{
    const int nch = dn_chunk_count(batch, flags);
    for (int ch = 0; ch < nch; ch++) {
        const int nb = dn_chunk_start(batch, flags, ch + 1) - dn_chunk_start(batch, flags, ch);
        if (!(pl[ch] = dn_plan_for(net, node, g, nb, flags)))
            return 0;
    }
    for (int ch = 0; ch < nch; ch++) /* plan_for may have replaced a slot: look again */
        for (int s = 0; s < SLOTS; s++) {
            const plan *q = &net->priv->dnnl->plans[node][s];
            if (q->nb == dn_chunk_start(batch, flags, ch + 1) - dn_chunk_start(batch, flags, ch) && q->flags == flags)
                pl[ch] = q;
        }
    for (int ch = 0; ch < nch; ch++)
        if (pl[ch]->nb != dn_chunk_start(batch, flags, ch + 1) - dn_chunk_start(batch, flags, ch) ||
            !dnnl_memory_desc_equal(&pl[ch]->b_wei, &pl[0]->b_wei) ||
            !dnnl_memory_desc_equal(&pl[ch]->bd_wei, &pl[0]->bd_wei))
            return 0;
    return 1;
}

/* y = conv(x) chunk by chunk: reorder in, convolve with the weights wb already in the
 * plans' layout, reorder out (the reorders skipped for chunks carried in xbl / out in ybl) */
int dn_forward_chunks(struct ml_dnnl *d, const plan **pl, const ml_geom *g, const float *x,
                      const float *wb, const float *bias, int batch, float *y, float *const *xbl,
                      float *const *ybl)
{
    const int flags = pl[0]->flags, nch = dn_chunk_count(batch, flags);
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * g->oh * g->ow;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const int t = omp_get_thread_num(), n0 = dn_chunk_start(batch, flags, ch);
        const plan *p = pl[ch];
        float *xb, *yb, *dxb, *dwb, *pad;
        dn_carve(d, p, t, &xb, &yb, &dxb, &dwb, &pad);
        if (xbl)
            xb = xbl[ch];
        if (ybl)
            yb = ybl[ch];
        const marg a[4] = {{DNNL_ARG_SRC, &p->b_src, xb}, {DNNL_ARG_WEIGHTS, &p->b_wei, (void *)wb},
                           {DNNL_ARG_DST, &p->b_dst, yb}, {DNNL_ARG_BIAS, &p->u_bias, (void *)bias}};
        bad |= (!xbl && dn_reorder(d, t, p->r_x, &p->u_src, x + (size_t)n0 * xin, &p->b_src, xb)) ||
               dn_run(d, t, p->fwd, bias ? 4 : 3, a, &p->pad_fwd, pad) ||
               (!ybl && dn_reorder(d, t, p->r_y, &p->b_dst, yb, &p->u_dst, y + (size_t)n0 * yout));
    }
    return bad ? -1 : 0;
}

int dn_carry_flush(struct ml_dnnl *d)
{
    if (d->carry_node < 0)
        return 0;
    const int b = d->carry_buf, batch = d->carry_batch, flags = d->carry_pl[0]->flags;
    const int nch = dn_chunk_count(batch, flags);
    const size_t yout = dn_bytes(&d->carry_pl[0]->u_dst) / sizeof(float) / (size_t)d->carry_pl[0]->nb;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int ch = 0; ch < nch; ch++) {
        const plan *p = d->carry_pl[ch];
        bad |= dn_reorder(d, omp_get_thread_num(), p->r_y, &p->b_dst, d->carry[b][ch], &p->u_dst,
                          d->carry_y + (size_t)dn_chunk_start(batch, flags, ch) * yout);
    }
    d->carry_node = -1;
    return bad ? -1 : 0;
}
