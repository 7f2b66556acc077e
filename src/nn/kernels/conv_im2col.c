/* Convolution by im2col + sgemm, and its back-end table ml__conv_im2col (nn/backend.h),
 * which runs every geometry. Images go through in fixed groups (ml__conv_group_images)
 * whose im2col blocks sit side by side, so one GEMM covers several images; each group is
 * one OpenMP iteration with a single-threaded GEMM, and the grouping depends only on the
 * geometry and batch size, so results are bitwise independent of the thread count. */
#include <omp.h>
#include <string.h>
#include "nn/backend.h"

static int is_pointwise(const ml_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->oh == g->h && g->ow == g->w;
}

int ml__conv_group_images(const ml_geom *g, int batch)
{
    const int ohw = g->oh * g->ow;
    const int wide = ML_CONV_COLS / ohw;               /* images filling a wide GEMM */
    const int share = (batch + ML_DW_CHUNKS - 1) / ML_DW_CHUNKS; /* keep >= 8 groups */
    const int nb = wide < share ? wide : share;
    return nb < 1 ? 1 : nb;
}

size_t ml__conv_scratch_floats(const ml_geom *g, int batch)
{
    const size_t K = (size_t)(g->c / g->group) * g->kh * g->kw, mg = (size_t)(g->m / g->group);
    return (K + mg) * (size_t)ml__conv_group_images(g, batch) * g->oh * g->ow;
}

void ml__im2col(const ml_geom *g, const float *x, int grp, float *col, size_t ld)
{
    const int cg = g->c / g->group, H = g->h, W = g->w, OW = g->ow;
    for (int c = 0; c < cg; c++) {
        const float *xc = x + (size_t)(grp * cg + c) * H * W;
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                float *row = col + ((size_t)(c * g->kh + ki) * g->kw + kj) * ld;
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

void ml__col2im_add(const ml_geom *g, const float *col, size_t ld, int grp, float *dx)
{
    const int cg = g->c / g->group, H = g->h, W = g->w, OW = g->ow;
    for (int c = 0; c < cg; c++) {
        float *xc = dx + (size_t)(grp * cg + c) * H * W;
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                const float *row = col + ((size_t)(c * g->kh + ki) * g->kw + kj) * ld;
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

/* dst = (src + b) * s + t, then ReLU, over one output row of n values (src may be dst) */
static void epilogue(const float *src, float *dst, int n, float b, float sc, float t, int relu)
{
    if (relu)
        for (int i = 0; i < n; i++) {
            float v = (src[i] + b) * sc + t;
            dst[i] = v > 0.0f ? v : 0.0f;
        }
    else
        for (int i = 0; i < n; i++)
            dst[i] = (src[i] + b) * sc + t;
}

void ml__conv_forward(ml_net *net, const ml_geom *g, const float *x, const float *w,
                     const float *bias, const float *scale, const float *shift, int relu,
                     int batch, float *y)
{
    const int cg = g->c / g->group, mg = g->m / g->group, ohw = g->oh * g->ow;
    const int K = cg * g->kh * g->kw;
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * ohw;
    const int pw = is_pointwise(g), nbs = ml__conv_group_images(g, batch);
    const int ngroups = (batch + nbs - 1) / nbs; /* of even size, each <= nbs */
#pragma omp parallel for schedule(static)
    for (int s = 0; s < ngroups; s++) {
        float *col = ml__ws_scratch(net, omp_get_thread_num());
        const int n0 = ml_split(batch, ngroups, s), nb = ml_split(batch, ngroups, s + 1) - n0;
        const size_t ld = (size_t)nb * ohw;
        float *yb = col + (size_t)K * ld;
        for (int grp = 0; grp < g->group; grp++) {
            const float *B = col;
            if (pw && nb == 1)
                B = x + (size_t)n0 * xin + (size_t)grp * cg * g->h * g->w;
            else
                for (int j = 0; j < nb; j++)
                    ml__im2col(g, x + (size_t)(n0 + j) * xin, grp, col + (size_t)j * ohw, ld);
            /* one image: straight into y */
            float *C = nb == 1 ? y + (size_t)n0 * yout + (size_t)grp * mg * ohw : yb;
            ml__sgemm(0, 0, mg, (int)ld, K, 1.0f, w + (size_t)grp * mg * K, K, B, (int)ld, 0.0f, C, (int)ld);
            for (int m = 0; m < mg; m++) {
                const int oc = grp * mg + m;
                const float b = bias ? bias[oc] : 0.0f;
                const float sc = scale ? scale[oc] : 1.0f, t = scale ? shift[oc] : 0.0f;
                for (int j = 0; j < nb; j++) {
                    float *dst = y + (size_t)(n0 + j) * yout + (size_t)oc * ohw;
                    if (nb > 1 || bias || scale || relu)
                        epilogue(C + (size_t)m * ld + (size_t)j * ohw, dst, ohw, b, sc, t, relu);
                }
            }
        }
    }
}

/* dw = sum over chunks of the partials part[ch][m][k] (im2col path: part[ch][k][m], tr) */
void ml__conv_reduce_parts(const ml_geom *g, const float *part, int nch, int tr, float *dw)
{
    const int mg = g->m / g->group, K = (g->c / g->group) * g->kh * g->kw;
    const size_t wsize = (size_t)g->m * K;
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < g->m; oc++) {
        const int grp = oc / mg, m = oc % mg;
        for (int k = 0; k < K; k++) {
            const size_t at = tr ? ((size_t)grp * K + k) * mg + m : (size_t)oc * K + k;
            float s = 0.0f;
            for (int ch = 0; ch < nch; ch++)
                s += part[(size_t)ch * wsize + at];
            dw[(size_t)oc * K + k] = s;
        }
    }
}

void ml__conv_bias_grad(const ml_geom *g, const float *dy, int batch, float *db)
{
    const int ohw = g->oh * g->ow;
    const size_t yout = (size_t)g->m * ohw;
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
}

/* Training backward on im2col: the weight gradient in ML_DW_CHUNKS fixed partials reduced
 * in order, and dx += the input gradient by col2im (dx may be NULL: the Winograd table
 * computes it by its own transform). */
static ml_status im2col_backward(ml_net *net, const ml_conv_args *a, const float *dy, float *dx,
                                 float *dw, float *db, ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    const ml_geom *g = a->g;
    const float *x = a->x, *w = a->w;
    const int batch = a->batch;
    const int cg = g->c / g->group, mg = g->m / g->group, ohw = g->oh * g->ow;
    const int K = cg * g->kh * g->kw;
    const size_t xin = (size_t)g->c * g->h * g->w, yout = (size_t)g->m * ohw;
    const size_t wsize = (size_t)g->m * K;
    const int nch = ml_dw_chunks(batch);
    const int nbs = ml__conv_group_images(g, batch);
    if (p->wpart_cap < (size_t)nch * wsize)
        return ml_error_set(err, ML_ENOMEM, "conv backward: workspace too small");
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        float *col = ml__ws_scratch(net, omp_get_thread_num());
        float *dcol = col + p->scratch_per;
        float *part = p->wpart + (size_t)ch * wsize;
        memset(part, 0, wsize * sizeof *part);
        const int c0 = ml_split(batch, nch, ch), c1 = ml_split(batch, nch, ch + 1);
        const int ng = (c1 - c0 + nbs - 1) / nbs; /* groups of even size, each <= nbs */
        for (int gi = 0; gi < ng; gi++) {
            const int n0 = c0 + ml_split(c1 - c0, ng, gi);
            const int nb = c0 + ml_split(c1 - c0, ng, gi + 1) - n0;
            const size_t ld = (size_t)nb * ohw;
            float *dyb = col + (size_t)K * ld;
            for (int grp = 0; grp < g->group; grp++) {
                for (int j = 0; j < nb; j++)
                    ml__im2col(g, x + (size_t)(n0 + j) * xin, grp, col + (size_t)j * ohw, ld);
                const float *dyg = dy + (size_t)n0 * yout + (size_t)grp * mg * ohw;
                if (nb > 1) {
                    for (int m = 0; m < mg; m++)
                        for (int j = 0; j < nb; j++)
                            memcpy(dyb + (size_t)m * ld + (size_t)j * ohw,
                                   dyg + (size_t)j * yout + (size_t)m * ohw, (size_t)ohw * sizeof *dyb);
                    dyg = dyb;
                }
                /* dW^T[K][mg] += col dy^T: the tall product, 1.5-3x faster than dW = dy col^T */
                ml__sgemm(0, 1, K, mg, (int)ld, 1.0f, col, (int)ld, dyg, (int)ld, 1.0f,
                         part + (size_t)grp * K * mg, mg);
                if (!dx)
                    continue;
                ml__sgemm(1, 0, K, (int)ld, mg, 1.0f, w + (size_t)grp * mg * K, K, dyg, (int)ld, 0.0f,
                         dcol, (int)ld);
                for (int j = 0; j < nb; j++)
                    ml__col2im_add(g, dcol + (size_t)j * ohw, ld, grp, dx + (size_t)(n0 + j) * xin);
            }
        }
    }
    ml__conv_reduce_parts(g, p->wpart, nch, 1, dw);
    if (db)
        ml__conv_bias_grad(g, dy, batch, db);
    return ML_OK;
}

/* Training forward on im2col */
static void im2col_forward(ml_net *net, const ml_conv_args *a, float *y)
{
    ml__conv_forward(net, a->g, a->x, a->w, a->bias, NULL, NULL, 0, a->batch, y);
}

static void im2col_infer(ml_net *net, const ml_conv_args *a, float *y)
{
    ml__conv_forward(net, a->g, a->x, a->w, a->bias, a->scale, a->shift, a->relu, a->batch, y);
}

static int im2col_supports(const ml_geom *g)
{
    (void)g;
    return 1;
}

static void im2col_workspace(const ml_geom *g, int batch, int threads, int training, ml_conv_ws *ws)
{
    (void)threads;
    (void)training;
    ws->col = ml__conv_scratch_floats(g, batch);
    ws->wino = 0;
}

/* im2col + sgemm: runs every geometry (grouped convolutions included) */
const ml_conv_backend ml__conv_im2col = {
    .name = "im2col",
    .supports = im2col_supports,
    .workspace = im2col_workspace,
    .infer = im2col_infer,
    .forward = im2col_forward,
    .backward = im2col_backward,
    .begin_pass = NULL,
};

