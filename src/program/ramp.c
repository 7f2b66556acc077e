/* The ramp scheme: a linear amplitude (or width) ramp between two ends, by default the ends
 * of the feedforward schedule of the population's mean model. */
#include <math.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

static ml_status plan(ml_program_plan *pl, const ml_device *d, const ml_fit *mf, ml_error *err)
{
    const ml_scheme *s = &pl->s;
    const int P = pl->P;
    pl->r0 = s->v_start;
    pl->r1 = s->v_stop;
    if (pl->r0 > 0 && pl->r1 > 0) return ML_OK;
    size_t np = (size_t)P + 1;
    double *g = ml__malloc(np * sizeof *g), *vv = ml__malloc(np * sizeof *vv), *ww = ml__malloc(np * sizeof *ww);
    if (!g || !vv || !ww) { ml__free(g); ml__free(vv); ml__free(ww); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
    ml__plan_grid(mf, s, P, g);
    ml__schedule_ff(mf, d, s, g, P, vv, ww);
    if (pl->r0 <= 0) pl->r0 = s->modulate_width ? ww[1] : fabs(vv[1]);
    if (pl->r1 <= 0) pl->r1 = s->modulate_width ? ww[P] : fabs(vv[P]);
    ml__free(g); ml__free(vv); ml__free(ww);
    return ML_OK;
}

/* Pulse k (1..P) of the ramp. */
static void ramp_pulse(const ml_program_plan *pl, const ml_device *d, int k, double *v, double *w)
{
    const int P = pl->P, dir = pl->dir;
    double x = pl->r0 + (pl->r1 - pl->r0) * (P > 1 ? (double)(k - 1) / (P - 1) : 0);
    *w = pl->width;
    if (pl->s.modulate_width) { *v = dir * fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d); *w = x; }
    else *v = dir * x;
}

static void program(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw)
{
    (void)grid; (void)sv; (void)sw;
    const ml_fit *f = &pl->fits[i];
    double g_pred = f->g_start;
    for (int k = 1; k <= stop; k++) {
        double v, w;
        ramp_pulse(pl, t->dev, k, &v, &w);
        g_pred = ml_fit_predict(f, g_pred, v, w);
        pg_open_step(t, i, k, v, w, g_pred, c, st);
    }
}

/* The first pulses of the ramp, as many as put the planned level (the device's model)
 * nearest g. */
static void program_to(const ml_program_plan *pl, const ml_target *t, size_t i, double g, ml_cost *c, double *grid,
                       double *sv, double *sw)
{
    (void)grid;
    const ml_fit *f = &pl->fits[i];
    double g_pred = f->g_start, best = fabs(g - g_pred);
    int K = 0;
    for (int k = 1; k <= pl->P; k++) {
        ramp_pulse(pl, t->dev, k, &sv[k], &sw[k]);
        g_pred = ml_fit_predict(f, g_pred, sv[k], sw[k]);
        if (fabs(g - g_pred) < best) { best = fabs(g - g_pred); K = k; }
    }
    for (int k = 1; k <= K; k++) pg_pulse(t, i, sv[k], sw[k], c);
}

static int shares_schedule(const ml_scheme *s) { return !s->calib_per_device; }

static void schedule(const ml_program_plan *pl, const ml_device *d, double *v, double *w)
{
    for (int k = 1; k <= pl->P; k++) ramp_pulse(pl, d, k, &v[k], &w[k]);
}

const ml_scheme_type pg_ramp = {
    .name = "ramp",
    .calibrate = pg_calibrate_basic,
    .plan = plan,
    .program = program,
    .program_to = program_to,
    .shares_schedule = shares_schedule,
    .schedule = schedule,
};
