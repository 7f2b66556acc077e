/* The identical scheme: one pulse (amplitude and width) repeated; its amplitude is the one
 * whose calibrated step fraction closes `coverage` of the window in P pulses, or given. */
#include <math.h>
#include "memlev/program.h"
#include "program/internal.h"

/* Identical pulses: the amplitude whose calibrated step fraction closes `coverage` of the
 * window in P pulses: (1 - alpha)^P = 1 - coverage. */
static double identical_amplitude(const ml_fit *f, const ml_scheme *s, const ml_device *d, int P)
{
    double alpha = -expm1(log1p(-s->coverage) / P);
    double width = s->width > 0 ? s->width : d->width;
    double v = f->v0 * log1p(alpha / (f->a * width / f->t_ref));
    return v > d->v_max ? d->v_max : v < d->v_th ? d->v_th : v;
}

static ml_status plan(ml_program_plan *pl, const ml_device *d, const ml_fit *mf, ml_error *err)
{
    (void)err;
    const ml_scheme *s = &pl->s;
    pl->v_fixed = pl->dir * (s->v > 0 ? s->v : identical_amplitude(mf, s, d, pl->P));
    return ML_OK;
}

static void program(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw)
{
    (void)grid; (void)sv; (void)sw;
    const ml_fit *f = &pl->fits[i];
    double g_pred = f->g_start;
    for (int k = 1; k <= stop; k++) {
        g_pred = ml_fit_predict(f, g_pred, pl->v_fixed, pl->width);
        pg_open_step(t, i, k, pl->v_fixed, pl->width, g_pred, c, st);
    }
}

/* The number of pulses whose planned level (the device's model) lies nearest g. */
static void program_to(const ml_program_plan *pl, const ml_target *t, size_t i, double g, ml_cost *c, double *grid,
                       double *sv, double *sw)
{
    (void)grid; (void)sv; (void)sw;
    const ml_fit *f = &pl->fits[i];
    double g_pred = f->g_start, best = fabs(g - g_pred);
    int K = 0;
    for (int k = 1; k <= pl->P; k++) {
        g_pred = ml_fit_predict(f, g_pred, pl->v_fixed, pl->width);
        if (fabs(g - g_pred) < best) { best = fabs(g - g_pred); K = k; }
    }
    for (int k = 1; k <= K; k++) pg_pulse(t, i, pl->v_fixed, pl->width, c);
}

static int shares_schedule(const ml_scheme *s) { return !s->calib_per_device; }

static void schedule(const ml_program_plan *pl, const ml_device *d, double *v, double *w)
{
    (void)d;
    for (int k = 1; k <= pl->P; k++) { v[k] = pl->v_fixed; w[k] = pl->width; }
}

/* Fixed amplitudes in 25 mV steps from max(1.05 v_th, v_nominal / 2) to
 * min(v_max, 2 v_nominal), when no amplitude is given. */
static int sweep(const ml_scheme *s, const ml_device *d, int dir, double *v, int max, double *v_hi)
{
    if (s->v > 0) return 0;
    double vmax = d->v_max, v0 = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    double vlo = fmax(d->v_th * 1.05, 0.5 * v0), vhi = fmin(vmax, 2.0 * v0);
    int nv = (int)floor((vhi - vlo) / 0.025 + 1e-9) + 1;
    if (nv < 2) nv = 2;
    for (int q = 0; v && q < nv && q < max; q++) {
        v[q] = vlo + 0.025 * q;
        if (v[q] > vhi) v[q] = vhi;
    }
    if (v_hi) *v_hi = vhi;
    return nv;
}

const ml_scheme_type pg_identical = {
    .name = "identical",
    .fixed_amplitude = 1,
    .calibrate = pg_calibrate_basic,
    .plan = plan,
    .program = program,
    .program_to = program_to,
    .shares_schedule = shares_schedule,
    .schedule = schedule,
    .sweep = sweep,
};
