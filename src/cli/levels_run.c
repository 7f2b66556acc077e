/* levels: run the library's levels study and turn its result into the JSON object that
 * `memlev levels --json` and `memlev demo` write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/common.h"
#include "cli/levels_run.h"

static cJSON *arr(const double *v, size_t n, double scale)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i] * scale));
    return a;
}

static cJSON *to_json(const ml_levels_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", r->device);
    cJSON_AddStringToObject(j, "scheme", r->scheme);
    cJSON_AddStringToObject(j, "direction", r->dir > 0 ? "up" : "down");
    cJSON_AddNumberToObject(j, "devices", (double)r->devices);
    cJSON_AddNumberToObject(j, "pulses", r->pulses);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "k", r->k);
    cJSON_AddNumberToObject(j, "states", r->states);
    /* states == P + 1 is the metric's ceiling: a lower bound, not a measured count */
    cJSON_AddBoolToObject(j, "states_saturated", r->states_saturated);
    cJSON_AddNumberToObject(j, "staircase_states", r->staircase_states);
    cJSON_AddNumberToObject(j, "nonlinearity", r->nonlin.label);
    cJSON_AddNumberToObject(j, "max_deviation", r->nonlin.max_dev);
    cJSON_AddNumberToObject(j, "r2", r->nonlin.r2);
    cJSON_AddNumberToObject(j, "g_min_uS", r->g_min * 1e6);
    cJSON_AddNumberToObject(j, "g_max_uS", r->g_max * 1e6);
    cJSON_AddNumberToObject(j, "hrs_lrs_ratio", r->hrs_lrs_ratio);
    cJSON_AddNumberToObject(j, "pulses_per_state", r->pulses_per_state);
    cJSON_AddNumberToObject(j, "reads_per_state", r->reads_per_state);
    cJSON_AddNumberToObject(j, "energy_per_state_J", r->energy_per_state_j);
    cJSON_AddNumberToObject(j, "time_per_state_s", r->time_per_state_s);
    cJSON_AddNumberToObject(j, "sigma_read_uS", r->sigma_read * 1e6);
    cJSON_AddNumberToObject(j, "calibration_pulses_per_device", r->calibration_pulses_per_device);
    cJSON_AddNumberToObject(j, "calibration_reads_per_device", r->calibration_reads_per_device);
    cJSON_AddNumberToObject(j, "precision_rms_uS", r->precision_rms * 1e6);
    cJSON_AddNumberToObject(j, "precision_sigma_uS", r->precision_sigma * 1e6);
    cJSON_AddNumberToObject(j, "precision_worst_uS", r->precision_worst * 1e6);
    cJSON_AddNumberToObject(j, "unconverged", r->unconverged);
    if (!isnan(r->v_fixed)) cJSON_AddNumberToObject(j, "v_fixed", r->v_fixed);
    if (!isnan(r->pulses_per_level_from_reset)) {
        cJSON_AddNumberToObject(j, "pulses_per_level_from_reset", r->pulses_per_level_from_reset);
        cJSON_AddNumberToObject(j, "reads_per_level_from_reset", r->reads_per_level_from_reset);
    }
    if (r->nsweep) {
        cJSON *sweep = cJSON_AddArrayToObject(j, "sweep");
        for (int q = 0; q < r->nsweep; q++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "v", r->sweep[q].v);
            cJSON_AddNumberToObject(e, "coverage", r->sweep[q].coverage);
            cJSON_AddNumberToObject(e, "states", r->sweep[q].states);
            cJSON_AddItemToArray(sweep, e);
        }
    }
    cJSON *sc = cJSON_AddObjectToObject(j, "staircase");
    cJSON_AddItemToObject(sc, "g_mean_uS", arr(r->g_mean, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "g_p05_uS", arr(r->g_p05, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "g_p95_uS", arr(r->g_p95, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "step_uS", arr(r->step, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "v_mean", arr(r->v_mean, r->npts, 1));
    cJSON_AddItemToObject(sc, "pulses_mean", arr(r->pulses_mean, r->npts, 1));
    return j;
}

ml_status levels_run(const ml_levels_study_opts *r, cJSON **json, ml_error *err)
{
    cli_progress bar = {0};
    ml_levels_study_opts o = *r;
    o.progress = cli_progress_cb;
    o.progress_ctx = &bar;
    ml_levels_result *res = NULL;
    ml_status rc = ml_levels_study(&o, &res, err);
    cli_progress_end(&bar);
    if (rc) return rc;
    *json = to_json(res);
    ml_levels_result_free(res);
    return *json ? ML_OK : ml_error_set(err, ML_ENOMEM, "out of memory");
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
