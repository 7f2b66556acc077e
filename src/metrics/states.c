/* Distinguishable states: uniform-grid programmability (DESIGN.md "States") for open-loop
 * and closed-loop schemes, ArC-style staircase states, and the measured read sigma. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "memlev/metrics.h"

/* Devices that calibration found stuck or dead count against yield, not in states. */
static int excluded(const ml_staircase *st, size_t i)
{
    return st->fits && st->fits[i].status == ML_FIT_FAILED;
}

static size_t live_devices(const ml_staircase *st)
{
    size_t c = 0;
    for (size_t i = 0; i < st->ndev; i++) c += !excluded(st, i);
    return c;
}

static double median(double *v, size_t n)
{
    ml_sort_doubles(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

ml_status ml_measure_sigma_read(ml_population *pop, int reads, double *sigma, ml_error *err)
{
    if (reads < 2) return ml_error_set(err, ML_EINVAL, "sigma_read: %d reads per device (need >= 2)", reads);
    size_t n = pop->n;
    double *sd = n <= SIZE_MAX / sizeof *sd ? ml__malloc(n * sizeof *sd) : NULL;
    if (!sd) return ml_error_set(err, ML_ENOMEM, "sigma_read: out of memory for %zu devices", n);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        /* the reads alone, as a lab has them: deviations from the first read (a shift that
         * keeps the sums small; the standard deviation does not depend on it) */
        double first = ml_read1(pop, i), m = 0, m2 = 0;
        for (int r = 1; r < reads; r++) {
            double x = ml_read1(pop, i) - first;
            m += x; m2 += x * x;
        }
        m /= reads;
        sd[i] = sqrt(fmax(0, (m2 - reads * m * m) / (reads - 1)));
    }
    *sigma = median(sd, n);
    ml__free(sd);
    return ML_OK;
}

/* Does an N-level grid pass on the open-loop staircase? -1: out of memory. */
static int open_pass(const ml_staircase *st, int N, double k, double sigma, double frac)
{
    const size_t np = st->npts, nd = st->ndev, nl = live_devices(st), first = st->grid_common ? 1 : 0;
    int *ok = ml__calloc((size_t)N, sizeof *ok);
    if (!ok) return -1;
    double spacing_sum = 0;
    if (!nl) { ml__free(ok); return 0; }
    for (size_t d = 0; d < nd; d++) {
        if (excluded(st, d)) continue;
        const double *gp = st->g_pred + d * np, *rd = st->g_read + d * np;
        double lo = gp[first], hi = gp[np - 1], s = (hi - lo) / (N - 1);
        spacing_sum += fabs(s);
        size_t n = first;
        int up = hi >= lo;
        for (int j = 0; j < N; j++) {
            double t = lo + s * j;
            /* planned curve is monotone: advance to the nearest planned point */
            while (n + 1 < np && (up ? gp[n + 1] <= t : gp[n + 1] >= t)) n++;
            size_t best = n;
            if (n + 1 < np && fabs(gp[n + 1] - t) < fabs(gp[n] - t)) best = n + 1;
            if (fabs(rd[best] - t) <= 0.5 * fabs(s)) ok[j]++;
        }
    }
    int pass = spacing_sum / nl >= k * sigma;
    for (int j = 0; j < N && pass; j++)
        if (ok[j] < frac * nl) pass = 0;
    ml__free(ok);
    return pass;
}

int ml_states_open(const ml_staircase *st, double k, double sigma, double frac)
{
    int nmax = (int)st->npts - (st->grid_common ? 1 : 0), best = 1, oom = 0;
    if (nmax < 2) return 1;
    #pragma omp parallel for schedule(dynamic, 8) reduction(max : best) reduction(| : oom)
    for (int N = 2; N <= nmax; N++) {
        int p = open_pass(st, N, k, sigma, frac);
        if (p < 0) oom = 1;
        else if (p && N > best) best = N;
    }
    return oom ? -1 : best;
}

/* Does an N-grid over the population's mean plan (steps first..P) pass? -1: out of memory. */
static int population_pass(const ml_staircase *st, const double *mp, int first, int N, double k, double sigma,
                           double frac)
{
    const size_t np = st->npts, nd = st->ndev, nl = live_devices(st);
    const double lo = mp[first], hi = mp[np - 1], s = (hi - lo) / (N - 1);
    if (!nl || !(fabs(s) >= k * sigma)) return 0;
    int up = hi >= lo;
    size_t n = (size_t)first;
    for (int j = 0; j < N; j++) {
        double t = lo + s * j;
        while (n + 1 < np && (up ? mp[n + 1] <= t : mp[n + 1] >= t)) n++;
        size_t best = n;
        if (n + 1 < np && fabs(mp[n + 1] - t) < fabs(mp[n] - t)) best = n + 1;
        size_t ok = 0;
        for (size_t d = 0; d < nd; d++)
            if (!excluded(st, d) && fabs(st->g_read[d * np + best] - t) <= 0.5 * fabs(s)) ok++;
        if (ok < frac * nl) return 0;
    }
    return 1;
}

int ml_states_population(const ml_staircase *st, double k, double sigma, double frac)
{
    const size_t np = st->npts, nd = st->ndev, nl = live_devices(st);
    const int first = st->grid_common ? 1 : 0;
    if ((size_t)first + 1 >= np) return 1;
    double *mp = ml__calloc(np, sizeof *mp);
    if (!mp) return -1;
    for (size_t d = 0; d < nd; d++)
        if (!excluded(st, d) || !nl)
            for (size_t j = 0; j < np; j++) mp[j] += st->g_pred[d * np + j];
    for (size_t j = 0; j < np; j++) mp[j] /= (double)(nl ? nl : nd);
    int nmax = (int)(np - (size_t)first), best = 1;
    #pragma omp parallel for schedule(dynamic, 8) reduction(max : best)
    for (int N = 2; N <= nmax; N++)
        if (population_pass(st, mp, first, N, k, sigma, frac) && N > best) best = N;
    ml__free(mp);
    return best;
}

/* Program every level of an N-grid from reset with write-verify; 1 if the grid passes,
 * -1 when out of memory. */
static int verify_pass(ml_population *pop, const ml_scheme *s, const ml_staircase *st, int N, double k,
                       double sigma, double frac, ml_cost *cost, double *ppl)
{
    const size_t nd = st->ndev, np = st->npts, nl = live_devices(st), first = st->grid_common ? 1 : 0;
    int dir = st->direction;
    int *ok = ml__calloc((size_t)N * nd, sizeof *ok);
    ml_cost *cs = ml__calloc(nd, sizeof *cs);
    if (!ok || !cs) { ml__free(ok); ml__free(cs); return -1; }
    double spacing_sum = 0;
    for (size_t i = 0; i < nd; i++)
        if (!excluded(st, i)) spacing_sum += fabs(st->g_pred[i * np + np - 1] - st->g_pred[i * np + first]) / (N - 1);
    #pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < nd; i++) {
        if (excluded(st, i)) continue;
        const double *gp = st->g_pred + i * np;
        double lo = gp[first], s_ = (gp[np - 1] - lo) / (N - 1);
        const ml_fit *f = &st->fits[i], *o = st->fits_other ? &st->fits_other[i] : NULL;
        for (int j = 0; j < N; j++) {
            double t = lo + s_ * j;
            ml_target tg;
            ml_target_population(&tg, pop);
            ml_program_reset_target(&tg, i, s, dir, &cs[i]);
            ml_verify_to(pop, i, s, dir > 0 ? f : o, dir > 0 ? o : f, t, s->tol * fabs(s_), &cs[i], NULL);
            double r = ml_read1(pop, i);
            ok[(size_t)j * nd + i] = fabs(r - t) <= 0.5 * fabs(s_);
        }
    }
    int pass = nl > 0 && spacing_sum / nl >= k * sigma;
    for (int j = 0; j < N && pass; j++) {
        size_t c = 0;
        for (size_t i = 0; i < nd; i++) c += ok[(size_t)j * nd + i];
        if (c < frac * nl) pass = 0;
    }
    ml_cost tot = {0};
    for (size_t i = 0; i < nd; i++) ml_cost_add(&tot, &cs[i]);
    *cost = tot;
    *ppl = nl ? (tot.pulses - tot.reset_pulses) / ((double)N * nl) : 0; /* the resets apart */
    ml__free(ok);
    ml__free(cs);
    return pass;
}

int ml_states_verify(ml_population *pop, const ml_scheme *s, const ml_staircase *st, double k, double sigma,
                     double frac, int n_max, ml_cost *cost, double *pulses_per_level)
{
    ml_cost c;
    double ppl;
    if (st->grid_common && n_max > (int)st->npts - 1) n_max = (int)st->npts - 1; /* reset is no level */
    if (n_max < 2) return 1;
    int p = verify_pass(pop, s, st, n_max, k, sigma, frac, &c, &ppl);
    if (p < 0) return -1;
    if (p) {
        *cost = c;
        *pulses_per_level = ppl;
        return n_max;
    }
    int lo = 1, hi = n_max; /* lo passes (trivially), hi fails */
    ml_cost bc = {0};
    double bp = 0;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if ((p = verify_pass(pop, s, st, mid, k, sigma, frac, &c, &ppl)) < 0) return -1;
        if (p) { lo = mid; bc = c; bp = ppl; }
        else hi = mid;
    }
    *cost = bc;
    *pulses_per_level = bp;
    return lo;
}

double ml_staircase_states(const ml_staircase *st, double k, double sigma)
{
    const size_t nd = st->ndev, np = st->npts;
    double *cnt = ml__malloc(nd * sizeof *cnt);
    if (!cnt) return -1;
    size_t m_ = 0;
    for (size_t i = 0; i < nd; i++) {
        if (excluded(st, i)) continue;
        const double *g = st->g_mean + i * np;
        double last = g[0];
        int c = 1;
        for (size_t j = 1; j < np; j++)
            if (fabs(g[j] - last) >= k * sigma) { c++; last = g[j]; }
        cnt[m_++] = c;
    }
    double m = m_ ? median(cnt, m_) : 1;
    ml__free(cnt);
    return m;
}

void ml_precision(const ml_staircase *st, double *rms, double *sigma, double *worst)
{
    double s = 0, s2 = 0, w = 0;
    size_t n = 0;
    for (size_t i = 0; i < st->ndev * st->npts; i++) {
        if (excluded(st, i / st->npts)) continue;
        n++;
        double e = st->g_true[i] - st->g_pred[i];
        s += e; s2 += e * e;
        if (fabs(e) > w) w = fabs(e);
    }
    if (!n) { *rms = *sigma = *worst = 0; return; }
    *rms = sqrt(s2 / n);
    double m = s / n;
    *sigma = sqrt(fmax(0, s2 / n - m * m));
    *worst = w;
}
