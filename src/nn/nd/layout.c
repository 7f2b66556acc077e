/* Data movement of the N-D ops: strided gathers (Transpose, Slice) and Pad (constant,
 * reflect, edge). Each walks the output in order with an odometer over its axes. */
#include <string.h>
#include "nn/nd/nd.h"

void ml__nd_strides(const int64_t *dims, int r, int64_t *stride)
{
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= dims[d];
    }
}

/* Batch items are split across threads along axis 0 (odims[0] = items). */
void ml__nd_strided(const float *x, int r, const int64_t *odims, const int64_t *xstride, int64_t base, float *y)
{
    if (r == 0) {
        y[0] = x[base];
        return;
    }
    int64_t inner = 1;
    for (int d = 1; d < r; d++)
        inner *= odims[d];
    const int64_t items = odims[0];
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < items; b++) {
        int64_t idx[ML_MAX_DIMS] = {0};
        float *Y = y + b * inner;
        const float *X = x + base + b * xstride[0];
        const int64_t last = r > 1 ? odims[r - 1] : 1, ls = r > 1 ? xstride[r - 1] : 0;
        int64_t off = 0;
        for (int64_t o = 0; o < inner; o += last) {
            const float *src = X + off;
            for (int64_t i = 0; i < last; i++)
                Y[o + i] = src[i * ls];
            /* advance the odometer over axes 1 .. r-2 */
            for (int d = r - 2; d >= 1; d--) {
                off += xstride[d];
                if (++idx[d] < odims[d])
                    break;
                off -= xstride[d] * odims[d];
                idx[d] = 0;
            }
        }
    }
}

/* Source index of output position o along an axis of length n padded by b in front, or -1
 * for the constant. */
static inline int64_t pad_src(int mode, int64_t o, int64_t b, int64_t n)
{
    int64_t i = o - b;
    if (i >= 0 && i < n)
        return i;
    if (mode == 0)
        return -1;
    if (mode == 2)
        return i < 0 ? 0 : n - 1;
    return i < 0 ? -i : 2 * (n - 1) - i; /* reflect (pads < n, checked at finalize) */
}

void ml__nd_pad(const ml_attrs *a, const float *x, int r, const int64_t *dims, const int64_t *odims, float *y)
{
    int64_t xs[ML_MAX_DIMS], inner = 1;
    ml__nd_strides(dims, r, xs);
    for (int d = 1; d < r; d++)
        inner *= odims[d];
    const int mode = a->pad_mode;
    const float cv = a->pad_value;
    const int64_t last = r > 1 ? odims[r - 1] : 1;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < dims[0]; b++) {
        int64_t idx[ML_MAX_DIMS] = {0};
        float *Y = y + b * inner;
        const float *X = x + b * xs[0];
        for (int64_t o = 0; o < inner; o += last) {
            int64_t off = 0;
            int outside = 0;
            for (int d = 1; d < r - 1; d++) {
                int64_t s = pad_src(mode, idx[d], a->padnd[d], dims[d]);
                if (s < 0)
                    outside = 1;
                else
                    off += s * xs[d];
            }
            for (int64_t i = 0; i < last; i++) {
                int64_t s = r > 1 ? pad_src(mode, i, a->padnd[r - 1], dims[r - 1]) : 0;
                Y[o + i] = outside || s < 0 ? cv : X[off + s];
            }
            for (int d = r - 2; d >= 1; d--) {
                if (++idx[d] < odims[d])
                    break;
                idx[d] = 0;
            }
        }
    }
}
