/* The studies' results as JSON text: the objects `memlev levels --json` and `memlev transfer
 * --json` write (one writer for the CLI and the bindings, so their figures are identical). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/study.h"
#include "device/json_write.h"

static cJSON *arr(const double *v, size_t n, double scale)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i] * scale));
    return a;
}

/* A number that parses back to exactly v (cJSON's printer stops at 15 digits when a value is
 * within an epsilon of them): a resumed transfer rebuilds its cost parts from these figures. */
static void num(cJSON *o, const char *key, double v)
{
    cJSON_AddItemToObject(o, key, ml__json_exact_number(v));
}

/* {"pulses", "reads", "energy_J", "time_s"} of a cost */
static cJSON *cost_obj(double pulses, double reads, double energy_j, double time_s)
{
    cJSON *o = cJSON_CreateObject();
    num(o, "pulses", pulses);
    num(o, "reads", reads);
    num(o, "energy_J", energy_j);
    num(o, "time_s", time_s);
    return o;
}

/* "cost": calibration, reset and programming per device apart, and their total per
 * programming with calibration amortised over R programmings (calibration / R + reset +
 * programming). */
static void add_costs(cJSON *j, const ml_cost *cal, const ml_cost *rs, const ml_cost *pg, int R, const char *reset)
{
    cJSON *c = cJSON_AddObjectToObject(j, "cost");
    if (!c) return;
    if (reset) cJSON_AddStringToObject(c, "reset_procedure", reset);
    cJSON_AddNumberToObject(c, "reprogram_cycles", R);
    cJSON_AddItemToObject(c, "calibration_per_device", cost_obj(cal->pulses, cal->reads, cal->energy_j, cal->time_s));
    cJSON_AddItemToObject(c, "reset_per_device", cost_obj(rs->pulses, rs->reads, rs->energy_j, rs->time_s));
    cJSON_AddItemToObject(c, "programming_per_device", cost_obj(pg->pulses, pg->reads, pg->energy_j, pg->time_s));
    cJSON_AddItemToObject(c, "total_per_device",
                          cost_obj(cal->pulses / R + rs->pulses + pg->pulses, cal->reads / R + rs->reads + pg->reads,
                                   cal->energy_j / R + rs->energy_j + pg->energy_j,
                                   cal->time_s / R + rs->time_s + pg->time_s));
}

static cJSON *levels_json(const ml_levels_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "device", r->device);
    cJSON_AddStringToObject(j, "scheme", r->scheme);
    cJSON_AddStringToObject(j, "direction", r->dir > 0 ? "up" : "down");
    cJSON_AddBoolToObject(j, "direction_auto", r->dir_auto);
    cJSON_AddNumberToObject(j, "devices", (double)r->devices);
    cJSON_AddNumberToObject(j, "pulses", r->pulses);
    /* the P asked for; pulses is the P the study ended at after raising it while saturated */
    cJSON_AddNumberToObject(j, "pulses_requested", r->pulses_requested);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "k", r->k);
    cJSON_AddNumberToObject(j, "states", r->states);
    cJSON_AddNumberToObject(j, "states_population", r->states_population);
    /* states == P + 1 is the metric's ceiling even at the cap on P: a lower bound, not a count */
    cJSON_AddBoolToObject(j, "states_saturated", r->states_saturated);
    /* raising P: why it stopped, the calibration budget it kept to, the P it ran and refused */
    {
        static const char *why[] = {"unsaturated", "pulse_cap", "calib_budget", "fewer_states"};
        cJSON *rs = cJSON_AddObjectToObject(j, "raise");
        cJSON_AddStringToObject(rs, "stopped", why[r->raise_stop >= 0 && r->raise_stop <= 3 ? r->raise_stop : 0]);
        if (isfinite(r->calib_budget)) cJSON_AddNumberToObject(rs, "calib_budget", r->calib_budget);
        else cJSON_AddNullToObject(rs, "calib_budget");
        if (r->refused_pulses > 0) {
            cJSON *rf = cJSON_AddObjectToObject(rs, "refused");
            cJSON_AddNumberToObject(rf, "pulses", r->refused_pulses);
            cJSON_AddNumberToObject(rf, "states", r->refused_states);
            cJSON_AddNumberToObject(rf, "calibration_pulses_per_device", r->refused_calibration_pulses);
            cJSON_AddNumberToObject(rf, "calibration_reads_per_device", r->refused_calibration_reads);
        }
    }
    cJSON_AddNumberToObject(j, "staircase_states", r->staircase_states);
    cJSON_AddNumberToObject(j, "planned_steps", r->planned_steps);
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
    /* feedforward: the read-and-correct stride its calibration and programming ran with */
    if (!strcmp(r->scheme, "feedforward")) cJSON_AddNumberToObject(j, "verify_every", r->verify_every);
    cJSON_AddNumberToObject(j, "precision_rms_uS", r->precision_rms * 1e6);
    cJSON_AddNumberToObject(j, "precision_sigma_uS", r->precision_sigma * 1e6);
    cJSON_AddNumberToObject(j, "precision_worst_uS", r->precision_worst * 1e6);
    cJSON_AddNumberToObject(j, "unconverged", r->unconverged);
    cJSON_AddNumberToObject(j, "yield", r->yield);
    cJSON_AddNumberToObject(j, "devices_fallback", (double)r->devices_fallback);
    cJSON_AddNumberToObject(j, "devices_verify", (double)r->devices_verify);
    cJSON_AddNumberToObject(j, "devices_failed", (double)r->devices_failed);
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
    add_costs(j, &r->calibration_cost, &r->reset_cost, &r->program_cost, r->reprogram_cycles > 0 ? r->reprogram_cycles : 1,
              r->reset);
    cJSON *sc = cJSON_AddObjectToObject(j, "staircase");
    cJSON_AddItemToObject(sc, "g_mean_uS", arr(r->g_mean, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "g_p05_uS", arr(r->g_p05, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "g_p95_uS", arr(r->g_p95, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "step_uS", arr(r->step, r->npts, 1e6));
    cJSON_AddItemToObject(sc, "v_mean", arr(r->v_mean, r->npts, 1));
    cJSON_AddItemToObject(sc, "pulses_mean", arr(r->pulses_mean, r->npts, 1));
    return j;
}

static cJSON *point_json(const ml_transfer_point *p, int R)
{
    cJSON *pt = cJSON_CreateObject();
    cJSON_AddStringToObject(pt, "scheme", p->scheme);
    cJSON_AddNumberToObject(pt, "levels", p->levels);
    cJSON_AddNumberToObject(pt, "accuracy_mean", p->accuracy_mean);
    cJSON_AddNumberToObject(pt, "accuracy_std", p->accuracy_std);
    cJSON_AddNumberToObject(pt, "ci95", p->ci95);
    cJSON_AddNumberToObject(pt, "quantized_accuracy", p->quantized_accuracy);
    cJSON_AddBoolToObject(pt, "distinguishable", p->distinguishable);
    cJSON_AddNumberToObject(pt, "states", p->states);
    cJSON_AddNumberToObject(pt, "states_population", p->states_population);
    cJSON_AddStringToObject(pt, "grid", p->grid_common ? "common" : "own");
    num(pt, "reads_per_device", p->reads_per_device);
    num(pt, "pulses_per_device", p->pulses_per_device);
    num(pt, "calibration_pulses_per_device", p->calibration_pulses_per_device);
    num(pt, "devices", p->devices);
    num(pt, "program_seconds", p->program_seconds);
    num(pt, "energy_J", p->energy_j);
    cJSON_AddNumberToObject(pt, "trials", p->trials);
    cJSON_AddNumberToObject(pt, "yield", p->yield);
    cJSON_AddNumberToObject(pt, "devices_fallback", p->devices_fallback);
    cJSON_AddNumberToObject(pt, "devices_verify", p->devices_verify);
    cJSON_AddNumberToObject(pt, "devices_failed", p->devices_failed);
    cJSON_AddNumberToObject(pt, "unconverged", p->unconverged);
    /* the totals the cost parts come from, so that a resumed run rebuilds them exactly */
    num(pt, "calibration_energy_J", p->calibration_energy_j);
    num(pt, "calibration_seconds", p->calibration_seconds);
    num(pt, "reset_energy_J", p->reset_energy_j);
    num(pt, "reset_seconds", p->reset_seconds);
    /* per device: totals above hold the reset; the cost object has the parts apart */
    double dv = p->devices > 0 ? p->devices : 1;
    ml_cost cal = {0}, rs = {0}, pg = {0};
    cal.pulses = p->calibration_pulses_per_device; cal.reads = p->calibration_reads_per_device;
    cal.energy_j = p->calibration_energy_j / dv; cal.time_s = p->calibration_seconds / dv;
    rs.pulses = p->reset_pulses_per_device; rs.reads = p->reset_reads_per_device;
    rs.energy_j = p->reset_energy_j / dv; rs.time_s = p->reset_seconds / dv;
    pg.pulses = p->pulses_per_device - rs.pulses; pg.reads = p->reads_per_device - rs.reads;
    pg.energy_j = (p->energy_j - p->reset_energy_j) / dv; pg.time_s = (p->program_seconds - p->reset_seconds) / dv;
    add_costs(pt, &cal, &rs, &pg, R, NULL);
    return pt;
}

static cJSON *transfer_json(const ml_transfer_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "baseline_accuracy", r->baseline_accuracy);
    cJSON_AddNumberToObject(j, "images", (double)r->images);
    cJSON_AddNumberToObject(j, "reprogram_cycles", r->reprogram_cycles > 0 ? r->reprogram_cycles : 1);
    cJSON *pts = cJSON_AddArrayToObject(j, "points");
    for (size_t q = 0; pts && q < r->npoints; q++) cJSON_AddItemToArray(pts, point_json(&r->points[q], r->reprogram_cycles > 0 ? r->reprogram_cycles : 1));
    return j;
}

/* print j (NULL: out of memory while building it) into *text */
static ml_status print(cJSON *j, char **text, ml_error *err)
{
    char *s = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!s) return ml_error_set(err, ML_ENOMEM, "out of memory writing JSON");
    *text = s;
    return ML_OK;
}

ml_status ml_levels_result_json(const ml_levels_result *r, char **text, ml_error *err)
{
    return print(levels_json(r), text, err);
}

ml_status ml_transfer_result_json(const ml_transfer_result *r, char **text, ml_error *err)
{
    return print(transfer_json(r), text, err);
}
