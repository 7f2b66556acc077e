/* Measured step curve: the feedforward law for devices soft bounds misfit (a power-law state
 * dependence, steps that grow toward the bound, a table device). step = a D(V, t) c(G) with the
 * soft-bounds drive D = (exp(|V|/v0) - 1) (t/t_ref) and c(G) measured on ML_FIT_CURVE_KNOTS
 * bins of the window by pulse trains from reset at two amplitudes (their ratio gives v0). The
 * model is inverted exactly (amplitude at a width, width at an amplitude), and its finest step
 * bounds a staircase's spacing. */
#include <math.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

enum { NK = ML_FIT_CURVE_KNOTS, TRAIN_CAP = 1500, TRIES = 6 };

static double drive(const ml_fit *f, double v, double w)
{
    double av = fabs(v);
    if (av < f->v_th || w <= 0) return 0;
    return expm1(av / f->v0) * (w / f->t_ref);
}

/* c(G): linear between the bin centres, held beyond the end ones. */
static double curve_at(const ml_fit *f, double g)
{
    double span = f->curve_hi - f->curve_lo;
    if (span == 0) return f->curve[0];
    double u = (g - f->curve_lo) / span * NK - 0.5;
    if (!(u > 0)) return f->curve[0];
    if (u >= NK - 1) return f->curve[NK - 1];
    int k = (int)u;
    double t = u - k;
    return f->curve[k] * (1 - t) + f->curve[k + 1] * t;
}

double ml__curve_predict(const ml_fit *f, double g, double v, double width)
{
    return g + f->a * drive(f, v, width) * curve_at(f, g);
}

double ml__curve_solve_v(const ml_fit *f, double g, double dg, double width, double v_max)
{
    double c = f->a * curve_at(f, g), D = dg / c;
    if (!(D > 0) || !(width > 0)) return f->v_th;
    double v = f->v0 * log1p(D * f->t_ref / width);
    if (isnan(v)) return v_max;
    return v < f->v_th ? f->v_th : v > v_max ? v_max : v;
}

double ml__curve_solve_width(const ml_fit *f, double g, double dg, double v, double wmin, double wmax)
{
    double c = f->a * curve_at(f, g), D = dg / c;
    if (!(D > 0)) return wmin;
    double e = fabs(v) < f->v_th ? 0 : expm1(fabs(v) / f->v0);
    double w = e > 0 ? f->t_ref * D / e : wmax;
    return w < wmin ? wmin : w > wmax ? wmax : w;
}

double ml__fit_step_min(const ml_fit *f, const ml_device *d, const ml_scheme *s, double top)
{
    int dir = top > f->g_start ? 1 : -1;
    double v = s->modulate_width ? fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d) : f->v_th * 1.02;
    double w = s->width > 0 ? s->width : d->width_min;
    double worst = 0;
    for (int k = 0; k <= 32; k++) {
        double g = f->g_start + (top - f->g_start) * k / 32;
        double st = fabs(ml_fit_predict(f, g, dir * v, w) - g);
        if (st > worst) worst = st;
    }
    return worst;
}

/* One train from reset: pulses (dir v, w) with a read after each until the reads come within 2 %
 * of the window of hi or cap pulses, the width raised 4x (up to wmax) where the reads creep; the
 * steps, at the first width, summed per bin of the read before them. Returns
 * the pulses applied; *reached: the fraction of the window the last read crossed. */
static int train(const ml_target *t, size_t i, const ml_scheme *s, int dir, double lo, double hi, double v, double w,
                 double wmax, int cap, double *sum, double *cnt, double *reached, double *jump, double *steps,
                 double *from, int *nrec, ml_cost *c)
{
    const double win = hi - lo, w0 = w;
    for (int k = 0; k < NK; k++) sum[k] = cnt[k] = 0;
    pg_reset1(t, i, s, dir, c);
    double prev = pg_read(t, i, c), mark = prev;
    int p = 0;
    *jump = 0;
    if (nrec) *nrec = 0;
    while (p < cap) {
        pg_pulse(t, i, dir * v, w, c);
        double r = pg_read(t, i, c);
        p++;
        if ((r - prev) / win > *jump) *jump = (r - prev) / win;
        int k = (int)floor((prev - lo) / win * NK);
        k = k < 0 ? 0 : k >= NK ? NK - 1 : k;
        sum[k] += (r - prev) * (w0 / w); /* the step at the train's first width (linear in it) */
        cnt[k] += 1;
        if (steps && w == w0) { steps[*nrec] = r - prev; from[*nrec] = prev; ++*nrec; } /* C2C: first width only */
        prev = r;
        if ((r - hi) * dir >= -0.02 * fabs(win)) break;
        /* creeping toward saturation (under a quarter bin in 64 pulses): longer pulses */
        if (p % 64 == 0) {
            if ((r - mark) / win < 0.25 / NK && w * 4 <= wmax) w *= 4;
            mark = r;
        }
    }
    *reached = (prev - lo) / win;
    return p;
}

/* v0 with expm1(v2/v0) / expm1(v1/v0) = r (bisection in log v0 on [0.005, 100] V). */
static double solve_v0(double v1, double v2, double r)
{
    double a = log(0.005), b = log(100);
    for (int it = 0; it < 80; it++) {
        double m = 0.5 * (a + b), v0 = exp(m);
        double F = v1 / v0 > 700 ? exp((v2 - v1) / v0) : expm1(v2 / v0) / expm1(v1 / v0);
        /* F falls toward v2/v1 as v0 grows when v2 < v1 (rises when v2 > v1) */
        int grow = (v2 < v1) ? F < r : F > r;
        if (grow) a = m; else b = m;
    }
    return exp(0.5 * (a + b));
}

/* Relative step noise (C2C) from one train's steps (read after every pulse) about the curve's
 * mean step mu there: each step's residual e holds C2C (var c2c^2 mu^2) and the two reads'
 * noise (var 2 sigma^2, and -sigma^2 shared with the next residual), so
 * e_k^2 + 2 e_k e_(k+1) sums to c2c^2 mu^2 on average with the read noise cancelled. Adds that
 * sum and sum mu^2 to sums[0], sums[1]. */
static void c2c_sums(const ml_fit *g, double v, double w, const double *steps, const double *from, int n, double *sums)
{
    const double D = drive(g, v, w);
    double e_prev = 0, num = 0, den = 0;
    for (int k = 0; k < n; k++) {
        double mu = g->a * D * curve_at(g, from[k]), e = steps[k] - mu;
        num += e * e + (k > 0 ? 2 * e_prev * e : 0);
        den += mu * mu;
        e_prev = e;
    }
    sums[0] += num;
    sums[1] += den;
}

int ml__curve_measure(const ml_target *t, size_t i, const ml_scheme *s, int dir, ml_fit *f, ml_cost *c)
{
    return ml__curve_measure_c2c(t, i, s, dir, f, c, NULL);
}

int ml__curve_measure_c2c(const ml_target *t, size_t i, const ml_scheme *s, int dir, ml_fit *f, ml_cost *c,
                          double *c2c)
{
    const ml_device *d = t->dev;
    const double lo = f->g_start, hi = f->g_lim;
    if (!((hi - lo) * dir > 0)) return -1;
    const int wfree = !(s->width > 0);
    const double vlo = d->v_th * 1.05, vmax = d->v_max;
    const double wmin = wfree ? d->width_min : s->width, wmax = wfree ? d->width_max : s->width;
    double w = ml_fit_width(f, s, d);
    double v1 = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    v1 = v1 < vlo ? vlo : v1 > vmax ? vmax : v1;
    double s1[NK], n1[NK], s2[NK], n2[NK], reached = 0, jump;
    double *steps = NULL, *from = NULL;
    int nrec = 0;
    if (c2c) {
        steps = ml__malloc(2 * TRAIN_CAP * sizeof *steps);
        if (!steps) c2c = NULL; /* out of memory: no C2C figure, the curve all the same */
        else from = steps + TRAIN_CAP;
    }
    /* a pulse whose steps resolve the bins (none over a third of one) and that crosses half the
     * window within TRAIN_CAP pulses: finer or coarser as needed */
    for (int tr = 0; tr < TRIES; tr++) {
        train(t, i, s, dir, lo, hi, v1, w, wmax, TRAIN_CAP, s1, n1, &reached, &jump, steps, from, &nrec, c);
        double v = v1, ww = w;
        if (jump > 1.0 / (3 * NK)) {
            if (w > wmin) ww = fmax(wmin, w / 4);
            else v = fmax(vlo, v1 * 0.85);
        } else if (reached < 0.5) {
            if (v1 < vmax) v = fmin(vmax, v1 * 1.15);
            else ww = fmin(wmax, w * 4);
        }
        if (v == v1 && ww == w) break;
        v1 = v; w = ww;
    }
    if (!(reached > 0.05)) { ml__free(steps); return -1; }
    double v2 = v1 * 0.9 >= vlo ? v1 * 0.9 : fmin(vmax, v1 * 1.1), v0 = f->v0 > 0 ? f->v0 : 0.25;
    if (v2 != v1) {
        double r2;
        train(t, i, s, dir, lo, hi, v2, w, wmax, TRAIN_CAP, s2, n2, &r2, &jump, NULL, NULL, NULL, c);
        double num = 0, den = 0;
        for (int k = 0; k < NK; k++) {
            double m = fmin(n1[k], n2[k]);
            if (m < 1) continue;
            num += m * s2[k] / n2[k];
            den += m * s1[k] / n1[k];
        }
        if (den != 0 && num / den > 0) v0 = solve_v0(v1, v2, num / den);
    }
    ml_fit g = *f;
    g.law = ML_LAW_CURVE;
    g.status = ML_FIT_OK;
    g.v0 = v0;
    g.a = 1;
    g.width = w;
    g.curve_lo = lo;
    g.curve_hi = hi;
    g.g_far = hi;
    const double D = drive(&g, v1, w);
    if (!(D > 0)) { ml__free(steps); return -1; }
    /* per bin: the mean step per unit drive; a bin the train did not reach, or whose steps
     * read against the direction (noise), takes its nearest measured neighbour's */
    int have[NK], last = -1;
    double least = INFINITY;
    for (int k = 0; k < NK; k++) {
        have[k] = n1[k] > 0 && s1[k] * dir > 0;
        if (have[k]) { g.curve[k] = s1[k] / n1[k] / D; last = k; least = fmin(least, fabs(g.curve[k])); }
    }
    if (last < 0) { ml__free(steps); return -1; }
    for (int k = 0; k < NK; k++) {
        if (have[k]) continue;
        int best = -1;
        for (int q = 0; q < NK; q++)
            if (have[q] && (best < 0 || abs(q - k) < abs(best - k))) best = q;
        /* beyond the last bin reached: the device creeps there, so the least step measured */
        g.curve[k] = k > last ? dir * least : g.curve[best];
    }
    if (c2c) c2c_sums(&g, v1, w, steps, from, nrec, c2c);
    ml__free(steps);
    *f = g;
    return 0;
}

typedef struct refine_sums { const ml_fit *f; double span, got[NK], want[NK]; } refine_sums;

/* one step into the bin of the read it starts from */
static void refine_step(void *ctx, int m, int nm, double from, double pred, double read)
{
    refine_sums *s = ctx;
    (void)m, (void)nm;
    int k = (int)floor((from - s->f->curve_lo) / s->span * NK);
    k = k < 0 ? 0 : k >= NK ? NK - 1 : k;
    s->got[k] += read - from;
    s->want[k] += pred - from;
}

void ml__curve_refine(const ml_run *runs, int nr, ml_fit *f)
{
    refine_sums s = {f, f->curve_hi - f->curve_lo, {0}, {0}};
    const double *got = s.got, *want = s.want;
    if (s.span == 0) return;
    ml__runs_steps(f, runs, nr, refine_step, &s);
    /* each bin's steps scaled by what the runs measured over what the curve predicted, where
     * the runs moved the device there (the ratio held within 1/2..2 against read noise) */
    for (int k = 0; k < NK; k++) {
        if (!(want[k] != 0) || !(got[k] / want[k] > 0)) continue;
        double ratio = got[k] / want[k];
        f->curve[k] *= ratio < 0.5 ? 0.5 : ratio > 2 ? 2 : ratio;
    }
}

int ml__fit_moves_unmodelled(const ml_fit *f)
{
    return f->status == ML_FIT_FAILED && fabs(f->g_lim - f->g_start) > 0.02 * fmax(fabs(f->g_lim), fabs(f->g_start));
}

int ml__curve_sub_pulses(const ml_fit *f, const ml_scheme *s, int P, double c2c)
{
    if (f->law != ML_LAW_CURVE || f->status == ML_FIT_FAILED || !(c2c > 0) || P < 1) return 1;
    double *grid = ml__malloc((size_t)(P + 1) * sizeof *grid);
    if (!grid) return 1;
    ml__plan_grid(f, s, P, grid);
    /* open loop, a deviation d at G grows to d c(G')/c(G) by G' (each pulse's drive is planned
     * for the level it should be at); each step adds C2C noise of c2c h / sqrt(m) with m
     * pulses per step of h: the spread at level j is c2c h sqrt(S_j / m), S_j = c_j^2 sum_k<=j
     * 1 / c_k^2. m keeps the worst level's spread within 0.3 h (within h/2 on 90 % of devices). */
    double inv = 0, worst = 0;
    for (int k = 1; k <= P; k++) {
        if (grid[k] == grid[k - 1]) break; /* the grid stays at its top from here */
        double ck = fabs(curve_at(f, 0.5 * (grid[k] + grid[k - 1])));
        if (!(ck > 0)) { ml__free(grid); return 1; }
        inv += 1 / (ck * ck);
        if (ck * ck * inv > worst) worst = ck * ck * inv;
    }
    ml__free(grid);
    double m = ceil(c2c * c2c * worst / (0.3 * 0.3) - 1e-9);
    return m < 1 ? 1 : m > ML__FF_SUB_MAX ? ML__FF_SUB_MAX : (int)m;
}
