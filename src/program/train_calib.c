/* Per-device calibration and programming with one shared constant-pulse train, for
 * populations at network scale (tens of millions of devices, in chunks): the pulse kernel runs
 * the train across devices; each device is fitted in closed form from a few reads of its run
 * (soft bounds under a fixed pulse: G_t = g_far - (g_far - g0) r^t) and programmed with the
 * pulse count its own fit predicts nearest its target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/program.h"
#include "program/internal.h"

#define BLK 256       /* devices per work item: four blocks of the kernel's 64 lanes */
#define MAX_READS 96

ml_status ml_train_calib_defaults(const ml_device *d, int dir, int levels, double coverage, ml_train_calib *c,
                                  ml_error *err)
{
    if (d->model != ML_MODEL_SOFTBOUNDS && d->model != ML_MODEL_NEUROSIM)
        return ml_error_set(err, ML_EINVAL, "train calibration: device '%s' is not a soft-bounds or NeuroSim model", d->name);
    if (dir != 1 && dir != -1) return ml_error_set(err, ML_EINVAL, "train calibration: direction must be +1 or -1");
    if (levels < 2 || !(coverage > 0 && coverage <= 1))
        return ml_error_set(err, ML_EINVAL, "train calibration: levels (%d) must be >= 2 and coverage (%g) in (0, 1]",
                            levels, coverage);
    memset(c, 0, sizeof *c);
    c->dir = dir;
    c->v = fabs(dir > 0 ? d->v_pulse_p : d->v_pulse_d);
    c->reads = 15;
    c->read_every = 24;
    /* the nominal device's step fraction at the nominal pulse; the step is linear in the width */
    double a = dir > 0 ? d->a_p : d->a_d, v0 = dir > 0 ? d->v0_p : d->v0_d;
    double al = ml_softbounds_alpha(a, v0, d->v_th, d->t_ref, c->v, d->width);
    if (!(al > 0) || al >= 1)
        return ml_error_set(err, ML_EINVAL, "train calibration: device '%s' has no usable response at its nominal pulse",
                            d->name);
    double n_cal = (double)(c->reads - 1) * c->read_every;
    double al_cal = 4.0 / n_cal;                     /* e^-4: the run closes ~98 % of the gap */
    double al_prog = coverage / levels / 3.0;        /* first step: a third of a spacing */
    c->width_cal = fmin(fmax(d->width * al_cal / al, d->width_min), d->width_max);
    if (d->model == ML_MODEL_NEUROSIM) {
        /* a NeuroSim device reaches its far bound after Pmax nominal pulses whatever its label
         * (its asymptote lies beyond), and its reads clamp there: the run stays within 0.8 Pmax */
        double pm = dir > 0 ? d->pmax_ltp : d->pmax_ltd;
        c->width_cal = fmin(c->width_cal, fmax(d->width * 0.8 * pm / n_cal, d->width_min));
    }
    c->width_prog = fmin(fmax(d->width * al_prog / al, d->width_min), d->width_max);
    double cov = coverage < 0.999 ? coverage : 0.999, alp = al * c->width_prog / d->width;
    double top = -log(1 - cov) / (alp < 1 ? -log1p(-alp) : 1e9);
    c->max_pulses = (int)fmin(ceil(1.5 * top) + 1, 1e7);
    return ML_OK;
}

static ml_status check(const ml_population *pop, const ml_train_calib *c, ml_error *err)
{
    const ml_device *d = &pop->dev;
    if (d->model != ML_MODEL_SOFTBOUNDS && d->model != ML_MODEL_NEUROSIM)
        return ml_error_set(err, ML_EINVAL, "train calibration: device '%s' is not a soft-bounds or NeuroSim model", d->name);
    if ((c->dir != 1 && c->dir != -1) || !(c->v > 0) || !(c->width_cal > 0) || !(c->width_prog > 0) ||
        c->read_every < 1 || c->reads < 6 || c->reads > MAX_READS || c->reads % 3 || c->max_pulses < 1)
        return ml_error_set(err, ML_EINVAL, "train calibration: options out of range (dir +-1, v, widths > 0, "
                            "read_every >= 1, reads a multiple of 3 in 6..%d, max_pulses >= 1)", MAX_READS);
    return ML_OK;
}

/* Closed-form fit of y[m] = g_far - D r^m (m = 0..M-1, M = 3L): the three block sums give
 * r^L = (S3 - S2) / (S2 - S1); g_far and D by linear least squares on r^m. 0 when the reads do
 * not show a saturating response in direction dir. */
static int fit_reads(const double *y, int M, int dir, double *g0, double *g_far, double *r)
{
    const int L = M / 3;
    double s[3] = {0, 0, 0};
    for (int b = 0; b < 3; b++)
        for (int m = b * L; m < (b + 1) * L; m++) s[b] += y[m];
    double d1 = s[1] - s[0], d2 = s[2] - s[1];
    if (!(d1 * dir > 0)) return 0;
    double rho = d2 / d1;
    if (!(rho > 0 && rho < 1)) return 0;
    double q = pow(rho, 1.0 / L), x = 1, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int m = 0; m < M; m++, x *= q) { sx += x; sy += y[m]; sxx += x * x; sxy += x * y[m]; }
    double det = M * sxx - sx * sx;
    if (!(det > 0)) return 0;
    double slope = (M * sxy - sx * sy) / det, icpt = (sy - slope * sx) / M;
    /* Gauss-Newton on (g_far, D, r) from there: the block estimate of r is unbiased but
     * noisy; least squares on every read brings the start level within the read noise */
    double p[3] = {icpt, -slope, q};
    for (int it = 0; it < 3; it++) {
        double A[3][3] = {{0}}, g[3] = {0}, dx[3];
        x = 1;
        for (int m = 0; m < M; m++) {
            double xm1 = m ? x / p[2] : 0, J[3] = {1, -x, -p[1] * m * xm1}, e = y[m] - (p[0] - p[1] * x);
            for (int a = 0; a < 3; a++) {
                g[a] += J[a] * e;
                for (int b = 0; b < 3; b++) A[a][b] += J[a] * J[b];
            }
            x *= p[2];
        }
        if (ml__solve3(A, g, dx)) break;
        double rn = p[2] + dx[2];
        if (!(rn > 0 && rn < 1)) break;
        p[0] += dx[0]; p[1] += dx[1]; p[2] = rn;
    }
    *g_far = p[0];
    *g0 = p[0] - p[1];
    *r = p[2];
    return isfinite(*g0) && isfinite(*g_far) && (*g_far - *g0) * dir > 0;
}

/* A run that did not move: the reads' total change within 8 times their noise, estimated
 * from successive differences of the last third (where a live device has nearly stopped). */
static int dead(const double *y, int M)
{
    double s2 = 0;
    int m0 = 2 * (M / 3) + 1;
    for (int m = m0; m < M; m++) s2 += (y[m] - y[m - 1]) * (y[m] - y[m - 1]);
    double sigma = sqrt(s2 / (2.0 * (M - m0)));
    return !(fabs(y[M - 1] - y[0]) > 8 * sigma + 1e-6 * fabs(y[0]));
}

static void cost_read(ml_cost *c, const ml_device *d, double g)
{
    c->reads += 1;
    c->time_s += d->t_read;
    c->energy_j += ml_pulse_energy(d->v_read, g, d->t_read);
}

/* n pulses of (v, w) from level g0 to g1: energy from the mean of the two levels */
static void cost_pulses(ml_cost *c, double n, double v, double w, double g0, double g1)
{
    c->pulses += n;
    c->time_s += n * w;
    c->energy_j += n * ml_pulse_energy(v, 0.5 * (g0 + g1), w);
}

static double *const_train(double x, int k)
{
    double *a = ml__malloc((size_t)(k > 0 ? k : 1) * sizeof *a);
    if (a) for (int q = 0; q < k; q++) a[q] = x;
    return a;
}

ml_status ml_calibrate_train(ml_population *pop, const ml_train_calib *c, ml_train_fit *fits, ml_cost *cost,
                             ml_error *err)
{
    ml_status rc = check(pop, c, err);
    if (rc) return rc;
    const size_t n = pop->n, nb = (n + BLK - 1) / BLK;
    const int M = c->reads, R = c->read_every;
    const double vs = c->dir * c->v, ratio = c->width_prog / c->width_cal;
    double *tv = const_train(vs, R), *tw = const_train(c->width_cal, R);
    ml_cost *cs = ml__calloc(nb ? nb : 1, sizeof *cs);
    if (!tv || !tw || !cs) {
        ml__free(tv); ml__free(tw); ml__free(cs);
        return ml_error_set(err, ML_ENOMEM, "train calibration: out of memory");
    }
    int oom = 0;
    #pragma omp parallel reduction(| : oom)
    {
        double *y = ml__malloc((size_t)M * BLK * sizeof *y);
        if (!y) oom = 1;
        #pragma omp for schedule(static)
        for (size_t b = 0; b < nb; b++) {
            if (!y) continue;
            size_t i0 = b * BLK, i1 = i0 + BLK < n ? i0 + BLK : n, nl = i1 - i0;
            for (size_t i = i0; i < i1; i++) {
                ml_program_reset1(pop, i, c->dir, &cs[b]);
                y[i - i0] = ml_read1(pop, i);
                cost_read(&cs[b], &pop->dev, pop->g[i]);
            }
            for (int m = 1; m < M; m++) {
                ml_pulse_train(pop, i0, i1, tv, tw, R, NULL);
                for (size_t i = i0; i < i1; i++) {
                    double *ym = y + (size_t)m * BLK + (i - i0);
                    *ym = ml_read1(pop, i);
                    cost_read(&cs[b], &pop->dev, pop->g[i]);
                    cost_pulses(&cs[b], R, vs, c->width_cal, ym[-BLK], *ym);
                }
            }
            double col[MAX_READS];
            for (size_t j = 0; j < nl; j++) {
                for (int m = 0; m < M; m++) col[m] = y[(size_t)m * BLK + j];
                double g0, gf, r;
                ml_train_fit *f = &fits[i0 + j];
                if (dead(col, M)) {
                    *f = (ml_train_fit){(float)col[0], (float)col[0], 0.0f, ML_FIT_FAILED};
                } else if (fit_reads(col, M, c->dir, &g0, &gf, &r)) {
                    /* r = (1 - alpha_cal)^R; the step fraction is linear in the width */
                    double al_cal = -expm1(log(r) / R);
                    *f = (ml_train_fit){(float)g0, (float)gf, (float)fmin(al_cal * ratio, 1.0), ML_FIT_OK};
                } else {
                    *f = (ml_train_fit){(float)col[0], (float)col[0], 0.0f, ML_FIT_FALLBACK};
                }
            }
        }
        ml__free(y);
    }
    if (oom) {
        ml__free(tv); ml__free(tw); ml__free(cs);
        return ml_error_set(err, ML_ENOMEM, "train calibration: out of memory");
    }
    /* devices that moved without a usable fit: the mean fit of the others (gap and step)
     * from their own start read; failed when no device fitted */
    double sd = 0, sa = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        if (fits[i].status == ML_FIT_OK) { sd += fits[i].g_far - fits[i].g0; sa += fits[i].alpha; ok++; }
    for (size_t i = 0; i < n; i++) {
        if (fits[i].status != ML_FIT_FALLBACK) continue;
        ml_train_fit *f = &fits[i];
        if (!ok) { f->status = ML_FIT_FAILED; continue; }
        f->g_far = (float)(f->g0 + sd / (double)ok);
        f->alpha = (float)(sa / (double)ok);
        f->status = ML_FIT_FALLBACK;
    }
    ml_cost tot = {0};
    for (size_t b = 0; b < nb; b++) ml_cost_add(&tot, &cs[b]);
    if (cost) ml_cost_add(cost, &tot);
    ml__free(tv); ml__free(tw); ml__free(cs);
    return ML_OK;
}

double ml_train_predict(const ml_train_fit *f, int count)
{
    double D = (double)f->g_far - f->g0;
    return f->g_far - D * exp(count * log1p(-(double)f->alpha));
}

int ml_train_count(const ml_train_fit *f, double g, int max)
{
    double D = (double)f->g_far - f->g0;
    if (f->status == ML_FIT_FAILED || !(f->alpha > 0) || D == 0) return 0;
    double u = (f->g_far - g) / D;
    if (u >= 1) return 0;
    if (u <= 0) return max;
    double t = log(u) / log1p(-(double)f->alpha);
    if (!(t < max)) return max;
    int lo = (int)floor(t);
    return fabs(ml_train_predict(f, lo + 1) - g) < fabs(ml_train_predict(f, lo) - g) ? lo + 1 : lo;
}

ml_status ml_train_window(const ml_train_fit *fits, size_t n, int dir, double coverage, double *lo, double *hi,
                          ml_error *err)
{
    double a = NAN, b = NAN;
    for (size_t i = 0; i < n; i++) {
        if (fits[i].status == ML_FIT_FAILED) continue;
        double g0 = fits[i].g0, top = g0 + coverage * ((double)fits[i].g_far - g0);
        if (isnan(a) || (g0 - a) * dir > 0) a = g0;
        if (isnan(b) || (top - b) * dir < 0) b = top;
    }
    if (isnan(a) || !((b - a) * dir > 0))
        return ml_error_set(err, ML_EINVAL, "train calibration: the devices share no window");
    *lo = a;
    *hi = b;
    return ML_OK;
}

ml_status ml_program_train(ml_population *pop, const ml_train_calib *c, const ml_train_fit *fits, const double *g,
                           ml_cost *cost, ml_error *err)
{
    ml_status rc = check(pop, c, err);
    if (rc) return rc;
    const size_t n = pop->n, nb = (n + BLK - 1) / BLK;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(g[i])) return ml_error_set(err, ML_EINVAL, "train programming: target %zu is not finite", i);
    const double vs = c->dir * c->v;
    double *tv = const_train(vs, c->max_pulses), *tw = const_train(c->width_prog, c->max_pulses);
    ml_cost *cs = ml__calloc(nb ? nb : 1, sizeof *cs);
    if (!tv || !tw || !cs) {
        ml__free(tv); ml__free(tw); ml__free(cs);
        return ml_error_set(err, ML_ENOMEM, "train programming: out of memory");
    }
    #pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * BLK, i1 = i0 + BLK < n ? i0 + BLK : n;
        int cnt[BLK], kmax = 0;
        for (size_t i = i0; i < i1; i++) {
            ml_program_reset1(pop, i, c->dir, &cs[b]);
            int k = ml_train_count(&fits[i], g[i], c->max_pulses);
            cnt[i - i0] = k;
            kmax = k > kmax ? k : kmax;
            if (k) cost_pulses(&cs[b], k, vs, c->width_prog, fits[i].g0, ml_train_predict(&fits[i], k));
        }
        ml_pulse_train(pop, i0, i1, tv, tw, kmax, cnt);
    }
    ml_cost tot = {0};
    for (size_t b = 0; b < nb; b++) ml_cost_add(&tot, &cs[b]);
    if (cost) ml_cost_add(cost, &tot);
    ml__free(tv); ml__free(tw); ml__free(cs);
    return ML_OK;
}

ml_status ml_train_staircase(ml_population *pop, const ml_train_calib *c, const ml_train_fit *fits, double lo,
                             double hi, int P, ml_staircase **out, ml_error *err)
{
    ml_status rc = check(pop, c, err);
    if (rc) return rc;
    if (P < 1 || !isfinite(lo) || !isfinite(hi))
        return ml_error_set(err, ML_EINVAL, "train staircase: P (%d) must be >= 1 and the window finite", P);
    const size_t n = pop->n, np = (size_t)P + 1, nb = (n + BLK - 1) / BLK;
    ml_staircase *st = ml__calloc(1, sizeof *st);
    if (!st) return ml_error_set(err, ML_ENOMEM, "train staircase: out of memory");
    st->ndev = n; st->npts = np; st->direction = c->dir; st->grid_common = 1;
    st->v_fixed = c->dir * c->v;
    st->g_true = ml__malloc(n * np * sizeof(double)); st->g_read = ml__malloc(n * np * sizeof(double));
    st->g_mean = ml__malloc(n * np * sizeof(double)); st->g_pred = ml__malloc(n * np * sizeof(double));
    st->v = ml__malloc(n * np * sizeof(double)); st->w = ml__malloc(n * np * sizeof(double));
    st->pulses = ml__malloc(n * np * sizeof(double)); st->fits = ml__calloc(n, sizeof(ml_fit));
    double *tv = const_train(st->v_fixed, c->max_pulses), *tw = const_train(c->width_prog, c->max_pulses);
    ml_cost *cs = ml__calloc(nb ? nb : 1, sizeof *cs);
    if (!st->g_true || !st->g_read || !st->g_mean || !st->g_pred || !st->v || !st->w || !st->pulses || !st->fits ||
        !tv || !tw || !cs) {
        ml__free(tv); ml__free(tw); ml__free(cs); ml_staircase_free(st);
        return ml_error_set(err, ML_ENOMEM, "train staircase: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ml_fit *f = &st->fits[i];
        f->g_start = fits[i].g0; f->g_far = fits[i].g_far; f->g_lim = 0;
        f->a = fits[i].alpha; f->v0 = NAN; f->t_ref = pop->dev.t_ref; f->v_th = pop->dev.v_th;
        f->width = c->width_prog; f->status = fits[i].status;
    }
    #pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * BLK, i1 = i0 + BLK < n ? i0 + BLK : n;
        int done[BLK], cnt[BLK];
        for (size_t i = i0; i < i1; i++) { ml_program_reset1(pop, i, c->dir, &cs[b]); done[i - i0] = 0; }
        for (size_t k = 0; k < np; k++) {
            int kmax = 0;
            double t = lo + (hi - lo) * (double)k / P;
            for (size_t i = i0; i < i1; i++) {
                int want = k ? ml_train_count(&fits[i], t, c->max_pulses) : 0;
                cnt[i - i0] = want > done[i - i0] ? want - done[i - i0] : 0;
                kmax = cnt[i - i0] > kmax ? cnt[i - i0] : kmax;
            }
            ml_pulse_train(pop, i0, i1, tv, tw, kmax, cnt);
            for (size_t i = i0; i < i1; i++) {
                size_t q = i * np + k;
                int m = cnt[i - i0];
                if (m) cost_pulses(&cs[b], m, st->v_fixed, c->width_prog, ml_train_predict(&fits[i], done[i - i0]),
                                   ml_train_predict(&fits[i], done[i - i0] + m));
                done[i - i0] += m;
                st->g_pred[q] = k ? t : fits[i].g0;
                st->g_true[q] = pop->g[i];
                st->g_read[q] = ml_read1(pop, i);
                double s = 0;
                for (int r = 0; r < 4; r++) s += ml_read1(pop, i);
                st->g_mean[q] = s / 4;
                st->v[q] = m ? st->v_fixed : 0;
                st->w[q] = m ? c->width_prog : 0;
                st->pulses[q] = m;
            }
        }
    }
    for (size_t b = 0; b < nb; b++) ml_cost_add(&st->cost, &cs[b]);
    ml__free(tv); ml__free(tw); ml__free(cs);
    *out = st;
    return ML_OK;
}
