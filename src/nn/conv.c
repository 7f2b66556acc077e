/* Convolution by im2col + sgemm, one batch item per OpenMP iteration (single-threaded
 * BLAS inside), so results are bitwise independent of the thread count. */
#include <cblas.h>
#include <omp.h>
#include <string.h>
#include "nn/internal.h"

static int is_pointwise(const ml_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->oh == g->h && g->ow == g->w;
}

void ml_im2col(const ml_geom *g, const float *x, int grp, float *col)
{
    const int cg = g->c / g->group, ohw = g->oh * g->ow, H = g->h, W = g->w, OW = g->ow;
    for (int c = 0; c < cg; c++) {
        const float *xc = x + (size_t)(grp * cg + c) * H * W;
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                float *row = col + ((size_t)(c * g->kh + ki) * g->kw + kj) * ohw;
                const int ix0 = kj * g->dw - g->pw;
                /* output columns whose input column lies inside the image */
                int lo = ix0 >= 0 ? 0 : (-ix0 + g->sw - 1) / g->sw;
                int hi = (W - 1 - ix0) < 0 ? 0 : (W - 1 - ix0) / g->sw + 1;
                if (hi > OW) hi = OW;
                if (lo > hi) lo = hi;
                for (int oy = 0; oy < g->oh; oy++) {
                    float *r = row + (size_t)oy * OW;
                    const int iy = oy * g->sh - g->ph + ki * g->dh;
                    if (iy < 0 || iy >= H) {
                        memset(r, 0, (size_t)OW * sizeof *r);
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * W + ix0;
                    for (int ox = 0; ox < lo; ox++) r[ox] = 0.0f;
                    if (g->sw == 1)
                        memcpy(r + lo, xr + lo, (size_t)(hi - lo) * sizeof *r);
                    else
                        for (int ox = lo; ox < hi; ox++) r[ox] = xr[ox * g->sw];
                    for (int ox = hi; ox < OW; ox++) r[ox] = 0.0f;
                }
            }
    }
}

void ml_col2im_add(const ml_geom *g, const float *col, int grp, float *dx)
{
    const int cg = g->c / g->group, ohw = g->oh * g->ow, H = g->h, W = g->w, OW = g->ow;
    for (int c = 0; c < cg; c++) {
        float *xc = dx + (size_t)(grp * cg + c) * H * W;
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                const float *row = col + ((size_t)(c * g->kh + ki) * g->kw + kj) * ohw;
                const int ix0 = kj * g->dw - g->pw;
                int lo = ix0 >= 0 ? 0 : (-ix0 + g->sw - 1) / g->sw;
                int hi = (W - 1 - ix0) < 0 ? 0 : (W - 1 - ix0) / g->sw + 1;
                if (hi > OW) hi = OW;
                if (lo > hi) lo = hi;
                for (int oy = 0; oy < g->oh; oy++) {
                    const int iy = oy * g->sh - g->ph + ki * g->dh;
                    if (iy < 0 || iy >= H)
                        continue;
                    const float *r = row + (size_t)oy * OW;
                    float *xr = xc + (size_t)iy * W + ix0;
                    for (int ox = lo; ox < hi; ox++)
                        xr[ox * g->sw] += r[ox];
                }
            }
    }
}

void ml_conv_forward(ml_net *net, const ml_geom *g, const float *x, const float *w,
                     const float *bias, const float *scale, const float *shift, int relu,
                     int batch, float *y)
{
    const int cg = g->c / g->group, mg = g->m / g->group, ohw = g->oh * g->ow;
    const int K = cg * g->kh * g->kw;
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * ohw;
    const int pw = is_pointwise(g);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < batch; n++) {
        float *col = ml_ws_scratch(net, omp_get_thread_num());
        const float *xn = x + (size_t)n * xin;
        float *yn = y + (size_t)n * yout;
        for (int grp = 0; grp < g->group; grp++) {
            const float *B = xn + (size_t)grp * cg * g->h * g->w;
            if (!pw) {
                ml_im2col(g, xn, grp, col);
                B = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mg, ohw, K, 1.0f,
                        w + (size_t)grp * mg * K, K, B, ohw, 0.0f, yn + (size_t)grp * mg * ohw, ohw);
        }
        if (bias || scale || relu)
            for (int m = 0; m < g->m; m++) {
                float *restrict r = yn + (size_t)m * ohw;
                const float b = bias ? bias[m] : 0.0f;
                const float s = scale ? scale[m] : 1.0f, t = scale ? shift[m] : 0.0f;
                if (relu)
                    for (int i = 0; i < ohw; i++) {
                        float v = (r[i] + b) * s + t;
                        r[i] = v > 0.0f ? v : 0.0f;
                    }
                else
                    for (int i = 0; i < ohw; i++)
                        r[i] = (r[i] + b) * s + t;
            }
    }
}

ml_status ml_conv_backward(ml_net *net, const ml_geom *g, const float *x, const float *w,
                           const float *dy, int batch, float *dx, float *dw, float *db,
                           ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    const int cg = g->c / g->group, mg = g->m / g->group, ohw = g->oh * g->ow;
    const int K = cg * g->kh * g->kw;
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * ohw;
    const size_t wsize = (size_t)g->m * K;
    const int pw = is_pointwise(g);
    const int nch = batch < ML_DW_CHUNKS ? batch : ML_DW_CHUNKS;
    if (p->wpart_cap < (size_t)nch * wsize)
        return ml_error_set(err, ML_ENOMEM, "conv backward: workspace too small");
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = ml_ws_scratch(net, omp_get_thread_num());
        float *dcol = col + p->scratch_per;
        float *part = p->wpart + (size_t)ch * wsize;
        memset(part, 0, wsize * sizeof *part);
        const int n0 = (int)((long)batch * ch / nch), n1 = (int)((long)batch * (ch + 1) / nch);
        for (int n = n0; n < n1; n++) {
            const float *xn = x + (size_t)n * xin;
            const float *dyn = dy + (size_t)n * yout;
            for (int grp = 0; grp < g->group; grp++) {
                const float *B = xn + (size_t)grp * cg * g->h * g->w;
                const float *dyg = dyn + (size_t)grp * mg * ohw;
                if (!pw) {
                    ml_im2col(g, xn, grp, col);
                    B = col;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mg, K, ohw, 1.0f, dyg, ohw, B, ohw,
                            1.0f, part + (size_t)grp * mg * K, K);
                if (!dx)
                    continue;
                float *dxn = dx + (size_t)n * xin;
                if (pw) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, ohw, mg, 1.0f,
                                w + (size_t)grp * mg * K, K, dyg, ohw, 1.0f,
                                dxn + (size_t)grp * cg * g->h * g->w, ohw);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, ohw, mg, 1.0f,
                                w + (size_t)grp * mg * K, K, dyg, ohw, 0.0f, dcol, ohw);
                    ml_col2im_add(g, dcol, grp, dxn);
                }
            }
        }
    }
    /* fixed-order reduction of the chunk partials */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < wsize; i++) {
        float s = 0.0f;
        for (int ch = 0; ch < nch; ch++)
            s += p->wpart[(size_t)ch * wsize + i];
        dw[i] = s;
    }
    if (db)
#pragma omp parallel for schedule(static)
        for (int m = 0; m < g->m; m++) {
            double s = 0.0;
            for (int n = 0; n < batch; n++) {
                const float *r = dy + (size_t)n * yout + (size_t)m * ohw;
                for (int i = 0; i < ohw; i++)
                    s += r[i];
            }
            db[m] = (float)s;
        }
    return ML_OK;
}
