/* oneDNN primitives for one convolution layer and chunk size: training (forward, input
 * and weight gradients, reorders between memlev's NCHW and oneDNN's blocked layouts) and
 * inference (Winograd or direct forward with a fused ReLU). */
#include <string.h>
#include "nn/dnnl/priv.h"

void dn_plan_free(plan *p)
{
    dnnl_primitive_t *all[] = {&p->fwd, &p->bwd_d, &p->bwd_w, &p->r_x, &p->r_y, &p->r_w,
                               &p->r_wd, &p->r_dy, &p->r_dx, &p->r_dw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) dnnl_primitive_destroy(*all[i]);
    memset(p, 0, sizeof *p);
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
dnnl_primitive_t dn_make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *a,
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

/* The convolution's shape for chunks of nb images: memlev's layouts in p->u_*, "any"
 * layouts for oneDNN to choose in a (src, weights, dst and the gradients' dsrc, ddst,
 * dwei), strides, dilations, paddings. With bf16, what the kernels read (src, weights,
 * ddst) is bfloat16 and what they write (dst, dsrc, dwei) float32. */
typedef struct {
    dnnl_memory_desc_t src, wei, dst, dsrc, ddst, dwei;
    dnnl_dims_t st, dil, pl, pr;
} shape;

static int shape_of(const ml_geom *g, int nb, int bf16, plan *p, shape *a)
{
    dnnl_dims_t sd = {nb, g->c, g->h, g->w}, wd = {g->m, g->c, g->kh, g->kw};
    dnnl_dims_t dd = {nb, g->m, g->oh, g->ow}, bd = {g->m};
    const dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    a->st[0] = g->sh;
    a->st[1] = g->sw;
    a->dil[0] = g->dh - 1;
    a->dil[1] = g->dw - 1;
    a->pl[0] = g->ph;
    a->pl[1] = g->pw;
    right_pad(g, a->pr);
    return dnnl_memory_desc_init_by_tag(&p->u_src, 4, sd, dnnl_f32, dnnl_nchw) ||
           dnnl_memory_desc_init_by_tag(&p->u_wei, 4, wd, dnnl_f32, dnnl_oihw) ||
           dnnl_memory_desc_init_by_tag(&p->u_dst, 4, dd, dnnl_f32, dnnl_nchw) ||
           dnnl_memory_desc_init_by_tag(&p->u_bias, 1, bd, dnnl_f32, dnnl_x) ||
           dnnl_memory_desc_init_by_tag(&a->src, 4, sd, in, dnnl_format_tag_any) ||
           dnnl_memory_desc_init_by_tag(&a->wei, 4, wd, in, dnnl_format_tag_any) ||
           dnnl_memory_desc_init_by_tag(&a->dst, 4, dd, dnnl_f32, dnnl_format_tag_any) ||
           dnnl_memory_desc_init_by_tag(&a->dsrc, 4, sd, dnnl_f32, dnnl_format_tag_any) ||
           dnnl_memory_desc_init_by_tag(&a->ddst, 4, dd, in, dnnl_format_tag_any) ||
           dnnl_memory_desc_init_by_tag(&a->dwei, 4, wd, dnnl_f32, dnnl_format_tag_any);
}

/* Build the primitives for chunks of nb images; 0 on success. */
int dn_plan_make(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p)
{
    memset(p, 0, sizeof *p);
    if (flags & F_INFER)
        return plan_make_infer(eng, g, nb, flags, p);
    const int bias = flags & F_BIAS;
    shape a;
    if (shape_of(g, nb, (flags & F_BF16) != 0, p, &a))
        return -1;
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
    dnnl_primitive_attr_t attr = make_attr(0, 0);
    int rc = -1;
    if (!attr ||
        dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &a.src,
                                                   &a.wei, bias ? &p->u_bias : NULL, &a.dst, a.st, a.dil, a.pl,
                                                   a.pr) ||
        dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL) ||
        dnnl_dilated_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &a.dsrc, &a.wei,
                                                         &a.ddst, a.st, a.dil, a.pl, a.pr) ||
        dnnl_primitive_desc_create(&bpd, &bdd, attr, eng, fpd) ||
        dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &a.src, &a.dwei,
                                                            NULL, &a.ddst, a.st, a.dil, a.pl, a.pr) ||
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
    p->r_x = dn_make_reorder(eng, &p->u_src, &p->b_src, 0, NULL);
    p->r_y = dn_make_reorder(eng, &p->b_dst, &p->u_dst, 0, NULL);
    p->r_dy = dn_make_reorder(eng, &p->u_dst, &p->bd_dst, 0, NULL);
    p->r_dx = dn_make_reorder(eng, &p->bd_src, &p->u_src, 1, NULL);
    p->r_dw = dn_make_reorder(eng, &p->bw_dwei, &p->u_wei, 0, NULL);
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
    if (rc) dn_plan_free(p);
    return rc;
}

/* Inference: forward only, the BN already folded into weights and bias by the caller, ReLU
 * as a post-op (after a sum post-op with F_SUM); Winograd F(4x4,3x3) where oneDNN has it
 * for this layer, else direct. Where the CPU has AVX-512 and the channels come in 16s, a
 * direct convolution reads and writes the 16-channel-blocked layout (nChw16c) Winograd uses,
 * so that activations pass between the two kinds without reorders (left to itself oneDNN
 * 2.6 picks channels-last for strided and 1x1 convolutions); a JIT kernel or nothing. */
static int plan_make_infer(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p)
{
    shape a;
    if (shape_of(g, nb, 0, p, &a))
        return -1;
    const dnnl_alg_kind_t algs[3] = {dnnl_convolution_winograd, dnnl_convolution_direct, dnnl_convolution_direct};
    const int c16 = dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core && g->c % 16 == 0 && g->m % 16 == 0;
    for (int k = 0; k < 3; k++) {
        if (k == 1) {
            dnnl_dims_t sd = {nb, g->c, g->h, g->w}, dd = {nb, g->m, g->oh, g->ow};
            if (!c16)
                continue;
            if (dnnl_memory_desc_init_by_tag(&a.src, 4, sd, dnnl_f32, dnnl_nChw16c) ||
                dnnl_memory_desc_init_by_tag(&a.dst, 4, dd, dnnl_f32, dnnl_nChw16c))
                return -1;
        }
        dnnl_convolution_desc_t fd;
        dnnl_primitive_desc_t fpd = NULL;
        dnnl_primitive_attr_t attr = make_attr(flags & F_SUM, flags & F_RELU);
        const char *impl = NULL;
        if (attr &&
            !dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_inference, algs[k], &a.src, &a.wei,
                                                        (flags & F_BIAS) ? &p->u_bias : NULL, &a.dst, a.st,
                                                        a.dil, a.pl, a.pr) &&
            !dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL) &&
            (k != 1 || (!dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &impl) && impl &&
                        strncmp(impl, "ref", 3)))) {
            p->b_src = *md_of(fpd, dnnl_query_src_md);
            p->b_wei = *md_of(fpd, dnnl_query_weights_md);
            p->b_dst = *md_of(fpd, dnnl_query_dst_md);
            p->pad_fwd = *md_of(fpd, dnnl_query_scratchpad_md);
            p->fwd = make_prim(fpd);
            p->r_x = dn_make_reorder(eng, &p->u_src, &p->b_src, 0, NULL);
            p->r_y = dn_make_reorder(eng, &p->b_dst, &p->u_dst, 0, NULL);
        }
        if (fpd) dnnl_primitive_desc_destroy(fpd);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (p->fwd && p->r_x && p->r_y) {
            p->nb = nb;
            p->flags = flags;
            return 0;
        }
        dn_plan_free(p); /* it clears the user descriptors too: set them again */
        if (shape_of(g, nb, 0, p, &a))
            return -1;
    }
    return -1;
}

size_t dn_bytes(const dnnl_memory_desc_t *md)
{
    return dnnl_memory_desc_get_size(md);
}

size_t dn_pad_bytes(const plan *p)
{
    size_t b = dn_bytes(&p->pad_fwd);
    if (dn_bytes(&p->pad_bwd_d) > b) b = dn_bytes(&p->pad_bwd_d);
    if (dn_bytes(&p->pad_bwd_w) > b) b = dn_bytes(&p->pad_bwd_w);
    if (dn_bytes(&p->pad_rw) > b) b = dn_bytes(&p->pad_rw);
    if (dn_bytes(&p->pad_rwd) > b) b = dn_bytes(&p->pad_rwd);
    return b;
}

