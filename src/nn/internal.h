/* Private parts of the network engine: workspace, convolution geometry, layer kernels
 * shared by the inference and training paths. */
#ifndef ML_NN_INTERNAL_H
#define ML_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "memlev/nn.h"

/* Geometry of one 2-D convolution or pooling window. */
typedef struct ml_geom {
    int c, h, w;        /* input channels and size */
    int m, oh, ow;      /* output channels and size */
    int kh, kw, sh, sw, ph, pw, dh, dw; /* kernel, stride, top/left pad, dilation */
    int group;
} ml_geom;

/* A convolution back end: a table of functions (nn/backend.h). */
typedef struct ml_conv_backend ml_conv_backend;

/* Per-node plan made at finalize. */
typedef struct ml_plan {
    ml_geom g;          /* Conv / pools */
    const ml_conv_backend *conv; /* Conv: the engine chosen for this layer (ml__conv_choose) */
    int fuse_bn;        /* Conv: node index of the BN consuming it (inference), else -1 */
    int fuse_relu;      /* Conv/BN/Add: node index of the Relu consuming it, else -1 */
    int skip;           /* inference: node computed inside another node's fused kernel */
    int bcast[2][4];    /* Add/Sub/Mul/Div: per operand, strides over (n, c, h, w) of the output */
    int odims[4];       /* Add/...: output dims padded to 4 (leading 1s), batch axis = 1 */
    int batched[2];     /* Add/...: operand is an activation (advances by one item per image) */
    size_t opitem[2];   /* Add/...: floats per item of each operand */
    int axis;           /* Softmax: the normalised axis (>= 1) */
    int item_batch;     /* Add/...: a constant operand holds this many batch items (its first dim,
                           ONNX shapes fixed at that batch); the batch must equal it. 0: none */
    int64_t nd_lo[ML_MAX_DIMS];   /* Slice: first index per axis */
    int64_t nd_step[ML_MAX_DIMS]; /* Slice: step per axis */
    double nd_scale[ML_MAX_DIMS]; /* Resize: scale per axis (output / input length) */
    unsigned nd_red;              /* Reduce*, GlobalMaxPool: bit per reduced axis */
} ml_plan;

struct ml_net_priv {
    ml_plan *plan;          /* per node */
    size_t *item;           /* per tensor: floats per batch item (activations) */
    int *nuse;              /* per tensor: number of consuming nodes (+1 for the graph output) */
    int cap;                /* batch the buffers below hold */
    float **act;            /* per tensor activation buffers (cap * item), NULL for params */
    float **dact;           /* per tensor gradient buffers (training), lazily allocated */
    float **bn_mean;        /* per node (BN): batch mean and 1/std from the last training forward */
    float **bn_istd;
    float *scratch;         /* per-thread im2col scratch: nthreads * 2 * scratch_per */
    size_t scratch_per;     /* floats per thread and buffer */
    int scratch_threads;
    float *wpart;           /* conv dW partials for the fixed-chunk reduction */
    size_t wpart_cap;
    float *fold;            /* inference: per-channel scale/shift for fused conv+BN */
    size_t fold_cap;
    float *wino;            /* inference: Winograd transforms of the widest eligible conv */
    size_t wino_cap;
    struct ml_wcache *wino_u; /* inference: the built-in Winograd's transformed weights per
                               node (kernels/wcache.c), lazily made */
    struct ml_dnnl *dnnl;   /* oneDNN convolution state and plans (dnnl/state.c), lazily made */
    int dnnl_oom;           /* the oneDNN path ran out of memory: the call fails with ML_ENOMEM
                               rather than fall back to kernels whose bits differ */
    int chunked_off;        /* tests: inference layer by layer only (no dnnl/infer.c) */
};

/* Fixed number of partial sums for weight gradients: results are independent of the
 * thread count because the partition depends only on the batch size. */
#define ML_DW_CHUNKS 8

/* chunks of a training batch: ML_DW_CHUNKS, or one per image for smaller batches */
static inline int ml_dw_chunks(int batch) { return batch < ML_DW_CHUNKS ? batch : ML_DW_CHUNKS; }

/* first item of part i when n items are cut into `parts` runs of near-equal length */
static inline int ml_split(int n, int parts, int i) { return (int)((long)n * i / parts); }

static inline size_t ml_tensor_numel(const ml_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static inline int ml_is_activation(const ml_tensor *t) { return t->data == NULL; }

/* graph/graph.c */
void ml__net_priv_free(struct ml_net_priv *p);
int ml__tensor_trainable(const ml_tensor *t);

/* workspace (graph/forward.c): make buffers hold batch items; ML_ENOMEM on failure. */
ml_status ml__ws_reserve(ml_net *net, int batch, int training, ml_error *err);
float *ml__ws_scratch(ml_net *net, int thread);
/* Pointer to a tensor's values for the current batch (param data, input or activation). */
float *ml__val(ml_net *net, int t, const float *x);
/* graph/forward.c: the forward kernels shared by inference and training; 0 if nd has none */
int ml__forward_common(ml_net *net, const ml_node *nd, const float *x, const float *a, int batch, int relu,
                      float *y);

/* kernels/conv_wino.c: Winograd F(4x4,3x3) inference convolution for 3x3/stride 1/pad 1
 * layers; ws holds ml__conv_wino_floats(g, batch, omp_get_max_threads()) floats. */
int ml__conv_wino_ok(const ml_geom *g);
size_t ml__conv_wino_floats(const ml_geom *g, int batch, int threads);
void ml__conv_wino_forward(const ml_geom *g, const float *x, const float *w, const float *bias,
                          const float *scale, const float *shift, int relu, int batch, float *ws,
                          float *y);
/* The same with the filter transform u (ml__conv_wino_u_floats(g) floats, made by
 * ml__conv_wino_transform) given instead of the weights. */
size_t ml__conv_wino_u_floats(const ml_geom *g);
void ml__conv_wino_transform(const ml_geom *g, const float *w, float *u);
void ml__conv_wino_forward_u(const ml_geom *g, const float *x, const float *u, const float *bias,
                            const float *scale, const float *shift, int relu, int batch, float *ws,
                            float *y);
/* Training: dx += the input gradient of such a layer from dy, by the same transform; ws holds
 * ml__conv_wino_bwd_floats(g, batch, omp_get_max_threads()) floats. */
size_t ml__conv_wino_bwd_floats(const ml_geom *g, int batch, int threads);
void ml__conv_wino_backward_data(const ml_geom *g, const float *dy, const float *w, int batch,
                                float *ws, float *dx);
/* kernels/wcache.c: a 64-bit hash of n floats continuing from h (v NULL hashes as a marker;
 * 0 is returned only when memory ran out, and is never a valid key); the same for any
 * thread count. */
uint64_t ml__hash_floats(const float *v, size_t n, uint64_t h);
/* Per-node caches of transformed weights, at most max_floats in all. ml__wcache_get returns
 * node's buffer of `floats` floats for key: the cached one (*fresh = 0) or one to fill
 * (*fresh = 1; the caller fills it before the next call); NULL when the cache cannot hold
 * it (full, out of memory, key 0): the caller then transforms into its workspace. */
typedef struct ml_wcache ml_wcache;
ml_wcache *ml__wcache_new(int n, size_t max_floats);
void ml__wcache_free(ml_wcache *c);
float *ml__wcache_get(ml_wcache *c, int node, uint64_t key, size_t floats, int *fresh);
/* forget node's entry (its buffer was not filled) */
void ml__wcache_drop(ml_wcache *c, int node);
/* entries made or remade so far (tests: a changed weight must remake exactly its layer's) */
long ml__wcache_rebuilds(const ml_wcache *c);
/* kernels/gemm.c: row-major C = alpha op(A) op(B) + beta C, to be called from inside an OpenMP
 * loop (runs on the calling thread); ta/tb non-zero for transposed operands. */
void ml__sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* ml__sgemm over fixed blocks of rows of C, inside an OpenMP loop (call it outside one). */
void ml__sgemm_rows(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc);
/* kernels/conv_im2col.c. Columns of one im2col block: the images of a convolution are
 * processed in groups of ml__conv_group_images(g, batch) so the GEMMs are wide; the
 * grouping depends on the geometry and batch size only. */
#define ML_CONV_COLS 4096
int ml__conv_group_images(const ml_geom *g, int batch);
/* floats of one per-thread conv scratch buffer (im2col block + one output block) */
size_t ml__conv_scratch_floats(const ml_geom *g, int batch);
/* im2col of one image into rows of stride ld (>= oh*ow); col2im adds back. */
void ml__im2col(const ml_geom *g, const float *x, int grp, float *col, size_t ld);
void ml__col2im_add(const ml_geom *g, const float *col, size_t ld, int grp, float *dx);
/* y[n] = conv(x[n]) (+bias) then y = y*scale+shift (if scale) then relu (if relu). */
void ml__conv_forward(ml_net *net, const ml_geom *g, const float *x, const float *w,
                     const float *bias, const float *scale, const float *shift, int relu,
                     int batch, float *y);
/* dw = sum over the nch chunk partials at part (each m x K; transposed K x m when tr) */
void ml__conv_reduce_parts(const ml_geom *g, const float *part, int nch, int tr, float *dw);
/* db[m] = sum of dy over images and positions of output channel m */
void ml__conv_bias_grad(const ml_geom *g, const float *dy, int batch, float *db);

/* dnnl/: the oneDNN state of a net (freed with the net); tests: outputs passed on in
 * oneDNN's layout so far; the instruction set oneDNN runs on ("oneDNN avx512_core") */
void ml__dnnl_free(struct ml_dnnl *d);
long ml__dnnl_carried(const ml_net *net);
const char *ml__dnnl_isa_label(void);
/* dnnl/infer.c: inference of the net's leading image-independent nodes chunk by chunk of
 * images, one thread per chunk; the number of nodes run (the caller runs the rest), 0 when
 * none ran, -1 when memory ran out (dnnl_oom set). Logits as layer by layer, bit for bit. */
int ml__dnnl_forward_chunked(ml_net *net, const float *x, int batch);

/* graph/forward.c: BN node j folded into per-channel scale f[0, c) and shift f[c, 2c); c,
 * its channel count */
int ml__bn_fold_node(ml_net *net, int j, float *f);
/* kernels/bn.c */
void ml__bn_fold(const float *scale, const float *bias, const float *mean, const float *var,
                float eps, int c, float *s, float *sh);
void ml__bn_infer(const float *x, const float *s, const float *sh, int batch, int c, int hw,
                 int relu, float *y);
void ml__bn_train_forward(const float *x, const float *gamma, const float *beta, float *rmean,
                         float *rvar, float eps, float momentum, int update, int batch, int c,
                         int hw, int relu, float *mean, float *istd, float *y);
/* mask: the output of a ReLU fused after the BN (dy is then the ReLU's gradient), or NULL */
void ml__bn_backward(const float *x, const float *gamma, const float *mean, const float *istd,
                    const float *dy, const float *mask, int batch, int c, int hw, float *dx,
                    float *dgamma, float *dbeta);

/* kernels/pool.c */
void ml__maxpool_forward(const ml_geom *g, const float *x, int batch, float *y);
void ml__maxpool_backward(const ml_geom *g, const float *x, const float *dy, int batch, float *dx);
void ml__avgpool_forward(const ml_geom *g, int include_pad, const float *x, int batch, float *y);
void ml__avgpool_backward(const ml_geom *g, int include_pad, const float *dy, int batch, float *dx);
void ml__gap_forward(const float *x, int batch, int c, int hw, float *y);
void ml__gap_backward(const float *dy, int batch, int c, int hw, float *dx);

/* kernels/linear.c: Gemm / MatMul on [batch, k] inputs. */
void ml__gemm_forward(const ml_node *nd, const ml_tensor *B, const ml_tensor *C, const float *a,
                     int batch, int k, int m, float *y);
void ml__gemm_backward(const ml_node *nd, const ml_tensor *B, const ml_tensor *C, const float *a,
                      const float *dy, int batch, int k, int m, float *da, float *dB, float *dC);

/* kernels/act.c */
void ml__relu_forward(const float *x, size_t n, float *y);
void ml__relu_backward(const float *y, const float *dy, size_t n, float *dx);
void ml__binary_forward(ml_op op, const ml_plan *p, const float *a, const float *b, int batch,
                       int relu, float *y);
/* Inference-only activations; y may equal x. Softmax over len entries spaced inner apart,
 * outer * inner such runs of consecutive blocks (x holds outer * len * inner floats). */
void ml__sigmoid_forward(const float *x, size_t n, float *y);
void ml__leakyrelu_forward(const float *x, size_t n, float alpha, float *y);
void ml__clip_forward(const float *x, size_t n, float lo, float hi, float *y);
void ml__softmax_forward(const float *x, size_t outer, size_t len, size_t inner, float *y);
void ml__log_forward(const float *x, size_t n, float *y);
/* mask as for ml__bn_backward */
void ml__binary_backward(ml_op op, const ml_plan *p, const float *a, const float *b,
                        const float *dy, const float *mask, int batch, float *da, float *db,
                        int a_batched, int b_batched);

#endif
