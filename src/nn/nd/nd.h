/* The engine's inference-only ops on tensors of up to ML_MAX_DIMS dims: shape ops
 * (Transpose, Concat, Slice, Pad, Resize), reductions and element-wise unaries. Axis 0 is
 * the batch: none of these ops moves, cuts or reduces it, so a batch item's output
 * depends on that item only and every kernel splits the batch across threads with the
 * same results for any thread count. Training refuses them (no backward). */
#ifndef ML_NN_ND_H
#define ML_NN_ND_H

#include "nn/internal.h"

/* Whether op is one of the ops below (shape inference and forward here). */
int ml__nd_op(ml_op op);
/* Element-wise unary (Tanh ... Shrink)? */
int ml__nd_unary(ml_op op);

/* nd/shape.c: check node ni of a net being finalized and write its output dims with batch
 * 1 (od, *ond) and its plan entries; ML_EFORMAT / ML_EUNSUPP naming the node. */
ml_status ml__nd_infer(ml_net *net, int ni, int64_t *od, int *ond, ml_error *err);

/* nd/run.c: forward of node ni for batch items (x: the graph input), y its output buffer.
 * ML_ENOMEM when a temporary buffer cannot be had. */
ml_status ml__nd_forward(ml_net *net, int ni, const float *x, int batch, float *y, ml_error *err);

/* Kernels. dims: the input's dims with dims[0] = batch; r its rank. */
void ml__nd_unary_forward(ml_op op, const ml_attrs *a, const float *x, size_t n, float *y);
/* y = x[lo + i * step] per axis (Transpose passes its strides through perm) */
void ml__nd_strided(const float *x, int r, const int64_t *odims, const int64_t *xstride, int64_t base,
                    float *y);
void ml__nd_strides(const int64_t *dims, int r, int64_t *stride);
void ml__nd_pad(const ml_attrs *a, const float *x, int r, const int64_t *dims, const int64_t *odims, float *y);
/* reduce op over the axes in mask (bit per axis); ArgMax/ArgMin (one axis): the index of
 * the first extreme entry, the last when last is set */
void ml__nd_reduce(ml_op op, unsigned mask, int last, const float *x, int r, const int64_t *dims, float *y);
/* separable resize; ML_ENOMEM when its two temporary buffers cannot be had */
ml_status ml__nd_resize(const ml_attrs *a, const double *scale, const float *x, int r, const int64_t *dims,
                        const int64_t *odims, float *y);

#endif
