/* The levels study: program staircases on a simulated population, measure distinguishable
 * states, nonlinearity, precision and cost; sweep a free amplitude when the scheme has one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/steps.h"
#include "memlev/study.h"

void ml_levels_result_free(ml_levels_result *r)
{
    if (!r) return;
    ml__free(r->sweep);
    ml__free(r->g_mean); ml__free(r->g_p05); ml__free(r->g_p95); ml__free(r->step); ml__free(r->v_mean); ml__free(r->pulses_mean);
    ml__free(r);
}

static int failed(const ml_staircase *st, size_t i) { return st->fits[i].status == ML_FIT_FAILED; }

/* mean, 5th and 95th percentile over devices (calibrated ones) of g_mean at every step */
static ml_status band(const ml_staircase *st, double *mean, double *p05, double *p95, ml_error *err)
{
    size_t nd = st->ndev, np = st->npts;
    double *col = ml__malloc(nd * sizeof *col);
    if (!col) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    size_t nl = 0;
    for (size_t i = 0; i < nd; i++) nl += !failed(st, i);
    int all = nl == 0; /* nothing calibrated: the band of every device */
    if (all) nl = nd;
    for (size_t k = 0; k < np; k++) {
        double m = 0;
        size_t c = 0;
        for (size_t i = 0; i < nd; i++) {
            if (!all && failed(st, i)) continue;
            col[c] = st->g_mean[i * np + k];
            m += col[c++];
        }
        mean[k] = m / nl;
        ml_sort_doubles(col, nl);
        p05[k] = col[(size_t)floor(0.05 * (nl - 1))];
        p95[k] = col[(size_t)ceil(0.95 * (nl - 1))];
    }
    ml__free(col);
    return ML_OK;
}

/* Median over the live devices of the distinct steps their plans take (g_pred, 1..P);
 * -1 when out of memory. */
static double planned_steps(const ml_staircase *st)
{
    const size_t np = st->npts, nd = st->ndev;
    double *q = ml__malloc((nd ? nd : 1) * sizeof *q);
    if (!q) return -1;
    size_t m = 0;
    for (size_t i = 0; i < nd; i++) {
        if (failed(st, i)) continue;
        q[m++] = ml__distinct_steps(st->g_pred + i * np, np);
    }
    double r = 0;
    if (m) {
        ml_sort_doubles(q, m);
        r = m % 2 ? q[m / 2] : 0.5 * (q[m / 2 - 1] + q[m / 2]);
    }
    ml__free(q);
    return r;
}

typedef struct run_out {
    ml_population *pop;
    ml_staircase *st;
    double sigma;
    int states;
} run_out;

static ml_status run_one(const ml_levels_study_opts *r, const ml_scheme *s, run_out *o, ml_error *err)
{
    ml_status st = ml_population_new(r->dev, r->devices, r->seed, &o->pop, err);
    if (st) return st;
    st = ml_program_staircase(o->pop, s, r->P, r->dir, &o->st, err);
    if (st) { ml_population_free(o->pop); o->pop = NULL; return st; }
    if ((st = ml_measure_sigma_read(o->pop, 32, &o->sigma, err))) {
        ml_staircase_free(o->st); ml_population_free(o->pop);
        o->st = NULL; o->pop = NULL;
        return st;
    }
    /* closed-loop schemes: counted afterwards by programming each level from reset */
    o->states = ml_scheme_closed_loop(s) ? 0 : ml_states_open(o->st, r->k, o->sigma, r->frac);
    if (o->states < 0) { /* the metric ran out of memory */
        ml_staircase_free(o->st); ml_population_free(o->pop);
        o->st = NULL; o->pop = NULL;
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    return ML_OK;
}

static void run_free(run_out *o)
{
    ml_staircase_free(o->st);
    ml_population_free(o->pop);
    o->st = NULL;
    o->pop = NULL;
}

/* Sweep the scheme's free amplitude; keep the one with the most states among those whose
 * P-pulse staircase spans the requested coverage of the calibrated window. */
static ml_status sweep(const ml_levels_study_opts *r, int nv, run_out *best, ml_levels_result *res, ml_error *err)
{
    const ml_scheme *s = &r->scheme;
    double vhi = 0;
    double *vs = ml__malloc((size_t)nv * sizeof *vs);
    if (!vs || !(res->sweep = ml__calloc((size_t)nv, sizeof *res->sweep))) {
        ml__free(vs);
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    ml_scheme_sweep(s, r->dev, r->dir ? r->dir : 1, vs, nv, &vhi);
    int best_ok = 0;
    double best_cov = -INFINITY;
    if (r->progress) r->progress(r->progress_ctx, "identical sweep", 0, nv);
    for (int q = 0; q < nv; q++) {
        ml_scheme t = *s;
        t.v = vs[q];
        run_out o = {0};
        ml_status rc = run_one(r, &t, &o, err);
        if (rc) { ml__free(vs); run_free(best); return rc; }
        size_t np = o.st->npts, nd = o.st->ndev;
        double span = 0, win = 0;
        for (size_t i = 0; i < nd; i++) {
            if (failed(o.st, i)) continue;
            span += o.st->g_mean[i * np + np - 1] - o.st->g_mean[i * np];
            win += ml_fit_far(&o.st->fits[i]) - o.st->fits[i].g_start;
        }
        double cov = win != 0 ? span / win : 0;
        res->sweep[q] = (ml_levels_sweep_point){t.v, cov, o.states};
        res->nsweep = q + 1;
        int ok = cov >= s->coverage - 0.005;
        /* the most states among amplitudes that span the coverage; until one does, the one
         * that comes nearest (a slow device no amplitude spans is reported, not an error) */
        int better = !best->st || (ok && (!best_ok || o.states > best->states)) || (!ok && !best_ok && cov > best_cov);
        if (better) { run_free(best); *best = o; best_ok = ok; best_cov = cov; }
        else run_free(&o);
        if (r->progress) r->progress(r->progress_ctx, "identical sweep", q + 1, nv);
    }
    ml__free(vs);
    (void)vhi;
    return ML_OK;
}

/* Every figure of the result from the chosen staircase. */
static ml_status figures(const ml_levels_study_opts *r, run_out *best, ml_levels_result *res, ml_error *err)
{
    const ml_scheme *s = &r->scheme;
    ml_staircase *st = best->st;
    size_t nd = st->ndev, np = st->npts;
    ml_cost vcost = {0};
    double ppl = 0;
    int states = best->states;
    if (ml_scheme_closed_loop(s))
        states = ml_states_verify(best->pop, s, st, r->k, best->sigma, r->frac, (int)np, &vcost, &ppl);
    if (states < 0) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    double **arrs[] = {&res->g_mean, &res->g_p05, &res->g_p95, &res->step, &res->v_mean, &res->pulses_mean};
    for (size_t q = 0; q < sizeof arrs / sizeof arrs[0]; q++)
        if (!(*arrs[q] = ml__malloc(np * sizeof(double)))) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    res->npts = np;
    ml_status rc = band(st, res->g_mean, res->g_p05, res->g_p95, err);
    if (rc) return rc;
    const double *mean = res->g_mean;
    res->nonlin = ml_nonlinearity(mean, np);
    res->step[0] = 0;
    for (size_t k = 1; k < np; k++) res->step[k] = mean[k] - mean[k - 1];
    for (size_t k = 0; k < np; k++) {
        double v = 0, p = 0;
        for (size_t i = 0; i < nd; i++) { v += st->v[i * np + k]; p += st->pulses[i * np + k]; }
        res->v_mean[k] = v / nd;
        res->pulses_mean[k] = p / nd;
    }
    double gmin = 0, gmax = 0;
    size_t nl = 0, nfb = 0, nvf = 0;
    for (size_t i = 0; i < nd; i++) {
        if (failed(st, i)) continue;
        double far = ml_fit_far(&st->fits[i]);
        gmin += fmin(st->fits[i].g_start, far);
        gmax += fmax(st->fits[i].g_start, far);
        nl++;
        nfb += st->fits[i].status == ML_FIT_FALLBACK;
        nvf += st->fits[i].status == ML_FIT_VERIFY;
    }
    if (nl) { gmin /= nl; gmax /= nl; }
    /* a window read through noise can pass the device's bounds: clip it to them (the
     * nominal bounds widened by 3 sigma of their device-to-device spread) */
    {
        const ml_device *dv = r->dev;
        double lo = dv->g_min * (1 - 3 * dv->d2d_g_min), hi = dv->g_max * (1 + 3 * dv->d2d_g_max);
        gmin = gmin < lo ? lo : gmin > hi ? hi : gmin;
        gmax = gmax < lo ? lo : gmax > hi ? hi : gmax;
    }
    res->devices_failed = nd - nl;
    res->devices_fallback = nfb;
    res->devices_verify = nvf;
    res->yield = (double)nl / nd;
    ml_precision(st, &res->precision_rms, &res->precision_sigma, &res->precision_worst);
    double nsteps = (double)(nl ? nl : 1) * (np - 1);
    /* programming cost per state: the staircase's pulses, reads, energy and time without the
     * reset (booked apart; devices that failed calibration get none) */
    const ml_cost *pc = &st->cost;
    double pulses = pc->pulses - pc->reset_pulses;
    snprintf(res->device, sizeof res->device, "%s", r->dev->name);
    res->scheme = ml_scheme_name(s->type);
    res->verify_every = s->verify_every;
    res->dir = st->direction; /* auto (r->dir 0): the one the plan kept */
    res->dir_auto = r->dir == 0;
    res->devices = nd;
    res->pulses = (int)(np - 1);
    res->seed = r->seed;
    res->k = r->k;
    res->states = states;
    res->states_saturated = states >= (int)np;
    res->states_population = ml_states_population(st, r->k, best->sigma, r->frac);
    if (res->states_population < 0) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    res->staircase_states = ml_staircase_states(st, r->k, best->sigma);
    if (res->staircase_states < 0) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    res->planned_steps = planned_steps(st);
    if (res->planned_steps < 0) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    res->g_min = gmin;
    res->g_max = gmax;
    res->hrs_lrs_ratio = gmin > 0 ? gmax / gmin : NAN;
    res->pulses_per_state = pulses / nsteps;
    res->reads_per_state = (pc->reads - pc->reset_reads) / nsteps;
    res->energy_per_state_j = (pc->energy_j - pc->reset_energy_j) / nsteps;
    res->time_per_state_s = (pc->time_s - pc->reset_time_s) / nsteps;
    res->sigma_read = best->sigma;
    res->calibration_pulses_per_device = st->calib_cost.pulses / nd;
    res->calibration_reads_per_device = st->calib_cost.reads / nd;
    res->unconverged = (double)st->cost.failed;
    /* costs apart, per device: calibration, one reset, the staircase without its reset */
    {
        const double dn = (double)nd, dl = (double)(nl ? nl : 1);
        ml_cost cal = st->calib_cost, rs = {0}, pg = {0};
        rs.pulses = pc->reset_pulses / dl; rs.reads = pc->reset_reads / dl;
        rs.time_s = pc->reset_time_s / dl; rs.energy_j = pc->reset_energy_j / dl;
        pg.pulses = pulses / dl; pg.reads = (pc->reads - pc->reset_reads) / dl;
        pg.time_s = (pc->time_s - pc->reset_time_s) / dl; pg.energy_j = (pc->energy_j - pc->reset_energy_j) / dl;
        cal.pulses /= dn; cal.reads /= dn; cal.time_s /= dn; cal.energy_j /= dn;
        cal.reset_pulses /= dn; cal.reset_reads /= dn; cal.reset_time_s /= dn; cal.reset_energy_j /= dn;
        res->calibration_cost = cal;
        res->reset_cost = rs;
        res->program_cost = pg;
        res->reprogram_cycles = r->reprogram_cycles > 0 ? r->reprogram_cycles : 1;
        res->reset = ml_reset_mode_name(s->reset_mode);
    }
    res->v_fixed = ml_scheme_fixed_amplitude(s) ? st->v_fixed : NAN;
    res->pulses_per_level_from_reset = res->reads_per_level_from_reset = NAN;
    if (s->ff_max_pulses > 0) { /* one-shot: the staircase programmed every level from reset */
        double p = 0;
        for (size_t i = 0; i < nd; i++)
            if (!failed(st, i))
                for (size_t k = 1; k < np; k++) p += st->pulses[i * np + k];
        res->pulses_per_level_from_reset = nl ? p / ((double)nl * (np - 1)) : 0;
        res->reads_per_level_from_reset = 0;
    }
    if (ml_scheme_closed_loop(s)) {
        res->pulses_per_level_from_reset = ppl;
        res->reads_per_level_from_reset = nl ? (vcost.reads - vcost.reset_reads) / ((double)states * nl) : 0;
    }
    return ML_OK;
}

/* One study at the options' P: sweep or single run, then the figures. */
static ml_status study_at(const ml_levels_study_opts *r, ml_levels_result **out, ml_error *err)
{
    ml_levels_result *res = ml__calloc(1, sizeof *res);
    if (!res) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    run_out best = {0};
    int nv = ml_scheme_sweep(&r->scheme, r->dev, r->dir ? r->dir : 1, NULL, 0, NULL);
    ml_status rc = nv > 0 ? sweep(r, nv, &best, res, err) : run_one(r, &r->scheme, &best, err);
    if (!rc) rc = figures(r, &best, res, err);
    run_free(&best);
    if (rc) { ml_levels_result_free(res); return rc; }
    *out = res;
    return ML_OK;
}

/* The calibration budget a raised P must respect (pulses per device; INFINITY: none). */
static double raise_budget(const ml_levels_study_opts *r)
{
    if (r->calib_budget < 0) return INFINITY;
    if (r->calib_budget > 0) return r->calib_budget;
    return r->scheme.calib_budget > 0 ? r->scheme.calib_budget : ML_LEVELS_CALIB_BUDGET;
}

ml_status ml_levels_study(const ml_levels_study_opts *r, ml_levels_result **out, ml_error *err)
{
    if (!r->dev || !r->scheme.type) return ml_error_set(err, ML_EINVAL, "levels: no device or scheme given");
    if (r->devices < 1) return ml_error_set(err, ML_EINVAL, "levels: devices must be at least 1");
    if (r->P < 1) return ml_error_set(err, ML_EINVAL, "levels: P (%d) must be at least 1", r->P);
    if (isnan(r->calib_budget)) return ml_error_set(err, ML_EINVAL, "levels: calib_budget is not a number");
    int cap = r->P_max > 0 ? r->P_max : ML_LEVELS_P_MAX;
    const double budget = raise_budget(r);
    ml_levels_study_opts o = *r;
    ml_levels_result *res = NULL;
    ml_status rc = study_at(&o, &res, err);
    if (rc) return rc;
    int stop = ML_RAISE_UNSATURATED;
    /* states at the ceiling P + 1 are a lower bound: raise P until they are a count, as long
     * as the raised P's calibration stays within the budget and it gives more states */
    while (res->states_saturated) {
        if (o.P >= cap) { stop = ML_RAISE_CAP; break; }
        o.P = o.P > cap / 2 ? cap : 2 * o.P;
        ml_levels_result *next = NULL;
        if ((rc = study_at(&o, &next, err))) { ml_levels_result_free(res); return rc; }
        int over = next->calibration_pulses_per_device > budget &&
                   next->calibration_pulses_per_device > res->calibration_pulses_per_device;
        if (over || next->states < res->states) {
            stop = over ? ML_RAISE_BUDGET : ML_RAISE_FEWER;
            res->refused_pulses = o.P;
            res->refused_states = next->states;
            res->refused_calibration_pulses = next->calibration_pulses_per_device;
            res->refused_calibration_reads = next->calibration_reads_per_device;
            ml_levels_result_free(next);
            break;
        }
        ml_levels_result_free(res);
        res = next;
    }
    res->raise_stop = stop;
    res->calib_budget = budget;
    res->pulses_requested = r->P;
    *out = res;
    return ML_OK;
}
