/* Calibration by characterisation pulse trains: reset, trains of pulses at a ladder of
 * amplitudes around the device's nominal pulse, a read after every pulse, then a least-
 * squares fit of the soft-bounds step law to the measured (read) responses. */
#include <math.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

#define CAL_TRAINS 7
#define CAL_LEN 40
static const double k_ladder[CAL_TRAINS] = {0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5};

/* Reset: the strongest allowed pulse of the opposite polarity, as long as allowed. */
void pg_reset1(const ml_target *t, size_t i, int direction, ml_cost *c)
{
    const ml_device *d = t->dev;
    pg_pulse(t, i, direction > 0 ? -d->v_max : d->v_max, d->width_max, c);
}

void ml_program_reset1(ml_population *pop, size_t i, int direction, ml_cost *c)
{
    ml_target t;
    ml_target_population(&t, pop);
    pg_reset1(&t, i, direction, c);
}

void ml_program_reset(ml_population *pop, int direction, ml_cost *cost)
{
    for (size_t i = 0; i < pop->n; i++)
        ml_program_reset1(pop, i, direction, cost);
}

/* Saturation level: a burst at the safety limit, then the mean of 4 reads. */
static double saturate(const ml_target *t, size_t i, int dir, ml_cost *c)
{
    const ml_device *d = t->dev;
    for (int k = 0; k < 4; k++) pg_pulse(t, i, dir * d->v_max, d->width, c);
    double m = 0;
    for (int r = 0; r < 4; r++) m += pg_read(t, i, c);
    return m / 4;
}

/* Characterise device i; fills pairs (g0, v, w, g1) of length CAL_TRAINS*CAL_LEN and g_start. */
static void characterise(const ml_target *tg, size_t i, const ml_scheme *s, int dir, double *g0, double *v,
                         double *w, double *g1, double *g_start, double *g_sat, ml_cost *c)
{
    const ml_device *d = tg->dev;
    double vn = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    double width = s->width > 0 ? s->width : d->width;
    size_t k = 0;
    for (int t = 0; t < CAL_TRAINS; t++) {
        double va = vn * k_ladder[t];
        if (va > d->v_max) va = d->v_max;
        if (va < d->v_th * 1.02) va = d->v_th * 1.02;
        pg_reset1(tg, i, dir, c);
        double prev = 0;
        for (int r = 0; r < 4; r++) prev += pg_read(tg, i, c);
        prev /= 4;
        if (t == 0) *g_start = prev;
        for (int p = 0; p < CAL_LEN; p++, k++) {
            pg_pulse(tg, i, dir * va, width, c);
            double now = pg_read(tg, i, c);
            g0[k] = prev; v[k] = dir * va; w[k] = width; g1[k] = now;
            prev = now;
        }
    }
    *g_sat = saturate(tg, i, dir, c);
}

/* Drop responses that ended at the saturation level: a clamp, not the model's law. */
static size_t drop_saturated(double *g0, double *v, double *w, double *g1, size_t n, double g_start, double g_sat)
{
    double tol = 0.01 * fabs(g_sat - g_start);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (fabs(g1[k] - g_sat) <= tol) continue;
        g0[m] = g0[k]; v[m] = v[k]; w[m] = w[k]; g1[m] = g1[k];
        m++;
    }
    return m;
}

ml_status ml_calibrate(ml_population *pop, const ml_scheme *s, int dir, ml_fit *fits, ml_cost *cost, ml_error *err)
{
    ml_target t;
    ml_target_population(&t, pop);
    return ml_calibrate_target(&t, s, dir, fits, cost, err);
}

ml_status ml_calibrate_target(const ml_target *t, const ml_scheme *s, int dir, ml_fit *fits, ml_cost *cost,
                              ml_error *err)
{
    const size_t n = t->n, per = (size_t)CAL_TRAINS * CAL_LEN;
    const size_t ncal = s->calib_per_device ? n : (n < 8 ? n : 8);
    double *buf = ml__malloc(ncal * per * 4 * sizeof(double));
    double *gs = ml__malloc(ncal * sizeof(double)), *gl = ml__malloc(ncal * sizeof(double));
    size_t *nk = ml__malloc(ncal * sizeof(size_t));
    ml_cost *cs = ml__calloc(ncal, sizeof(ml_cost));
    int *bad = ml__calloc(ncal, sizeof(int));
    if (!buf || !gs || !gl || !nk || !cs || !bad) {
        ml__free(buf); ml__free(gs); ml__free(gl); ml__free(nk); ml__free(cs); ml__free(bad);
        return ml_error_set(err, ML_ENOMEM, "calibration: out of memory");
    }
    const ml_device *d = t->dev;
    #pragma omp parallel for schedule(dynamic, 16)
    for (size_t i = 0; i < ncal; i++) {
        double *b = buf + i * per * 4;
        characterise(t, i, s, dir, b, b + per, b + 2 * per, b + 3 * per, &gs[i], &gl[i], &cs[i]);
        nk[i] = drop_saturated(b, b + per, b + 2 * per, b + 3 * per, per, gs[i], gl[i]);
        if (s->calib_per_device) {
            ml_fit f = {0};
            if (ml_fit_pairs(b, b + per, b + 2 * per, b + 3 * per, nk[i], dir, d->t_ref, d->v_th, &f, NULL))
                bad[i] = 1;
            f.g_start = gs[i];
            f.g_lim = gl[i];
            fits[i] = f;
        }
    }
    ml_status st = ML_OK;
    for (size_t i = 0; i < ncal; i++) {
        ml_cost_add(cost, &cs[i]);
        if (bad[i] && !st)
            st = ml_error_set(err, ML_EINVAL, "calibration: device %zu does not respond to %s pulses up to %g V", i,
                              dir > 0 ? "potentiating" : "depressing", d->v_max);
    }
    if (!st && !s->calib_per_device) {
        /* one model for every device, fitted on the pooled responses of the first devices */
        double *p = ml__malloc(ncal * per * 4 * sizeof(double));
        if (!p) st = ml_error_set(err, ML_ENOMEM, "calibration: out of memory");
        else {
            double gsum = 0, lsum = 0;
            size_t m = ncal * per, at = 0;
            for (size_t i = 0; i < ncal; i++) {
                for (int q = 0; q < 4; q++)
                    for (size_t k = 0; k < nk[i]; k++)
                        p[q * m + at + k] = buf[i * per * 4 + q * per + k];
                at += nk[i];
                gsum += gs[i];
                lsum += gl[i];
            }
            ml_fit f = {0};
            st = ml_fit_pairs(p, p + m, p + 2 * m, p + 3 * m, at, dir, d->t_ref, d->v_th, &f, err);
            f.g_start = gsum / (double)ncal;
            f.g_lim = lsum / (double)ncal;
            for (size_t i = 0; i < n; i++) fits[i] = f;
            ml__free(p);
        }
    }
    ml__free(buf); ml__free(gs); ml__free(gl); ml__free(nk); ml__free(cs); ml__free(bad);
    return st;
}
