/* Convolution for 3x3, stride-1, pad-1 layers by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin & Gray 2016): each 6x6 input tile and each filter are transformed,
 * the 36 transform positions become 36 independent GEMMs (tiles x C times C x M), and
 * each product is transformed back to a 4x4 output tile: 4x fewer multiplications than
 * im2col + sgemm, for some transform work. Transforms run on channel vectors (images are
 * staged channels-last per thread), so they vectorise whatever the image size.
 *
 * Thread independence: the batch is cut into chunks by geometry alone; every transform
 * element and every GEMM is computed by one thread (BLAS is single-threaded here), so
 * results do not depend on the thread count. Training uses it for the forward pass and for
 * the input gradient, which is the same kind of convolution of dy with the filters flipped
 * and their channel axes swapped; the weight gradient stays on im2col (conv_im2col.c). */
#include <omp.h>
#include <string.h>
#include "nn/backend.h"

#define WM 4              /* output tile size */
#define WA (WM + 2)       /* input tile size (alpha) */
#define WP (WA * WA)      /* transform positions */
#define TILE_CAP 1024     /* tiles per chunk: bounds the workspace, keeps GEMMs wide */

/* B^T, G and A^T for interpolation points 0, +-1, +-2, inf, written out below. */

#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/* o_i = sum_k B^T[i][k] d_k over vectors of length n */
CLONES static void bt6(float *const o[WA], const float *const d[WA], int n)
{
#pragma omp simd
    for (int c = 0; c < n; c++) {
        const float d0 = d[0][c], d1 = d[1][c], d2 = d[2][c], d3 = d[3][c], d4 = d[4][c];
        o[0][c] = 4.0f * d0 - 5.0f * d2 + d4;
        o[1][c] = -4.0f * d1 - 4.0f * d2 + d3 + d4;
        o[2][c] = 4.0f * d1 - 4.0f * d2 - d3 + d4;
        o[3][c] = -2.0f * d1 - d2 + 2.0f * d3 + d4;
        o[4][c] = 2.0f * d1 - d2 - 2.0f * d3 + d4;
        o[5][c] = 4.0f * d1 - 5.0f * d3 + d[5][c];
    }
}

/* o_i = sum_k G[i][k] w_k over vectors of length n */
CLONES static void g6(float *const o[WA], const float *const w[3], int n)
{
#pragma omp simd
    for (int c = 0; c < n; c++) {
        const float w0 = w[0][c], w1 = w[1][c], w2 = w[2][c];
        const float a = w0 + w2, b = w0 * (1.0f / 24) + w2 * (1.0f / 6), e = w1 * (1.0f / 12);
        o[0][c] = w0 * 0.25f;
        o[1][c] = (a + w1) * (-1.0f / 6);
        o[2][c] = (a - w1) * (-1.0f / 6);
        o[3][c] = b + e;
        o[4][c] = b - e;
        o[5][c] = w2;
    }
}

/* o_i = sum_k A^T[i][k] q_k over vectors of length n */
CLONES static void at6(float *const o[WM], const float *const q[WA], int n)
{
#pragma omp simd
    for (int c = 0; c < n; c++) {
        const float q1 = q[1][c], q2 = q[2][c], q3 = q[3][c], q4 = q[4][c];
        const float s12 = q1 + q2, d12 = q1 - q2, s34 = q3 + q4, d34 = q3 - q4;
        o[0][c] = q[0][c] + s12 + s34;
        o[1][c] = d12 + 2.0f * d34;
        o[2][c] = s12 + 4.0f * s34;
        o[3][c] = d12 + 8.0f * d34 + q[5][c];
    }
}

/* y = (y + b) * s + t, then ReLU: the epilogue of ml__conv_forward, per channel vector */
CLONES static void epilogue(float *y, const float *b, const float *s, const float *t, int relu, int n)
{
    if (relu) {
#pragma omp simd
        for (int c = 0; c < n; c++) {
            float v = (y[c] + b[c]) * s[c] + t[c];
            y[c] = v > 0.0f ? v : 0.0f;
        }
    } else {
#pragma omp simd
        for (int c = 0; c < n; c++)
            y[c] = (y[c] + b[c]) * s[c] + t[c];
    }
}

int ml__conv_wino_ok(const ml_geom *g)
{
    return g->group == 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && g->ph == 1 && g->pw == 1 && g->oh == g->h && g->ow == g->w && g->c >= 8 &&
           g->m >= 8;
}

typedef struct {
    int th, tw, tpi, nbmax;     /* tile rows/cols per image, tiles per image, images per chunk */
    int hp, wp;                 /* padded staging size */
    size_t per_thread;          /* staging floats per thread */
    size_t u, v, mo, epi;       /* offsets of the shared parts */
    size_t total;
} wino_layout;

static wino_layout layout(const ml_geom *g, int batch, int threads)
{
    wino_layout L;
    L.th = (g->oh + WM - 1) / WM;
    L.tw = (g->ow + WM - 1) / WM;
    L.tpi = L.th * L.tw;
    L.nbmax = TILE_CAP / L.tpi;
    if (L.nbmax < 1) L.nbmax = 1;
    if (L.nbmax > batch) L.nbmax = batch;
    L.hp = L.th * WM + 2;
    L.wp = L.tw * WM + 2;
    const size_t cm = (size_t)(g->c > g->m ? g->c : g->m);
    size_t stage = (size_t)L.hp * L.wp * g->c;
    if ((size_t)g->oh * g->ow * g->m > stage) stage = (size_t)g->oh * g->ow * g->m;
    L.per_thread = stage + (size_t)WP * cm + (size_t)WM * WM * g->m;
    const size_t T = (size_t)L.nbmax * L.tpi;
    L.u = 0;
    L.v = L.u + (size_t)WP * g->c * g->m;
    L.mo = L.v + (size_t)WP * T * g->c;
    L.epi = L.mo + (size_t)WP * T * g->m;
    L.total = L.epi + 3 * (size_t)g->m + (size_t)threads * L.per_thread;
    return L;
}

size_t ml__conv_wino_floats(const ml_geom *g, int batch, int threads)
{
    return layout(g, batch, threads).total;
}

/* Ut[p][c][m] = (G w G^T)[p], on vectors over output channels in blocks of FB */
#define FB 64
static void filter_transform(const ml_geom *g, const float *w, float *u)
{
    const int M = g->m, C = g->c, nblk = (M + FB - 1) / FB;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++)
        for (int blk = 0; blk < nblk; blk++) {
            const int m0 = blk * FB, nm = M - m0 < FB ? M - m0 : FB;
            float k[9][FB], tmp[WA * 3][FB], out[WA][FB];
            for (int m = 0; m < nm; m++)
                for (int e = 0; e < 9; e++)
                    k[e][m] = w[((size_t)(m0 + m) * C + c) * 9 + e];
            for (int j = 0; j < 3; j++) { /* columns: tmp[i][j] = sum_r G[i][r] k[r][j] */
                const float *d[3] = {k[j], k[3 + j], k[6 + j]};
                float *o[WA];
                for (int i = 0; i < WA; i++)
                    o[i] = tmp[i * 3 + j];
                g6(o, d, nm);
            }
            for (int i = 0; i < WA; i++) { /* rows: U[i][j] = sum_r G[j][r] tmp[i][r] */
                const float *d[3] = {tmp[i * 3], tmp[i * 3 + 1], tmp[i * 3 + 2]};
                float *o[WA];
                for (int j = 0; j < WA; j++)
                    o[j] = out[j];
                g6(o, d, nm);
                for (int j = 0; j < WA; j++)
                    memcpy(u + ((size_t)(i * WA + j) * C + c) * M + m0, out[j], (size_t)nm * sizeof *u);
            }
        }
}

/* V[p][t][c] for the tiles of images n0 .. n0+nb-1: stage each image channels-last with
 * its zero border, then B^T d B on channel vectors */
static void input_transform(const ml_geom *g, const wino_layout *L, const float *x, int n0, int nb,
                            size_t T, float *v, float *scratch)
{
    const int C = g->c, H = g->h, W = g->w;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < nb; n++) {
        float *xp = scratch + (size_t)omp_get_thread_num() * L->per_thread;
        float *tmp = xp + (size_t)L->hp * L->wp * C;
        const float *xn = x + (size_t)(n0 + n) * C * H * W;
        const size_t row = (size_t)L->wp * C;
        memset(xp, 0, row * sizeof *xp); /* zero border: top row, bottom rows, side columns */
        memset(xp + (size_t)(H + 1) * row, 0, (size_t)(L->hp - H - 1) * row * sizeof *xp);
        for (int yy = 0; yy < H; yy++) {
            float *r = xp + (size_t)(yy + 1) * row;
            memset(r, 0, (size_t)C * sizeof *r);
            memset(r + (size_t)(W + 1) * C, 0, (size_t)(L->wp - W - 1) * C * sizeof *r);
            for (int xx = 0; xx < W; xx++) {
                float *dst = r + (size_t)(xx + 1) * C;
                for (int c = 0; c < C; c++)
                    dst[c] = xn[((size_t)c * H + yy) * W + xx];
            }
        }
        for (int t = 0; t < L->tpi; t++) {
            const int y0 = (t / L->tw) * WM, x0 = (t % L->tw) * WM;
            const size_t col = (size_t)n * L->tpi + t;
            for (int l = 0; l < WA; l++) { /* columns: tmp[i][l] = sum_k B^T[i][k] d[k][l] */
                const float *d[WA];
                float *o[WA];
                for (int k = 0; k < WA; k++) {
                    d[k] = xp + ((size_t)(y0 + k) * L->wp + x0 + l) * C;
                    o[k] = tmp + (size_t)(k * WA + l) * C;
                }
                bt6(o, d, C);
            }
            for (int i = 0; i < WA; i++) { /* rows: V[i][j] = sum_l B^T[j][l] tmp[i][l] */
                const float *d[WA];
                float *o[WA];
                for (int j = 0; j < WA; j++) {
                    d[j] = tmp + (size_t)(i * WA + j) * C;
                    o[j] = v + ((size_t)(i * WA + j) * T + col) * C;
                }
                bt6(o, d, C);
            }
        }
    }
}

/* Y = A^T Mo A per tile on channel vectors, epilogue, then channels-last -> NCHW (added
 * to y when acc) */
static void output_transform(const ml_geom *g, const wino_layout *L, const float *mo, int n0,
                             int nb, size_t T, const float *epi, int relu, int acc, float *scratch,
                             float *y)
{
    const int M = g->m, OH = g->oh, OW = g->ow;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < nb; n++) {
        float *yo = scratch + (size_t)omp_get_thread_num() * L->per_thread;
        float *tmp = yo + (size_t)OH * OW * M;
        float *edge = tmp + (size_t)WP * M; /* a full tile for tiles that cross the border */
        for (int t = 0; t < L->tpi; t++) {
            const int y0 = (t / L->tw) * WM, x0 = (t % L->tw) * WM;
            const int full = y0 + WM <= OH && x0 + WM <= OW;
            const size_t col = (size_t)n * L->tpi + t;
            for (int l = 0; l < WA; l++) {
                const float *q[WA];
                float *o[WM];
                for (int k = 0; k < WA; k++)
                    q[k] = mo + ((size_t)(k * WA + l) * T + col) * M;
                for (int i = 0; i < WM; i++)
                    o[i] = tmp + (size_t)(i * WA + l) * M;
                at6(o, q, M);
            }
            for (int i = 0; i < WM; i++) {
                const float *q[WA];
                float *o[WM];
                for (int j = 0; j < WA; j++)
                    q[j] = tmp + (size_t)(i * WA + j) * M;
                for (int j = 0; j < WM; j++)
                    o[j] = full ? yo + ((size_t)(y0 + i) * OW + x0 + j) * M : edge + (size_t)(i * WM + j) * M;
                at6(o, q, M);
                for (int j = 0; j < WM; j++)
                    epilogue(o[j], epi, epi + M, epi + 2 * M, relu, M);
                if (!full)
                    for (int j = 0; j < WM; j++)
                        if (y0 + i < OH && x0 + j < OW)
                            memcpy(yo + ((size_t)(y0 + i) * OW + x0 + j) * M, o[j], (size_t)M * sizeof *yo);
            }
        }
        float *yn = y + (size_t)(n0 + n) * M * OH * OW;
        for (int m = 0; m < M; m++)
            if (acc)
                for (int pix = 0; pix < OH * OW; pix++)
                    yn[(size_t)m * OH * OW + pix] += yo[(size_t)pix * M + m];
            else
                for (int pix = 0; pix < OH * OW; pix++)
                    yn[(size_t)m * OH * OW + pix] = yo[(size_t)pix * M + m];
    }
}

/* the convolution with the filter transform u given (u NULL: made from w into ws) */
static void wino_conv(const ml_geom *g, const float *x, const float *w, const float *uc,
                      const float *bias, const float *scale, const float *shift, int relu, int acc,
                      int batch, float *ws, float *y)
{
    const int M = g->m, C = g->c;
    const wino_layout L = layout(g, batch, omp_get_max_threads());
    float *u = ws + L.u, *v = ws + L.v, *mo = ws + L.mo, *epi = ws + L.epi, *scratch = epi + 3 * M;
    for (int m = 0; m < M; m++) {
        epi[m] = bias ? bias[m] : 0.0f;
        epi[M + m] = scale ? scale[m] : 1.0f;
        epi[2 * M + m] = scale ? shift[m] : 0.0f;
    }
    if (!uc) {
        filter_transform(g, w, u);
        uc = u;
    }
    for (int n0 = 0; n0 < batch; n0 += L.nbmax) {
        const int nb = batch - n0 < L.nbmax ? batch - n0 : L.nbmax;
        const size_t T = (size_t)nb * L.tpi;
        input_transform(g, &L, x, n0, nb, T, v, scratch);
#pragma omp parallel for schedule(static)
        for (int p = 0; p < WP; p++)
            ml__sgemm(0, 0, (int)T, M, C, 1.0f, v + (size_t)p * T * C, C, uc + (size_t)p * C * M, M,
                     0.0f, mo + (size_t)p * T * M, M);
        output_transform(g, &L, mo, n0, nb, T, epi, relu, acc, scratch, y);
    }
}

void ml__conv_wino_forward(const ml_geom *g, const float *x, const float *w, const float *bias,
                          const float *scale, const float *shift, int relu, int batch, float *ws,
                          float *y)
{
    wino_conv(g, x, w, NULL, bias, scale, shift, relu, 0, batch, ws, y);
}

size_t ml__conv_wino_u_floats(const ml_geom *g)
{
    return (size_t)WP * g->c * g->m;
}

void ml__conv_wino_transform(const ml_geom *g, const float *w, float *u)
{
    filter_transform(g, w, u);
}

void ml__conv_wino_forward_u(const ml_geom *g, const float *x, const float *u, const float *bias,
                            const float *scale, const float *shift, int relu, int batch, float *ws,
                            float *y)
{
    wino_conv(g, x, NULL, u, bias, scale, shift, relu, 0, batch, ws, y);
}

/* the input-gradient convolution: channels swapped, same size and padding */
static ml_geom transposed(const ml_geom *g)
{
    ml_geom t = *g;
    t.c = g->m;
    t.m = g->c;
    return t;
}

size_t ml__conv_wino_bwd_floats(const ml_geom *g, int batch, int threads)
{
    const ml_geom t = transposed(g);
    return (size_t)g->m * g->c * 9 + ml__conv_wino_floats(&t, batch, threads);
}

void ml__conv_wino_backward_data(const ml_geom *g, const float *dy, const float *w, int batch,
                                float *ws, float *dx)
{
    const ml_geom t = transposed(g);
    const int M = g->m, C = g->c;
    float *wt = ws; /* wt[c][m][i][j] = w[m][c][2-i][2-j] */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int m = 0; m < M; m++)
            for (int e = 0; e < 9; e++)
                wt[((size_t)c * M + m) * 9 + e] = w[((size_t)m * C + c) * 9 + 8 - e];
    wino_conv(&t, dy, wt, NULL, NULL, NULL, NULL, 0, 1, batch, ws + (size_t)M * C * 9, dx);
}

/* the transformed weights cached across batches (at most WCACHE_FLOATS in all), keyed by
 * a hash of the weights: a changed weight remakes its layer's entry */
#define WCACHE_FLOATS ((size_t)1 << 28)
static void wino_infer(ml_net *net, const ml_conv_args *a, float *y)
{
    struct ml_net_priv *p = net->priv;
    const ml_geom *g = a->g;
    if (!p->wino_u)
        p->wino_u = ml__wcache_new(net->nnodes, WCACHE_FLOATS); /* NULL: no cache, same results */
    int fresh = 0;
    const uint64_t key = p->wino_u ? ml__hash_floats(a->w, (size_t)g->m * g->c * 9, 0xCBF29CE484222325ull) : 0;
    float *u = ml__wcache_get(p->wino_u, a->node, key, ml__conv_wino_u_floats(g), &fresh);
    if (!u) {
        ml__conv_wino_forward(g, a->x, a->w, a->bias, a->scale, a->shift, a->relu, a->batch, p->wino, y);
        return;
    }
    if (fresh)
        ml__conv_wino_transform(g, a->w, u);
    ml__conv_wino_forward_u(g, a->x, u, a->bias, a->scale, a->shift, a->relu, a->batch, p->wino, y);
}

static void wino_forward(ml_net *net, const ml_conv_args *a, float *y)
{
    ml__conv_wino_forward(a->g, a->x, a->w, a->bias, NULL, NULL, 0, a->batch, net->priv->wino, y);
}

/* the weight gradient (and db) on im2col, the input gradient by the transform */
static ml_status wino_backward(ml_net *net, const ml_conv_args *a, const float *dy, float *dx,
                               float *dw, float *db, ml_error *err)
{
    ml_status st = ml__conv_im2col.backward(net, a, dy, NULL, dw, db, err);
    if (!st && dx)
        ml__conv_wino_backward_data(a->g, dy, a->w, a->batch, net->priv->wino, dx);
    return st;
}

static void wino_workspace(const ml_geom *g, int batch, int threads, int training, ml_conv_ws *ws)
{
    ws->col = ml__conv_scratch_floats(g, batch); /* the weight gradient's im2col */
    ws->wino = ml__conv_wino_floats(g, batch, threads);
    if (training && ml__conv_wino_bwd_floats(g, batch, threads) > ws->wino)
        ws->wino = ml__conv_wino_bwd_floats(g, batch, threads);
}

/* Winograd F(4x4,3x3) for the layers ml__conv_wino_ok accepts */
const ml_conv_backend ml__conv_winograd = {
    .name = "Winograd",
    .supports = ml__conv_wino_ok,
    .workspace = wino_workspace,
    .infer = wino_infer,
    .forward = wino_forward,
    .backward = wino_backward,
    .begin_pass = NULL,
};
