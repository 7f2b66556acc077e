/* Fits of whole measured runs (ml__fit_runs): Levenberg-Marquardt on the soft-bounds law's
 * open-loop prediction of every read of the runs, with the exact Jacobian carried along each
 * run and the pulses' drives kept per v0. It averages read noise over many pulses; the
 * feedforward scheme refines its per-device models with it. */
#include <math.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"
#include "device/internal.h" /* ml_exp_poly */

/* The drives of every pulse of the runs under one v0 (the only parameter they depend on
 * besides the device's v_th and t_ref), and their derivatives in log v0: the
 * Levenberg-Marquardt below evaluates the runs under a handful of v0 values many times over,
 * so each one's drives are computed once and kept. A prediction from a kept drive is
 * ml_fit_predict's arithmetic, so the fit's bits are those of predicting pulse by pulse.
 * DC_SLOTS pairs of arrays, the least recently asked for replaced. */
#define DC_SLOTS 4
typedef struct drive_cache {
    double *d[DC_SLOTS], *dd[DC_SLOTS], v0[DC_SLOTS];
    unsigned long use[DC_SLOTS], clock;
    size_t n;          /* pulses over all runs */
    double *av, *wr;   /* every pulse's |v| and w / t_ref; av 0: no drive (below threshold) */
} drive_cache;

static void dc_free(drive_cache *c)
{
    for (int s = 0; s < DC_SLOTS; s++) { ml__free(c->d[s]); ml__free(c->dd[s]); }
    ml__free(c->av); ml__free(c->wr);
}

/* 0, or -1 out of memory (then every array is NULL and drives are computed as needed). */
static int dc_init(drive_cache *c, const ml_run *runs, int nruns, const ml_fit *f)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < nruns; k++) c->n += (size_t)(runs[k].n > 0 ? runs[k].n : 0);
    size_t b = (c->n ? c->n : 1) * sizeof(double);
    int bad = !(c->av = ml__malloc(b)) || !(c->wr = ml__malloc(b));
    for (int s = 0; s < DC_SLOTS && !bad; s++) {
        c->v0[s] = NAN;
        bad = !(c->d[s] = ml__malloc(b)) || !(c->dd[s] = ml__malloc(b));
    }
    if (bad) { dc_free(c); memset(c, 0, sizeof *c); return -1; }
    size_t o = 0;
    for (int k = 0; k < nruns; k++)
        for (int j = 0; j < runs[k].n; j++, o++) {
            double av = fabs(runs[k].v[j]), w = runs[k].w[j];
            int on = !(av < f->v_th || w <= 0);
            c->av[o] = on ? av : 0;
            c->wr[o] = on ? w / f->t_ref : 0;
        }
    return 0;
}

/* One pulse's drive under f's v0 and its derivative in log v0 (-y e^y w / t_ref, y = |v| / v0). */
static inline double drive_dd(const ml_fit *f, double v, double w, double *dd)
{
    double av = fabs(v);
    if (av < f->v_th || w <= 0) { *dd = 0; return 0; }
    double y = av / f->v0, wr = w / f->t_ref;
    if (y >= 0.5 && y <= 700) { /* drives_fill's arithmetic, so cached and uncached agree */
        double p = ml_exp_poly(y);
        *dd = -y * p * wr;
        return (p - 1.0) * wr;
    }
    double x = expm1(y);
    *dd = -y * (x + 1.0) * wr;
    return x * wr;
}

/* Every pulse's drive d and its log-v0 derivative e at v0 from |v| (0: no drive) and w / t_ref:
 * through the polynomial in vector lanes, then the few out of its range (the same arithmetic
 * as drive_dd). Compiled for AVX-512, AVX2 and baseline x86-64 and picked at run time (the
 * same IEEE operations on each, so the same bits). */
static inline __attribute__((always_inline)) void drives_body(const double *restrict av, const double *restrict wr,
                                                              double v0, size_t n, double *restrict d,
                                                              double *restrict e)
{
    #pragma omp simd
    for (size_t j = 0; j < n; j++) {
        double y = av[j] / v0, p = ml_exp_poly(y);
        d[j] = (p - 1.0) * wr[j];
        e[j] = -y * p * wr[j];
    }
    for (size_t j = 0; j < n; j++) {
        double y = av[j] / v0;
        if (av[j] > 0 && !(y >= 0.5 && y <= 700)) {
            double x = expm1(y);
            d[j] = x * wr[j];
            e[j] = -y * (x + 1.0) * wr[j];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DRIVES_X86 1
__attribute__((target("arch=x86-64-v4,prefer-vector-width=512"))) static void drives_v4(const double *av,
    const double *wr, double v0, size_t n, double *d, double *e) { drives_body(av, wr, v0, n, d, e); }
__attribute__((target("arch=x86-64-v3"))) static void drives_v3(const double *av, const double *wr, double v0,
    size_t n, double *d, double *e) { drives_body(av, wr, v0, n, d, e); }
#endif
static void drives_base(const double *av, const double *wr, double v0, size_t n, double *d, double *e)
{
    drives_body(av, wr, v0, n, d, e);
}

static void drives_fill(const double *av, const double *wr, double v0, size_t n, double *d, double *e)
{
#ifdef DRIVES_X86
    const int q = ml__train_isa_best();
    if (q == 2) { drives_v4(av, wr, v0, n, d, e); return; }
    if (q == 1) { drives_v3(av, wr, v0, n, d, e); return; }
#endif
    drives_base(av, wr, v0, n, d, e);
}

/* The drives at f's v0 and their derivatives (*dd; NULL without a cache). Pointers from the
 * last DC_SLOTS - 1 calls stay valid. */
static const double *dc_get(drive_cache *c, const ml_fit *f, const double **dd)
{
    *dd = NULL;
    if (!c || !c->d[0]) return NULL;
    int s = 0;
    for (int q = 0; q < DC_SLOTS; q++)
        if (c->v0[q] == f->v0) { c->use[q] = ++c->clock; *dd = c->dd[q]; return c->d[q]; }
    for (int q = 1; q < DC_SLOTS; q++)
        if (c->use[q] < c->use[s]) s = q;
    double *d = c->d[s], *e = c->dd[s];
    drives_fill(c->av, c->wr, f->v0, c->n, d, e);
    c->v0[s] = f->v0;
    c->use[s] = ++c->clock;
    *dd = e;
    return d;
}

/* ml_fit_predict with pulse drive dr (soft bounds) */
static inline double predict_d(const ml_fit *f, double g, double dr)
{
    double al = f->a * dr;
    if (al > 1) al = 1;
    return g + al * (f->g_far - g);
}

/* Sum of squared residuals of measured runs against the model's open-loop prediction; dr:
 * the drives at f's v0, or NULL. */
static double runs_ssr(const ml_run *runs, int nruns, const ml_fit *f, const double *dr)
{
    double s = 0;
    size_t o = 0;
    for (int k = 0; k < nruns; k++) {
        const ml_run *r = &runs[k];
        double g = r->g0;
        const int sd = r->stride > 1 ? r->stride : 1;
        for (int j = 0; j < r->n; j++, o++) {
            g = dr ? predict_d(f, g, dr[o]) : ml_fit_predict(f, g, r->v[j], r->w[j]);
            if ((j + 1) % sd) continue;
            double e = r->read[j / sd] - g;
            s += e * e;
        }
    }
    return s;
}

static void set_params(ml_fit *f, const double *p)
{
    f->a = exp(p[0]);
    f->v0 = exp(p[1]);
    f->g_far = p[2];
}

/* The normal equations of the runs at f: J^T J and J^T r with the exact Jacobian of the
 * open-loop prediction in (log a, log v0, g_far), carried along each run in forward mode:
 * G' = G + al (g_far - G), al = a D(v0) (clamped at 1: no derivative there), so
 * dG'/dp = (1 - al) dG/dp + (g_far - G) dal/dp + al dg_far/dp. dr, dd: the drives and
 * their log-v0 derivatives, or NULL (computed pulse by pulse). */
static void runs_normal(const ml_run *runs, int nruns, const ml_fit *f, const double *dr, const double *dd,
                        double JtJ[3][3], double *Jtr)
{
    size_t o = 0;
    for (int k = 0; k < nruns; k++) {
        const ml_run *r = &runs[k];
        double g = r->g0, sa = 0, sv = 0, sf = 0;
        const int sd = r->stride > 1 ? r->stride : 1;
        for (int j = 0; j < r->n; j++, o++) {
            double x, xd;
            if (dr) { x = dr[o]; xd = dd[o]; }
            else x = drive_dd(f, r->v[j], r->w[j], &xd);
            double al = f->a * x, gap = f->g_far - g, da = al, dv = f->a * xd;
            if (al > 1) { al = 1; da = dv = 0; }
            sa = (1 - al) * sa + gap * da;
            sv = (1 - al) * sv + gap * dv;
            sf = (1 - al) * sf + al;
            g = g + al * gap;
            if ((j + 1) % sd) continue;
            double e = r->read[j / sd] - g, J[3] = {sa, sv, sf};
            for (int a = 0; a < 3; a++) {
                Jtr[a] += J[a] * e;
                for (int b = 0; b < 3; b++) JtJ[a][b] += J[a] * J[b];
            }
        }
    }
}

/* Levenberg-Marquardt on the parameters (log a, log v0, g_far) whose bits (1, 2, 4) are set
 * in free, the others held; returns the SSR reached. dc: the drive cache, or NULL (soft
 * bounds only; a measured curve predicts pulse by pulse). A held parameter's row and column
 * of the normal equations drop out. */
static double fit_runs_lm(const ml_run *runs, int nruns, ml_fit *f, int free, drive_cache *dc)
{
    double p[3] = {log(f->a), log(f->v0), f->g_far};
    double lambda = 1e-3;
    ml_fit t = *f;
    const double *dd;
    double cur = runs_ssr(runs, nruns, f, dc_get(dc, f, &dd));
    for (int it = 0; it < 30; it++) {
        double JtJ[3][3] = {{0}}, Jtr[3] = {0};
        const double *df = dc_get(dc, f, &dd);
        runs_normal(runs, nruns, f, df, dd, JtJ, Jtr);
        for (int q = 0; q < 3; q++) {
            if (free & (1 << q)) continue;
            /* parameter q held: its row and column drop out, its step is 0 */
            for (int a = 0; a < 3; a++) JtJ[a][q] = JtJ[q][a] = 0;
            JtJ[q][q] = 1;
            Jtr[q] = 0;
        }
        int improved = 0;
        for (int tries = 0; tries < 8 && !improved; tries++) {
            double A[3][3], b[3], d[3];
            for (int a = 0; a < 3; a++) {
                for (int c = 0; c < 3; c++) A[a][c] = JtJ[a][c];
                A[a][a] *= 1 + lambda;
                b[a] = Jtr[a];
            }
            if (ml__solve3(A, b, d)) { lambda *= 10; continue; }
            double pn[3] = {p[0] + d[0], p[1] + d[1], p[2] + d[2]};
            set_params(&t, pn);
            double s = runs_ssr(runs, nruns, &t, dc_get(dc, &t, &dd));
            if (isfinite(s) && s < cur) {
                improved = 1;
                double rel = (cur - s) / (cur + 1e-300);
                cur = s;
                memcpy(p, pn, sizeof p);
                *f = t;
                lambda *= 0.3;
                if (rel < 1e-10) it = 1000;
            } else {
                lambda *= 10;
            }
        }
        if (!improved) break;
    }
    return cur;
}

static size_t runs_reads(const ml_run *runs, int nruns)
{
    size_t n = 0;
    for (int k = 0; k < nruns; k++) n += (size_t)(runs[k].n / (runs[k].stride > 1 ? runs[k].stride : 1));
    return n;
}

enum { FREE_A = 1, FREE_V0 = 2, FREE_FAR = 4 };

/* Along a schedule the amplitude rises as the gap to the asymptote shrinks, so a run ties
 * the amplitude law (v0) to the asymptote (g_far) and cannot fit both: either v0 stays at
 * the characterisation's (whose trains separate the two) and g_far is fitted, or g_far is
 * the measured saturation level (a soft-bounds device's asymptote, measured directly by the
 * burst) and v0 is fitted; the one that fits the runs better is kept. (Fitting all three
 * let a run's noise trade v0 against g_far: on slow devices with 8 % cycle-to-cycle noise the
 * asymptote landed up to 8 % past the measured saturation and the staircase missed by 7
 * spacings.) */
void ml__fit_runs(const ml_run *runs, int nruns, ml_fit *f)
{
    const size_t n = runs_reads(runs, nruns);
    ml_fit held = *f;
    /* the drives kept per v0 (a measured curve has none; out of memory: computed as needed) */
    drive_cache cache, *dc = f->law != ML_LAW_CURVE && !dc_init(&cache, runs, nruns, f) ? &cache : NULL;
    double ssr = fit_runs_lm(runs, nruns, f, FREE_A | FREE_FAR, dc);
    if (held.g_lim > 0 && (held.g_lim - held.g_start) * (held.g_far - held.g_start) > 0) {
        held.g_far = held.g_lim;
        double ssr_held = fit_runs_lm(runs, nruns, &held, FREE_A | FREE_V0, dc);
        if (ssr_held <= ssr) { *f = held; ssr = ssr_held; }
    }
    if (dc) dc_free(dc);
    f->rms = n ? sqrt(ssr / (double)n) : 0;
}

int ml__solve3(double A[3][3], const double *b, double *x)
{
    double m[3][4];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) m[i][j] = A[i][j];
        m[i][3] = b[i];
    }
    for (int c = 0; c < 3; c++) {
        int piv = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c])) piv = r;
        if (!(fabs(m[piv][c]) > 0)) return 1;
        if (piv != c)
            for (int j = 0; j < 4; j++) { double t = m[c][j]; m[c][j] = m[piv][j]; m[piv][j] = t; }
        for (int r = 0; r < 3; r++) {
            if (r == c) continue;
            double f = m[r][c] / m[c][c];
            for (int j = c; j < 4; j++) m[r][j] -= f * m[c][j];
        }
    }
    for (int i = 0; i < 3; i++) x[i] = m[i][3] / m[i][i];
    return 0;
}
