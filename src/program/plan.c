/* The program plan: calibrate a scheme on a target's devices and precompute (planning), then
 * program levels or whole staircases on any target of that many devices (execution). The
 * planner knows no scheme: each scheme is a const table (struct ml_scheme_type). Devices run
 * in parallel; each uses only its own random streams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

void ml_staircase_free(ml_staircase *st)
{
    if (!st) return;
    ml__free(st->g_true); ml__free(st->g_read); ml__free(st->g_mean); ml__free(st->g_pred);
    ml__free(st->v); ml__free(st->w); ml__free(st->pulses); ml__free(st->fits); ml__free(st->fits_other);
    ml__free(st->reset_n); ml__free(st->reset_v); ml__free(st->reset_w); ml__free(st->reset_g);
    ml__free(st);
}

void ml_program_plan_free(ml_program_plan *pl)
{
    if (!pl) return;
    ml__free(pl->fits);
    ml__free(pl->other);
    ml__free(pl->grid);
    ml__free(pl->sv);
    ml__free(pl->sw);
    ml__free(pl->shv);
    ml__free(pl->shw);
    ml__free(pl);
}

/* Mean of the fits of devices that calibrated (failed ones excluded; all of them if none did). */
static ml_fit mean_fit(const ml_fit *fits, size_t n)
{
    ml_fit m = fits[0];
    double a = 0, v0 = 0, gf = 0, gs = 0, gl = 0, lw = 0;
    size_t c = 0;
    int all = 1;
    for (size_t i = 0; i < n && all; i++) all = fits[i].status == ML_FIT_FAILED;
    for (size_t i = 0; i < n; i++) {
        if (!all && fits[i].status == ML_FIT_FAILED) continue;
        if (!all && m.status == ML_FIT_FAILED) m = fits[i];
        a += log(fits[i].a); v0 += fits[i].v0; gf += fits[i].g_far; gs += fits[i].g_start; gl += fits[i].g_lim;
        lw += log(fits[i].width > 0 ? fits[i].width : 1);
        c++;
    }
    m.a = exp(a / c); m.v0 = v0 / c; m.g_far = gf / c; m.g_start = gs / c; m.g_lim = gl / c;
    if (m.width > 0) m.width = exp(lw / c);
    return m;
}

void pg_record(const ml_target *t, ml_staircase *st, size_t i, int k)
{
    size_t idx = i * st->npts + (size_t)k;
    st->g_true[idx] = t->ops->truth(t->ctx, i);
    st->g_read[idx] = pg_read(t, i, NULL);
    double m = 0;
    for (int r = 0; r < 4; r++) m += pg_read(t, i, NULL);
    st->g_mean[idx] = m / 4;
}

void pg_open_step(const ml_target *t, size_t i, int k, double v, double w, double g_pred, ml_cost *c,
                  ml_staircase *st)
{
    if (v != 0) pg_pulse(t, i, v, w, c);
    if (st) {
        size_t idx = i * st->npts + (size_t)k;
        st->g_pred[idx] = g_pred;
        st->v[idx] = v; st->w[idx] = w; st->pulses[idx] = v != 0;
        pg_record(t, st, i, k);
    }
}

ml_status pg_calibrate_basic(ml_program_plan *pl, const ml_target *t, ml_cost *calib, ml_error *err)
{
    return ml_calibrate_target(t, &pl->s, pl->dir, pl->fits, calib, err);
}

/* The window every calibrated device reaches (grid_common): from the highest reset level to
 * the lowest staircase top (target_top when given), in the direction dir. */
static ml_status common_window(ml_program_plan *pl, ml_error *err)
{
    const ml_scheme *s = &pl->s;
    const int dir = pl->dir;
    double lo = NAN, hi = NAN;
    for (size_t i = 0; i < pl->n; i++) {
        const ml_fit *f = &pl->fits[i];
        if (f->status == ML_FIT_FAILED) continue;
        double top = s->target_top > 0 ? s->target_top : f->g_start + s->coverage * (ml_fit_far(f) - f->g_start);
        if (isnan(lo) || (f->g_start - lo) * dir > 0) lo = f->g_start;
        if (isnan(hi) || (top - hi) * dir < 0) hi = top;
    }
    if (isnan(lo)) { lo = pl->fits[0].g_start; hi = lo; } /* no device calibrated: nothing to plan */
    else if (!((hi - lo) * dir > 0))
        return ml_error_set(err, ML_EINVAL, "grid: common: the devices share no window (highest reset level %.4g uS, lowest top %.4g uS)",
                            lo * 1e6, hi * 1e6);
    pl->grid_lo = lo;
    pl->grid_hi = hi;
    return ML_OK;
}

void pg_plan_grid(const ml_program_plan *pl, size_t i, double *grid)
{
    if (!pl->s.grid_common) { ml__plan_grid(&pl->fits[i], &pl->s, pl->P, grid); return; }
    grid[0] = pl->fits[i].g_start;
    for (int k = 1; k <= pl->P; k++) grid[k] = pl->grid_lo + (pl->grid_hi - pl->grid_lo) * k / pl->P;
}

/* The one schedule every device gets, for schemes that share one: src's when the plan takes
 * its model from src (the same pulses, whatever the new plan's mean model rounds to), else
 * the scheme's from this plan; zeros when the shared calibration failed (nothing programmed). */
static ml_status shared_schedule(ml_program_plan *pl, const ml_device *d, const ml_program_plan *src, ml_error *err)
{
    const ml_scheme_type *ty = pl->s.type;
    if (!ty->schedule || !ty->shares_schedule || !ty->shares_schedule(&pl->s)) return ML_OK;
    size_t np = (size_t)pl->P + 1;
    if (!(pl->shv = ml__calloc(np, sizeof(double))) || !(pl->shw = ml__calloc(np, sizeof(double))))
        return ml_error_set(err, ML_ENOMEM, "out of memory");
    if (src && src->shv) {
        memcpy(pl->shv, src->shv, np * sizeof(double));
        memcpy(pl->shw, src->shw, np * sizeof(double));
    } else if (pl->fits[0].status != ML_FIT_FAILED) {
        ty->schedule(pl, d, pl->shv, pl->shw);
    }
    return ML_OK;
}

/* Validate, calibrate (or take src's shared model), check the window and let the scheme
 * precompute. src: one model for every device (its fits[0], other[0]) instead of calibrating;
 * window: a shared grid's (lo, hi) to keep instead of the devices' own (grid_common). */
static ml_status prepare(const ml_target *t, const ml_scheme *s, int P, int dir, const ml_program_plan *src,
                         const double *window, ml_cost *calib, ml_program_plan **out, ml_error *err)
{
    const ml_fit *shared = src ? &src->fits[0] : NULL, *shared_other = src && src->other ? &src->other[0] : NULL;
    const ml_device *d = t->dev;
    if (!s->type) return ml_error_set(err, ML_EINVAL, "scheme: no type given");
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
    if (s->grid_common != 0 && s->grid_common != 1)
        return ml_error_set(err, ML_EINVAL, "grid: %d must be 0 (own) or 1 (common)", s->grid_common);
    if (s->ff_max_pulses < 0 || s->ff_max_pulses > 256)
        return ml_error_set(err, ML_EINVAL, "ff_max_pulses: %d is out of range (0..256)", s->ff_max_pulses);
    if (s->ff_max_pulses > 0 && strcmp(s->type->name, "feedforward"))
        return ml_error_set(err, ML_EINVAL, "ff_max_pulses: one-shot programming is feedforward's, not %s", s->type->name);
    if (s->ff_max_pulses > 0 && s->verify_every > 0)
        return ml_error_set(err, ML_EINVAL, "ff_max_pulses: one-shot programming reads nothing; verify_every must be 0");
    if (s->grid_common && !s->type->targets)
        return ml_error_set(err, ML_EINVAL, "grid: common needs a scheme that programs to targets (feedforward, verify), not %s",
                            s->type->name);
    const size_t n = t->n;
    const ml_scheme_type *ty = s->type;
    ml_program_plan *pl = ml__calloc(1, sizeof *pl);
    if (!pl) return ml_error_set(err, ML_ENOMEM, "out of memory");
    pl->s = *s; pl->n = n; pl->P = P; pl->dir = dir;
    pl->width = s->width > 0 ? s->width : d->width;
    pl->v_fixed = NAN;
    ml_cost cal = {0};
    ml_status rc = ML_OK;
    if (!(pl->fits = ml__calloc(n, sizeof(ml_fit)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
    else if (shared) {
        /* a calibration made earlier (on other devices of the same kind) */
        for (size_t i = 0; i < n; i++) pl->fits[i] = *shared;
        if (ty->opposite) {
            if (!(pl->other = ml__calloc(n, sizeof(ml_fit)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
            else for (size_t i = 0; i < n; i++) pl->other[i] = shared_other ? *shared_other : *shared;
        }
    } else {
        rc = ty->calibrate(pl, t, &cal, err);
    }
    if (!rc && s->target_top > 0)
        for (size_t i = 0; i < n && !rc; i++) {
            const ml_fit *f = &pl->fits[i];
            if (f->status == ML_FIT_FAILED) continue;
            double far = ml_fit_far(f), lo = fmin(f->g_start, far), hi = fmax(f->g_start, far);
            if (!((s->target_top - f->g_start) * dir > 0 && s->target_top >= lo && s->target_top <= hi))
                rc = ml_error_set(err, ML_EINVAL, "target: %.4g uS is outside the %s window of device %zu (%.4g-%.4g uS, start %.4g uS)",
                                  s->target_top * 1e6, dir > 0 ? "potentiation" : "depression", i, lo * 1e6, hi * 1e6, f->g_start * 1e6);
        }
    if (!rc && s->grid_common) {
        if (window) { pl->grid_lo = window[0]; pl->grid_hi = window[1]; }
        else rc = common_window(pl, err);
    }
    if (!rc) {
        /* open-loop schemes that share one pulse use the population's operating width */
        ml_fit mf = mean_fit(pl->fits, n);
        pl->width = ml_fit_width(&mf, s, d);
        if (ty->plan) rc = ty->plan(pl, d, &mf, err);
        if (!rc) rc = shared_schedule(pl, d, src, err);
    }
    if (rc) { ml_program_plan_free(pl); return rc; }
    if (calib) ml_cost_add(calib, &cal);
    *out = pl;
    return ML_OK;
}

/* dir 0: calibrate both polarities on t and keep the plan expected to hold more states: by
 * one check run of each (the scheme's expected_states: feedforward, whose open-loop staircase
 * is no finer than the device's finest step in its polarity). Every calibration and check run
 * is calibration cost. Potentiation on a tie, when depression fails, for schemes without a
 * check run (verify, which reaches its planned targets in either polarity) and for schemes
 * that plan no targets (identical, ramp), which calibrate potentiation alone. */
static ml_status prepare_auto(const ml_target *t, const ml_scheme *s, int P, ml_cost *calib, ml_program_plan **out,
                              ml_error *err)
{
    ml_program_plan *up = NULL, *down = NULL;
    ml_cost cu = {0}, cd = {0};
    ml_error e2 = {0};
    if (!s->type || !s->type->targets || !s->type->expected_states) /* nothing to compare */
        return prepare(t, s, P, 1, NULL, NULL, calib, out, err);
    ml_status ru = prepare(t, s, P, 1, NULL, NULL, &cu, &up, err);
    if (ru == ML_ENOMEM) return ru;
    ml_status rd = prepare(t, s, P, -1, NULL, NULL, &cd, &down, ru ? err : &e2);
    if (rd == ML_ENOMEM) {
        if (!ru) *err = e2;
        ml_program_plan_free(up);
        return rd;
    }
    if (calib) { ml_cost_add(calib, &cu); ml_cost_add(calib, &cd); }
    if (ru && rd) return ru;
    ml_program_plan *keep = ru ? down : rd ? up : NULL;
    if (!keep) {
        ml_cost cc = {0};
        double su = s->type->expected_states(up, t, &cc);
        double sd = su < 0 ? -1 : s->type->expected_states(down, t, &cc);
        if (calib) ml_cost_add(calib, &cc);
        if (su < 0 || sd < 0) {
            ml_program_plan_free(up);
            ml_program_plan_free(down);
            return ml_error_set(err, ML_ENOMEM, "direction auto: out of memory");
        }
        keep = sd > su ? down : up;
    }
    ml_program_plan_free(keep == up ? down : up);
    *out = keep;
    return ML_OK;
}

ml_status ml_program_plan_new(const ml_target *t, const ml_scheme *s, int P, int dir, ml_cost *calib,
                              ml_program_plan **out, ml_error *err)
{
    if (dir == 0) return prepare_auto(t, s, P, calib, out, err);
    return prepare(t, s, P, dir, NULL, NULL, calib, out, err);
}

int ml_program_plan_direction(const ml_program_plan *pl) { return pl->dir; }

ml_status ml_program_plan_for(const ml_program_plan *src, const ml_target *t, ml_cost *calib,
                              ml_program_plan **out, ml_error *err)
{
    const double window[2] = {src->grid_lo, src->grid_hi}, *w = src->s.grid_common ? window : NULL;
    if (src->s.calib_per_device) return prepare(t, &src->s, src->P, src->dir, NULL, w, calib, out, err);
    return prepare(t, &src->s, src->P, src->dir, src, w, calib, out, err);
}

const ml_fit *ml_program_plan_fit(const ml_program_plan *pl, size_t i) { return i < pl->n ? &pl->fits[i] : NULL; }

const ml_fit *ml_program_plan_fit_other(const ml_program_plan *pl, size_t i)
{
    return pl->other && i < pl->n ? &pl->other[i] : NULL;
}

double pg_spacing(const ml_program_plan *pl, size_t i, double *grid)
{
    if (pl->s.grid_common) return (pl->grid_hi - pl->grid_lo) / pl->P;
    /* the first step: a grid limited by the device's finest step stays at its top early */
    if (pl->grid) return pl->grid[1] - pl->grid[0];
    ml__plan_grid(&pl->fits[i], &pl->s, pl->P, grid);
    return grid[1] - grid[0];
}

int pg_grid_to(const ml_program_plan *pl, size_t i, double g, double *grid)
{
    const double g0 = pl->fits[i].g_start, h = pg_spacing(pl, i, grid), d = g - g0;
    grid[0] = g0;
    if (!(d / h > 0)) return 0;
    double k = ceil(d / h - 1e-9);
    int K = k < 1 ? 1 : k > pl->P ? pl->P : (int)k;
    for (int j = 1; j <= K; j++) grid[j] = g0 + d * j / K;
    return K;
}

/* Program device i from reset along its staircase up to step `stop` (<= P), or toward the
 * conductance g when g is not NAN. With st, every step is recorded; without, closed-loop
 * schemes go straight to their target. */
static void program_device(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, double g, ml_cost *c,
                           ml_staircase *st, double *grid, double *sv, double *sw)
{
    const ml_fit *f = &pl->fits[i];
    if (f->status == ML_FIT_FAILED) {
        /* stuck or dead: left alone, recorded as it is (excluded from states) */
        if (st)
            for (int k = 0; k < (int)st->npts; k++) {
                st->g_pred[i * st->npts + k] = f->g_start;
                pg_record(t, st, i, k);
            }
        return;
    }
    if (st) {
        size_t q = i * (size_t)st->reset_cap;
        st->reset_n[i] = pg_reset_rec(t, i, &pl->s, pl->dir, c, st->reset_cap, st->reset_v + q, st->reset_w + q,
                                      st->reset_g + q);
    } else {
        pg_reset1(t, i, &pl->s, pl->dir, c);
    }
    if (!isnan(g)) { pl->s.type->program_to(pl, t, i, g, c, grid, sv, sw); return; }
    if (pl->grid) { grid = pl->grid; sv = pl->sv; sw = pl->sw; } /* shared, precomputed */
    else pg_plan_grid(pl, i, grid);
    if (st) {
        st->g_pred[i * st->npts] = f->g_start;
        pg_record(t, st, i, 0);
        /* a reset without reads: its pulses are followed by the start read */
        for (int q = 0; q < st->reset_n[i] && q < st->reset_cap; q++)
            if (isnan(st->reset_g[i * (size_t)st->reset_cap + q])) st->reset_g[i * (size_t)st->reset_cap + q] = st->g_read[i * st->npts];
    }
    pl->s.type->program(pl, t, i, stop, c, st, grid, sv, sw);
}

/* Run program_device over all devices in parallel; per-device costs summed in order. */
static ml_status run_all(const ml_program_plan *pl, const ml_target *t, const int *stop, const double *g,
                         ml_staircase *st, ml_cost *total, ml_error *err)
{
    const size_t n = t->n, np = (size_t)pl->P + 1;
    ml_cost *cs = ml__calloc(n, sizeof(ml_cost));
    if (!cs) return ml_error_set(err, ML_ENOMEM, "out of memory");
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        double *grid = ml__malloc(np * sizeof *grid), *sv = ml__malloc(np * sizeof *sv), *sw = ml__malloc(np * sizeof *sw);
        if (!grid || !sv || !sw) oom = 1;
        #pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++)
            if (grid && sv && sw) program_device(pl, t, i, stop ? stop[i] : pl->P, g ? g[i] : NAN, &cs[i], st, grid, sv,
                               sw);
        ml__free(grid); ml__free(sv); ml__free(sw);
    }
    for (size_t i = 0; i < n; i++) ml_cost_add(total, &cs[i]);
    ml__free(cs);
    return oom ? ml_error_set(err, ML_ENOMEM, "out of memory") : ML_OK;
}

static ml_status check_target(const ml_program_plan *pl, const ml_target *t, ml_error *err)
{
    if (t->n != pl->n)
        return ml_error_set(err, ML_EINVAL, "plan for %zu devices run on a target of %zu", pl->n, t->n);
    return ML_OK;
}

ml_status ml_program_plan_staircase(const ml_program_plan *pl, const ml_target *t, ml_staircase **out,
                                    ml_error *err)
{
    ml_status rc = check_target(pl, t, err);
    if (rc) return rc;
    ml_staircase *st = ml__calloc(1, sizeof *st);
    if (!st) return ml_error_set(err, ML_ENOMEM, "out of memory");
    const size_t n = t->n, np = (size_t)pl->P + 1;
    st->ndev = n; st->npts = np; st->direction = pl->dir;
    st->v_fixed = pl->v_fixed;
    st->grid_common = pl->s.grid_common;
    double **arrs[] = {&st->g_true, &st->g_read, &st->g_mean, &st->g_pred, &st->v, &st->w, &st->pulses};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0] && !rc; k++)
        if (!(*arrs[k] = ml__calloc(n * np, sizeof(double)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory for the staircase");
    /* the staircase keeps a copy of the calibration */
    if (!rc && !(st->fits = ml__malloc(n * sizeof(ml_fit)))) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
    /* the reset before the staircase, pulse by pulse */
    st->reset_cap = pl->s.reset_max_pulses > 0 ? pl->s.reset_max_pulses : PG_RESET_MAX;
    if (!rc && (!(st->reset_n = ml__calloc(n, sizeof(int))) ||
                !(st->reset_v = ml__calloc(n * (size_t)st->reset_cap, sizeof(double))) ||
                !(st->reset_w = ml__calloc(n * (size_t)st->reset_cap, sizeof(double))) ||
                !(st->reset_g = ml__calloc(n * (size_t)st->reset_cap, sizeof(double)))))
        rc = ml_error_set(err, ML_ENOMEM, "out of memory");
    if (!rc && pl->other && !(st->fits_other = ml__malloc(n * sizeof(ml_fit))))
        rc = ml_error_set(err, ML_ENOMEM, "out of memory");
    if (!rc) {
        memcpy(st->fits, pl->fits, n * sizeof(ml_fit));
        if (pl->other) memcpy(st->fits_other, pl->other, n * sizeof(ml_fit));
        rc = run_all(pl, t, NULL, NULL, st, &st->cost, err);
    }
    if (rc) { ml_staircase_free(st); return rc; }
    *out = st;
    return ML_OK;
}

/* The target fits the plan and every level lies in 0..P; *top: the highest level. */
static ml_status check_levels(const ml_program_plan *pl, const ml_target *t, const int *level, int *top,
                              ml_error *err)
{
    ml_status rc = check_target(pl, t, err);
    *top = 0;
    for (size_t i = 0; i < t->n && !rc; i++) {
        if (level[i] < 0 || level[i] > pl->P)
            rc = ml_error_set(err, ML_EINVAL, "level %d of device %zu is outside 0..%d", level[i], i, pl->P);
        else if (level[i] > *top) *top = level[i];
    }
    return rc;
}

ml_status ml_program_plan_run(const ml_program_plan *pl, const ml_target *t, const int *level, ml_cost *cost,
                              ml_error *err)
{
    int top;
    ml_status rc = check_levels(pl, t, level, &top, err);
    if (!rc) rc = run_all(pl, t, level, NULL, NULL, cost, err);
    return rc;
}

ml_status ml_program_plan_run_levels(const ml_program_plan *pl, const ml_target *t, const int *level, size_t *map,
                                     ml_cost *cost, ml_error *err)
{
    if (!pl->shv || !t->ops->pulse_shared) {
        for (size_t i = 0; i < t->n; i++) map[i] = i;
        return ml_program_plan_run(pl, t, level, cost, err);
    }
    int top;
    ml_status rc = check_levels(pl, t, level, &top, err);
    /* every device reset by the scheme's procedure (its cost booked apart), then the train */
    for (size_t i = 0; i < t->n && !rc; i++) pg_reset1(t, i, &pl->s, pl->dir, cost);
    if (!rc && t->ops->pulse_shared(t->ctx, pl->dir, level, pl->shv + 1, pl->shw + 1, top, map, cost))
        rc = ml_error_set(err, ML_ENOMEM, "out of memory");
    return rc;
}

ml_status ml_program_plan_run_to(const ml_program_plan *pl, const ml_target *t, const double *g, ml_cost *cost,
                                 ml_error *err)
{
    ml_status rc = check_target(pl, t, err);
    for (size_t i = 0; i < t->n && !rc; i++)
        if (!isfinite(g[i])) rc = ml_error_set(err, ML_EINVAL, "target of device %zu is not finite (%g)", i, g[i]);
    if (!rc) rc = run_all(pl, t, NULL, g, NULL, cost, err);
    return rc;
}

ml_status ml_program_staircase(ml_population *pop, const ml_scheme *s, int P, int dir, ml_staircase **out,
                               ml_error *err)
{
    ml_target t;
    ml_target_population(&t, pop);
    ml_program_plan *pl = NULL;
    ml_cost calib = {0};
    ml_status rc = ml_program_plan_new(&t, s, P, dir, &calib, &pl, err);
    if (!rc) rc = ml_program_plan_staircase(pl, &t, out, err);
    if (!rc) (*out)->calib_cost = calib;
    ml_program_plan_free(pl);
    return rc;
}
