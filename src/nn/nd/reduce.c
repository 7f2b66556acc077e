/* Reductions (ReduceSum ... ReduceSumSquare, GlobalMaxPool, ArgMax/ArgMin) over a set of
 * axes of an N-D tensor, accumulated in double, one output element at a time in a fixed
 * order. */
#include <math.h>
#include "nn/nd/nd.h"

static double arg_one(ml_op op, int last, const float *x, int64_t len, int64_t stride)
{
    int64_t best = 0;
    for (int64_t i = 1; i < len; i++) {
        float v = x[i * stride], b = x[best * stride];
        int better = op == ML_OP_ARGMAX ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
        if (better)
            best = i;
    }
    return (double)best;
}

static double reduce_one(ml_op op, const float *x, int nr, const int64_t *rd, const int64_t *rs)
{
    int64_t idx[ML_MAX_DIMS] = {0}, count = 1, off = 0;
    for (int k = 0; k < nr; k++)
        count *= rd[k];
    double acc = op == ML_OP_REDUCEPROD ? 1 : op == ML_OP_REDUCEMAX || op == ML_OP_GLOBALMAXPOOL ? -INFINITY
                 : op == ML_OP_REDUCEMIN ? INFINITY : 0;
    double m = 0;
    if (op == ML_OP_REDUCELOGSUMEXP) { /* shift by the maximum */
        m = -INFINITY;
        for (int64_t i = 0; i < count; i++) {
            double v = x[off];
            if (v > m) m = v;
            for (int k = nr - 1; k >= 0; k--) {
                off += rs[k];
                if (++idx[k] < rd[k]) break;
                off -= rs[k] * rd[k];
                idx[k] = 0;
            }
        }
        if (!isfinite(m))
            m = 0;
        off = 0;
    }
    for (int64_t i = 0; i < count; i++) {
        double v = x[off];
        switch (op) {
        case ML_OP_REDUCEMAX: case ML_OP_GLOBALMAXPOOL: if (v > acc || isnan(v)) acc = v; break;
        case ML_OP_REDUCEMIN: if (v < acc || isnan(v)) acc = v; break;
        case ML_OP_REDUCEPROD: acc *= v; break;
        case ML_OP_REDUCEL1: acc += fabs(v); break;
        case ML_OP_REDUCEL2: case ML_OP_REDUCESUMSQUARE: acc += v * v; break;
        case ML_OP_REDUCELOGSUMEXP: acc += exp(v - m); break;
        default: acc += v; break;
        }
        for (int k = nr - 1; k >= 0; k--) {
            off += rs[k];
            if (++idx[k] < rd[k]) break;
            off -= rs[k] * rd[k];
            idx[k] = 0;
        }
    }
    switch (op) {
    case ML_OP_REDUCEMEAN: return acc / (double)count;
    case ML_OP_REDUCEL2: return sqrt(acc);
    case ML_OP_REDUCELOGSUM: return log(acc);
    case ML_OP_REDUCELOGSUMEXP: return log(acc) + m;
    default: return acc;
    }
}

void ml__nd_reduce(ml_op op, unsigned mask, int last, const float *x, int r, const int64_t *dims, float *y)
{
    int64_t xs[ML_MAX_DIMS], kd[ML_MAX_DIMS], ks[ML_MAX_DIMS], rd[ML_MAX_DIMS], rs[ML_MAX_DIMS];
    int nk = 0, nr = 0;
    ml__nd_strides(dims, r, xs);
    for (int d = 1; d < r; d++) {
        if (mask >> d & 1) {
            rd[nr] = dims[d];
            rs[nr++] = xs[d];
        } else {
            kd[nk] = dims[d];
            ks[nk++] = xs[d];
        }
    }
    int64_t outer = 1;
    for (int k = 0; k < nk; k++)
        outer *= kd[k];
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < dims[0]; b++) {
        int64_t idx[ML_MAX_DIMS] = {0}, off = 0;
        const float *X = x + b * (r ? xs[0] : 0);
        for (int64_t o = 0; o < outer; o++) {
            y[b * outer + o] = (float)(op == ML_OP_ARGMAX || op == ML_OP_ARGMIN ? arg_one(op, last, X + off, rd[0], rs[0])
                                                                                : reduce_one(op, X + off, nr, rd, rs));
            for (int k = nk - 1; k >= 0; k--) {
                off += ks[k];
                if (++idx[k] < kd[k]) break;
                off -= ks[k] * kd[k];
                idx[k] = 0;
            }
        }
    }
}
