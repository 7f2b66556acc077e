/* Soft-bounds model fits from measured responses: step = a (exp(|V|/v0)-1)(t/t_ref)(g_far - G).
 * ml_fit_pairs: pooled one-step pairs, linear least squares in (a g_far, a) for fixed v0 (sums
 * kept per run of equal pulses) and a golden-section search on v0; ml__fit_pairs_many runs
 * that search for a block of devices side by side in vector lanes, bit for bit the same.
 * Fits of whole measured runs (ml__fit_runs) are in fit_runs.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"
#include "device/internal.h" /* ml_exp_poly */

static double drive(double v0, double v_th, double t_ref, double v, double w)
{
    double av = fabs(v);
    if (av < v_th || w <= 0) return 0;
    return ml__fit_expm1(av / v0) * (w / t_ref);
}

double ml_fit_predict(const ml_fit *f, double g, double v, double width)
{
    if (f->law == ML_LAW_CURVE) return ml__curve_predict(f, g, v, width);
    double al = f->a * drive(f->v0, f->v_th, f->t_ref, v, width);
    if (al > 1) al = 1;
    return g + al * (f->g_far - g);
}

double ml_fit_solve_v(const ml_fit *f, double g, double dg, double width, double v_max)
{
    if (f->law == ML_LAW_CURVE) return ml__curve_solve_v(f, g, dg, width, v_max);
    double gap = f->g_far - g;
    double al = (gap != 0) ? dg / gap : 1;
    if (!(al > 0)) return f->v_th;
    if (al > 1) al = 1;
    double e = al / (f->a * (width / f->t_ref));
    double v = f->v0 * log1p(e);
    if (isnan(v)) return v_max; /* a degenerate fit (a or v0 of 0): no estimate, the limit */
    if (v < f->v_th) v = f->v_th;
    if (v > v_max) v = v_max;
    return v;
}

double ml_fit_solve_width(const ml_fit *f, double g, double dg, double v, double wmin, double wmax)
{
    if (f->law == ML_LAW_CURVE) return ml__curve_solve_width(f, g, dg, v, wmin, wmax);
    double gap = f->g_far - g;
    double al = (gap != 0) ? dg / gap : 1;
    if (!(al > 0)) return wmin;
    double e = drive(f->v0, f->v_th, f->t_ref, v, f->t_ref);
    double w = e > 0 ? f->t_ref * al / (f->a * e) : wmax;
    if (isnan(w)) return wmax; /* a degenerate fit: no estimate, the limit */
    return w < wmin ? wmin : w > wmax ? wmax : w;
}

/* The pairs grouped by pulse: calibration trains repeat one (v, w), so the sums the least
 * squares needs are kept per run of equal pulses (count, sum g0, g0^2, d, g0 d; d = g1 - g0)
 * and a trial v0 costs one drive() per group instead of one per pair. */
#define FIT_GROUPS 64
typedef struct fit_groups {
    int n;
    double v[FIT_GROUPS], w[FIT_GROUPS], c[FIT_GROUPS], s0[FIT_GROUPS], s00[FIT_GROUPS], sd[FIT_GROUPS],
        s0d[FIT_GROUPS];
    double av[FIT_GROUPS], wr[FIT_GROUPS]; /* |v| and w / t_ref (0: below threshold, no drive) */
    double sdd;
} fit_groups;

/* Group pairs into runs of equal (v, w); 0 when there are more runs than FIT_GROUPS. */
static int group_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                       double t_ref, double v_th, fit_groups *G)
{
    G->n = 0;
    /* sums of the current run in locals (the arrays may alias G's for all the compiler knows) */
    double c = 0, s0 = 0, s00 = 0, sd = 0, s0d = 0, sdd = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || i == 0 || v[i] != v[i - 1] || w[i] != w[i - 1]) {
            if (i > 0) {
                int k = G->n - 1;
                G->c[k] = c; G->s0[k] = s0; G->s00[k] = s00; G->sd[k] = sd; G->s0d[k] = s0d;
            }
            if (i == n) break;
            if (G->n == FIT_GROUPS) return 0;
            int k = G->n++;
            G->v[k] = v[i]; G->w[k] = w[i];
            G->av[k] = fabs(v[i]);
            G->wr[k] = fabs(v[i]) < v_th || w[i] <= 0 ? 0 : w[i] / t_ref;
            c = s0 = s00 = sd = s0d = 0;
        }
        double d = g1[i] - g0[i];
        c += 1; s0 += g0[i]; s00 += g0[i] * g0[i]; sd += d; s0d += g0[i] * d;
        sdd += d * d;
    }
    G->sdd = sdd;
    return 1;
}

/* Least squares of dg = x c1 - x g0 c2 for fixed v0, pair by pair (more runs of equal pulses
 * than FIT_GROUPS; grouped pairs: ssr_lanes); returns SSR and fills c1, c2. */
static double ssr_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n, double v0,
                        double t_ref, double v_th, double *c1, double *c2)
{
    double sxx = 0, sxy = 0, syy = 0, sx_d = 0, sy_d = 0, sdd = 0;
    for (size_t i = 0; i < n; i++) {
        double x = drive(v0, v_th, t_ref, v[i], w[i]);
        double d = g1[i] - g0[i];
        double p = x, q = -x * g0[i];  /* d = p c1 + q c2 */
        sxx += p * p; sxy += p * q; syy += q * q;
        sx_d += p * d; sy_d += q * d; sdd += d * d;
    }
    double det = sxx * syy - sxy * sxy;
    if (!(fabs(det) > 0)) { *c1 = *c2 = 0; return sdd; }
    *c1 = (sx_d * syy - sy_d * sxy) / det;
    *c2 = (sy_d * sxx - sx_d * sxy) / det;
    return sdd - (*c1 * sx_d + *c2 * sy_d);
}

double ml__fit_pairs_v0(const double *g0, const double *v, const double *w, const double *g1, size_t n, double v0,
                        double t_ref, double v_th, double *a, double *g_far)
{
    double c1, c2;
    double ssr = ssr_pairs(g0, v, w, g1, n, v0, t_ref, v_th, &c1, &c2);
    *a = c2;
    *g_far = c2 != 0 ? c1 / c2 : 0;
    return ssr;
}

/* What a fit of n pairs found at the end of its search (v0, SSR and the linear terms c1, c2);
 * ML_EINVAL (out untouched) when the device does not respond. */
static ml_status fit_finish(double c1, double c2, double v0, double ssr, size_t n, int direction, double t_ref,
                            double v_th, ml_fit *out, ml_error *err)
{
    if (!(c2 > 0) || !isfinite(c1 / c2))
        return ml_error_set(err, ML_EINVAL, "calibration: the device does not respond to %s pulses",
                            direction > 0 ? "potentiating" : "depressing");
    out->a = c2;
    out->g_far = c1 / c2;
    out->v0 = v0;
    out->t_ref = t_ref;
    out->v_th = v_th;
    out->rms = sqrt(ssr > 0 ? ssr / n : 0);
    return ML_OK;
}

/* Golden section on log v0 over (0.005, 10) V to a bracket of GS_TOL, 1e-6 (~33 steps): v0 to
 * 1e-6 of itself moves a drive by ~1e-5 of itself, far below any read noise (1e-9 took 47).
 * Brent's method (~19 steps) was tried: where the data hardly constrain v0 (CrossSim's RRAM
 * ramps) it settles on another point of the flat SSR, and feedforward on the fitted device
 * then made 1 state instead of 26 (tests/cli_measured.sh). */
#define GS_LO log(0.005)
#define GS_HI log(10.0)
#define GS_TOL 1e-6
static const double k_gold = 0.6180339887498949;

/* Devices fitted side by side (ml__fit_pairs_many): the groups of FL devices transposed, group
 * k of lane l at [k][l]; a lane's groups past its count take no part. */
#define FL 8
typedef struct fit_lanes {
    int n[FL], nmax;
    double av[FIT_GROUPS][FL], wr[FIT_GROUPS][FL], c[FIT_GROUPS][FL], s0[FIT_GROUPS][FL], s00[FIT_GROUPS][FL],
        sd[FIT_GROUPS][FL], s0d[FIT_GROUPS][FL];
    double sdd[FL];
} fit_lanes;

/* The least squares of every lane at its own v0[l]: the sums of ssr_pairs over the groups
 * (x constant within a group), in group order; the lanes in vector registers. Compiled for
 * AVX-512, AVX2 and baseline x86-64 (picked at run time like the pulse-train kernel): the
 * same IEEE operations per lane (no FMA: -ffp-contract=off), so the same bits. */
static inline __attribute__((always_inline)) void ssr_lanes_body(const fit_lanes *L, const double *v0, double *ssr,
                                                                 double *c1, double *c2)
{
    double sxx[FL], sxy[FL], syy[FL], sx_d[FL], sy_d[FL], rv[FL];
    for (int l = 0; l < FL; l++) { sxx[l] = sxy[l] = syy[l] = sx_d[l] = sy_d[l] = 0; rv[l] = 1.0 / v0[l]; }
    for (int k = 0; k < L->nmax; k++) {
        double xs[FL];
        #pragma omp simd
        for (int l = 0; l < FL; l++) {
            /* every lane without a branch (a select stops the vectoriser); lanes without drive
             * and lanes out of the polynomial's range are redone below */
            double y = L->av[k][l] * rv[l];
            xs[l] = (ml_exp_poly(y) - 1.0) * L->wr[k][l];
        }
        for (int l = 0; l < FL; l++) {
            double y = L->av[k][l] * rv[l];
            if (!(L->wr[k][l] > 0)) xs[l] = 0;
            else if (!(y >= 0.5 && y <= 700)) xs[l] = expm1(y) * L->wr[k][l]; /* exp(y) - 1 loses bits */
        }
        /* a lane's groups past its count are zero (lanes_pad): they add +0 to sums that
         * cannot be -0, so they change no bit */
        #pragma omp simd
        for (int l = 0; l < FL; l++) {
            double x = xs[l], x2 = x * x;
            sxx[l] += x2 * L->c[k][l]; sxy[l] -= x2 * L->s0[k][l]; syy[l] += x2 * L->s00[k][l];
            sx_d[l] += x * L->sd[k][l]; sy_d[l] -= x * L->s0d[k][l];
        }
    }
    for (int l = 0; l < FL; l++) {
        double det = sxx[l] * syy[l] - sxy[l] * sxy[l];
        if (!(fabs(det) > 0)) { c1[l] = c2[l] = 0; ssr[l] = L->sdd[l]; continue; }
        c1[l] = (sx_d[l] * syy[l] - sy_d[l] * sxy[l]) / det;
        c2[l] = (sy_d[l] * sxx[l] - sx_d[l] * sxy[l]) / det;
        ssr[l] = L->sdd[l] - (c1[l] * sx_d[l] + c2[l] * sy_d[l]);
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FIT_X86 1
__attribute__((target("arch=x86-64-v4,prefer-vector-width=512"))) static void ssr_lanes_v4(const fit_lanes *L,
    const double *v0, double *ssr, double *c1, double *c2) { ssr_lanes_body(L, v0, ssr, c1, c2); }
__attribute__((target("arch=x86-64-v3"))) static void ssr_lanes_v3(const fit_lanes *L, const double *v0, double *ssr,
    double *c1, double *c2) { ssr_lanes_body(L, v0, ssr, c1, c2); }
#endif
static void ssr_lanes_base(const fit_lanes *L, const double *v0, double *ssr, double *c1, double *c2)
{
    ssr_lanes_body(L, v0, ssr, c1, c2);
}

static void ssr_lanes(const fit_lanes *L, const double *v0, double *ssr, double *c1, double *c2)
{
#ifdef FIT_X86
    const int q = ml__train_isa_best();
    if (q == 2) { ssr_lanes_v4(L, v0, ssr, c1, c2); return; }
    if (q == 1) { ssr_lanes_v3(L, v0, ssr, c1, c2); return; }
#endif
    ssr_lanes_base(L, v0, ssr, c1, c2);
}

/* The golden-section search on lanes 0 .. m - 1 at once (each stops on its own bracket);
 * out[l] written where ok[l] (fit_finish). */
/* Lanes at or past m empty and every lane's groups past its count zero (no drive, no sums) */
static void lanes_pad(fit_lanes *L, int m)
{
    for (int l = 0; l < FL; l++) {
        if (l >= m) { L->n[l] = 0; L->sdd[l] = 0; }
        for (int k = L->n[l]; k < L->nmax; k++)
            L->av[k][l] = L->wr[k][l] = L->c[k][l] = L->s0[k][l] = L->s00[k][l] = L->sd[k][l] = L->s0d[k][l] = 0;
    }
}

static void fit_lanes_run(fit_lanes *L, int m, const size_t *np, int direction, double t_ref, double v_th,
                          ml_fit *const *out, int *ok)
{
    double lo[FL], hi[FL], x1[FL], x2[FL], f1[FL], f2[FL], v0[FL], f[FL], c1[FL], c2[FL];
    int it[FL], mv[FL];
    lanes_pad(L, m);
    for (int l = 0; l < FL; l++) {
        lo[l] = GS_LO; hi[l] = GS_HI; it[l] = 0;
        x1[l] = hi[l] - k_gold * (hi[l] - lo[l]); x2[l] = lo[l] + k_gold * (hi[l] - lo[l]);
        v0[l] = exp(x1[l]);
    }
    ssr_lanes(L, v0, f1, c1, c2);
    for (int l = 0; l < FL; l++) v0[l] = exp(x2[l]);
    ssr_lanes(L, v0, f2, c1, c2);
    for (;;) {
        int any = 0;
        for (int l = 0; l < FL; l++) {
            mv[l] = 0;
            if (l >= m || !(it[l] < 80 && hi[l] - lo[l] > GS_TOL)) continue;
            any = 1;
            it[l]++;
            if (f1[l] < f2[l]) {
                hi[l] = x2[l]; x2[l] = x1[l]; f2[l] = f1[l]; x1[l] = hi[l] - k_gold * (hi[l] - lo[l]);
                mv[l] = 1; v0[l] = exp(x1[l]);
            } else {
                lo[l] = x1[l]; x1[l] = x2[l]; f1[l] = f2[l]; x2[l] = lo[l] + k_gold * (hi[l] - lo[l]);
                mv[l] = 2; v0[l] = exp(x2[l]);
            }
        }
        if (!any) break;
        ssr_lanes(L, v0, f, c1, c2);
        for (int l = 0; l < FL; l++) {
            if (mv[l] == 1) f1[l] = f[l];
            else if (mv[l] == 2) f2[l] = f[l];
        }
    }
    for (int l = 0; l < FL; l++) v0[l] = exp(0.5 * (lo[l] + hi[l]));
    ssr_lanes(L, v0, f, c1, c2);
    for (int l = 0; l < m; l++)
        ok[l] = fit_finish(c1[l], c2[l], v0[l], f[l], np[l], direction, t_ref, v_th, out[l], NULL) == ML_OK;
}

/* Lane l of L from groups G (transposed) */
static void lanes_put(fit_lanes *L, int l, const fit_groups *G)
{
    L->n[l] = G->n;
    L->sdd[l] = G->sdd;
    if (G->n > L->nmax) L->nmax = G->n;
    for (int k = 0; k < G->n; k++) {
        L->av[k][l] = G->av[k]; L->wr[k][l] = G->wr[k]; L->c[k][l] = G->c[k]; L->s0[k][l] = G->s0[k];
        L->s00[k][l] = G->s00[k]; L->sd[k][l] = G->sd[k]; L->s0d[k][l] = G->s0d[k];
    }
}

ml_status ml_fit_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                       int direction, double t_ref, double v_th, ml_fit *out, ml_error *err)
{
    if (n < 4)
        return ml_error_set(err, ML_EINVAL, "calibration: need at least 4 pulse responses, got %zu", n);
    fit_groups G;
    if (group_pairs(g0, v, w, g1, n, t_ref, v_th, &G)) {
        /* one lane of the side-by-side search (the others copy it) */
        fit_lanes L;
        L.nmax = 0;
        lanes_put(&L, 0, &G);
        int ok;
        fit_lanes_run(&L, 1, &n, direction, t_ref, v_th, &out, &ok);
        return ok ? ML_OK : fit_finish(0, 0, 0, 0, n, direction, t_ref, v_th, out, err);
    }
    /* pair by pair (more runs of equal pulses than FIT_GROUPS) */
    double c1, c2;
    double lo = GS_LO, hi = GS_HI;
    double x1 = hi - k_gold * (hi - lo), x2 = lo + k_gold * (hi - lo);
    double f1 = ssr_pairs(g0, v, w, g1, n, exp(x1), t_ref, v_th, &c1, &c2);
    double f2 = ssr_pairs(g0, v, w, g1, n, exp(x2), t_ref, v_th, &c1, &c2);
    for (int it = 0; it < 80 && hi - lo > GS_TOL; it++) {
        if (f1 < f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - k_gold * (hi - lo); f1 = ssr_pairs(g0, v, w, g1, n, exp(x1), t_ref, v_th, &c1, &c2); }
        else { lo = x1; x1 = x2; f1 = f2; x2 = lo + k_gold * (hi - lo); f2 = ssr_pairs(g0, v, w, g1, n, exp(x2), t_ref, v_th, &c1, &c2); }
    }
    double v0 = exp(0.5 * (lo + hi));
    double ssr = ssr_pairs(g0, v, w, g1, n, v0, t_ref, v_th, &c1, &c2);
    return fit_finish(c1, c2, v0, ssr, n, direction, t_ref, v_th, out, err);
}

void ml__fit_pairs_many(double *const *pairs, size_t per, const size_t *n, size_t m, int direction, double t_ref,
                        double v_th, ml_fit *out, int *ok)
{
    fit_lanes L;
    fit_groups G;
    int nl = 0;
    size_t idx[FL], np[FL];
    ml_fit *fo[FL];
    for (size_t i = 0; i <= m; i++) {
        if (i < m) {
            const double *b = pairs[i];
            if (!b) continue;
            if (n[i] < 4 || !group_pairs(b, b + per, b + 2 * per, b + 3 * per, n[i], t_ref, v_th, &G)) {
                ok[i] = ml_fit_pairs(b, b + per, b + 2 * per, b + 3 * per, n[i], direction, t_ref, v_th, &out[i], NULL) == ML_OK;
                continue;
            }
            if (nl == 0) L.nmax = 0;
            lanes_put(&L, nl, &G);
            idx[nl] = i; np[nl] = n[i]; fo[nl] = &out[i];
            nl++;
        }
        if (nl == FL || (i == m && nl > 0)) {
            int okl[FL];
            fit_lanes_run(&L, nl, np, direction, t_ref, v_th, fo, okl);
            for (int l = 0; l < nl; l++) ok[idx[l]] = okl[l];
            nl = 0;
        }
    }
}
