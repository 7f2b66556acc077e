/* Feedforward scheme: plan P equal conductance steps and compute, from the calibrated model,
 * the pulse that moves the predicted state by exactly one step (amplitude or width).
 * Calibration is refined by running the schedule and refitting whole measured trajectories. */
#include <math.h>
#include <stdlib.h>
#include "memlev/program.h"
#include "program/internal.h"

double ml_fit_far(const ml_fit *f)
{
    /* NeuroSim-like devices clamp at G_max before their asymptote */
    if (f->g_lim > 0 && fabs(f->g_lim - f->g_start) < fabs(f->g_far - f->g_start)) return f->g_lim;
    return f->g_far;
}

void ml_plan_grid(const ml_fit *f, const ml_scheme *s, int P, double *grid)
{
    double top = s->target_top > 0 ? s->target_top : f->g_start + s->coverage * (ml_fit_far(f) - f->g_start);
    double step = (top - f->g_start) / P;
    for (int k = 0; k <= P; k++)
        grid[k] = f->g_start + step * k;
}

void ml_schedule_ff(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P,
                    double *v, double *w)
{
    int dir = f->g_far > f->g_start ? 1 : -1;
    double width = s->width > 0 ? s->width : d->width;
    double vfix = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    for (int k = 1; k <= P; k++) {
        double dg = grid[k] - grid[k - 1];
        if (s->modulate_width) {
            v[k] = dir * vfix;
            w[k] = ml_fit_solve_width(f, grid[k - 1], dg, vfix, d->width_min, d->width_max);
        } else {
            v[k] = dir * ml_fit_solve_v(f, grid[k - 1], dg, width, d->v_max);
            w[k] = width;
        }
    }
}

/* Run the schedule once on device i with a read after every pulse. */
static void run_once(ml_population *pop, size_t i, const ml_fit *f, const ml_scheme *s, int P, int dir,
                     double *v, double *w, double *rd, double *g0, ml_cost *c)
{
    const ml_device *d = &pop->dev;
    double *grid = malloc((size_t)(P + 1) * sizeof *grid);
    ml_plan_grid(f, s, P, grid);
    ml_schedule_ff(f, d, s, grid, P, v - 1, w - 1);
    free(grid);
    ml_program_reset1(pop, i, dir, c);
    double m = 0;
    for (int r = 0; r < 4; r++) m += ml_do_read(pop, i, c);
    *g0 = m / 4;
    for (int k = 0; k < P; k++) {
        ml_do_pulse(pop, i, v[k], w[k], c);
        rd[k] = ml_do_read(pop, i, c);
    }
}

ml_status ml_ff_refine(ml_population *pop, const ml_scheme *s, int P, int dir, ml_fit *fits, ml_cost *cost,
                       ml_error *err)
{
    const int R = s->calib_rounds;
    if (R <= 0) return ML_OK;
    const size_t n = pop->n, ncal = s->calib_per_device ? n : (n < 8 ? n : 8);
    const size_t per = (size_t)R * P * 3;
    double *buf = malloc(ncal * per * sizeof(double));
    double *g0s = malloc(ncal * (size_t)R * sizeof(double));
    ml_cost *cs = calloc(ncal, sizeof(ml_cost));
    ml_run *runs = malloc(ncal * (size_t)R * sizeof(ml_run));
    if (!buf || !g0s || !cs || !runs) {
        free(buf); free(g0s); free(cs); free(runs);
        return ml_error_set(err, ML_ENOMEM, "feedforward calibration: out of memory");
    }
    ml_fit shared = fits[0];
    for (int r = 0; r < R; r++) {
        #pragma omp parallel for schedule(dynamic, 16)
        for (size_t i = 0; i < ncal; i++) {
            ml_fit *f = s->calib_per_device ? &fits[i] : &shared;
            double *b = buf + i * per + (size_t)r * P * 3;
            run_once(pop, i, f, s, P, dir, b, b + P, b + 2 * P, &g0s[i * R + r], &cs[i]);
            runs[i * R + r] = (ml_run){g0s[i * R + r], P, b, b + P, b + 2 * P};
            if (s->calib_per_device) {
                ml_fit_runs(&runs[i * R], r + 1, f);
                double gs = 0;
                for (int q = 0; q <= r; q++) gs += g0s[i * R + q];
                f->g_start = gs / (r + 1);
            }
        }
        if (!s->calib_per_device) {
            /* pooled refit over every calibration device's runs so far */
            ml_run *pool = malloc(ncal * (size_t)(r + 1) * sizeof(ml_run));
            if (!pool) break;
            double gs = 0;
            size_t m = 0;
            for (size_t i = 0; i < ncal; i++)
                for (int q = 0; q <= r; q++) { pool[m++] = runs[i * R + q]; gs += runs[i * R + q].g0; }
            ml_fit_runs(pool, (int)m, &shared);
            shared.g_start = gs / (double)m;
            free(pool);
        }
    }
    if (!s->calib_per_device)
        for (size_t i = 0; i < n; i++) fits[i] = shared;
    for (size_t i = 0; i < ncal; i++) ml_cost_add(cost, &cs[i]);
    free(buf); free(g0s); free(cs); free(runs);
    return ML_OK;
}
