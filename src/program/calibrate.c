/* Calibration by characterisation pulse trains, robust to devices the presets do not cover.
 * Per device: reset and read the start level; burst at the safety limit, lengthening the
 * pulse, until the reads stop moving (the saturation level; a device that never moves is
 * stuck or dead and fails); probe for an operating pulse whose step is a useful fraction of
 * the gap (width first, since the step is linear in it, then amplitude, within the device's
 * limits); trains at a ladder of amplitudes around it with a read after every pulse; a least-
 * squares fit of the soft-bounds step law to the read responses. A device whose fit fails
 * takes the population's model (fallback); nothing about one device is fatal. On a target
 * with a train_read op (the simulated population) the trains of a block of devices run at
 * once, each device with its own amplitude and width; the probing before them stays device
 * by device. */
#include <math.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

#define CAL_TRAINS 7   /* at most */
#define CAL_LEN 40      /* at most */
#define SAT_BURST 4
#define SAT_MAX 16
#define PROBE_MAX 14

/* step fraction per pulse the probe aims at: a 40-pulse train then crosses about a third of
 * the window, and a P = 512 feedforward schedule's steps (fractions 0.002-0.04) lie near it */
static const double k_alpha = 0.01;

double ml_fit_width(const ml_fit *f, const ml_scheme *s, const ml_device *d)
{
    if (s && s->width > 0) return s->width;
    if (f && f->width > 0) return f->width;
    return d->width;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* What characterisation of one device found. */
typedef struct probe {
    double g_start, g_sat, sigma; /* start and saturation levels, read noise estimate (S) */
    double v, w;                  /* operating pulse (V magnitude, s) */
    int dead;                     /* no response up to the limits */
} probe;

/* Saturation: bursts at v_max, each pulse 10x longer than the last burst's, until a burst
 * no longer moves the reads; then the mean of 3 reads. */
static void saturate(const ml_target *t, size_t i, int dir, double w0, probe *pr, ml_cost *c)
{
    const ml_device *d = t->dev;
    double w = w0, prev = pr->g_start, r = prev;
    int still = 0;
    for (int b = 0; b < SAT_MAX; b++) {
        for (int k = 0; k < SAT_BURST; k++) pg_pulse(t, i, dir * d->v_max, w, c);
        r = pg_read(t, i, c);
        double moved = fabs(r - prev), total = fabs(r - pr->g_start);
        double tol = fmax(4 * pr->sigma, 0.01 * total);
        prev = r;
        if (moved <= tol) {
            /* still after a burst: saturated once something moved, or once even the longest
             * pulse moved nothing twice */
            if (total > 8 * pr->sigma + 1e-9 * fabs(pr->g_start) && w >= w0 * 10) break;
            if (w >= d->width_max && ++still >= 2) break;
        }
        w = fmin(w * 10, d->width_max);
    }
    double m = r;
    for (int k = 0; k < 2; k++) m += pg_read(t, i, c);
    pr->g_sat = m / 3;
    pr->dead = !(fabs(pr->g_sat - pr->g_start) > 8 * pr->sigma + 1e-6 * fabs(pr->g_start));
}

/* Operating pulse: starting from the nominal one, pairs of pulses and a read, adjusting the
 * width (exactly proportional to the step) and then the amplitude until a pulse closes about
 * k_alpha of the gap to saturation. */
static void find_operating_point(const ml_target *t, size_t i, const ml_scheme *s, int dir, double v0, double w0, probe *pr, ml_cost *c)
{
    const ml_device *d = t->dev;
    const double vlo = d->v_th * 1.05, win = fabs(pr->g_sat - pr->g_start);
    double v = clampd(v0, vlo, d->v_max), w = clampd(w0, d->width_min, d->width_max);
    pg_reset1(t, i, s, dir, c);
    double g = pr->g_start;
    for (int it = 0; it < PROBE_MAX; it++) {
        if (fabs(pr->g_sat - g) < 0.4 * win) { pg_reset1(t, i, s, dir, c); g = pr->g_start; }
        pg_pulse(t, i, dir * v, w, c);
        pg_pulse(t, i, dir * v, w, c);
        double r = pg_read(t, i, c);
        double gap0 = pr->g_sat - g, gap1 = pr->g_sat - r;
        double q = gap0 != 0 ? gap1 / gap0 : 0;
        double al;
        if (fabs(r - g) <= 3 * pr->sigma) al = 0;   /* no measurable response */
        else if (q <= 0.02) al = 1;                  /* (nearly) saturated in two pulses */
        else al = q >= 1 ? 0 : 1 - sqrt(q);
        g = r;
        if (al >= k_alpha / 3 && al <= k_alpha * 3) break;
        double f = al > 0 ? k_alpha / al : 30;
        if (al >= 1) f = 1.0 / 30;
        double wn = clampd(w * f, d->width_min, d->width_max);
        if (wn != w) { w = wn; continue; }
        /* width at its limit: the amplitude */
        double vn = clampd(f > 1 ? v * 1.25 : v / 1.15, vlo, d->v_max);
        if (vn == v) break; /* both at their limits */
        v = vn;
    }
    pr->v = v;
    pr->w = w;
}

/* Reset device i and read its start level 4 times; saturation; the operating pulse (unless
 * the scheme fixes the width). */
static void probe_device(const ml_target *tg, size_t i, const ml_scheme *s, int dir, probe *pr, ml_cost *c)
{
    const ml_device *d = tg->dev;
    double vn = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    double wn = s->width > 0 ? s->width : d->width;
    pg_reset1(tg, i, s, dir, c);
    double r[4], m = 0, m2 = 0;
    for (int k = 0; k < 4; k++) { r[k] = pg_read(tg, i, c); m += r[k]; }
    m /= 4;
    for (int k = 0; k < 4; k++) m2 += (r[k] - m) * (r[k] - m);
    pr->g_start = m;
    pr->sigma = sqrt(m2 / 3);
    saturate(tg, i, dir, wn, pr, c);
    if (pr->dead) return;
    if (s->width > 0) { pr->w = s->width; pr->v = vn; } /* the scheme fixes the width */
    else find_operating_point(tg, i, s, dir, vn, wn, pr, c);
}

/* Trains and their length: an amplitude ladder 0.8 ... 1.5 times the operating amplitude. */
static int n_trains(const ml_scheme *s)
{
    return s->calib_trains < 2 ? 2 : s->calib_trains > CAL_TRAINS ? CAL_TRAINS : s->calib_trains;
}
static int train_len(const ml_scheme *s)
{
    return s->calib_train_len < 2 ? 2 : s->calib_train_len > CAL_LEN ? CAL_LEN : s->calib_train_len;
}
static double train_v(const ml_device *d, const probe *pr, int t, int nt)
{
    return clampd(pr->v * (0.8 + 0.7 * t / (nt - 1)), d->v_th * 1.02, d->v_max);
}

/* Characterise device i; fills pairs (g0, v, w, g1) (CAL_TRAINS*CAL_LEN at most) and the
 * probe; returns the number of pairs (0 for a dead device). */
static size_t characterise(const ml_target *tg, size_t i, const ml_scheme *s, int dir, double *g0, double *v,
                           double *w, double *g1, probe *pr, ml_cost *c)
{
    const ml_device *d = tg->dev;
    probe_device(tg, i, s, dir, pr, c);
    if (pr->dead) return 0;
    const int nt = n_trains(s), len = train_len(s);
    size_t k = 0;
    for (int t = 0; t < nt; t++) {
        double va = train_v(d, pr, t, nt);
        pg_reset1(tg, i, s, dir, c);
        double prev = pr->g_start;
        for (int p = 0; p < len; p++, k++) {
            pg_pulse(tg, i, dir * va, pr->w, c);
            double now = pg_read(tg, i, c);
            g0[k] = prev; v[k] = dir * va; w[k] = pr->w; g1[k] = now;
            prev = now;
        }
    }
    return k;
}

/* Scratch of characterise_block for CAL_BLOCK devices. */
#define CAL_BLOCK 64
typedef struct train_scratch {
    double v[CAL_BLOCK], w[CAL_BLOCK];
    double rd[CAL_LEN * CAL_BLOCK], gt[(CAL_LEN + 1) * CAL_BLOCK];
} train_scratch;

/* The same for devices i0 .. i1 - 1 (at most CAL_BLOCK) of a target with a train_read op:
 * each device probed on its own, then every train on all of them at once; device i's pairs
 * at b[i - i0] (g0, v, w, g1 at offsets 0, per, 2 per, 3 per), their count in k[i - i0].
 * Each device sees the same pulses and reads, in the same order, as through characterise. */
static void characterise_block(const ml_target *tg, size_t i0, size_t i1, const ml_scheme *s, int dir,
                               double *const *b, size_t per, probe *pr, size_t *k, ml_cost *c, train_scratch *x)
{
    const ml_device *d = tg->dev;
    const size_t m = i1 - i0;
    for (size_t j = 0; j < m; j++) {
        probe_device(tg, i0 + j, s, dir, &pr[j], &c[j]);
        k[j] = 0;
    }
    const int nt = n_trains(s), len = train_len(s);
    for (int t = 0; t < nt; t++) {
        for (size_t j = 0; j < m; j++) {
            x->w[j] = pr[j].dead ? 0 : pr[j].w;
            x->v[j] = pr[j].dead ? 0 : dir * train_v(d, &pr[j], t, nt);
            if (!pr[j].dead) pg_reset1(tg, i0 + j, s, dir, &c[j]);
        }
        tg->ops->train_read(tg->ctx, i0, i1, x->v, x->w, len, x->rd, x->gt);
        for (size_t j = 0; j < m; j++) {
            if (pr[j].dead) continue;
            double *g0 = b[j], *v = g0 + per, *w = g0 + 2 * per, *g1 = g0 + 3 * per;
            double prev = pr[j].g_start, ep = 0, er = 0;
            for (int p = 0; p < len; p++) {
                double before = x->gt[(size_t)p * m + j], after = x->gt[(size_t)(p + 1) * m + j];
                double now = x->rd[(size_t)p * m + j];
                if (isnan(after)) after = now;
                if (isnan(before)) before = after;
                /* the energies of pulse (mean conductance over it) and read, booked per train */
                ep += ml_pulse_energy(x->v[j], 0.5 * (before + after), x->w[j]);
                er += ml_pulse_energy(d->v_read, after, d->t_read);
                size_t q = k[j]++;
                g0[q] = prev; v[q] = x->v[j]; w[q] = x->w[j]; g1[q] = now;
                prev = now;
            }
            c[j].pulses += len;
            c[j].reads += len;
            c[j].time_s += len * (x->w[j] + d->t_read);
            c[j].energy_j += ep + er;
        }
    }
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

/* A fit that cannot describe the device: no response, an asymptote on the wrong side of the
 * start, or one short of the measured saturation by more than half the window. */
static int fit_usable(const ml_fit *f, const probe *pr, int dir)
{
    double win = pr->g_sat - pr->g_start;
    return isfinite(f->a) && f->a > 0 && isfinite(f->v0) && isfinite(f->g_far) &&
           (f->g_far - pr->g_start) * dir > 0 && (f->g_far - pr->g_start) / win > 0.5;
}

ml_status ml_calibrate(ml_population *pop, const ml_scheme *s, int dir, ml_fit *fits, ml_cost *cost, ml_error *err)
{
    ml_target t;
    ml_target_population(&t, pop);
    return ml_calibrate_target(&t, s, dir, fits, cost, err);
}

/* The population's model from the usable per-device fits: geometric mean of a (at the common
 * width), mean v0, mean gap between asymptote and saturation. 0 if there is none. */
static int population_fit(const ml_fit *fits, size_t n, ml_fit *out)
{
    double la = 0, v0 = 0, far = 0, lw = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (fits[i].status != ML_FIT_OK) continue;
        la += log(fits[i].a * fits[i].width);
        lw += log(fits[i].width);
        v0 += fits[i].v0;
        far += fits[i].g_far - fits[i].g_lim;
        m++;
    }
    if (!m) return 0;
    *out = fits[0];
    out->width = exp(lw / m);
    out->a = exp(la / m) / out->width;
    out->v0 = v0 / m;
    out->g_far = far / m; /* relative to the saturation level; made absolute per device */
    return 1;
}

ml_status ml_calibrate_target(const ml_target *t, const ml_scheme *s, int dir, ml_fit *fits, ml_cost *cost,
                              ml_error *err)
{
    const size_t n = t->n, per = (size_t)CAL_TRAINS * CAL_LEN;
    const size_t ncal = s->calib_per_device ? n : (n < 8 ? n : 8);
    /* per device: the pairs are fitted at once, so each thread keeps one block's (touching
     * ncal * 9 KB afresh for every chunk of a transfer cost more than the fits); pooled:
     * every calibration device's pairs are kept for the pooled fit. A target with a
     * train_read op runs each block's trains on all its devices at once. */
    const int keep = !s->calib_per_device;
    double *buf = keep ? ml__malloc(ncal * per * 4 * sizeof(double)) : NULL;
    probe *pr = ml__calloc(ncal, sizeof *pr);
    size_t *nk = ml__malloc(ncal * sizeof(size_t));
    ml_cost *cs = ml__calloc(ncal, sizeof(ml_cost));
    ml_fit *own = ml__calloc(ncal, sizeof(ml_fit));
    if ((keep && !buf) || !pr || !nk || !cs || !own) {
        ml__free(buf); ml__free(pr); ml__free(nk); ml__free(cs); ml__free(own);
        return ml_error_set(err, ML_ENOMEM, "calibration: out of memory");
    }
    const ml_device *d = t->dev;
    const int batched = t->ops->train_read != NULL;
    const size_t nb = (ncal + CAL_BLOCK - 1) / CAL_BLOCK;
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        /* per thread: one block's pairs (fitted side by side) and train scratch */
        const size_t nmine = keep ? 0 : CAL_BLOCK;
        double *mine = nmine ? ml__malloc(nmine * per * 4 * sizeof(double)) : NULL;
        train_scratch *x = batched ? ml__malloc(sizeof *x) : NULL;
        if ((nmine && !mine) || (batched && !x)) oom = 1;
        #pragma omp for schedule(dynamic, 1)
        for (size_t bk = 0; bk < nb; bk++) {
            if ((nmine && !mine) || (batched && !x)) continue;
            const size_t i0 = bk * CAL_BLOCK, i1 = i0 + CAL_BLOCK < ncal ? i0 + CAL_BLOCK : ncal;
            double *bs[CAL_BLOCK];
            for (size_t i = i0; i < i1; i++) bs[i - i0] = keep ? buf + i * per * 4 : mine + (i - i0) * per * 4;
            if (batched) characterise_block(t, i0, i1, s, dir, bs, per, &pr[i0], &nk[i0], &cs[i0], x);
            for (size_t i = i0; i < i1; i++) {
                double *b = bs[i - i0];
                size_t k = batched ? nk[i] : characterise(t, i, s, dir, b, b + per, b + 2 * per, b + 3 * per, &pr[i], &cs[i]);
                nk[i] = drop_saturated(b, b + per, b + 2 * per, b + 3 * per, k, pr[i].g_start, pr[i].g_sat);
                if (pr[i].dead) bs[i - i0] = NULL; /* not fitted */
                own[i] = (ml_fit){0};
                own[i].t_ref = d->t_ref;
                own[i].v_th = d->v_th;
            }
            /* the block's fits side by side (ml_fit_pairs on each, bit for bit) */
            int ok[CAL_BLOCK];
            ml__fit_pairs_many(bs, per, &nk[i0], i1 - i0, dir, d->t_ref, d->v_th, &own[i0], ok);
            for (size_t i = i0; i < i1; i++) {
                ml_fit *f = &own[i];
                if (pr[i].dead) f->status = ML_FIT_FAILED;
                else if (!ok[i - i0] || !fit_usable(f, &pr[i], dir)) f->status = ML_FIT_FALLBACK;
                f->g_start = pr[i].g_start;
                f->g_lim = pr[i].g_sat;
                f->width = pr[i].w;
            }
        }
        ml__free(mine);
        ml__free(x);
    }
    if (oom) {
        ml__free(buf); ml__free(pr); ml__free(nk); ml__free(cs); ml__free(own);
        return ml_error_set(err, ML_ENOMEM, "calibration: out of memory");
    }
    for (size_t i = 0; i < ncal; i++) ml_cost_add(cost, &cs[i]);
    ml_status st = ML_OK;
    ml_fit pop;
    int have_pop = population_fit(own, ncal, &pop);
    if (s->calib_per_device) {
        for (size_t i = 0; i < n; i++) {
            fits[i] = own[i];
            if (own[i].status != ML_FIT_FALLBACK) continue;
            if (!have_pop) { fits[i].status = ML_FIT_FAILED; continue; }
            /* the population's law, this device's own start and saturation levels */
            ml_fit f = pop;
            f.g_start = own[i].g_start;
            f.g_lim = own[i].g_lim;
            f.g_far = own[i].g_lim + pop.g_far;
            f.status = ML_FIT_FALLBACK;
            fits[i] = f;
        }
    } else {
        /* one model for every device, fitted on the pooled responses of the first devices
         * that respond */
        double *p = ml__malloc(ncal * per * 4 * sizeof(double));
        if (!p) st = ml_error_set(err, ML_ENOMEM, "calibration: out of memory");
        else {
            double gsum = 0, lsum = 0, lw = 0;
            size_t m = ncal * per, at = 0, live = 0;
            for (size_t i = 0; i < ncal; i++) {
                if (pr[i].dead) continue;
                for (int q = 0; q < 4; q++)
                    for (size_t k = 0; k < nk[i]; k++)
                        p[q * m + at + k] = buf[i * per * 4 + q * per + k];
                at += nk[i];
                gsum += pr[i].g_start;
                lsum += pr[i].g_sat;
                lw += log(pr[i].w);
                live++;
            }
            ml_fit f = {0};
            f.t_ref = d->t_ref;
            f.v_th = d->v_th;
            if (!live || ml_fit_pairs(p, p + m, p + 2 * m, p + 3 * m, at, dir, d->t_ref, d->v_th, &f, NULL))
                f.status = ML_FIT_FAILED;
            if (live) {
                f.g_start = gsum / (double)live;
                f.g_lim = lsum / (double)live;
                f.width = exp(lw / (double)live);
            }
            for (size_t i = 0; i < n; i++) fits[i] = f;
            ml__free(p);
        }
    }
    ml__free(buf); ml__free(pr); ml__free(nk); ml__free(cs); ml__free(own);
    return st;
}
