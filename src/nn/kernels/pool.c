/* Max, average and global-average pooling, forward and backward, NCHW. */
#include <float.h>
#include <string.h>
#include "nn/internal.h"

void ml__maxpool_forward(const ml_geom *g, const float *x, int batch, float *y)
{
    const int planes = batch * g->c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * g->h * g->w;
        float *yp = y + (size_t)pl * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float m = -FLT_MAX;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix < 0 || ix >= g->w) continue;
                        float v = xp[iy * g->w + ix];
                        if (v > m) m = v;
                    }
                }
                yp[oy * g->ow + ox] = m;
            }
    }
}

/* The gradient goes to the first maximum of each window (as in the forward scan). */
void ml__maxpool_backward(const ml_geom *g, const float *x, const float *dy, int batch, float *dx)
{
    const int planes = batch * g->c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * g->h * g->w;
        const float *dyp = dy + (size_t)pl * g->oh * g->ow;
        float *dxp = dx + (size_t)pl * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float m = -FLT_MAX;
                int arg = -1;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix < 0 || ix >= g->w) continue;
                        float v = xp[iy * g->w + ix];
                        if (v > m) { m = v; arg = iy * g->w + ix; }
                    }
                }
                if (arg >= 0)
                    dxp[arg] += dyp[oy * g->ow + ox];
            }
    }
}

static int window_count(const ml_geom *g, int include_pad, int oy, int ox)
{
    int y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
    int y1 = y0 + g->kh, x1 = x0 + g->kw;
    if (include_pad) {
        /* ONNX counts padding cells but not the extra cells added by ceil_mode */
        int ylim = g->h + g->ph, xlim = g->w + g->pw;
        int cy = (y1 < ylim + 0 ? y1 : ylim) - y0, cx = (x1 < xlim ? x1 : xlim) - x0;
        return cy * cx;
    }
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > g->h) y1 = g->h;
    if (x1 > g->w) x1 = g->w;
    return (y1 - y0) * (x1 - x0);
}

void ml__avgpool_forward(const ml_geom *g, int include_pad, const float *x, int batch, float *y)
{
    const int planes = batch * g->c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * g->h * g->w;
        float *yp = y + (size_t)pl * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float s = 0.0f;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix < 0 || ix >= g->w) continue;
                        s += xp[iy * g->w + ix];
                    }
                }
                int cnt = window_count(g, include_pad, oy, ox);
                yp[oy * g->ow + ox] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
    }
}

void ml__avgpool_backward(const ml_geom *g, int include_pad, const float *dy, int batch, float *dx)
{
    const int planes = batch * g->c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *dyp = dy + (size_t)pl * g->oh * g->ow;
        float *dxp = dx + (size_t)pl * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                int cnt = window_count(g, include_pad, oy, ox);
                if (cnt <= 0) continue;
                float v = dyp[oy * g->ow + ox] / (float)cnt;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix < 0 || ix >= g->w) continue;
                        dxp[iy * g->w + ix] += v;
                    }
                }
            }
    }
}

void ml__gap_forward(const float *x, int batch, int c, int hw, float *y)
{
    const int planes = batch * c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *a = x + (size_t)pl * hw;
        float s = 0.0f;
        for (int i = 0; i < hw; i++)
            s += a[i];
        y[pl] = s / (float)hw;
    }
}

void ml__gap_backward(const float *dy, int batch, int c, int hw, float *dx)
{
    const int planes = batch * c;
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float v = dy[pl] / (float)hw;
        float *d = dx + (size_t)pl * hw;
        for (int i = 0; i < hw; i++)
            d[i] += v;
    }
}
