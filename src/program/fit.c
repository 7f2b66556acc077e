/* Soft-bounds model fits from measured responses: step = a (exp(|V|/v0)-1)(t/t_ref)(g_far - G).
 * ml_fit_pairs: pooled one-step pairs, linear least squares in (a g_far, a) for fixed v0 (sums
 * kept per run of equal pulses) and a golden-section search on v0; ml__fit_pairs_many runs
 * that search for a block of devices side by side in vector lanes, bit for bit the same.
 * ml__fit_runs: whole measured trajectories (Levenberg-Marquardt, the pulses' drives kept per
 * v0), which averages read noise over many pulses; the feedforward scheme refines with it. */
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
    return expm1(av / v0) * (w / t_ref);
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

/* Golden section on log v0 over (0.005, 10) V to a bracket of 1e-9 (~43 steps). Brent's method
 * (~19 steps) was tried: where the data hardly constrain v0 (CrossSim's RRAM ramps) it settles
 * on another point of the flat SSR, and feedforward on the fitted device then made 1 state
 * instead of 26 (tests/cli_measured.sh). */
#define GS_LO log(0.005)
#define GS_HI log(10.0)
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
    static int isa = -1; /* benign race: every thread computes the same value */
    int q = __atomic_load_n(&isa, __ATOMIC_RELAXED);
    if (q < 0) { q = ml__train_isa_best(); __atomic_store_n(&isa, q, __ATOMIC_RELAXED); }
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
            if (l >= m || !(it[l] < 80 && hi[l] - lo[l] > 1e-9)) continue;
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
    for (int it = 0; it < 80 && hi - lo > 1e-9; it++) {
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

/* The drives of every pulse of the runs under one v0 (the only parameter they depend on
 * besides the device's v_th and t_ref): the Levenberg-Marquardt below evaluates the runs under
 * a handful of v0 values many times over, so each one's drives are computed once and kept.
 * A prediction from a kept drive is ml_fit_predict's arithmetic, so the fit's bits are those
 * of predicting pulse by pulse. DC_SLOTS arrays, the least recently asked for replaced. */
#define DC_SLOTS 4
typedef struct drive_cache {
    double *d[DC_SLOTS], v0[DC_SLOTS];
    unsigned long use[DC_SLOTS], clock;
    size_t n;   /* pulses over all runs */
} drive_cache;

static void dc_free(drive_cache *c)
{
    for (int s = 0; s < DC_SLOTS; s++) ml__free(c->d[s]);
}

/* 0, or -1 out of memory (then every array is NULL and drives are computed as needed). */
static int dc_init(drive_cache *c, const ml_run *runs, int nruns)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < nruns; k++) c->n += (size_t)(runs[k].n > 0 ? runs[k].n : 0);
    for (int s = 0; s < DC_SLOTS; s++) {
        c->v0[s] = NAN;
        if (!(c->d[s] = ml__malloc((c->n ? c->n : 1) * sizeof(double)))) { dc_free(c); memset(c, 0, sizeof *c); return -1; }
    }
    return 0;
}

/* The drives at f's v0 (NULL without a cache). Pointers from the last DC_SLOTS - 1 calls stay valid. */
static const double *dc_get(drive_cache *c, const ml_run *runs, int nruns, const ml_fit *f)
{
    if (!c || !c->d[0]) return NULL;
    int s = 0;
    for (int q = 0; q < DC_SLOTS; q++)
        if (c->v0[q] == f->v0) { c->use[q] = ++c->clock; return c->d[q]; }
    for (int q = 1; q < DC_SLOTS; q++)
        if (c->use[q] < c->use[s]) s = q;
    double *d = c->d[s];
    size_t o = 0;
    for (int k = 0; k < nruns; k++)
        for (int j = 0; j < runs[k].n; j++) d[o++] = drive(f->v0, f->v_th, f->t_ref, runs[k].v[j], runs[k].w[j]);
    c->v0[s] = f->v0;
    c->use[s] = ++c->clock;
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

/* Levenberg-Marquardt on the parameters (log a, log v0, g_far) whose bits (1, 2, 4) are set
 * in free, the others held; returns the SSR reached. dc: the drive cache, or NULL (soft
 * bounds only; a measured curve predicts pulse by pulse). A held parameter's Jacobian column
 * is not computed: its row and column of the normal equations drop out. */
static double fit_runs_lm(const ml_run *runs, int nruns, ml_fit *f, int free, drive_cache *dc)
{
    double p[3] = {log(f->a), log(f->v0), f->g_far};
    double h[3] = {1e-6, 1e-6, 1e-6 * fabs(f->g_far) + 1e-12};
    double lambda = 1e-3;
    ml_fit t = *f;
    double cur = runs_ssr(runs, nruns, f, dc_get(dc, runs, nruns, f));
    for (int it = 0; it < 30; it++) {
        /* Jacobian-free Gauss-Newton on the 3x3 normal equations built from residual differences */
        double JtJ[3][3] = {{0}}, Jtr[3] = {0};
        ml_fit fp[3];
        const double *df = NULL, *dq[3] = {NULL, NULL, NULL};
        for (int q = 0; q < 3; q++) {
            double pq[3] = {p[0], p[1], p[2]};
            pq[q] += h[q];
            fp[q] = *f;
            set_params(&fp[q], pq);
        }
        if (dc) {
            df = dc_get(dc, runs, nruns, f);
            for (int q = 0; q < 3; q++)
                if (free & (1 << q)) dq[q] = dc_get(dc, runs, nruns, &fp[q]);
        }
        size_t o = 0;
        for (int k = 0; k < nruns; k++) {
            const ml_run *r = &runs[k];
            double g[4] = {r->g0, r->g0, r->g0, r->g0};
            const int sd = r->stride > 1 ? r->stride : 1;
            for (int j = 0; j < r->n; j++, o++) {
                g[0] = df ? predict_d(f, g[0], df[o]) : ml_fit_predict(f, g[0], r->v[j], r->w[j]);
                double J[3] = {0, 0, 0};
                for (int q = 0; q < 3; q++) {
                    if (!(free & (1 << q))) continue;
                    g[q + 1] = dq[q] ? predict_d(&fp[q], g[q + 1], dq[q][o])
                                     : ml_fit_predict(&fp[q], g[q + 1], r->v[j], r->w[j]);
                    J[q] = (g[q + 1] - g[0]) / h[q];
                }
                if ((j + 1) % sd) continue;
                double e = r->read[j / sd] - g[0];
                for (int a = 0; a < 3; a++) {
                    Jtr[a] += J[a] * e;
                    for (int b = 0; b < 3; b++) JtJ[a][b] += J[a] * J[b];
                }
            }
        }
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
            double s = runs_ssr(runs, nruns, &t, dc_get(dc, runs, nruns, &t));
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
    drive_cache cache, *dc = f->law != ML_LAW_CURVE && !dc_init(&cache, runs, nruns) ? &cache : NULL;
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
