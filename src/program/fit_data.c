/* Device models fitted to measured pulse responses, with their quality: soft bounds (least
 * squares per polarity, pooled over devices; per-device fits give D2D) or a table of dG,
 * chosen by held-out residual; read noise, drift and C2C from fit_noise.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "memlev/measured.h"
#include "memlev/program.h"
#include "program/internal.h"
#include "program/fit_noise.h"

/* One-step pulse responses: the read before a pulse row and the pulse row's read. */
typedef struct pairs {
    size_t n;
    double *g0, *v, *w, *g1;
    size_t *dev, *grp;
} pairs;

static void warn(ml_fit_report *r, const char *fmt, ...)
{
    if (!r || r->nwarn >= ML_FIT_MAX_WARN) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warn[r->nwarn++], sizeof r->warn[0], fmt, ap);
    va_end(ap);
}

/* Pairs of one polarity (sign), or of both (sign 0), keeping every `mod`-th from `rem`. */
static size_t collect(const ml_measured *m, int sign, size_t mod, size_t rem, pairs *p)
{
    size_t n = 0, seen = 0, dev = 0;
    for (size_t i = 1; i < m->n; i++) {
        if (m->device[i] != m->device[i - 1]) { dev++; continue; }
        if (m->kind[i] != ML_ROW_PULSE || (sign && (m->v[i] > 0) != (sign > 0))) continue;
        if (seen++ % mod != rem) continue;
        p->g0[n] = m->g[i - 1]; p->v[n] = m->v[i]; p->w[n] = m->width[i]; p->g1[n] = m->g[i];
        p->dev[n] = dev;
        p->grp[n] = dev * 2 + (m->v[i] > 0); /* group for C2C: device and polarity */
        n++;
    }
    p->n = n;
    return n;
}

static int pairs_alloc(pairs *p, size_t n)
{
    p->g0 = ml__malloc(4 * n * sizeof(double) + 1);
    p->dev = ml__malloc(2 * n * sizeof(size_t) + 1);
    if (!p->g0 || !p->dev) { ml__free(p->g0); ml__free(p->dev); return -1; }
    p->v = p->g0 + n; p->w = p->g0 + 2 * n; p->g1 = p->g0 + 3 * n;
    p->grp = p->dev + n;
    return 0;
}

static void pairs_free(pairs *p) { ml__free(p->g0); ml__free(p->dev); }

/* Soft-bounds fit of one polarity of the pairs (already filtered); 0 on success. */
static int fit_sb(const pairs *p, int sign, double t_ref, double v_th, ml_fit *f)
{
    ml_error e = {0};
    if (p->n < 4) return -1;
    return ml_fit_pairs(p->g0, p->v, p->w, p->g1, p->n, sign, t_ref, v_th, f, &e) ? -1 : 0;
}

static double predict(const ml_device *d, const ml_devparams *dp, double g, double v, double w)
{
    return ml_model_step(d, dp, g, v, w);
}

static ml_devparams params_of(const ml_device *d)
{
    ml_devparams dp = {d->g_min, d->g_max, d->a_p, d->a_d, d->v0_p, d->v0_d, d->g_inf_p, d->g_inf_d};
    return dp;
}

/* Mean squared one-step residual of pairs p under device d. */
static double msr(const ml_device *d, const pairs *p)
{
    ml_devparams dp = params_of(d);
    double s = 0;
    for (size_t i = 0; i < p->n; i++) {
        double r = p->g1[i] - predict(d, &dp, p->g0[i], p->v[i], p->w[i]);
        s += r * r;
    }
    return p->n ? s / (double)p->n : 0;
}

/* Soft-bounds parameters of both polarities into d from pairs p (both signs); d's window
 * holds the measured range on entry. The polarity fits go to fp/fd (*okp, *okd 0 where a
 * polarity has too few pairs); *clip bit 1 (2): potentiation's (depression's) asymptote lies
 * too far outside the data to be a bound. */
static void fit_softbounds(const pairs *all, pairs *tmp, ml_device *d, ml_fit *fp, ml_fit *fd, int *okp, int *okd,
                           int *clip)
{
    for (int s = 1; s >= -1; s -= 2) {
        size_t k = 0;
        for (size_t i = 0; i < all->n; i++)
            if ((all->v[i] > 0) == (s > 0)) {
                tmp->g0[k] = all->g0[i]; tmp->v[k] = all->v[i]; tmp->w[k] = all->w[i]; tmp->g1[k] = all->g1[i];
                tmp->dev[k] = all->dev[i]; tmp->grp[k] = all->grp[i];
                k++;
            }
        tmp->n = k;
        int ok = !fit_sb(tmp, s, d->t_ref, d->v_th, s > 0 ? fp : fd);
        if (s > 0) *okp = ok; else *okd = ok;
    }
    if (*okp) { d->a_p = fp->a; d->v0_p = fp->v0; }
    if (*okd) { d->a_d = fd->a; d->v0_d = fd->v0; }
    if (!*okp && *okd) { d->a_p = fd->a; d->v0_p = fd->v0; }
    if (!*okd && *okp) { d->a_d = fp->a; d->v0_d = fp->v0; }
    /* an asymptote far outside the data (a nearly state-independent step) is no bound: the
     * measured range is kept (the caller warns) */
    double lo = d->g_min, hi = d->g_max, span = hi - lo;
    *clip = 0;
    if (*okp) { if (fp->g_far > lo && fp->g_far < hi + span) d->g_max = fp->g_far; else *clip |= 1; }
    if (*okd) { if (fd->g_far > 0 && fd->g_far > lo - span && fd->g_far < hi) d->g_min = fd->g_far; else *clip |= 2; }
    d->g_inf_p = d->g_max;
    d->g_inf_d = d->g_min;
}

/* Relative spread of x[0..k) (sample standard deviation / |mean|); 0 below 2 values. */
static double rel_spread(const double *x, size_t k)
{
    if (k < 2) return 0;
    double m = 0, s = 0;
    for (size_t i = 0; i < k; i++) m += x[i];
    m /= (double)k;
    for (size_t i = 0; i < k; i++) s += (x[i] - m) * (x[i] - m);
    return m != 0 ? sqrt(s / (double)(k - 1)) / fabs(m) : 0;
}

/* Spread of the per-device window ends: the 1st and 99th percentile of each device's reads
 * (law-free; a soft-bounds asymptote fitted to another law lands anywhere). */
static void d2d_window(const ml_measured *m, double *buf, size_t ndev, double *smin, double *smax)
{
    double *lo = buf, *hi = buf + ndev, *g = buf + 2 * ndev;
    size_t k = 0, i = 0;
    while (i < m->n) {
        size_t j = i, c = 0;
        while (j < m->n && m->device[j] == m->device[i]) g[c++] = m->g[j++];
        if (c >= 10) {
            ml_sort_doubles(g, c);
            lo[k] = g[c / 100];
            hi[k] = g[c - 1 - c / 100];
            k++;
        }
        i = j;
    }
    *smin = rel_spread(lo, k);
    *smax = rel_spread(hi, k);
}

/* Per-device soft-bounds fits of one polarity (v0 fixed to the pooled fit): spreads of the
 * step scale and the asymptote. */
static void d2d_fits(const pairs *all, int sign, double v0, const ml_device *d, pairs *tmp, double *buf, size_t ndev,
                     double *sa, double *sg)
{
    double *as = buf, *gs = buf + ndev;
    size_t k = 0;
    for (size_t dev = 0; dev < ndev; dev++) {
        size_t c = 0;
        for (size_t i = 0; i < all->n; i++)
            if (all->dev[i] == dev && (all->v[i] > 0) == (sign > 0)) {
                tmp->g0[c] = all->g0[i]; tmp->v[c] = all->v[i]; tmp->w[c] = all->w[i]; tmp->g1[c] = all->g1[i];
                c++;
            }
        if (c < 8) continue;
        double a, gf;
        ml__fit_pairs_v0(tmp->g0, tmp->v, tmp->w, tmp->g1, c, v0, d->t_ref, d->v_th, &a, &gf);
        if (!(a > 0) || !isfinite(gf)) continue;
        as[k] = a; gs[k] = gf;
        k++;
    }
    *sa = rel_spread(as, k);
    *sg = rel_spread(gs, k);
}

static ml_status build_table(const pairs *p, double gmin, double gmax, double c2c, ml_dev_table **t, ml_error *err)
{
    ml_status st = ml_table_from_pairs(p->g0, p->v, p->w, p->g1, p->n, gmin, gmax, t, err);
    if (st) return st;
    /* the spread is C2C alone: the raw cell spread also holds two reads' noise and D2D,
     * which the device carries in s_read_* and d2d_* */
    size_t cells = (size_t)(*t)->nv * (*t)->nw * (*t)->ng;
    for (size_t c = 0; c < cells; c++) (*t)->dg_std[c] = c2c * fabs((*t)->dg_mean[c]);
    return ML_OK;
}

/* Copy into r's polarity record: the full fit and the spread of its two halves. */
static void polarity(ml_fit_polarity *r, int measured, size_t npairs, const ml_fit *f, const ml_fit *h0, const ml_fit *h1,
                     int halves)
{
    r->measured = measured;
    r->pairs = npairs;
    if (!measured) return;
    r->a = f->a; r->v0 = f->v0; r->g_far = f->g_far;
    /* var(half0 - half1) = 4 var(full): standard error |difference| / 2 */
    if (halves) {
        r->a_se = fabs(h0->a - h1->a) / 2;
        r->v0_se = fabs(h0->v0 - h1->v0) / 2;
        r->g_far_se = fabs(h0->g_far - h1->g_far) / 2;
    }
}

ml_status ml_measured_calibrate(const ml_measured *m, const char *law, const char *src, ml_device *d, ml_fit_report *rep,
                                ml_error *err)
{
    int want_table = !strcmp(law, "table"), want_auto = !strcmp(law, "auto");
    if (!want_table && !want_auto && strcmp(law, "softbounds"))
        return ml_error_set(err, ML_EINVAL, "--model: '%s' must be auto, softbounds or table", law);
    ml_fit_report scratch;
    ml_fit_report *r = rep ? rep : &scratch;
    memset(r, 0, sizeof *r);
    size_t n = m->n;
    pairs all = {0}, half[2] = {{0}}, tmp = {0};
    double *wd = ml__malloc(n * sizeof *wd + 1), *buf = ml__malloc(3 * n * sizeof *buf + 1);
    ml_dev_table *tab_h = NULL;
    ml_status st = ML_OK;
    ml_device_defaults(d, ML_MODEL_SOFTBOUNDS);
    d->table = NULL;
    if (!wd || !buf || pairs_alloc(&all, n) || pairs_alloc(&half[0], n) || pairs_alloc(&half[1], n) ||
        pairs_alloc(&tmp, n)) {
        st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        goto done;
    }
    snprintf(d->name, sizeof d->name, "fitted");
    size_t nw = 0, ndev = 1;
    double vmax = 0, vmin = INFINITY, gmin = INFINITY, gmax = 0, rvmax = 0, rwmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && m->device[i] != m->device[i - 1]) ndev++;
        if (m->kind[i] == ML_ROW_PULSE) { wd[nw++] = m->width[i]; vmax = fmax(vmax, fabs(m->v[i])); vmin = fmin(vmin, fabs(m->v[i])); }
        /* the instrument applied the resets: they widen the limits, not the fit */
        if (m->kind[i] == ML_ROW_RESET) { rvmax = fmax(rvmax, fabs(m->v[i])); rwmax = fmax(rwmax, m->width[i]); }
        gmin = fmin(gmin, m->g[i]); gmax = fmax(gmax, m->g[i]);
    }
    r->devices = (int)ndev;
    if (nw < 4) { st = ml_error_set(err, ML_EFORMAT, "%s: fewer than 4 pulses (rows with V != 0 and width > 0, not tagged read/reset)", src); goto done; }
    ml_sort_doubles(wd, nw);
    d->t_ref = d->width = wd[nw / 2];
    d->width_min = fmin(wd[0], d->width);
    d->width_max = fmax(fmax(wd[nw - 1], d->width), rwmax);
    d->v_th = 0.5 * vmin;
    d->v_max = fmax(1.5 * vmax, rvmax);
    d->g_min = gmin;
    d->g_max = gmax;
    d->d2d_v0_p = d->d2d_v0_d = 0;
    collect(m, 0, 1, 0, &all);
    collect(m, 0, 2, 0, &half[0]);
    collect(m, 0, 2, 1, &half[1]);
    size_t np = 0;
    for (size_t i = 0; i < all.n; i++) np += all.v[i] > 0;
    size_t nd = all.n - np;

    /* soft bounds on all pairs and on each half */
    ml_fit fp = {0}, fd = {0}, hp[2] = {{0}}, hd[2] = {{0}};
    int okp, okd, hokp[2], hokd[2], clip, hclip;
    fit_softbounds(&all, &tmp, d, &fp, &fd, &okp, &okd, &clip);
    if (clip)
        warn(r, "soft bounds: the %s asymptote (%.4g uS) lies far outside the measured %.4g-%.4g uS; the window is the "
             "measured range", clip & 1 ? "potentiation" : "depression", (clip & 1 ? fp.g_far : fd.g_far) * 1e6,
             gmin * 1e6, gmax * 1e6);
    if (!okp && !okd) { st = ml_error_set(err, ML_EFORMAT, "%s: no polarity has enough pulse responses (4) to fit", src); goto done; }
    if (!okp || !okd) {
        const char *miss = okp ? "depressing" : "potentiating";
        size_t have = okp ? nd : np;
        if (have >= 4)
            warn(r, "soft bounds do not fit the %s pulses (the step does not shrink toward a bound): %s mirrors the "
                 "other polarity's fit (a %.3g, v0 %.3g V)", miss, okp ? "depression" : "potentiation", okp ? fp.a : fd.a,
                 okp ? fp.v0 : fd.v0);
        else
            warn(r, "no %s pulses in %s: %s mirrors the other polarity's fit (a %.3g, v0 %.3g V) and its bound is the %s read",
                 miss, src, okp ? "depression" : "potentiation", okp ? fp.a : fd.a, okp ? fp.v0 : fd.v0,
                 okp ? "smallest" : "largest");
        if (!okd) d->g_min = gmin; else d->g_max = gmax;
        d->g_inf_p = d->g_max;
        d->g_inf_d = d->g_min;
    }
    if (d->g_max <= d->g_min) { st = ml_error_set(err, ML_EFORMAT, "%s: fitted g_max (%g) does not exceed g_min (%g)", src, d->g_max, d->g_min); goto done; }
    ml_device dh[2];
    for (int h = 0; h < 2; h++) {
        dh[h] = *d;
        dh[h].g_min = gmin; dh[h].g_max = gmax;
        fit_softbounds(&half[h], &tmp, &dh[h], &hp[h], &hd[h], &hokp[h], &hokd[h], &hclip);
        if (!hokp[h] || !hokd[h]) { dh[h].g_min = d->g_min; dh[h].g_max = d->g_max; }
        dh[h].g_inf_p = dh[h].g_max; dh[h].g_inf_d = dh[h].g_min;
    }
    polarity(&r->pot, okp, np, &fp, &hp[0], &hp[1], hokp[0] && hokp[1]);
    polarity(&r->dep, okd, nd, &fd, &hd[0], &hd[1], hokd[0] && hokd[1]);
    {
        /* nominal amplitudes: the median of each polarity's pulses */
        size_t k = 0;
        for (size_t i = 0; i < all.n; i++) if (all.v[i] > 0) buf[k++] = all.v[i];
        if (k) { ml_sort_doubles(buf, k); d->v_pulse_p = buf[k / 2]; }
        size_t q = 0;
        for (size_t i = 0; i < all.n; i++) if (all.v[i] < 0) buf[q++] = all.v[i];
        if (q) { ml_sort_doubles(buf, q); d->v_pulse_d = buf[q / 2]; }
        if (!k) d->v_pulse_p = -d->v_pulse_d;
        if (!q) d->v_pulse_d = -d->v_pulse_p;
    }

    /* read noise and drift from read-only rows, C2C from the pulse responses */
    int ok;
    size_t blocks = ml__read_noise(m, &r->read_rel, &r->read_abs, &r->read_drift, &r->read_drift_se, &r->read_pairs, &ok);
    if (!ok) { st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src); goto done; }
    double abs_from_pulses = 0;
    {
        /* residual (buf) and modelled step (wd) for the C2C chunks, against the table of all
         * pairs: law-free in G, V and width, so little misfit is left for the chunks */
        ml_device td = *d;
        td.model = ML_MODEL_TABLE;
        td.g_min = gmin; td.g_max = gmax;
        if ((st = build_table(&all, gmin, gmax, 0, &td.table, err))) goto done;
        ml_devparams dp = params_of(&td);
        for (size_t i = 0; i < all.n; i++) {
            double pr = predict(&td, &dp, all.g0[i], all.v[i], all.w[i]);
            buf[i] = all.g1[i] - pr;
            wd[i] = pr - all.g0[i];
        }
        ml_device_clear(&td);
    }
    int chunks = ml__c2c(all.g0, buf, wd, all.grp, all.n, blocks > 0, r->read_rel, r->read_abs, &r->c2c, &abs_from_pulses);
    if (chunks < 0) { st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src); goto done; }
    if (!blocks) {
        r->read_abs = abs_from_pulses;
        warn(r, "no blocks of 3 or more read-only rows: read noise (%.3g nS) is estimated from the pulse responses, "
             "absolute part only; drift unknown", r->read_abs * 1e9);
    }
    if (chunks == 0) warn(r, "fewer than 16 pulse responses per device and polarity: C2C not measured (0)");
    d->s_read_rel = r->read_rel;
    d->s_read_abs = r->read_abs;
    d->s_c2c = r->c2c;
    if (r->c2c > 0.5) warn(r, "C2C %.2f exceeds 0.5 of a step: check that the rows are one device's consecutive pulses", r->c2c);

    /* D2D from per-device fits */
    if (ndev >= 2) {
        double sg;
        if (okp) d2d_fits(&all, 1, d->v0_p, d, &tmp, buf, ndev, &r->d2d_a_p, &sg);
        if (okd) d2d_fits(&all, -1, d->v0_d, d, &tmp, buf, ndev, &r->d2d_a_d, &sg);
        d2d_window(m, buf, ndev, &r->d2d_g_min, &r->d2d_g_max);
        if (!okp) r->d2d_a_p = r->d2d_a_d;
        if (!okd) r->d2d_a_d = r->d2d_a_p;
        if (ndev < 4) warn(r, "D2D from only %zu devices", ndev);
    } else {
        warn(r, "one device: D2D not measured (0)");
    }
    d->d2d_a_p = r->d2d_a_p; d->d2d_a_d = r->d2d_a_d;
    d->d2d_g_min = r->d2d_g_min; d->d2d_g_max = r->d2d_g_max;

    /* held-out one-step residual: fit on one half, test on the other, both ways */
    double ho_sb = 0, ho_tab = 0;
    for (int h = 0; h < 2; h++) {
        ho_sb += msr(&dh[h], &half[1 - h]) / 2;
        ml_device td = *d;
        td.model = ML_MODEL_TABLE;
        if ((st = build_table(&half[h], gmin, gmax, 0, &tab_h, err))) goto done;
        td.table = tab_h;
        td.g_min = gmin; td.g_max = gmax;
        ho_tab += msr(&td, &half[1 - h]) / 2;
        ml_device_clear(&td); /* frees tab_h */
        tab_h = NULL;
    }
    r->heldout_rms_softbounds = sqrt(ho_sb);
    r->heldout_rms_table = sqrt(ho_tab);
    int table = want_table;
    int both = np >= 4 && nd >= 4;
    if (want_auto) table = both && ho_tab < ho_sb;
    if (want_table && !both) warn(r, "table law: the table cannot move in the polarity the data lack");
    if (table) {
        d->model = ML_MODEL_TABLE;
        d->g_min = gmin; d->g_max = gmax; d->g_inf_p = gmax; d->g_inf_d = gmin;
        if ((st = build_table(&all, gmin, gmax, r->c2c, &d->table, err))) goto done;
        if (r->d2d_a_p > 0 || r->d2d_a_d > 0)
            warn(r, "table law: the step spread between devices (a_p %.1f %%, a_d %.1f %%) is not in the device "
                 "(a table is one mean device)", 100 * r->d2d_a_p, 100 * r->d2d_a_d);
        d->d2d_a_p = d->d2d_a_d = 0; /* a table device draws its window only (ml_device_validate) */
    }
    snprintf(r->law, sizeof r->law, "%s", table ? "table" : "softbounds");
    if (want_auto && !table && both && ho_sb > 1.2 * ho_tab)
        warn(r, "soft bounds misfits (held-out rms %.3g uS vs table %.3g uS)", ho_sb * 1e6, ho_tab * 1e6);

    /* fit quality of the chosen law on all pairs */
    {
        ml_devparams dp = params_of(d);
        double mean = 0, sst = 0, ssr = 0;
        for (size_t i = 0; i < all.n; i++) mean += all.g1[i] - all.g0[i];
        mean /= (double)all.n;
        for (size_t i = 0; i < all.n; i++) {
            double dg = all.g1[i] - all.g0[i], e = all.g1[i] - predict(d, &dp, all.g0[i], all.v[i], all.w[i]);
            sst += (dg - mean) * (dg - mean);
            ssr += e * e;
        }
        r->r2 = sst > 0 ? 1 - ssr / sst : 0;
        r->residual_rms = sqrt(ssr / (double)all.n);
        if (r->r2 < 0.5) warn(r, "poor fit: R^2 of the one-step response %.2f", r->r2);
    }
    if (d->v_pulse_p > d->v_max) d->v_max = d->v_pulse_p;
    st = ml_device_validate(d, src, err);
done:
    if (st) ml_device_clear(d);
    pairs_free(&all); pairs_free(&half[0]); pairs_free(&half[1]); pairs_free(&tmp);
    ml__free(wd); ml__free(buf);
    return st;
}

ml_status ml_measured_fit(const ml_measured *m, const char *model, const char *src, ml_device *out, ml_error *err)
{
    return ml_measured_calibrate(m, model, src, out, NULL, err);
}
