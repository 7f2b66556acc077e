/* Staircase driver: calibrate, then program P equal target steps from the reset state on
 * every device with the chosen scheme, recording true, read and planned conductances and
 * the cost. Devices run in parallel; each uses only its own random streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/program.h"
#include "program/internal.h"

void ml_staircase_free(ml_staircase *st)
{
    if (!st) return;
    free(st->g_true); free(st->g_read); free(st->g_mean); free(st->g_pred);
    free(st->v); free(st->w); free(st->pulses); free(st->fits); free(st->fits_other);
    free(st);
}

/* Identical pulses: the amplitude whose calibrated step fraction closes `coverage` of the
 * window in P pulses: (1 - alpha)^P = 1 - coverage. */
static double identical_amplitude(const ml_fit *f, const ml_scheme *s, const ml_device *d, int P)
{
    double alpha = -expm1(log1p(-s->coverage) / P);
    double width = s->width > 0 ? s->width : d->width;
    double v = f->v0 * log1p(alpha / (f->a * width / f->t_ref));
    return v > d->v_max ? d->v_max : v < d->v_th ? d->v_th : v;
}

static ml_fit mean_fit(const ml_fit *fits, size_t n)
{
    ml_fit m = fits[0];
    double a = 0, v0 = 0, gf = 0, gs = 0, gl = 0;
    for (size_t i = 0; i < n; i++) {
        a += log(fits[i].a); v0 += fits[i].v0; gf += fits[i].g_far; gs += fits[i].g_start; gl += fits[i].g_lim;
    }
    m.a = exp(a / n); m.v0 = v0 / n; m.g_far = gf / n; m.g_start = gs / n; m.g_lim = gl / n;
    return m;
}

static void record(ml_population *pop, ml_staircase *st, size_t i, int k)
{
    size_t idx = i * st->npts + (size_t)k;
    st->g_true[idx] = pop->g[i];
    st->g_read[idx] = ml_read1(pop, i);
    double m = 0;
    for (int r = 0; r < 4; r++) m += ml_read1(pop, i);
    st->g_mean[idx] = m / 4;
}

/* Feedforward + sparse verify: read, compare the displacement since the last read with
 * what the model predicted, rescale the model's gain by the ratio (the device's own
 * sensitivity: corrects device-to-device spread of a shared calibration), then re-plan the
 * remaining schedule from the measured state. */
typedef struct hybrid_state { double r_last, pred; } hybrid_state;

static void hybrid_verify(ml_population *pop, size_t i, const ml_scheme *s, ml_fit *fl, const double *grid, int P,
                          int k, int upto, double *sv, double *sw, hybrid_state *hy, ml_cost *c)
{
    const ml_device *d = &pop->dev;
    double r = ml_do_read(pop, i, c);
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

/* Everything the per-device programming needs, from calibration. */
typedef struct plan {
    const ml_scheme *s;
    const ml_device *d;
    int P, dir;
    ml_fit *fits, *other;  /* per device; other: verify's opposite polarity */
    double v_fixed, r0, r1, width;
    double *grid, *sv, *sw; /* one shared model: its grid and feedforward schedule, computed once */
} plan;

static void plan_free(plan *pl)
{
    free(pl->fits);
    free(pl->other);
    free(pl->grid);
    free(pl->sv);
    free(pl->sw);
    pl->fits = pl->other = NULL;
    pl->grid = pl->sv = pl->sw = NULL;
}

static ml_status prepare(ml_population *pop, const ml_scheme *s, int P, int dir, plan *pl, ml_cost *calib,
                         ml_error *err)
{
    const ml_device *d = &pop->dev;
    memset(pl, 0, sizeof *pl);
    if (P < 1 || P > 1000000)
        return ml_error_set(err, ML_EINVAL, "pulses: %d is out of range (1..1000000)", P);
    if (dir != 1 && dir != -1)
        return ml_error_set(err, ML_EINVAL, "direction must be up or down");
    if (s->width > 0 && (s->width < d->width_min || s->width > d->width_max))
        return ml_error_set(err, ML_EINVAL, "width: %g s outside the device's [%g, %g] s", s->width, d->width_min,
                            d->width_max);
    if (!(s->coverage > 0 && s->coverage < 1))
        return ml_error_set(err, ML_EINVAL, "coverage: %g must be within (0, 1)", s->coverage);
    if (s->v > d->v_max)
        return ml_error_set(err, ML_EINVAL, "v: %g V exceeds the device's v_max (%g V)", s->v, d->v_max);
    const size_t n = pop->n;
    pl->s = s; pl->d = d; pl->P = P; pl->dir = dir;
    pl->width = s->width > 0 ? s->width : d->width;
    if (!(pl->fits = calloc(n, sizeof(ml_fit)))) return ml_error_set(err, ML_ENOMEM, "out of memory");
    ml_status rc = ML_OK;
    if (!s->calib_per_device && s->shared) {
        /* a calibration made earlier (on other devices of the same kind) */
        for (size_t i = 0; i < n; i++) pl->fits[i] = *s->shared;
        if (s->kind == ML_SCHEME_VERIFY) {
            if (!(pl->other = calloc(n, sizeof(ml_fit)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
            else for (size_t i = 0; i < n; i++) pl->other[i] = s->shared_other ? *s->shared_other : *s->shared;
        }
    } else {
        rc = ml_calibrate(pop, s, dir, pl->fits, calib, err);
        if (!rc && s->kind == ML_SCHEME_FEEDFORWARD)
            rc = ml_ff_refine(pop, s, P, dir, pl->fits, calib, err);
        if (!rc && s->kind == ML_SCHEME_VERIFY) {
            if (!(pl->other = calloc(n, sizeof(ml_fit)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
            else rc = ml_calibrate(pop, s, -dir, pl->other, calib, err);
        }
    }
    if (rc) { plan_free(pl); return rc; }
    if (s->target_top > 0)
        for (size_t i = 0; i < n; i++) {
            const ml_fit *f = &pl->fits[i];
            double far = ml_fit_far(f), lo = fmin(f->g_start, far), hi = fmax(f->g_start, far);
            if (!((s->target_top - f->g_start) * dir > 0 && s->target_top >= lo && s->target_top <= hi)) {
                ml_status e = ml_error_set(err, ML_EINVAL, "target: %.4g uS is outside the %s window of device %zu (%.4g-%.4g uS, start %.4g uS)",
                                           s->target_top * 1e6, dir > 0 ? "potentiation" : "depression", i, lo * 1e6, hi * 1e6, f->g_start * 1e6);
                plan_free(pl);
                return e;
            }
        }
    ml_fit mf = mean_fit(pl->fits, n);
    if (!s->calib_per_device && s->kind == ML_SCHEME_FEEDFORWARD && s->verify_every == 0) {
        size_t np = (size_t)P + 1;
        pl->grid = malloc(np * sizeof(double));
        pl->sv = malloc(np * sizeof(double));
        pl->sw = malloc(np * sizeof(double));
        if (!pl->grid || !pl->sv || !pl->sw) { plan_free(pl); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
        ml_plan_grid(&pl->fits[0], s, P, pl->grid);
        ml_schedule_ff(&pl->fits[0], d, s, pl->grid, P, pl->sv, pl->sw);
    }
    pl->v_fixed = dir * (s->v > 0 ? s->v : identical_amplitude(&mf, s, d, P));
    /* ramp: a linear amplitude (or width) ramp between the ends of the mean feedforward schedule */
    pl->r0 = s->v_start;
    pl->r1 = s->v_stop;
    if (s->kind == ML_SCHEME_RAMP && (pl->r0 <= 0 || pl->r1 <= 0)) {
        size_t np = (size_t)P + 1;
        double *g = malloc(np * sizeof *g), *vv = malloc(np * sizeof *vv), *ww = malloc(np * sizeof *ww);
        if (!g || !vv || !ww) { free(g); free(vv); free(ww); plan_free(pl); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
        ml_plan_grid(&mf, s, P, g);
        ml_schedule_ff(&mf, d, s, g, P, vv, ww);
        if (pl->r0 <= 0) pl->r0 = s->modulate_width ? ww[1] : fabs(vv[1]);
        if (pl->r1 <= 0) pl->r1 = s->modulate_width ? ww[P] : fabs(vv[P]);
        free(g); free(vv); free(ww);
    }
    return ML_OK;
}

/* Program device i from reset along its staircase up to step `stop` (<= P). With st, every
 * step is recorded; without, verify goes straight to its target (programming one level). */
static void program_device(ml_population *pop, size_t i, const plan *pl, int stop, ml_cost *c, ml_staircase *st,
                           double *grid, double *sv, double *sw)
{
    const ml_scheme *s = pl->s;
    const ml_device *d = pl->d;
    const int P = pl->P, dir = pl->dir;
    const size_t np = (size_t)P + 1;
    const ml_fit *f = &pl->fits[i];
    const ml_fit *up = dir > 0 ? f : (pl->other ? &pl->other[i] : NULL);
    const ml_fit *down = dir > 0 ? (pl->other ? &pl->other[i] : NULL) : f;
    ml_fit fl = *f; /* hybrid: the model this device's schedule adapts */
    hybrid_state hy = {0, 0};
    double *gp = st ? st->g_pred + i * np : NULL, *pv = st ? st->v + i * np : NULL;
    double *pw = st ? st->w + i * np : NULL, *pp = st ? st->pulses + i * np : NULL;
    ml_program_reset1(pop, i, dir, c);
    if (pl->grid) { grid = pl->grid; sv = pl->sv; sw = pl->sw; } /* shared, precomputed */
    else ml_plan_grid(f, s, P, grid);
    if (st) { gp[0] = f->g_start; record(pop, st, i, 0); }
    if (!st && s->kind == ML_SCHEME_VERIFY) {
        if (stop > 0) ml_verify_to(pop, i, s, up, down, grid[stop], s->tol * fabs(grid[1] - grid[0]), c, NULL);
        return;
    }
    if (s->kind == ML_SCHEME_FEEDFORWARD && !pl->grid)
        ml_schedule_ff(f, d, s, grid, stop, sv, sw); /* only the steps this device takes */
    double g_pred = f->g_start;
    for (int k = 1; k <= stop; k++) {
        double v = pl->v_fixed, w = pl->width;
        switch (s->kind) {
        case ML_SCHEME_IDENTICAL:
            g_pred = ml_fit_predict(f, g_pred, v, w);
            break;
        case ML_SCHEME_RAMP: {
            double x = pl->r0 + (pl->r1 - pl->r0) * (P > 1 ? (double)(k - 1) / (P - 1) : 0);
            if (s->modulate_width) { v = dir * fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d); w = x; }
            else v = dir * x;
            g_pred = ml_fit_predict(f, g_pred, v, w);
            break;
        }
        case ML_SCHEME_FEEDFORWARD:
            if (s->verify_every > 0 && (k - 1) % s->verify_every == 0)
                hybrid_verify(pop, i, s, &fl, grid, P, k, stop, sv, sw, &hy, c);
            v = sv[k]; w = sw[k];
            g_pred = grid[k];
            if (s->verify_every > 0 && v != 0) hy.pred = ml_fit_predict(&fl, hy.pred, v, w);
            break;
        case ML_SCHEME_VERIFY: {
            double before = c->pulses, vl = 0;
            ml_verify_to(pop, i, s, up, down, grid[k], s->tol * fabs(grid[1] - grid[0]), c, &vl);
            gp[k] = grid[k];
            pv[k] = vl; pw[k] = pl->width; pp[k] = c->pulses - before;
            record(pop, st, i, k);
            continue;
        }
        }
        if (v != 0) ml_do_pulse(pop, i, v, w, c);
        if (st) {
            gp[k] = g_pred;
            pv[k] = v; pw[k] = w; pp[k] = v != 0;
            record(pop, st, i, k);
        }
    }
}

/* Run program_device over all devices in parallel; per-device costs summed in order. */
static ml_status run_all(ml_population *pop, const plan *pl, const int *stop, ml_staircase *st, ml_cost *total,
                         ml_error *err)
{
    const size_t n = pop->n, np = (size_t)pl->P + 1;
    ml_cost *cs = calloc(n, sizeof(ml_cost));
    if (!cs) return ml_error_set(err, ML_ENOMEM, "out of memory");
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        double *grid = malloc(np * sizeof *grid), *sv = malloc(np * sizeof *sv), *sw = malloc(np * sizeof *sw);
        if (!grid || !sv || !sw) oom = 1;
        #pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++)
            if (grid && sv && sw) program_device(pop, i, pl, stop ? stop[i] : pl->P, &cs[i], st, grid, sv, sw);
        free(grid); free(sv); free(sw);
    }
    for (size_t i = 0; i < n; i++) ml_cost_add(total, &cs[i]);
    free(cs);
    return oom ? ml_error_set(err, ML_ENOMEM, "out of memory") : ML_OK;
}

ml_status ml_program_staircase(ml_population *pop, const ml_scheme *s, int P, int dir, ml_staircase **out,
                               ml_error *err)
{
    ml_staircase *st = calloc(1, sizeof *st);
    if (!st) return ml_error_set(err, ML_ENOMEM, "out of memory");
    plan pl;
    ml_status rc = prepare(pop, s, P, dir, &pl, &st->calib_cost, err);
    if (rc) { free(st); return rc; }
    const size_t n = pop->n, np = (size_t)P + 1;
    st->ndev = n; st->npts = np; st->direction = dir;
    double **arrs[] = {&st->g_true, &st->g_read, &st->g_mean, &st->g_pred, &st->v, &st->w, &st->pulses};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0] && !rc; k++)
        if (!(*arrs[k] = calloc(n * np, sizeof(double)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory for the staircase");
    if (!rc) rc = run_all(pop, &pl, NULL, st, &st->cost, err);
    st->fits = pl.fits;          /* the staircase keeps the calibration */
    st->fits_other = pl.other;
    st->v_fixed = pl.v_fixed;
    pl.fits = pl.other = NULL;
    plan_free(&pl);
    if (rc) { ml_staircase_free(st); return rc; }
    *out = st;
    return ML_OK;
}

ml_status ml_program_levels(ml_population *pop, const ml_scheme *s, int P, int dir, const int *level, ml_cost *prog,
                            ml_cost *calib, ml_error *err)
{
    plan pl;
    ml_status rc = prepare(pop, s, P, dir, &pl, calib, err);
    if (rc) return rc;
    for (size_t i = 0; i < pop->n && !rc; i++)
        if (level[i] < 0 || level[i] > P) rc = ml_error_set(err, ML_EINVAL, "level %d of device %zu is outside 0..%d", level[i], i, P);
    if (!rc) rc = run_all(pop, &pl, level, NULL, prog, err);
    plan_free(&pl);
    return rc;
}
