/* Resize (nearest, linear, cubic) as separable 1-D passes, one per resized axis, with
 * ONNX's coordinate transformations; taps and weights follow ONNX's reference
 * (onnx/backend/test/case/node/resize.py: interpolate_1d_with_x): the n = 2 or 4 points
 * nearest the source coordinate in the edge-padded axis. */
#include <math.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/nd/nd.h"

#define TAPS 4

typedef struct tap {
    int64_t idx[TAPS]; /* clamped source indices */
    double w[TAPS];
    int n, outside;    /* outside: tf_crop_and_resize extrapolation */
} tap;

static double source_coord(const ml_attrs *a, int axis, int r, double x, double scale, int64_t in, int *outside)
{
    double out = scale * (double)in, xo;
    *outside = 0;
    switch (a->resize_coord) {
    case 1: xo = x / scale; break;
    case 2: xo = out == 1 ? 0 : x * (double)(in - 1) / (out - 1); break;
    case 3: xo = out == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
    case 4: {
        double s = a->roi[axis], e = a->roi[r + axis];
        xo = out == 1 ? (e - s) * (double)(in - 1) / 2 : x * (e - s) * (double)(in - 1) / (out - 1);
        xo += s * (double)(in - 1);
        *outside = xo < 0 || xo > (double)(in - 1);
        break;
    }
    case 5: xo = (x + 0.5) / scale; break;
    default: xo = (x + 0.5) / scale - 0.5; break;
    }
    return xo;
}

static void make_tap(const ml_attrs *a, double xo, int64_t in, tap *t)
{
    double ratio = xo == floor(xo) ? 1 : xo - floor(xo);
    double c[TAPS];
    int n = a->resize_mode == 2 ? 4 : 2;
    if (a->resize_mode == 0) {
        int right;
        if (ratio == 1) right = 1;
        else if (a->resize_nearest == 0) right = ratio > 0.5;
        else if (a->resize_nearest == 1) right = ratio >= 0.5;
        else right = a->resize_nearest == 3;
        c[0] = !right;
        c[1] = right;
    } else if (a->resize_mode == 1) {
        c[0] = 1 - ratio;
        c[1] = ratio;
    } else {
        double A = a->cubic_a, r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
        c[0] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A;
        c[1] = ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1;
        c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
        c[3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A;
    }
    /* the n points nearest xo among -pw .. in-1+pw (pw = n/2), lower one on ties */
    int64_t pw = n / 2, first = (int64_t)floor(xo) - (ratio == 1) - (n / 2 - 1);
    if (first < -pw) first = -pw;
    if (first + n - 1 > in - 1 + pw) first = in - 1 + pw - (n - 1);
    double sum = 0;
    for (int k = 0; k < n; k++) {
        int64_t i = first + k;
        if (a->exclude_outside && (i < 0 || i >= in))
            c[k] = 0;
        sum += c[k];
        t->idx[k] = i < 0 ? 0 : i >= in ? in - 1 : i;
    }
    for (int k = 0; k < n; k++)
        t->w[k] = a->exclude_outside && sum != 0 ? c[k] / sum : c[k];
    t->n = n;
}

/* One pass along axis: y[o][j][i] from x[o][.][i] with outer x len x inner blocks. */
static void pass(const ml_attrs *a, const tap *tp, const float *x, int64_t outer, int64_t in, int64_t len,
                 int64_t inner, float *y)
{
    const float ev = a->extrapolation;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < len; j++) {
            const tap *t = &tp[j];
            float *Y = y + (o * len + j) * inner;
            const float *X = x + o * in * inner;
            for (int64_t i = 0; i < inner; i++) {
                double s = 0;
                for (int k = 0; k < t->n; k++)
                    s += t->w[k] * X[t->idx[k] * inner + i];
                Y[i] = t->outside ? ev : (float)s;
            }
        }
}

ml_status ml__nd_resize(const ml_attrs *a, const double *scale, const float *x, int r, const int64_t *dims,
                        const int64_t *odims, float *y)
{
    int64_t cur[ML_MAX_DIMS], big = 1, total = 1, maxlen = 1;
    int axes[ML_MAX_DIMS], na = 0;
    memcpy(cur, dims, sizeof cur);
    for (int d = 0; d < r; d++)
        total *= dims[d];
    for (int d = 1; d < r; d++) {
        int same = odims[d] == dims[d] && scale[d] == 1 && a->resize_coord != 4 && a->resize_coord != 5;
        if (!same)
            axes[na++] = d;
        if (odims[d] > maxlen)
            maxlen = odims[d];
    }
    /* sizes of the intermediate results */
    big = total;
    for (int k = 0; k < na; k++) {
        total = total / cur[axes[k]] * odims[axes[k]];
        cur[axes[k]] = odims[axes[k]];
        if (total > big)
            big = total;
    }
    if (na == 0) {
        memcpy(y, x, (size_t)total * sizeof *y);
        return ML_OK;
    }
    float *buf[2] = {NULL, NULL};
    tap *tp = ml__malloc((size_t)maxlen * sizeof *tp);
    if (na > 1) {
        buf[0] = ml__malloc((size_t)big * sizeof(float));
        buf[1] = na > 2 ? ml__malloc((size_t)big * sizeof(float)) : NULL;
    }
    if (!tp || (na > 1 && !buf[0]) || (na > 2 && !buf[1])) {
        ml__free(tp);
        ml__free(buf[0]);
        ml__free(buf[1]);
        return ML_ENOMEM;
    }
    memcpy(cur, dims, sizeof cur);
    const float *src = x;
    for (int k = 0; k < na; k++) {
        int d = axes[k];
        int64_t outer = 1, inner = 1, in = cur[d], len = odims[d];
        for (int e = 0; e < d; e++) outer *= cur[e];
        for (int e = d + 1; e < r; e++) inner *= cur[e];
        for (int64_t j = 0; j < len; j++) {
            double xo = source_coord(a, d, r, (double)j, scale[d], in, &tp[j].outside);
            make_tap(a, xo, in, &tp[j]);
        }
        float *dst = k == na - 1 ? y : buf[k & 1];
        pass(a, tp, src, outer, in, len, inner, dst);
        cur[d] = len;
        src = dst;
    }
    ml__free(tp);
    ml__free(buf[0]);
    ml__free(buf[1]);
    return ML_OK;
}
