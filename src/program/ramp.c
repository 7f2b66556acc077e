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

static void program(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw)
{
    (void)grid; (void)sv; (void)sw;
    const ml_device *d = t->dev;
    const int P = pl->P, dir = pl->dir;
    const ml_fit *f = &pl->fits[i];
    double g_pred = f->g_start;
    for (int k = 1; k <= stop; k++) {
        double v, w = pl->width;
        double x = pl->r0 + (pl->r1 - pl->r0) * (P > 1 ? (double)(k - 1) / (P - 1) : 0);
        if (pl->s.modulate_width) { v = dir * fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d); w = x; }
        else v = dir * x;
        g_pred = ml_fit_predict(f, g_pred, v, w);
        pg_open_step(t, i, k, v, w, g_pred, c, st);
    }
}

static int shares_schedule(const ml_scheme *s) { return !s->calib_per_device; }

const ml_scheme_type pg_ramp = {
    .name = "ramp",
    .calibrate = pg_calibrate_basic,
    .plan = plan,
    .program = program,
    .shares_schedule = shares_schedule,
};
