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
    ml_program_plan_free(ls->plan);
    ml_device_clear(&ls->dev);
    ml__free(ls);
}

ml_status ml_levelset_build(const ml_device *d, const ml_scheme *s0, int n, size_t m, uint64_t seed,
                            ml_levelset **out, ml_error *err)
{
    if (n < 2 || n > 65536) return ml_error_set(err, ML_EINVAL, "levels: %d is out of range (2..65536)", n);
    if (m < 8) m = 8;
    const ml_scheme s = *s0;
    ml_population *pop = NULL;
    ml_staircase *st = NULL;
    ml_program_plan *plan = NULL;
    ml_target tg;
    ml_cost calib = {0};
    ml_status rc = ml_population_new(d, m, ml_seed_mix(seed, 0x1e7e15e7ull), &pop, err);
    if (!rc) {
        ml_target_population(&tg, pop);
        rc = ml_program_plan_new(&tg, &s, n - 1, 1, &calib, &plan, err);
    }
    if (!rc) rc = ml_program_plan_staircase(plan, &tg, &st, err);
    if (rc) { ml_program_plan_free(plan); ml_population_free(pop); return rc; }
    st->calib_cost = calib;
    ml_levelset *ls = ml__calloc(1, sizeof *ls);
    size_t np = st->npts;
    if (!ls || ml_device_copy(&ls->dev, d) || !(ls->target = ml__malloc(np * sizeof(double))) ||
        !(ls->mean = ml__malloc(np * sizeof(double))) || !(ls->samples = ml__malloc(np * m * sizeof(double)))) {
        ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop); ml_program_plan_free(plan);
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    ls->plan = plan;            /* later programming shares (or repeats) this calibration */
    /* one model and no reads: every device gets the same pulse sequence */
    if (ml_scheme_shares_schedule(&s)) {
        ls->v = ml__malloc(np * sizeof(double));
        ls->w = ml__malloc(np * sizeof(double));
        if (!ls->v || !ls->w) {
            ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop);
            return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
        }
        memcpy(ls->v, st->v, np * sizeof(double));
        memcpy(ls->w, st->w, np * sizeof(double));
    }
    ls->scheme = s;
    ls->n = n;
    ls->nsamp = (int)m;
    ls->fit = st->fits[0];       /* population calibration: the shared model */
    if (st->fits_other) ls->fit_other = st->fits_other[0];
    for (size_t k = 0; k < np; k++) {
        double t = 0;
        for (size_t i = 0; i < m; i++) t += st->g_pred[i * np + k];
        ls->target[k] = t / m;   /* mean planned level (per-device plans differ by the D2D window) */
        double sum = 0;
        for (size_t i = 0; i < m; i++) {
            double g = st->g_read[i * np + k];
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
    if ((ls->states = ml_states_open(st, 3, sigma, 0.9)) < 0) {
        ml_levelset_free(ls); ml_staircase_free(st); ml_population_free(pop);
        return ml_error_set(err, ML_ENOMEM, "levels: out of memory");
    }
    ls->pulses_per_level = (st->cost.pulses - (double)m) / ((double)m * (np - 1));
    if (!ml_scheme_closed_loop(&s)) ls->pulses_per_level = 0.5 * (np - 1); /* level j takes j pulses */
    ls->calib_pulses_per_device = st->calib_cost.pulses / (double)m;
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
