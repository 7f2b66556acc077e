/* Convolution back ends: one const table of functions per engine (oneDNN, Winograd,
 * im2col + sgemm). ml_net_finalize chooses a table once per layer (ml__conv_choose) and keeps
 * it in the layer's plan; the drivers (graph/forward.c, graph/train.c, the workspace sizing)
 * call the layer's table and never ask which engine it is. */
#ifndef ML_NN_BACKEND_H
#define ML_NN_BACKEND_H

#include "nn/internal.h"

/* One convolution call: the layer, its operands and, at inference, the fused epilogue. */
typedef struct ml_conv_args {
    int node;                   /* node index: back ends keep per-layer state by it */
    const ml_geom *g;
    const float *x, *w, *bias;  /* input, weights [M, C/group, kh, kw], bias (may be NULL) */
    const float *scale, *shift; /* inference: a folded BN per output channel (NULL: none) */
    int relu;                   /* inference: a ReLU fused after */
    int batch;
} ml_conv_args;

/* What a layer needs from the net's workspace (ml__ws_reserve): floats per thread and
 * buffer of the im2col scratch, floats of the Winograd transform buffer. */
typedef struct ml_conv_ws {
    size_t col;
    size_t wino;
} ml_conv_ws;

struct ml_conv_backend {
    const char *name; /* "oneDNN", "Winograd", "im2col" */
    /* non-zero when the engine can run a layer of geometry g (asked at finalize) */
    int (*supports)(const ml_geom *g);
    /* the workspace of a layer at this batch and thread count; training adds what the
     * backward needs */
    void (*workspace)(const ml_geom *g, int batch, int threads, int training, ml_conv_ws *ws);
    /* inference: y = relu((conv(x, w) + bias) * scale + shift) */
    void (*infer)(ml_net *net, const ml_conv_args *a, float *y);
    /* training forward: y = conv(x, w) + bias (scale, shift and relu are not used) */
    void (*forward)(ml_net *net, const ml_conv_args *a, float *y);
    /* training backward from dy: dx += dconv/dx (dx may be NULL), dw and db (may be NULL)
     * written; ML_ENOMEM when the workspace was not reserved for training */
    ml_status (*backward)(ml_net *net, const ml_conv_args *a, const float *dy, float *dx,
                          float *dw, float *db, ml_error *err);
    /* start of an inference pass: forget state carried between layers (may be NULL) */
    void (*begin_pass)(ml_net *net);
};

extern const ml_conv_backend ml__conv_onednn;   /* dnnl/conv.c */
extern const ml_conv_backend ml__conv_winograd; /* kernels/conv_wino.c */
extern const ml_conv_backend ml__conv_im2col;   /* kernels/conv_im2col.c */
/* oneDNN with bfloat16 training convolutions (ML_PRECISION_BF16; kernels/conv_bf16.c): the
 * oneDNN table's inference, bf16 forward and backward */
extern const ml_conv_backend ml__conv_onednn_bf16;
/* non-zero for either oneDNN table */
static inline int ml__conv_is_onednn(const ml_conv_backend *b)
{
    return b == &ml__conv_onednn || b == &ml__conv_onednn_bf16;
}
/* non-zero when oneDNN can run bfloat16 convolutions on this CPU (AVX-512: native with
 * AVX512-BF16, emulated otherwise); else 0 and *isa names what oneDNN runs */
int ml__bf16_supported(const char **isa);
/* every table, NULL-terminated (graph/backend.c) */
extern const ml_conv_backend *const ml__conv_backends[];

/* memlev's own engine for g: Winograd where it applies (3x3, stride 1, pad 1), else im2col.
 * The oneDNN table falls back to it when oneDNN cannot run a call (a chunk size it has no
 * kernel for, or out of memory). */
const ml_conv_backend *ml__conv_builtin(const ml_geom *g);
/* The engine of a layer: oneDNN when the choice allows it and it supports g, else
 * ml__conv_builtin(g). */
const ml_conv_backend *ml__conv_choose(const ml_geom *g, ml_conv_choice choice);
/* Choose every convolution layer's table of a finalized net from net->conv. */
void ml__conv_choose_all(ml_net *net);

#endif
