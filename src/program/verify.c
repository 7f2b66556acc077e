/* Closed-loop write-verify (Alibart 2012 / ArC ConvergeToState style): read, compare with
 * the target within a tolerance, pulse toward it; the amplitude starts from the calibrated
 * model's estimate for half the remaining error and ramps by v_step while the polarity holds;
 * an overshoot reverses the polarity and restarts the ramp; give up after a pulse cap or too
 * many reversals. */
#include <math.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

int pg_verify_to(const ml_target *t, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last)
{
    const ml_device *d = t->dev;
    double width = ml_fit_width(NULL, s, d);
    int pol = 0, rev = 0;
    double v = 0;
    for (int p = 0; p <= s->max_pulses; p++) {
        double r = pg_read(t, i, cost);
        double e = target - r;
        if (fabs(e) <= tol_s) {
            cost->converged++;
            return 1;
        }
        if (p == s->max_pulses) break;
        int want = e > 0 ? 1 : -1;
        if (want != pol) {
            if (pol != 0 && ++rev > s->max_reversals) break;
            pol = want;
            /* model estimate for half the error; without a model, start at threshold */
            const ml_fit *f = pol > 0 ? fit_up : fit_down;
            width = ml_fit_width(f, s, d); /* the polarity's calibrated operating width */
            v = f && f->status != ML_FIT_FAILED ? ml_fit_solve_v(f, r, 0.5 * e, width, d->v_max) : d->v_th * 1.05;
        } else {
            v += s->v_step;
            if (v > d->v_max) v = d->v_max;
        }
        pg_pulse(t, i, pol * v, width, cost);
        if (v_last) *v_last = pol * v;
    }
    cost->failed++;
    return 0;
}

int ml_verify_to(ml_population *pop, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last)
{
    ml_target t;
    ml_target_population(&t, pop);
    return pg_verify_to(&t, i, s, fit_up, fit_down, target, tol_s, cost, v_last);
}

/* Both polarities: the staircase's and the opposite one (to correct an overshoot). */
static ml_status calibrate(ml_program_plan *pl, const ml_target *t, ml_cost *calib, ml_error *err)
{
    ml_status rc = pg_calibrate_basic(pl, t, calib, err);
    if (rc) return rc;
    if (!(pl->other = ml__calloc(pl->n, sizeof(ml_fit)))) return ml_error_set(err, ML_ENOMEM, "out of memory");
    if ((rc = ml_calibrate_target(t, &pl->s, -pl->dir, pl->other, calib, err))) return rc;
    /* a polarity soft bounds cannot describe on a device that moves (steps growing toward the
     * bound): its measured step curve, so the device is programmed, not excluded */
    ml_cost *cs = ml__calloc(t->n, sizeof *cs);
    if (!cs) return ml_error_set(err, ML_ENOMEM, "out of memory");
    #pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < t->n; i++) {
        if (ml__fit_moves_unmodelled(&pl->fits[i])) ml__curve_measure(t, i, &pl->s, pl->dir, &pl->fits[i], &cs[i]);
        if (ml__fit_moves_unmodelled(&pl->other[i])) ml__curve_measure(t, i, &pl->s, -pl->dir, &pl->other[i], &cs[i]);
    }
    for (size_t i = 0; i < t->n; i++) ml_cost_add(calib, &cs[i]);
    ml__free(cs);
    return ML_OK;
}

/* Straight to the target level without st; with st, through every level of the staircase. */
static void program(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw)
{
    (void)sv; (void)sw;
    const ml_scheme *s = &pl->s;
    const int dir = pl->dir;
    const ml_fit *f = &pl->fits[i];
    const ml_fit *up = dir > 0 ? f : (pl->other ? &pl->other[i] : NULL);
    const ml_fit *down = dir > 0 ? (pl->other ? &pl->other[i] : NULL) : f;
    if (!st) {
        if (stop > 0) pg_verify_to(t, i, s, up, down, grid[stop], s->tol * fabs(grid[pl->P] - grid[pl->P - 1]), c, NULL);
        return;
    }
    for (int k = 1; k <= stop; k++) {
        double before = c->pulses, vl = 0;
        pg_verify_to(t, i, s, up, down, grid[k], s->tol * fabs(grid[pl->P] - grid[pl->P - 1]), c, &vl);
        size_t idx = i * st->npts + (size_t)k;
        st->g_pred[idx] = grid[k];
        st->v[idx] = vl; st->w[idx] = pl->width; st->pulses[idx] = c->pulses - before;
        pg_record(t, st, i, k);
    }
}

/* Straight from reset to g, within tol of the device's staircase spacing. */
static void program_to(const ml_program_plan *pl, const ml_target *t, size_t i, double g, ml_cost *c, double *grid,
                       double *sv, double *sw)
{
    (void)sv; (void)sw;
    const ml_fit *f = &pl->fits[i], *o = pl->other ? &pl->other[i] : NULL;
    double h = fabs(pg_spacing(pl, i, grid));
    pg_verify_to(t, i, &pl->s, pl->dir > 0 ? f : o, pl->dir > 0 ? o : f, g, pl->s.tol * h, c, NULL);
}

static int shares_schedule(const ml_scheme *s) { (void)s; return 0; }

const ml_scheme_type pg_verify = {
    .name = "verify",
    .closed_loop = 1,
    .targets = 1,
    .calibrate = calibrate,
    .opposite = 1,
    .program = program,
    .program_to = program_to,
    .shares_schedule = shares_schedule,
};
