/* Feedforward scheme: plan P equal conductance steps and compute, from the calibrated model,
 * the pulse that moves the predicted state by exactly one step (amplitude or width).
 * Calibration is refined by running the schedule and refitting whole measured trajectories. */
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "core/steps.h"
#include "memlev/program.h"
#include "memlev/util.h"
#include "program/internal.h"

double ml_fit_far(const ml_fit *f)
{
    /* NeuroSim-like devices clamp at G_max before their asymptote */
    if (f->g_lim > 0 && fabs(f->g_lim - f->g_start) < fabs(f->g_far - f->g_start)) return f->g_lim;
    return f->g_far;
}

static double plan_top(const ml_fit *f, const ml_scheme *s)
{
    return s->target_top > 0 ? s->target_top : f->g_start + s->coverage * (ml_fit_far(f) - f->g_start);
}

void ml__plan_grid(const ml_fit *f, const ml_scheme *s, int P, double *grid)
{
    double top = plan_top(f, s);
    /* never finer than the device's finest step: fewer equal steps to the top, then stay */
    int Q = P;
    if (f->step_min > 0 && fabs(top - f->g_start) < P * f->step_min) {
        double q = floor(fabs(top - f->g_start) / f->step_min);
        Q = q < 1 ? 1 : (int)q;
    }
    double step = (top - f->g_start) / Q;
    for (int k = 0; k <= P; k++)
        grid[k] = f->g_start + step * (k < Q ? k : Q);
}

void ml__schedule_ff(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P,
                    double *v, double *w)
{
    int dir = f->g_far > f->g_start ? 1 : -1;
    double width = ml_fit_width(f, s, d);
    double vfix = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    for (int k = 1; k <= P; k++) {
        double dg = grid[k] - grid[k - 1];
        if (dg == 0) { v[k] = 0; w[k] = width; continue; } /* a level planned twice: no pulse */
        if (s->modulate_width) {
            v[k] = dir * vfix;
            w[k] = ml_fit_solve_width(f, grid[k - 1], dg, vfix, d->width_min, d->width_max);
        } else {
            double va = ml_fit_solve_v(f, grid[k - 1], dg, width, d->v_max);
            w[k] = width;
            /* a step the amplitude cannot make at this width (at v_max, or below the
             * threshold): keep the amplitude at its limit and solve for the width instead,
             * unless the scheme fixed the width */
            if (s->width <= 0 && (va >= d->v_max || va <= f->v_th * 1.02)) {
                va = va >= d->v_max ? d->v_max : f->v_th * 1.02;
                w[k] = ml_fit_solve_width(f, grid[k - 1], dg, va, d->width_min, d->width_max);
            }
            v[k] = dir * va;
        }
    }
}

void ml__schedule_ff_sub(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P, int sub,
                         double *v, double *w)
{
    double mini[ML__FF_SUB_MAX + 1], mv[ML__FF_SUB_MAX + 1], mw[ML__FF_SUB_MAX + 1];
    sub = sub < 1 ? 1 : sub > ML__FF_SUB_MAX ? ML__FF_SUB_MAX : sub;
    for (int k = 1; k <= P; k++) {
        double dg = grid[k] - grid[k - 1];
        int m = sub;
        if (f->step_min > 0) { /* parts no finer than the finest step the device makes */
            double q = floor(fabs(dg) / f->step_min);
            if (q < m) m = q < 1 ? 1 : (int)q;
        }
        for (int j = 0; j <= m; j++) mini[j] = grid[k - 1] + dg * j / m;
        ml__schedule_ff(f, d, s, mini, m, mv, mw);
        for (int j = 0; j < sub; j++) {
            size_t q = (size_t)(k - 1) * sub + j;
            v[q] = j < m ? mv[j + 1] : 0;
            w[q] = j < m ? mw[j + 1] : mw[1];
        }
    }
}

/* Feedforward + sparse verify: read, compare the displacement since the last read with
 * what the model predicted, rescale the model's gain by the ratio (the device's own
 * sensitivity: corrects device-to-device spread of a shared calibration), then re-plan the
 * remaining schedule from the measured state. */
typedef struct hybrid_state { double r_last, pred; } hybrid_state;

static void hybrid_verify(const ml_target *t, size_t i, const ml_scheme *s, ml_fit *fl, const double *grid, int P,
                          int k, int upto, double *sv, double *sw, hybrid_state *hy, ml_cost *c)
{
    const ml_device *d = t->dev;
    double r = pg_read(t, i, c);
    int dir = grid[P] > grid[0] ? 1 : -1;
    if (k > 1) {
        double obs = r - hy->r_last, prd = hy->pred - hy->r_last;
        double spacing = fabs(grid[1] - grid[0]);
        if (fabs(prd) > 2 * spacing) {
            double ratio = obs / prd;
            ratio = ratio < 0.5 ? 0.5 : ratio > 2 ? 2 : ratio;
            fl->a *= ratio;
        }
    }
    hy->r_last = hy->pred = r;
    for (int j = k; j <= upto; j++) { /* re-plan the steps still to come */
        double from = j == k ? r : grid[j - 1], dg = grid[j] - from;
        if ((dg > 0) != (dir > 0)) { sv[j] = 0; continue; } /* at or past the target: skip */
        if (s->modulate_width) sw[j] = ml_fit_solve_width(fl, from, dg, fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d), d->width_min, d->width_max);
        else sv[j] = dir * ml_fit_solve_v(fl, from, dg, sw[j], d->v_max);
    }
}

/* Refinement runs whose increments the refined soft-bounds model misses by more than this
 * fraction (runs_misfit): the device follows another law, so its step curve is measured. */
#define MISFIT_STEPS 0.15
/* Refinement runs of a measured curve, at least. */
#define CURVE_ROUNDS 6

/* Device i's soft-bounds model will not do: it failed on a device that moves, it misses the
 * refinement runs, or the device cannot make the planned steps under it (the schedule then
 * works at the device's limits, far from where the model was fitted). */
static int needs_curve(const ml_program_plan *pl, const ml_target *t, const ml_fit *f, double misfit)
{
    if (ml__fit_moves_unmodelled(f)) return 1;
    if (f->status == ML_FIT_FAILED) return 0;
    if (misfit > MISFIT_STEPS) return 1;
    double top = plan_top(f, &pl->s);
    return ml__fit_step_min(f, t->dev, &pl->s, top) > fabs(top - f->g_start) / pl->P;
}

/* Measure the step curve of the calibration devices whose soft-bounds model failed or misfits
 * (one model for all: of every calibration device, averaged, when the shared model does);
 * c2c[0], c2c[1]: the C2C sums of every curve measured (ml__curve_measure_c2c), added in device
 * order. Returns -1 when out of memory. */
static int curve_where_needed(ml_program_plan *pl, const ml_target *t, size_t ncal, const double *misfit,
                              ml_cost *calib, double *c2c)
{
    const ml_scheme *s = &pl->s;
    double *sums = ml__calloc(2 * ncal, sizeof *sums);
    if (!sums) return -1;
    if (s->calib_per_device) {
        ml_cost *cs = ml__calloc(ncal, sizeof *cs);
        if (!cs) { ml__free(sums); return -1; }
        #pragma omp parallel for schedule(dynamic, 4)
        for (size_t i = 0; i < ncal; i++)
            if (needs_curve(pl, t, &pl->fits[i], misfit ? misfit[i] : 0))
                ml__curve_measure_c2c(t, i, s, pl->dir, &pl->fits[i], &cs[i], &sums[2 * i]);
        for (size_t i = 0; i < ncal; i++) {
            ml_cost_add(calib, &cs[i]);
            c2c[0] += sums[2 * i];
            c2c[1] += sums[2 * i + 1];
        }
        ml__free(cs);
        ml__free(sums);
        return 0;
    }
    double mis = 0;
    for (size_t i = 0; misfit && i < ncal; i++) mis += misfit[i] / (double)ncal;
    if (!needs_curve(pl, t, &pl->fits[0], mis)) { ml__free(sums); return 0; }
    ml_fit *cf = ml__malloc(ncal * sizeof *cf);
    ml_cost *cs = ml__calloc(ncal, sizeof *cs);
    int *ok = ml__calloc(ncal, sizeof *ok);
    if (!cf || !cs || !ok) { ml__free(cf); ml__free(cs); ml__free(ok); ml__free(sums); return -1; }
    #pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < ncal; i++) {
        cf[i] = pl->fits[0];
        ok[i] = ml__curve_measure_c2c(t, i, s, pl->dir, &cf[i], &cs[i], &sums[2 * i]) == 0;
    }
    ml_fit m = {0};
    double lv0 = 0, lw = 0, k = 0;
    for (size_t i = 0; i < ncal; i++) {
        ml_cost_add(calib, &cs[i]);
        c2c[0] += sums[2 * i];
        c2c[1] += sums[2 * i + 1];
        if (!ok[i]) continue;
        if (k == 0) m = cf[i];
        else for (int q = 0; q < ML_FIT_CURVE_KNOTS; q++) m.curve[q] += cf[i].curve[q];
        lv0 += log(cf[i].v0);
        lw += log(cf[i].width);
        k++;
    }
    if (k > 0) {
        for (int q = 0; q < ML_FIT_CURVE_KNOTS; q++) m.curve[q] /= k;
        m.v0 = exp(lv0 / k);
        m.width = exp(lw / k);
        for (size_t i = 0; i < t->n; i++) pl->fits[i] = m;
    }
    ml__free(cf); ml__free(cs); ml__free(ok); ml__free(sums);
    return 0;
}

/* Equal steps no finer than each device makes at its lowest amplitude and width. */
static void set_step_min(ml_program_plan *pl, const ml_target *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (pl->fits[i].status != ML_FIT_FAILED)
            pl->fits[i].step_min = ml__fit_step_min(&pl->fits[i], t->dev, &pl->s, plan_top(&pl->fits[i], &pl->s));
}

/* A fallback device's open-loop staircase under the population's model may still miss its
 * plan by more than the spec (a level spacing, rms over the check run's reads).
 * Above it the device is programmed by write-verify (ML_FIT_VERIFY). */
#define CHECK_MISS_SPACINGS 1.0

/* The fallback's second stage: run each fallback device's own schedule once, open loop, read
 * as a refinement run reads (its cost is calibration), and send the devices whose reads miss
 * the plan by more than CHECK_MISS_SPACINGS rms to write-verify. Returns -1 when out of memory. */
static int check_fallbacks(ml_program_plan *pl, const ml_target *t, ml_cost *calib)
{
    const int P = pl->P, sd = ml__ff_read_stride(&pl->s, P);
    size_t nfb = 0;
    for (size_t i = 0; i < t->n; i++) nfb += pl->fits[i].status == ML_FIT_FALLBACK;
    if (!nfb) return 0;
    ml_cost *cs = ml__calloc(t->n, sizeof *cs);
    if (!cs) return -1;
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        double *b = ml__malloc((size_t)(4 * P + 1) * sizeof *b);
        if (!b) oom = 1;
        #pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < t->n; i++) {
            ml_fit *f = &pl->fits[i];
            if (!b || f->status != ML_FIT_FALLBACK) continue;
            double *v = b, *w = b + P, *rd = b + 2 * P, *grid = b + 3 * P, g0;
            if (ml__ff_run_once(t, i, f, &pl->s, P, 1, pl->dir, v, w, rd, &g0, &cs[i])) { oom = 1; continue; }
            ml__plan_grid(f, &pl->s, P, grid);
            const double h = fabs(grid[1] - grid[0]);
            double e2 = 0;
            int nm = P / sd;
            for (int m = 0; m < nm; m++) {
                double e = rd[m] - grid[(m + 1) * sd];
                e2 += e * e;
            }
            if (nm > 0 && !(sqrt(e2 / nm) <= CHECK_MISS_SPACINGS * h)) f->status = ML_FIT_VERIFY;
        }
        ml__free(b);
    }
    for (size_t i = 0; i < t->n; i++) ml_cost_add(calib, &cs[i]);
    ml__free(cs);
    return oom ? -1 : 0;
}

/* The fraction of devices a level must hold (the levels study's default pass fraction):
 * expected_states scores its devices' quantile below it. */
#define EXPECT_FRAC 0.9

/* One open-loop run of every device's staircase (reads at the refinement stride, as
 * check_fallbacks reads): device i holds about 1 + W/s levels, W its window and s the larger
 * of its planned step and the spacing at which 90 % of its reads fall within half a spacing
 * of their level (2 x 1.645 x the rms miss); the population, the quantile that EXPECT_FRAC of
 * the devices reach. Write-verify devices (ML_FIT_VERIFY) hold their planned levels. */
static double expected_states(const ml_program_plan *pl, const ml_target *t, ml_cost *calib)
{
    const int P = pl->P, sub = pl->sub > 1 ? pl->sub : 1, sd = ml__ff_read_stride(&pl->s, P);
    double *states = ml__calloc(t->n, sizeof *states);
    ml_cost *cs = ml__calloc(t->n, sizeof *cs);
    if (!states || !cs) { ml__free(states); ml__free(cs); return -1; }
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        double *b = ml__malloc((size_t)(2 * P * sub + 2 * P + 1) * sizeof *b);
        if (!b) oom = 1;
        #pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < t->n; i++) {
            const ml_fit *f = &pl->fits[i];
            states[i] = NAN;
            if (!b || f->status == ML_FIT_FAILED) continue;
            double *v = b, *w = b + P * sub, *rd = w + P * sub, *grid = rd + P, g0;
            ml__plan_grid(f, &pl->s, P, grid);
            int q = ml__distinct_steps(grid, (size_t)P + 1);
            double win = fabs(grid[P] - grid[0]), step = q ? win / q : 0;
            if (f->status == ML_FIT_VERIFY) { states[i] = 1 + q; continue; }
            if (ml__ff_run_once(t, i, f, &pl->s, P, sub, pl->dir, v, w, rd, &g0, &cs[i])) { oom = 1; continue; }
            double e2 = 0;
            int nm = P / sd;
            for (int m = 0; m < nm; m++) e2 += (rd[m] - grid[(m + 1) * sd]) * (rd[m] - grid[(m + 1) * sd]);
            double s = fmax(step, 2 * 1.645 * sqrt(nm ? e2 / nm : 0));
            states[i] = s > 0 ? 1 + win / s : 1;
        }
        ml__free(b);
    }
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        ml_cost_add(calib, &cs[i]);
        if (!isnan(states[i])) states[m++] = states[i];
    }
    double r = 0;
    if (m) {
        ml_sort_doubles(states, m);
        r = states[(size_t)floor((1 - EXPECT_FRAC) * (double)(m - 1))];
    }
    ml__free(states);
    ml__free(cs);
    return oom ? -1 : r;
}

static ml_status calibrate(ml_program_plan *pl, const ml_target *t, ml_cost *calib, ml_error *err)
{
    ml_cost basic = {0};
    ml_status rc = pg_calibrate_basic(pl, t, &basic, err);
    ml_cost_add(calib, &basic);
    if (rc) return rc;
    ml_scheme s = pl->s;
    size_t ncal = s.calib_per_device ? t->n : (t->n < 8 ? t->n : 8);
    if (s.calib_budget > 0) {
        /* refinement runs (a reset and P pulses each) in what the characterisation left */
        double left = s.calib_budget - basic.pulses / (double)ncal;
        s.calib_rounds = left > 0 ? (int)(left / (pl->P + 1)) : 0;
    }
    double *misfit = ml__calloc(ncal, sizeof *misfit);
    if (!misfit) return ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    double c2c[2] = {0, 0};
    rc = ml__ff_refine(t, &s, pl->P, 1, pl->dir, pl->fits, calib, s.calib_rounds > 0 ? misfit : NULL, err);
    if (!rc && curve_where_needed(pl, t, ncal, s.calib_rounds > 0 ? misfit : NULL, calib, c2c))
        rc = ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    ml__free(misfit);
    if (rc) return rc;
    set_step_min(pl, t);
    /* measured curves: refinement runs of the schedule they plan (cheap beside the curve
     * trains; each corrects the bins its steps cross) */
    int curves = 0;
    for (size_t i = 0; i < ncal; i++) curves |= pl->fits[i].law == ML_LAW_CURVE;
    if (curves) {
        /* C2C the curve trains measured (read noise cancelled) sets the pulses per step: an
         * open-loop staircase adds it up, and on a curve whose steps grow with G amplifies it
         * (per device only: a shared schedule is one pulse a step) */
        pl->c2c = c2c[0] > 0 && c2c[1] > 0 ? sqrt(c2c[0] / c2c[1]) : 0;
        pl->sub = 1;
        if (s.calib_per_device && s.verify_every == 0 && s.ff_max_pulses == 0)
            for (size_t i = 0; i < ncal; i++) {
                int m = ml__curve_sub_pulses(&pl->fits[i], &s, pl->P, pl->c2c);
                if (m > pl->sub) pl->sub = m;
            }
        if (s.calib_rounds < CURVE_ROUNDS) s.calib_rounds = CURVE_ROUNDS;
        if ((rc = ml__ff_refine(t, &s, pl->P, pl->sub, pl->dir, pl->fits, calib, NULL, err))) return rc;
        set_step_min(pl, t);
    }
    if (s.calib_per_device && check_fallbacks(pl, t, calib))
        return ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    return ML_OK;
}

static int shares_schedule(const ml_scheme *s)
{
    return !s->calib_per_device && s->verify_every == 0 && s->ff_max_pulses == 0;
}

enum { ONE_SHOT_MAX = 256 };

/* One-shot: from device i's reset level (it is at reset) to g in equal steps of at least a
 * spacing h, at most K of them (cycle-to-cycle noise grows with a pulse's step, so K smaller
 * steps land closer than one large one), scheduled under the device's model; no reads.
 * Returns the pulses applied and the last pulse in *v_last, *w_last. */
static int one_shot(const ml_program_plan *pl, const ml_target *t, size_t i, double g, double h, ml_cost *c,
                    double *v_last, double *w_last)
{
    const ml_fit *f = &pl->fits[i];
    const double g0 = f->g_start;
    double sub[ONE_SHOT_MAX + 1], v[ONE_SHOT_MAX + 1], w[ONE_SHOT_MAX + 1];
    *v_last = *w_last = 0;
    if (!((g - g0) * pl->dir > 0)) return 0; /* at or below the reset level: stay there */
    double q = ceil(fabs((g - g0) / h) - 1e-9);
    int m = q < 1 ? 1 : q > pl->s.ff_max_pulses ? pl->s.ff_max_pulses : (int)q;
    for (int j = 0; j <= m; j++) sub[j] = g0 + (g - g0) * j / m;
    ml__schedule_ff(f, t->dev, &pl->s, sub, m, v, w);
    int n = 0;
    for (int j = 1; j <= m; j++)
        if (v[j] != 0) { pg_pulse(t, i, v[j], w[j], c); n++; *v_last = v[j]; *w_last = w[j]; }
    return n;
}

/* One model and no reads: one grid and schedule for every device, computed once. */
static ml_status plan(ml_program_plan *pl, const ml_device *d, const ml_fit *mf, ml_error *err)
{
    (void)mf;
    if (!shares_schedule(&pl->s)) return ML_OK;
    size_t np = (size_t)pl->P + 1;
    pl->grid = ml__malloc(np * sizeof(double));
    pl->sv = ml__malloc(np * sizeof(double));
    pl->sw = ml__malloc(np * sizeof(double));
    if (!pl->grid || !pl->sv || !pl->sw) return ml_error_set(err, ML_ENOMEM, "out of memory");
    pg_plan_grid(pl, 0, pl->grid);
    ml__schedule_ff(&pl->fits[0], d, &pl->s, pl->grid, pl->P, pl->sv, pl->sw);
    return ML_OK;
}

/* The shared schedule plan() computed (shares_schedule only). */
static void schedule(const ml_program_plan *pl, const ml_device *d, double *v, double *w)
{
    (void)d;
    for (int k = 1; k <= pl->P; k++) { v[k] = pl->sv[k]; w[k] = pl->sw[k]; }
}

/* Apply steps 1..stop of a schedule over grid[0..P] (hybrid: re-planned as it reads). */
static void steps(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, int P, ml_cost *c,
                  ml_staircase *st, const double *grid, double *sv, double *sw)
{
    const ml_scheme *s = &pl->s;
    ml_fit fl = pl->fits[i]; /* hybrid: the model this device's schedule adapts */
    hybrid_state hy = {0, 0};
    for (int k = 1; k <= stop; k++) {
        if (s->verify_every > 0 && (k - 1) % s->verify_every == 0)
            hybrid_verify(t, i, s, &fl, grid, P, k, stop, sv, sw, &hy, c);
        double v = sv[k], w = sw[k];
        if (s->verify_every > 0 && v != 0) hy.pred = ml_fit_predict(&fl, hy.pred, v, w);
        pg_open_step(t, i, k, v, w, grid[k], c, st);
    }
}

/* A device the fallback check sent to write-verify (ML_FIT_VERIFY): closed loop toward g
 * within the scheme's tolerance of spacing h, with its (population) model for the first pulse
 * of the staircase's polarity; returns the pulses applied, the last in *v_last. */
static int verify_level(const ml_program_plan *pl, const ml_target *t, size_t i, double g, double h, ml_cost *c,
                        double *v_last)
{
    const ml_fit *f = &pl->fits[i];
    double before = c->pulses;
    *v_last = 0;
    pg_verify_to(t, i, &pl->s, pl->dir > 0 ? f : NULL, pl->dir > 0 ? NULL : f, g, pl->s.tol * fabs(h), c, v_last);
    return (int)(c->pulses - before);
}

/* Every level of a write-verify device: walking the staircase, or (one-shot) each from reset. */
static void program_verify(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                           ml_staircase *st, const double *grid, double h)
{
    double vl;
    if (!st) { if (stop > 0) verify_level(pl, t, i, grid[stop], h, c, &vl); return; }
    for (int k = 1; k <= stop; k++) {
        if (k > 1 && pl->s.ff_max_pulses > 0) pg_reset1(t, i, &pl->s, pl->dir, c);
        int n = verify_level(pl, t, i, grid[k], h, c, &vl);
        size_t idx = i * st->npts + (size_t)k;
        st->g_pred[idx] = grid[k];
        st->v[idx] = vl; st->w[idx] = ml_fit_width(NULL, &pl->s, t->dev); st->pulses[idx] = n;
        pg_record(t, st, i, k);
    }
}

/* Steps 1..stop of device i's staircase over grid, pl->sub pulses each (open loop). */
static void steps_sub(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c, ml_staircase *st,
                      const double *grid)
{
    double v[ML__FF_SUB_MAX], w[ML__FF_SUB_MAX];
    for (int k = 1; k <= stop; k++) {
        ml__schedule_ff_sub(&pl->fits[i], t->dev, &pl->s, grid + k - 1, 1, pl->sub, v, w);
        int n = 0;
        double vl = 0, wl = w[0];
        for (int j = 0; j < pl->sub; j++)
            if (v[j] != 0) { pg_pulse(t, i, v[j], w[j], c); n++; vl = v[j]; wl = w[j]; }
        if (st) {
            size_t idx = i * st->npts + (size_t)k;
            st->g_pred[idx] = grid[k];
            st->v[idx] = vl; st->w[idx] = wl; st->pulses[idx] = n;
            pg_record(t, st, i, k);
        }
    }
}

static void program(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw)
{
    /* the spacing (write-verify's tolerance, one-shot's least step): a shared grid's last
     * step; an own grid's first (a grid limited by the device's finest step stays at its top
     * early) */
    const double h = pl->s.grid_common ? grid[pl->P] - grid[pl->P - 1] : grid[1] - grid[0];
    if (pl->fits[i].status == ML_FIT_VERIFY) {
        program_verify(pl, t, i, stop, c, st, grid, h);
        return;
    }
    if (pl->s.ff_max_pulses > 0) {
        /* one-shot: each level straight from reset (a staircase resets before every level) */
        double vl, wl;
        if (!st) { if (stop > 0) one_shot(pl, t, i, grid[stop], h, c, &vl, &wl); return; }
        for (int k = 1; k <= stop; k++) {
            if (k > 1) pg_reset1(t, i, &pl->s, pl->dir, c);
            int n = one_shot(pl, t, i, grid[k], h, c, &vl, &wl);
            size_t idx = i * st->npts + (size_t)k;
            st->g_pred[idx] = grid[k];
            st->v[idx] = vl; st->w[idx] = wl; st->pulses[idx] = n;
            pg_record(t, st, i, k);
        }
        return;
    }
    if (pl->sub > 1) { steps_sub(pl, t, i, stop, c, st, grid); return; }
    if (!pl->grid) ml__schedule_ff(&pl->fits[i], t->dev, &pl->s, grid, stop, sv, sw); /* only the steps taken */
    steps(pl, t, i, stop, pl->P, c, st, grid, sv, sw);
}

/* Equal steps to g, scheduled under the device's model (the shared one when it has no own). */
static void program_to(const ml_program_plan *pl, const ml_target *t, size_t i, double g, ml_cost *c, double *grid,
                       double *sv, double *sw)
{
    if (pl->fits[i].status == ML_FIT_VERIFY) {
        double vl;
        verify_level(pl, t, i, g, pg_spacing(pl, i, grid), c, &vl);
        return;
    }
    if (pl->s.ff_max_pulses > 0) {
        double vl, wl, h = pg_spacing(pl, i, grid);
        one_shot(pl, t, i, g, h, c, &vl, &wl);
        return;
    }
    int K = pg_grid_to(pl, i, g, grid);
    if (K == 0) return;
    if (pl->sub > 1) { steps_sub(pl, t, i, K, c, NULL, grid); return; }
    ml__schedule_ff(&pl->fits[i], t->dev, &pl->s, grid, K, sv, sw);
    steps(pl, t, i, K, K, c, NULL, grid, sv, sw);
}

const ml_scheme_type pg_feedforward = {
    .name = "feedforward",
    .calib_trains = 4,
    .targets = 1,
    .calib_train_len = 30,
    .calibrate = calibrate,
    .expected_states = expected_states,
    .plan = plan,
    .program = program,
    .program_to = program_to,
    .shares_schedule = shares_schedule,
    .schedule = schedule,
};
