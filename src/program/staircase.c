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

ml_status ml_program_staircase(ml_population *pop, const ml_scheme *s, int P, int dir, ml_staircase **out,
                               ml_error *err)
{
    if (P < 1 || P > 1000000)
        return ml_error_set(err, ML_EINVAL, "pulses: %d is out of range (1..1000000)", P);
    if (dir != 1 && dir != -1)
        return ml_error_set(err, ML_EINVAL, "direction must be up or down");
    const ml_device *d = &pop->dev;
    if (s->width > 0 && (s->width < d->width_min || s->width > d->width_max))
        return ml_error_set(err, ML_EINVAL, "width: %g s outside the device's [%g, %g] s", s->width, d->width_min,
                            d->width_max);
    if (!(s->coverage > 0 && s->coverage < 1))
        return ml_error_set(err, ML_EINVAL, "coverage: %g must be within (0, 1)", s->coverage);
    const size_t n = pop->n, np = (size_t)P + 1;
    ml_staircase *st = calloc(1, sizeof *st);
    if (!st) return ml_error_set(err, ML_ENOMEM, "out of memory");
    st->ndev = n; st->npts = np; st->direction = dir;
    double **arrs[] = {&st->g_true, &st->g_read, &st->g_mean, &st->g_pred, &st->v, &st->w, &st->pulses};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++)
        if (!(*arrs[k] = calloc(n * np, sizeof(double)))) { ml_staircase_free(st); return ml_error_set(err, ML_ENOMEM, "out of memory for the staircase"); }
    ml_fit *other = NULL;
    st->fits = calloc(n, sizeof(ml_fit));
    if (!st->fits) { ml_staircase_free(st); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
    ml_status rc = ml_calibrate(pop, s, dir, st->fits, &st->calib_cost, err);
    if (!rc && s->kind == ML_SCHEME_FEEDFORWARD)
        rc = ml_ff_refine(pop, s, P, dir, st->fits, &st->calib_cost, err);
    if (!rc && s->kind == ML_SCHEME_VERIFY) {
        other = calloc(n, sizeof(ml_fit));
        if (!other) rc = ml_error_set(err, ML_ENOMEM, "out of memory");
        else rc = ml_calibrate(pop, s, -dir, other, &st->calib_cost, err);
    }
    if (rc) { free(other); ml_staircase_free(st); return rc; }

    ml_fit mf = mean_fit(st->fits, n);
    double width = s->width > 0 ? s->width : d->width;
    st->v_fixed = dir * (s->v > 0 ? s->v : identical_amplitude(&mf, s, d, P));
    if (s->v > d->v_max) { free(other); ml_staircase_free(st); return ml_error_set(err, ML_EINVAL, "v: %g V exceeds the device's v_max (%g V)", s->v, d->v_max); }
    /* ramp: a linear amplitude (or width) ramp between the ends of the mean feedforward schedule */
    double r0 = s->v_start, r1 = s->v_stop;
    if (s->kind == ML_SCHEME_RAMP && (r0 <= 0 || r1 <= 0)) {
        double *g = malloc(np * sizeof *g), *vv = malloc(np * sizeof *vv), *ww = malloc(np * sizeof *ww);
        if (!g || !vv || !ww) { free(g); free(vv); free(ww); free(other); ml_staircase_free(st); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
        ml_plan_grid(&mf, s->coverage, P, g);
        ml_schedule_ff(&mf, d, s, g, P, vv, ww);
        if (r0 <= 0) r0 = s->modulate_width ? ww[1] : fabs(vv[1]);
        if (r1 <= 0) r1 = s->modulate_width ? ww[P] : fabs(vv[P]);
        free(g); free(vv); free(ww);
    }
    ml_cost *cs = calloc(n, sizeof(ml_cost));
    if (!cs) { free(other); ml_staircase_free(st); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
    #pragma omp parallel
    {
        double *grid = malloc(np * sizeof *grid), *sv = malloc(np * sizeof *sv), *sw = malloc(np * sizeof *sw);
        #pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            const ml_fit *f = &st->fits[i];
            ml_cost *c = &cs[i];
            double *gp = st->g_pred + i * np, *pv = st->v + i * np, *pw = st->w + i * np, *pp = st->pulses + i * np;
            ml_do_pulse(pop, i, dir > 0 ? -d->v_max : d->v_max, d->width_max, c); /* reset */
            ml_plan_grid(f, s->coverage, P, grid);
            gp[0] = f->g_start;
            record(pop, st, i, 0);
            if (s->kind == ML_SCHEME_FEEDFORWARD)
                ml_schedule_ff(f, d, s, grid, P, sv, sw);
            for (int k = 1; k <= P; k++) {
                double v = st->v_fixed, w = width;
                switch (s->kind) {
                case ML_SCHEME_IDENTICAL:
                    gp[k] = ml_fit_predict(f, gp[k - 1], v, w);
                    break;
                case ML_SCHEME_RAMP: {
                    double x = r0 + (r1 - r0) * (P > 1 ? (double)(k - 1) / (P - 1) : 0);
                    if (s->modulate_width) { v = dir * fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d); w = x; }
                    else v = dir * x;
                    gp[k] = ml_fit_predict(f, gp[k - 1], v, w);
                    break;
                }
                case ML_SCHEME_FEEDFORWARD:
                    if (s->verify_every > 0 && k > 1 && (k - 1) % s->verify_every == 0) {
                        /* hybrid: read, then re-plan this step from the measured state */
                        double r = ml_do_read(pop, i, c);
                        double dg = grid[k] - r;
                        if ((dg > 0) == (dir > 0)) {
                            if (s->modulate_width) sw[k] = ml_fit_solve_width(f, r, dg, fabs(sv[k]), d->width_min, d->width_max);
                            else sv[k] = dir * ml_fit_solve_v(f, r, dg, sw[k], d->v_max);
                        } else {
                            sv[k] = 0; /* already at or past the target: skip this pulse */
                        }
                    }
                    v = sv[k]; w = sw[k];
                    gp[k] = grid[k];
                    break;
                case ML_SCHEME_VERIFY: {
                    double tol = s->tol * fabs(grid[1] - grid[0]);
                    double before = c->pulses, vl = 0;
                    ml_verify_to(pop, i, s, dir > 0 ? f : &other[i], dir > 0 ? &other[i] : f, grid[k], tol, c, &vl);
                    gp[k] = grid[k];
                    pv[k] = vl; pw[k] = width; pp[k] = c->pulses - before;
                    record(pop, st, i, k);
                    continue;
                }
                }
                if (v != 0) ml_do_pulse(pop, i, v, w, c);
                pv[k] = v; pw[k] = w; pp[k] = v != 0;
                record(pop, st, i, k);
            }
        }
        free(grid); free(sv); free(sw);
    }
    for (size_t i = 0; i < n; i++) ml_cost_add(&st->cost, &cs[i]);
    free(cs);
    st->fits_other = other;
    *out = st;
    return ML_OK;
}
