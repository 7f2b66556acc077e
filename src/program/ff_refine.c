/* Feedforward's refinement runs: each calibrated device runs its planned schedule open loop
 * with sparse reads (ml__ff_run_once), and its model is refitted on the whole measured runs
 * (ml__ff_refine); a law that misfits the runs beyond their noise is flagged (runs_misfit). */
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

/* Reads of a refinement run: after every calib_read_every-th pulse, but at least 64 per run
 * (every pulse for short schedules). */
int ml__ff_read_stride(const ml_scheme *s, int P)
{
    int sd = P / 64;
    if (sd > s->calib_read_every) sd = s->calib_read_every;
    return sd > 1 ? sd : 1;
}

/* Run the schedule once on device i (sub pulses per step: v, w hold P sub) with a read after
 * every stride-th step; -1: out of memory. */
int ml__ff_run_once(const ml_target *t, size_t i, const ml_fit *f, const ml_scheme *s, int P, int sub, int dir,
                    double *v, double *w, double *rd, double *g0, ml_cost *c)
{
    const int sd = ml__ff_read_stride(s, P);
    const ml_device *d = t->dev;
    double *grid = ml__malloc((size_t)(P + 1) * sizeof *grid);
    if (!grid) return -1;
    ml__plan_grid(f, s, P, grid);
    if (sub > 1) ml__schedule_ff_sub(f, d, s, grid, P, sub, v, w);
    else ml__schedule_ff(f, d, s, grid, P, v - 1, w - 1);
    ml__free(grid);
    pg_reset1(t, i, s, dir, c);
    double m = 0;
    /* the start level: measured at calibration (f->g_start); re-read only with dense reads */
    if (sd > 1) m = 4 * f->g_start;
    else for (int r = 0; r < 4; r++) m += pg_read(t, i, c);
    *g0 = m / 4;
    const int n = P * sub, every = sd * sub;
    for (int k = 0; k < n; k++) {
        if (sub == 1 || v[k] != 0) pg_pulse(t, i, v[k], w[k], c);
        if ((k + 1) % every == 0) rd[k / every] = pg_read(t, i, c);
    }
    return 0;
}

typedef struct misfit_sums { double err[4], e2[4], tot[4], cnt[4]; } misfit_sums;

/* one step into its quarter's sums */
static void misfit_step(void *ctx, int m, int nm, double from, double pred, double read)
{
    misfit_sums *s = ctx;
    int b = 4 * m / nm;
    double e = read - pred;
    s->err[b] += e;
    s->e2[b] += e * e;
    s->cnt[b] += 1;
    s->tot[b] += fabs(pred - from);
}

/* Systematic misfit of f on runs: each increment between reads predicted from the read before
 * it; per quarter of the runs, the summed error over the summed predicted increment, counted
 * only where it stands out of the noise (over 3 standard errors of the sum: noise
 * averages out over a quarter's increments, a wrong law does not); the worst quarter. */
static double runs_misfit(const ml_fit *f, const ml_run *runs, int nr)
{
    misfit_sums s;
    memset(&s, 0, sizeof s);
    double *err = s.err, *e2 = s.e2, *tot = s.tot, *cnt = s.cnt, worst = 0;
    ml__runs_steps(f, runs, nr, misfit_step, &s);
    for (int b = 0; b < 4; b++) {
        if (cnt[b] < 2 || !(tot[b] > 0)) continue;
        double mean = err[b] / cnt[b], var = fmax(0, (e2[b] - cnt[b] * mean * mean) / (cnt[b] - 1));
        /* the sum's standard error: sqrt(n) times the errors' spread about their mean */
        if (fabs(err[b]) > 3 * sqrt(cnt[b] * var) && fabs(err[b]) / tot[b] > worst) worst = fabs(err[b]) / tot[b];
    }
    return worst;
}

ml_status ml__ff_refine(const ml_target *t, const ml_scheme *s, int P, int sub, int dir, ml_fit *fits, ml_cost *cost,
                       double *misfit, ml_error *err)
{
    const int R = s->calib_rounds;
    if (R <= 0) return ML_OK;
    if (sub < 1) sub = 1;
    const size_t n = t->n, ncal = s->calib_per_device ? n : (n < 8 ? n : 8);
    const size_t np = (size_t)P * sub, run = 2 * np + (size_t)P, per = (size_t)R * run;
    double *buf = ml__malloc(ncal * per * sizeof(double));
    double *g0s = ml__malloc(ncal * (size_t)R * sizeof(double));
    ml_cost *cs = ml__calloc(ncal, sizeof(ml_cost));
    ml_run *runs = ml__malloc(ncal * (size_t)R * sizeof(ml_run));
    if (!buf || !g0s || !cs || !runs) {
        ml__free(buf); ml__free(g0s); ml__free(cs); ml__free(runs);
        return ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    }
    ml_fit shared = fits[0];
    int oom = 0;
    for (int r = 0; r < R && !oom; r++) {
        #pragma omp parallel for schedule(dynamic, 16) reduction(| : oom)
        for (size_t i = 0; i < ncal; i++) {
            ml_fit *f = s->calib_per_device ? &fits[i] : &shared;
            double *b = buf + i * per + (size_t)r * run;
            if (ml__ff_run_once(t, i, f, s, P, sub, dir, b, b + np, b + 2 * np, &g0s[i * R + r], &cs[i])) { oom = 1; continue; }
            runs[i * R + r] = (ml_run){g0s[i * R + r], (int)np, b, b + np, b + 2 * np, ml__ff_read_stride(s, P) * sub};
            if (s->calib_per_device) {
                /* a curve: every run so far (each bin's ratio over all of them: read noise
                 * averages out; the newest alone left it in the curve) */
                if (f->law == ML_LAW_CURVE) ml__curve_refine(&runs[i * R], r + 1, f);
                else ml__fit_runs(&runs[i * R], r + 1, f);
                double gs = 0;
                for (int q = 0; q <= r; q++) gs += g0s[i * R + q];
                f->g_start = gs / (r + 1);
            }
        }
        if (!oom && !s->calib_per_device) {
            /* pooled refit over every calibration device's runs so far */
            ml_run *pool = ml__malloc(ncal * (size_t)(r + 1) * sizeof(ml_run));
            if (!pool) { oom = 1; break; }
            double gs = 0;
            size_t m = 0;
            for (size_t i = 0; i < ncal; i++)
                for (int q = 0; q <= r; q++) { pool[m++] = runs[i * R + q]; gs += runs[i * R + q].g0; }
            if (shared.law == ML_LAW_CURVE) { /* the newest runs */
                m = 0;
                for (size_t i = 0; i < ncal; i++) pool[m++] = runs[i * R + r];
                ml__curve_refine(pool, (int)m, &shared);
            } else ml__fit_runs(pool, (int)m, &shared);
            shared.g_start = gs / (double)m;
            ml__free(pool);
        }
    }
    if (oom) {
        ml__free(buf); ml__free(g0s); ml__free(cs); ml__free(runs);
        return ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    }
    if (!s->calib_per_device)
        for (size_t i = 0; i < n; i++) fits[i] = shared;
    /* one model for all: its misfit over every device's runs (device-to-device spread then
     * averages out; it is no law's misfit) */
    double pooled = misfit && !s->calib_per_device ? runs_misfit(&shared, runs, (int)(ncal * R)) : 0;
    for (size_t i = 0; misfit && i < ncal; i++)
        misfit[i] = s->calib_per_device ? runs_misfit(&fits[i], &runs[i * R], R) : pooled;
    for (size_t i = 0; i < ncal; i++) ml_cost_add(cost, &cs[i]);
    ml__free(buf); ml__free(g0s); ml__free(cs); ml__free(runs);
    return ML_OK;
}
