/* levels study: program staircases, measure states, nonlinearity, precision and cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/levels_run.h"
#include "memlev/metrics.h"
#include "memlev/util.h"

static cJSON *arr(const double *v, size_t n, double scale)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i] * scale));
    return a;
}

/* mean, 5th and 95th percentile over devices of g_read at every step */
static void band(const ml_staircase *st, double *mean, double *p05, double *p95)
{
    size_t nd = st->ndev, np = st->npts;
    double *col = malloc(nd * sizeof *col);
    for (size_t k = 0; k < np; k++) {
        double m = 0;
        for (size_t i = 0; i < nd; i++) { col[i] = st->g_mean[i * np + k]; m += col[i]; }
        mean[k] = m / nd;
        ml_sort_doubles(col, nd);
        p05[k] = col[(size_t)floor(0.05 * (nd - 1))];
        p95[k] = col[(size_t)ceil(0.95 * (nd - 1))];
    }
    free(col);
}

typedef struct run_out {
    ml_population *pop;
    ml_staircase *st;
    double sigma;
    int states;
} run_out;

static void run_free(run_out *o);

static ml_status run_one(const levels_req *r, const ml_scheme *s, run_out *o, ml_error *err)
{
    ml_status st = ml_population_new(r->dev, r->devices, r->seed, &o->pop, err);
    if (st) return st;
    st = ml_program_staircase(o->pop, s, r->P, r->dir, &o->st, err);
    if (st) { ml_population_free(o->pop); o->pop = NULL; return st; }
    if ((st = ml_measure_sigma_read(o->pop, 32, &o->sigma, err))) { run_free(o); return st; }
    o->states = s->kind == ML_SCHEME_VERIFY ? 0 : ml_states_open(o->st, r->k, o->sigma, r->frac);
    return ML_OK;
}

static void run_free(run_out *o)
{
    ml_staircase_free(o->st);
    ml_population_free(o->pop);
    o->st = NULL;
    o->pop = NULL;
}

ml_status levels_run(const levels_req *r, cJSON **json, ml_error *err)
{
    ml_scheme s = r->scheme;
    run_out best = {0};
    cJSON *sweep = NULL;
    ml_status rc;
    if (s.kind == ML_SCHEME_IDENTICAL && s.v <= 0) {
        /* sweep fixed amplitudes; keep the one with the most states among those whose P-pulse
         * staircase spans the requested coverage of the calibrated window */
        sweep = cJSON_CreateArray();
        ml_progress pr;
        double vmax = r->dev->v_max, v0 = fabs(r->dir > 0 ? r->dev->v_pulse_p : r->dev->v_pulse_d);
        double vlo = fmax(r->dev->v_th * 1.05, 0.5 * v0), vhi = fmin(vmax, 2.0 * v0);
        int nv = (int)floor((vhi - vlo) / 0.025 + 1e-9) + 1; /* 25 mV steps */
        if (nv < 2) nv = 2;
        ml_progress_begin(&pr, "identical sweep", nv, 0);
        for (int q = 0; q < nv; q++) {
            ml_scheme t = s;
            t.v = vlo + 0.025 * q;
            if (t.v > vhi) t.v = vhi;
            run_out o = {0};
            if ((rc = run_one(r, &t, &o, err))) { cJSON_Delete(sweep); run_free(&best); return rc; }
            size_t np = o.st->npts, nd = o.st->ndev;
            double span = 0, win = 0;
            for (size_t i = 0; i < nd; i++) {
                span += o.st->g_mean[i * np + np - 1] - o.st->g_mean[i * np];
                win += ml_fit_far(&o.st->fits[i]) - o.st->fits[i].g_start;
            }
            double cov = span / win;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "v", t.v);
            cJSON_AddNumberToObject(e, "coverage", cov);
            cJSON_AddNumberToObject(e, "states", o.states);
            cJSON_AddItemToArray(sweep, e);
            int ok = cov >= s.coverage - 0.005;
            if (ok && (!best.st || o.states > best.states)) { run_free(&best); best = o; }
            else run_free(&o);
            ml_progress_update(&pr, q + 1);
        }
        ml_progress_end(&pr);
        if (!best.st) {
            cJSON_Delete(sweep);
            return ml_error_set(err, ML_EINVAL, "identical: no amplitude up to %g V spans %.0f%% of the window in %d pulses",
                                vhi, 100 * s.coverage, r->P);
        }
    } else if ((rc = run_one(r, &s, &best, err))) {
        return rc;
    }
    ml_staircase *st = best.st;
    size_t nd = st->ndev, np = st->npts;
    ml_cost vcost = {0};
    double ppl = 0;
    int states = best.states;
    if (s.kind == ML_SCHEME_VERIFY)
        states = ml_states_verify(best.pop, &s, st, r->k, best.sigma, r->frac, (int)np, &vcost, &ppl);
    double *mean = malloc(np * sizeof *mean), *p05 = malloc(np * sizeof *p05), *p95 = malloc(np * sizeof *p95);
    double *steps = malloc(np * sizeof *steps), *vs = malloc(np * sizeof *vs), *pls = malloc(np * sizeof *pls);
    band(st, mean, p05, p95);
    ml_nonlin nl = ml_nonlinearity(mean, np);
    steps[0] = 0;
    for (size_t k = 1; k < np; k++) steps[k] = mean[k] - mean[k - 1];
    for (size_t k = 0; k < np; k++) {
        double v = 0, p = 0;
        for (size_t i = 0; i < nd; i++) { v += st->v[i * np + k]; p += st->pulses[i * np + k]; }
        vs[k] = v / nd;
        pls[k] = p / nd;
    }
    double gmin = 0, gmax = 0;
    for (size_t i = 0; i < nd; i++) {
        double far = ml_fit_far(&st->fits[i]);
        gmin += fmin(st->fits[i].g_start, far);
        gmax += fmax(st->fits[i].g_start, far);
    }
    gmin /= nd; gmax /= nd;
    double rms, sig, worst;
    ml_precision(st, &rms, &sig, &worst);
    double nsteps = (double)nd * (np - 1);
    /* programming cost per state: the staircase's pulses beyond the reset pulse */
    double pulses = st->cost.pulses - (double)nd;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", r->dev->name);
    cJSON_AddStringToObject(j, "scheme", ml_scheme_name(s.kind));
    cJSON_AddStringToObject(j, "direction", r->dir > 0 ? "up" : "down");
    cJSON_AddNumberToObject(j, "devices", (double)nd);
    cJSON_AddNumberToObject(j, "pulses", np - 1);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "k", r->k);
    cJSON_AddNumberToObject(j, "states", states);
    /* states == P + 1 is the metric's ceiling: a lower bound, not a measured count */
    cJSON_AddBoolToObject(j, "states_saturated", states >= (int)np);
    cJSON_AddNumberToObject(j, "staircase_states", ml_staircase_states(st, r->k, best.sigma));
    cJSON_AddNumberToObject(j, "nonlinearity", nl.label);
    cJSON_AddNumberToObject(j, "max_deviation", nl.max_dev);
    cJSON_AddNumberToObject(j, "r2", nl.r2);
    cJSON_AddNumberToObject(j, "g_min_uS", gmin * 1e6);
    cJSON_AddNumberToObject(j, "g_max_uS", gmax * 1e6);
    cJSON_AddNumberToObject(j, "hrs_lrs_ratio", gmax / gmin);
    cJSON_AddNumberToObject(j, "pulses_per_state", pulses / nsteps);
    cJSON_AddNumberToObject(j, "reads_per_state", st->cost.reads / nsteps);
    cJSON_AddNumberToObject(j, "energy_per_state_J", st->cost.energy_j / nsteps);
    cJSON_AddNumberToObject(j, "time_per_state_s", st->cost.time_s / nsteps);
    cJSON_AddNumberToObject(j, "sigma_read_uS", best.sigma * 1e6);
    cJSON_AddNumberToObject(j, "calibration_pulses_per_device", st->calib_cost.pulses / nd);
    cJSON_AddNumberToObject(j, "calibration_reads_per_device", st->calib_cost.reads / nd);
    cJSON_AddNumberToObject(j, "precision_rms_uS", rms * 1e6);
    cJSON_AddNumberToObject(j, "precision_sigma_uS", sig * 1e6);
    cJSON_AddNumberToObject(j, "precision_worst_uS", worst * 1e6);
    cJSON_AddNumberToObject(j, "unconverged", (double)st->cost.failed);
    if (s.kind == ML_SCHEME_IDENTICAL) cJSON_AddNumberToObject(j, "v_fixed", st->v_fixed);
    if (s.kind == ML_SCHEME_VERIFY) {
        cJSON_AddNumberToObject(j, "pulses_per_level_from_reset", ppl);
        cJSON_AddNumberToObject(j, "reads_per_level_from_reset", vcost.reads / ((double)states * nd));
    }
    if (sweep) cJSON_AddItemToObject(j, "sweep", sweep);
    cJSON *sc = cJSON_AddObjectToObject(j, "staircase");
    cJSON_AddItemToObject(sc, "g_mean_uS", arr(mean, np, 1e6));
    cJSON_AddItemToObject(sc, "g_p05_uS", arr(p05, np, 1e6));
    cJSON_AddItemToObject(sc, "g_p95_uS", arr(p95, np, 1e6));
    cJSON_AddItemToObject(sc, "step_uS", arr(steps, np, 1e6));
    cJSON_AddItemToObject(sc, "v_mean", arr(vs, np, 1));
    cJSON_AddItemToObject(sc, "pulses_mean", arr(pls, np, 1));
    free(mean); free(p05); free(p95); free(steps); free(vs); free(pls);
    run_free(&best);
    *json = j;
    return ML_OK;
}

void levels_print(const cJSON *j)
{
#define N(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, k))
    printf("%-12s %-8s states %4.0f  staircase %4.0f  NL %+6.2f  maxdev %.4f  R2 %.5f  window %.2f-%.2f uS  "
           "pulses/state %.2f  reads/state %.2f  energy/state %.3g J\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scheme")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "device")), N("states"), N("staircase_states"),
           N("nonlinearity"), N("max_deviation"), N("r2"), N("g_min_uS"), N("g_max_uS"), N("pulses_per_state"),
           N("reads_per_state"), N("energy_per_state_J"));
#undef N
}
