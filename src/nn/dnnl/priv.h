/* Private parts of the oneDNN convolution back end (dnnl/plan.c, dnnl/state.c,
 * dnnl/conv.c): per-layer plans of oneDNN primitives, per-net state, chunked execution. */
#ifndef ML_NN_DNNL_PRIV_H
#define ML_NN_DNNL_PRIV_H

#include <dnnl.h>
#include "nn/backend.h"

#define SLOTS 8 /* plans remembered per layer: a batch size gives at most two chunk sizes,
                 * training and inference (and a last, smaller batch) each their own */

/* plan flags */
#define F_BIAS 1  /* the forward adds a bias */
#define F_INFER 2 /* inference: forward only, Winograd where it applies, fused ReLU */
#define F_RELU 4
#define F_BF16 8  /* training: src, weights and diff_dst in bfloat16 (kernels/conv_bf16.c) */
#define F_SUM 16  /* inference: dst += conv (a residual Add fused as a sum post-op, before
                   * the ReLU), dnnl/infer.c */

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
    /* inference: a convolution whose output only the next convolution reads leaves it in
     * oneDNN's layout (two reorders fewer); carry[buf][ch] per chunk, double-buffered */
    float *carry[2][ML_DW_CHUNKS];
    size_t carry_bytes[2][ML_DW_CHUNKS];
    int carry_buf;           /* buffer holding the pending output */
    int carry_node;          /* node that reads it, -1 when none is pending */
    int carry_batch;
    float *carry_y;          /* where the producer would have written it (NCHW) */
    const plan *carry_pl[ML_DW_CHUNKS]; /* the producer's plans */
    long carried;            /* outputs passed on in oneDNN's layout so far (tests) */
    struct dn_chunked *ck;   /* inference image-chunk by image-chunk (dnnl/infer.c) */
};

/* inference weight caches use at most this much memory in all (ResNet-34: 340 MB) */
#define WCACHE_MAX ((size_t)1 << 30)

typedef struct {
    int arg;
    const dnnl_memory_desc_t *md;
    void *ptr;
} marg;

/* plan.c: primitives for chunks of nb images (0 on success), freeing, sizes */
int dn_plan_make(dnnl_engine_t eng, const ml_geom *g, int nb, int flags, plan *p);
void dn_plan_free(plan *p);
dnnl_primitive_t dn_make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *a,
                                 const dnnl_memory_desc_t *b, int sum, dnnl_memory_desc_t *pad);
size_t dn_bytes(const dnnl_memory_desc_t *md);
size_t dn_pad_bytes(const plan *p);

/* state.c: the net's oneDNN state (made on first use), plans per chunk, execution */
struct ml_dnnl *dn_state(ml_net *net);
int dn_chunk_count(int batch, int flags);
int dn_chunk_start(int batch, int flags, int ch);
int dn_plans_ready(ml_net *net, int node, const ml_geom *g, int batch, int flags, const plan **pl);
int dn_run(struct ml_dnnl *d, int thread, dnnl_primitive_t prim, int n, const marg *a,
           const dnnl_memory_desc_t *pad, void *pad_ptr);
int dn_reorder(struct ml_dnnl *d, int thread, dnnl_primitive_t r, const dnnl_memory_desc_t *from,
               const void *src, const dnnl_memory_desc_t *to, void *dst);
void dn_carve(const struct ml_dnnl *d, const plan *p, int thread, float **xb, float **yb,
              float **dxb, float **dwb, float **pad);
int dn_weights_to(struct ml_dnnl *d, const plan *p, dnnl_primitive_t r, const dnnl_memory_desc_t *to,
                  const dnnl_memory_desc_t *pad, const float *w, float *dst);
/* xbl / ybl: per-chunk input / output already in (left in) oneDNN's layout, or NULL */
int dn_forward_chunks(struct ml_dnnl *d, const plan **pl, const ml_geom *g, const float *x,
                      const float *wb, const float *bias, int batch, float *y, float *const *xbl,
                      float *const *ybl);
/* conv.c: training forward and backward on plans with flags `extra` (0 or F_BF16) added;
 * 0 when done, non-zero when oneDNN cannot run it (backward: dx += input gradient, chunk
 * ch's weight gradient into dw_parts + ch * weight size) */
int dn_conv_forward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                    const float *bias, int batch, float *y, int extra);
int dn_conv_backward(ml_net *net, int node, const ml_geom *g, const float *x, const float *w,
                     const float *dy, int batch, int bias, float *dx, float *dw_parts, int extra);
/* the table's training backward with flags extra */
ml_status dn_backward_entry(ml_net *net, const ml_conv_args *a, const float *dy, float *dx, float *dw,
                            float *db, int extra, ml_error *err);

/* write a pending carried output back to NCHW and forget it */
int dn_carry_flush(struct ml_dnnl *d);
/* conv.c: the node's weights in the plan's layout, from the cache when weights, bias and BN
 * are unchanged; else folded, reordered and kept (within WCACHE_MAX); *bias_out: the bias to
 * use (the folded one lives in d->fold until the next call). NULL on failure, with *oom set
 * when memory ran out. */
const float *dn_infer_weights(struct ml_dnnl *d, int node, const plan *p, const ml_geom *g,
                              const float *w, const float *bias, const float *scale,
                              const float *shift, const float **bias_out, int *oom);
/* conv.c: the tensor node i writes at inference: its own output, or that of the BN and ReLU
 * fused into it */
int dn_infer_output(const ml_net *net, int i);
/* conv.c: conv node i's inference plan flags: F_INFER, F_BIAS with a bias input or a fused BN,
 * F_RELU when node relu_of (i, or the Add fused into i) has a ReLU fused into it */
int dn_infer_flags(const ml_net *net, int i, int relu_of);
/* infer.c: free the chunked-inference tables */
void dn_chunked_free(struct dn_chunked *ck);

#endif
