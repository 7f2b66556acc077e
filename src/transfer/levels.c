/* Level sets: characterise N programmable levels of a (device, scheme) on a sample of
 * devices with one shared calibration, recording every level's empirical distribution. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "memlev/metrics.h"
#include "memlev/rng.h"
#include "memlev/transfer.h"

void ml_levelset_free(ml_levelset *ls)
{
    if (!ls) return;
    ml__free(ls->target); ml__free(ls->mean); ml__free(ls->samples); ml__free(ls->v); ml__free(ls->w);
    ml__free(ls->model_level); ml__free(ls->model_cost);
    ml_program_plan_free(ls->plan);
    ml_device_clear(&ls->dev);
    ml__free(ls);
}

#define MODEL_LEVELS 17   /* levels the cost model measures, at most */
#define MODEL_DEVICES 32  /* sample devices it programs to each */

static ml_cost per_device(const ml_cost *c, double m)
{
    ml_cost r = *c;
    double *f[] = {&r.pulses, &r.reads, &r.time_s, &r.energy_j, &r.reset_pulses, &r.reset_reads, &r.reset_time_s,
                   &r.reset_energy_j, &r.resets};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) *f[k] /= m;
    return r;
}

/* The measured cost model: program the first MODEL_DEVICES sample devices from reset to each
 * model level with the scheme's real procedure (the others to level 0: reset only) and book
 * the programming and reset costs per device. */
static ml_status cost_model(ml_levelset *ls, const ml_target *tg, size_t m, ml_error *err)
{
    const int n = ls->n, K = n < MODEL_LEVELS ? n : MODEL_LEVELS;
    const size_t ms = m < MODEL_DEVICES ? m : MODEL_DEVICES;
    int *lev = ml__calloc(m, sizeof *lev);
    ls->model_level = ml__malloc((size_t)K * sizeof(int));
    ls->model_cost = ml__calloc((size_t)K, sizeof(ml_cost));
    if (!lev || !ls->model_level || !ls->model_cost) { ml__free(lev); return ml_error_set(err, ML_ENOMEM, "levels: out of memory"); }
    ml_cost resets = {0};
    ml_status rc = ML_OK;
    for (int q = 0; q < K && !rc; q++) {
        int j = (int)lround((double)q * (n - 1) / (K - 1));
        for (size_t i = 0; i < ms; i++) lev[i] = j + ls->level_offset; /* plan step of level j */
        ml_cost c = {0};
        rc = ml_program_plan_run(ls->plan, tg, lev, &c, err);
        ls->model_level[q] = j;
        /* programming without the resets, per programmed device */
        ml_cost p = {0};
        p.pulses = c.pulses - c.reset_pulses;
        p.reads = c.reads - c.reset_reads;
        p.time_s = c.time_s - c.reset_time_s;
        p.energy_j = c.energy_j - c.reset_energy_j;
        p.failed = c.failed;
        p.converged = c.converged;
        ls->model_cost[q] = per_device(&p, (double)ms);
        ml_cost r = {0};
        r.reset_pulses = r.pulses = c.reset_pulses;
        r.reset_reads = r.reads = c.reset_reads;
        r.reset_time_s = r.time_s = c.reset_time_s;
        r.reset_energy_j = r.energy_j = c.reset_energy_j;
        r.resets = c.resets;
        ml_cost_add(&resets, &r);
    }
    ml__free(lev);
    if (rc) return rc;
    ls->nmodel = K;
    ls->reset_cost = resets.resets > 0 ? per_device(&resets, resets.resets) : resets;
    return ML_OK;
}

void ml_levelset_cost(const ml_levelset *ls, int j, ml_cost *c)
{
    int q = 1;
    while (q < ls->nmodel - 1 && ls->model_level[q] < j) q++;
    const ml_cost *a = &ls->model_cost[q - 1], *b = &ls->model_cost[q];
    int ja = ls->model_level[q - 1], jb = ls->model_level[q];
    double f = jb > ja ? (double)(j - ja) / (jb - ja) : 0;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    c->pulses += a->pulses + f * (b->pulses - a->pulses);
    c->reads += a->reads + f * (b->reads - a->reads);
    c->time_s += a->time_s + f * (b->time_s - a->time_s);
    c->energy_j += a->energy_j + f * (b->energy_j - a->energy_j);
}

/* A closed-loop scheme programs a weight's device straight from reset to its level, reading
 * toward it, where the staircase walks through every level below; within its tolerance the
 * two land differently (on tio2x with a shared grid at 4 levels, a level's mean moves by up
 * to 0.25 of a spacing and its spread grows 5-10x). So that statistical transfer draws what
 * pulse-mode transfer programs, the sample is programmed again, level by level, straight from
 * reset as transfer programs it, and each level's read replaces the staircase's in st
 * (g_read: what the samples and the state counts take). *unconverged: targets not reached. */
static ml_status sample_direct(const ml_program_plan *plan, const ml_target *tg, ml_population *pop,
                               ml_staircase *st, int n, int off, size_t *unconverged, ml_error *err)
{
    const size_t m = st->ndev, nst = st->npts;
    int *lev = ml__malloc(m * sizeof *lev);
    if (!lev) return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    ml_status rc = ML_OK;
    *unconverged = 0;
    for (int k = 0; k < n && !rc; k++) {
        for (size_t i = 0; i < m; i++) lev[i] = k + off;
        ml_cost c = {0};
        rc = ml_program_plan_run(plan, tg, lev, &c, err);
        *unconverged += c.failed;
        for (size_t i = 0; i < m && !rc; i++) st->g_read[i * nst + (size_t)(k + off)] = ml_read1(pop, i);
    }
    ml__free(lev);
    return rc;
}

ml_status ml_levelset_build(const ml_device *d, const ml_scheme *s0, int n, size_t m, uint64_t seed,
                            ml_levelset **out, ml_error *err)
{
    if (n < 2 || n > 65536) return ml_error_set(err, ML_EINVAL, "levels: %d is out of range (2..65536)", n);
    if (m < 8) m = 8;
    const ml_scheme s = *s0;
    const int off = s.grid_common ? 1 : 0; /* a shared grid starts one step above reset */
    ml_population *pop = NULL;
    ml_staircase *st = NULL;
    ml_program_plan *plan = NULL;
    ml_target tg;
    ml_cost calib = {0};
    ml_status rc = ml_population_new(d, m, ml_seed_mix(seed, 0x1e7e15e7ull), &pop, err);
    if (!rc) {
        ml_target_population(&tg, pop);
        rc = ml_program_plan_new(&tg, &s, n - 1 + off, 1, &calib, &plan, err);
    }
    if (!rc) rc = ml_program_plan_staircase(plan, &tg, &st, err);
    size_t unconverged = st ? st->cost.failed : 0;
    if (!rc && ml_scheme_closed_loop(&s)) rc = sample_direct(plan, &tg, pop, st, n, off, &unconverged, err);
    if (rc) { ml_staircase_free(st); ml_program_plan_free(plan); ml_population_free(pop); return rc; }
    st->calib_cost = calib;
    ml_levelset *ls = ml__calloc(1, sizeof *ls);
    size_t np = (size_t)n, nst = st->npts; /* levels; staircase points (n + off) */
    if (!ls || ml_device_copy(&ls->dev, d) || !(ls->target = ml__malloc(np * sizeof(double))) ||
        !(ls->mean = ml__malloc(np * sizeof(double))) || !(ls->samples = ml__malloc(np * m * sizeof(double)))) {
        ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop); ml_program_plan_free(plan);
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    ls->plan = plan;            /* later programming shares (or repeats) this calibration */
    /* one model and no reads: every device gets the same pulse sequence */
    if (ml_scheme_shares_schedule(&s)) {
        ls->v = ml__malloc(nst * sizeof(double));
        ls->w = ml__malloc(nst * sizeof(double));
        if (!ls->v || !ls->w) {
            ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop);
            return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
        }
        memcpy(ls->v, st->v, nst * sizeof(double));
        memcpy(ls->w, st->w, nst * sizeof(double));
    }
    ls->scheme = s;
    ls->n = n;
    ls->level_offset = off;
    ls->nsamp = (int)m;
    ls->fit = st->fits[0];       /* population calibration: the shared model */
    if (st->fits_other) ls->fit_other = st->fits_other[0];
    for (size_t k = 0; k < np; k++) {
        double t = 0;
        for (size_t i = 0; i < m; i++) t += st->g_pred[i * nst + k + off];
        ls->target[k] = t / m;   /* mean planned level (per-device plans differ by the D2D window) */
        double sum = 0;
        for (size_t i = 0; i < m; i++) {
            double g = st->g_read[i * nst + k + off];
            ls->samples[k * m + i] = g;
            sum += g;
        }
        ls->mean[k] = sum / m;
        ml_sort_doubles(ls->samples + k * m, m);
    }
    double sigma = 0;
    if ((rc = ml_measure_sigma_read(pop, 32, &sigma, err))) {
        ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop);
        return rc;
    }
    if ((ls->states = ml_states_open(st, 3, sigma, 0.9)) < 0 ||
        (ls->states_population = ml_states_population(st, 3, sigma, 0.9)) < 0) {
        ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop);
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    if (ls->states > n) ls->states = n;
    ls->pulses_per_level = (st->cost.pulses - st->cost.reset_pulses) / ((double)m * (nst - 1));
    if (s.ff_max_pulses > 0) { /* one-shot: every level straight from reset, as many pulses as it took */
        double p = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t k = (size_t)off; k < nst; k++) p += st->pulses[i * nst + k];
        ls->pulses_per_level = p / ((double)m * (double)np);
    } else if (!ml_scheme_closed_loop(&s)) ls->pulses_per_level = 0.5 * (np - 1) + off; /* level j takes j + off pulses */
    ls->calib_pulses_per_device = st->calib_cost.pulses / (double)m;
    ls->calib_cost = per_device(&st->calib_cost, (double)m);
    size_t nfail = 0, nfb = 0, nvf = 0;
    for (size_t i = 0; i < m; i++) {
        nfail += st->fits[i].status == ML_FIT_FAILED;
        nfb += st->fits[i].status == ML_FIT_FALLBACK;
        nvf += st->fits[i].status == ML_FIT_VERIFY;
    }
    ls->devices_failed = nfail;
    ls->devices_fallback = nfb;
    ls->devices_verify = nvf;
    ls->yield = (double)(m - nfail) / (double)m;
    ls->unconverged = unconverged;
    rc = cost_model(ls, &tg, m, err);
    if (rc) { ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop); return rc; }
    ml_staircase_free(st);
    ml_population_free(pop);
    *out = ls;
    return ML_OK;
}

double ml_ks_statistic(double *a, size_t na, double *b, size_t nb)
{
    ml_sort_doubles(a, na);
    ml_sort_doubles(b, nb);
    size_t i = 0, j = 0;
    double d = 0;
    while (i < na && j < nb) {
        double x = a[i] <= b[j] ? a[i] : b[j];
        while (i < na && a[i] <= x) i++;
        while (j < nb && b[j] <= x) j++;
        double f = fabs((double)i / na - (double)j / nb);
        if (f > d) d = f;
    }
    return d;
}
