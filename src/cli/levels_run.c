/* levels: run the library's levels study and parse the JSON text the library makes of its
 * result (ml_levels_result_json), the object `memlev levels --json` and `memlev demo` write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* a conductance in the unit that fits it (nS below 1 uS) */
static const char *siemens(double uS, char *buf, size_t n)
{
    if (fabs(uS) < 1) snprintf(buf, n, "%.2f nS", uS * 1e3);
    else snprintf(buf, n, "%.2f uS", uS);
    return buf;
}

void levels_print(const cJSON *j)
{
#define N(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, k))
    char lo[32], hi[32], md[32];
    /* a maximum deviation above 1 is no deviation from a line but a staircase that is not one */
    if (N("max_deviation") > 1) snprintf(md, sizeof md, ">1 (not monotone)");
    else snprintf(md, sizeof md, "%.4f", N("max_deviation"));
    printf("%-12s %-8s states %4.0f  population %4.0f  staircase %4.0f  NL %+6.2f  maxdev %s  R2 %.5f  window %s-%s  "
           "pulses/state %.2f  reads/state %.2f  energy/state %.3g J\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scheme")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "device")), N("states"), N("states_population"), N("staircase_states"),
           N("nonlinearity"), md, N("r2"), siemens(N("g_min_uS"), lo, sizeof lo), siemens(N("g_max_uS"), hi, sizeof hi),
           N("pulses_per_state"), N("reads_per_state"), N("energy_per_state_J"));
    const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "direction"));
    const char *scheme = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "scheme"));
    int dir_auto = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "direction_auto"));
    int ff = scheme && !strcmp(scheme, "feedforward"); /* the one scheme auto compares polarities for */
    printf("%-12s yield %.3f  fallback %.0f  verify %.0f  failed %.0f  unconverged %.0f%s%s%s\n", "", N("yield"),
           N("devices_fallback"), N("devices_verify"), N("devices_failed"), N("unconverged"),
           dir_auto || (dir && strcmp(dir, "up")) ? "  direction " : "", dir_auto || (dir && strcmp(dir, "up")) ? dir : "",
           !dir_auto ? "" : ff ? " (auto: both polarities calibrated)" : " (auto: this scheme has no check to compare polarities by)");
    if (ff && N("planned_steps") < N("pulses"))
        printf("%-12s planned %.0f equal steps of the %.0f: the devices' finest %s step is coarser (%s tries %s)\n", "",
               N("planned_steps"), N("pulses"), dir && !strcmp(dir, "down") ? "depression" : "potentiation",
               dir_auto ? "--direction auto tried" : "--direction auto", dir_auto ? "both" : "the other polarity too");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "raise");
    if (rs) { /* why P stopped where it did */
#define R(o, k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k))
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rs, "stopped"));
        const cJSON *rf = cJSON_GetObjectItemCaseSensitive(rs, "refused");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(rs, "calib_budget");
        char bud[48] = "none";
        if (cJSON_IsNumber(b)) snprintf(bud, sizeof bud, "%.0f pulses per device", cJSON_GetNumberValue(b));
        printf("%-12s P %.0f (requested %.0f; calibration budget %s): ", "", N("pulses"), N("pulses_requested"), bud);
        if (why && !strcmp(why, "calib_budget") && rf)
            printf("P = %.0f would need %.0f calibration pulses (%.0f reads) per device > budget %.0f\n", R(rf, "pulses"),
                   R(rf, "calibration_pulses_per_device"), R(rf, "calibration_reads_per_device"), cJSON_GetNumberValue(b));
        else if (why && !strcmp(why, "fewer_states") && rf)
            printf("P = %.0f gave fewer states (%.0f, calibration %.0f pulses per device), not kept\n", R(rf, "pulses"),
                   R(rf, "states"), R(rf, "calibration_pulses_per_device"));
        else if (why && !strcmp(why, "pulse_cap"))
            printf("states still at the ceiling P + 1 at --pulse-cap: a lower bound\n");
        else
            printf("states below the ceiling P + 1: a count\n");
#undef R
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "cost");
    if (c) {
#define C(o, k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, o), k))
        printf("%-12s per device: calibration %.0f pulses %.0f reads %.3g J; reset %.1f pulses %.1f reads %.3g J; "
               "programming %.0f pulses %.0f reads %.3g J; total (R = %.0f) %.0f pulses %.3g J %.3g s\n", "",
               C("calibration_per_device", "pulses"), C("calibration_per_device", "reads"), C("calibration_per_device", "energy_J"),
               C("reset_per_device", "pulses"), C("reset_per_device", "reads"), C("reset_per_device", "energy_J"),
               C("programming_per_device", "pulses"), C("programming_per_device", "reads"), C("programming_per_device", "energy_J"),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "reprogram_cycles")), C("total_per_device", "pulses"),
               C("total_per_device", "energy_J"), C("total_per_device", "time_s"));
#undef C
    }
#undef N
}
