/* levels: run the library's levels study and parse the JSON text the library makes of its
 * result (ml_levels_result_json), the object `memlev levels --json` and `memlev demo` write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/common.h"
#include "cli/levels_run.h"

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
    char *text = NULL;
    rc = ml_levels_result_json(res, &text, err);
    ml_levels_result_free(res);
    if (rc) return rc;
    *json = cJSON_Parse(text);
    free(text);
    return *json ? ML_OK : ml_error_set(err, ML_ENOMEM, "out of memory");
}

void levels_print(const cJSON *j)
{
#define N(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, k))
    printf("%-12s %-8s states %4.0f  population %4.0f  staircase %4.0f  NL %+6.2f  maxdev %.4f  R2 %.5f  window %.2f-%.2f uS  "
           "pulses/state %.2f  reads/state %.2f  energy/state %.3g J\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scheme")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "device")), N("states"), N("states_population"), N("staircase_states"),
           N("nonlinearity"), N("max_deviation"), N("r2"), N("g_min_uS"), N("g_max_uS"), N("pulses_per_state"),
           N("reads_per_state"), N("energy_per_state_J"));
#undef N
}
