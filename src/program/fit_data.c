/* Device models fitted to measured pulse responses: soft bounds (least squares per
 * polarity, read noise from repeated reads, C2C from the residuals) or a table of dG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "memlev/measured.h"
#include "memlev/program.h"

/* consecutive rows of one device: (g before, v, w, g after); v == 0 rows are reads */
static size_t pairs(const ml_measured *m, int sign, double *g0, double *v, double *w, double *g1, double *rd, size_t *nrd)
{
    size_t n = 0;
    *nrd = 0;
    for (size_t i = 1; i < m->n; i++) {
        if (m->device[i] != m->device[i - 1] || m->pulse[i] < m->pulse[i - 1]) continue;
        if (m->v[i] == 0 || m->width[i] == 0) { if (rd) rd[(*nrd)++] = m->g[i] - m->g[i - 1]; continue; }
        if ((m->v[i] > 0) != (sign > 0)) continue;
        g0[n] = m->g[i - 1]; v[n] = m->v[i]; w[n] = m->width[i]; g1[n] = m->g[i];
        n++;
    }
    return n;
}

ml_status ml_measured_fit(const ml_measured *m, const char *model, const char *src, ml_device *d, ml_error *err)
{
    int table = !strcmp(model, "table");
    if (!table && strcmp(model, "softbounds"))
        return ml_error_set(err, ML_EINVAL, "--model: '%s' must be softbounds or table", model);
    size_t n = m->n;
    double *b = ml__malloc(4 * n * sizeof *b), *rd = ml__malloc(n * sizeof *rd), *wd = ml__malloc(n * sizeof *wd);
    if (!b || !rd || !wd) { ml__free(b); ml__free(rd); ml__free(wd); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src); }
    ml_device_defaults(d, table ? ML_MODEL_TABLE : ML_MODEL_SOFTBOUNDS);
    d->table = NULL;
    snprintf(d->name, sizeof d->name, "fitted");
    /* widths: reference = median pulse width */
    size_t nw = 0;
    double vmax = 0, vmin = INFINITY, gmin = INFINITY, gmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->v[i] != 0 && m->width[i] > 0) { wd[nw++] = m->width[i]; vmax = fmax(vmax, fabs(m->v[i])); vmin = fmin(vmin, fabs(m->v[i])); }
        gmin = fmin(gmin, m->g[i]); gmax = fmax(gmax, m->g[i]);
    }
    ml_status st = ML_OK;
    if (nw < 4) { st = ml_error_set(err, ML_EFORMAT, "%s: fewer than 4 pulses (rows with V != 0 and width > 0)", src); goto done; }
    ml_sort_doubles(wd, nw);
    d->t_ref = d->width = wd[nw / 2];
    d->width_min = fmin(wd[0], d->width) ;
    d->width_max = fmax(wd[nw - 1], d->width);
    d->v_th = 0.5 * vmin;
    d->v_max = 1.5 * vmax;
    d->g_min = gmin;
    d->g_max = gmax;
    double *g0 = b, *v = b + n, *w = b + 2 * n, *g1 = b + 3 * n;
    size_t nrd;
    int fitted = 0;
    double res2 = 0, step = 0;
    size_t nres = 0;
    for (int sign = 1; sign >= -1 && !st; sign -= 2) {
        size_t k = pairs(m, sign, g0, v, w, g1, rd, &nrd);
        if (k < 4) continue;
        ml_fit f;
        if (ml_fit_pairs(g0, v, w, g1, k, sign, d->t_ref, d->v_th, &f, err)) continue;
        fitted++;
        if (sign > 0) { d->a_p = f.a; d->v0_p = f.v0; d->g_max = fmax(f.g_far, gmin * 1.0001); d->v_pulse_p = v[k / 2]; }
        else { d->a_d = f.a; d->v0_d = f.v0; d->g_min = fmin(f.g_far, gmax * 0.9999); d->v_pulse_d = v[k / 2]; }
        for (size_t i = 0; i < k; i++) {
            double p = ml_fit_predict(&f, g0[i], v[i], w[i]) - g0[i];
            res2 += (g1[i] - g0[i] - p) * (g1[i] - g0[i] - p);
            step += fabs(p);
            nres++;
        }
    }
    if (!fitted) { st = ml_error_set(err, ML_EFORMAT, "%s: no polarity has enough pulse responses to fit", src); goto done; }
    if (d->g_max <= d->g_min) { st = ml_error_set(err, ML_EFORMAT, "%s: fitted g_max (%g) does not exceed g_min (%g)", src, d->g_max, d->g_min); goto done; }
    if (d->a_p == 0 && d->a_d > 0) { d->a_p = d->a_d; d->v0_p = d->v0_d; d->v_pulse_p = -d->v_pulse_d; }
    if (d->a_d == 0 && d->a_p > 0) { d->a_d = d->a_p; d->v0_d = d->v0_p; d->v_pulse_d = -d->v_pulse_p; }
    /* read noise from read-only rows; C2C from the residual beyond two reads' noise */
    pairs(m, 1, g0, v, w, g1, rd, &nrd);
    double sr2 = 0;
    for (size_t i = 0; i < nrd; i++) sr2 += rd[i] * rd[i];
    double sread = nrd ? sqrt(sr2 / nrd / 2) : 0;
    d->s_read_abs = sread;
    double ex = nres ? res2 / nres - 2 * sread * sread : 0;
    d->s_c2c = (ex > 0 && step > 0) ? fmin(0.5, sqrt(ex) / (step / nres)) : 0;
    if (d->v_pulse_p > d->v_max) d->v_max = d->v_pulse_p;
    d->g_inf_p = d->g_max;
    d->g_inf_d = d->g_min;
    if (table) {
        /* all pulse responses of both polarities in one table */
        size_t k = 0;
        for (size_t i = 1; i < m->n; i++) {
            if (m->device[i] != m->device[i - 1] || m->pulse[i] < m->pulse[i - 1] || m->v[i] == 0 || m->width[i] == 0) continue;
            g0[k] = m->g[i - 1]; v[k] = m->v[i]; w[k] = m->width[i]; g1[k] = m->g[i];
            k++;
        }
        d->g_min = gmin;
        d->g_max = gmax;
        d->g_inf_p = gmax;
        d->g_inf_d = gmin;
        d->s_c2c = 0; /* the table carries the measured spread */
        if ((st = ml_table_from_pairs(g0, v, w, g1, k, gmin, gmax, &d->table, err))) goto done;
    }
    st = ml_device_validate(d, src, err);
done:
    if (st) ml_device_clear(d);
    ml__free(b); ml__free(rd); ml__free(wd);
    return st;
}
