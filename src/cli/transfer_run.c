/* transfer: run the library's transfer study, print its table, journal its results to JSON after
 * every point (the study resumes from them with --resume) and write the CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/transfer_run.h"
#include "memlev/onnx.h"
#include "memlev/rng.h"
#include "memlev/util.h"

int parse_int_list(const char *s, int *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 2 || v > 65536 || n >= max) return -1;
        out[n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n ? n : -1;
}

static cJSON *config_json(const transfer_req *r)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model", r->model_path);
    cJSON_AddStringToObject(c, "data", r->data);
    cJSON_AddStringToObject(c, "device", r->device_name);
    cJSON_AddStringToObject(c, "mode", r->study.mode == ML_TRANSFER_PULSE ? "pulse" : "statistical");
    cJSON_AddNumberToObject(c, "trials", r->study.trials);
    cJSON_AddNumberToObject(c, "reprogram_cycles", r->study.reprogram_cycles > 0 ? r->study.reprogram_cycles : 1);
    cJSON_AddNumberToObject(c, "limit", (double)r->study.limit);
    cJSON_AddNumberToObject(c, "seed", (double)r->study.seed);
    cJSON_AddBoolToObject(c, "per_channel", r->study.per_channel);
    cJSON_AddNumberToObject(c, "sample_devices", (double)r->study.sample_devices);
    cJSON_AddNumberToObject(c, "relax_time", r->study.relax_time);
    cJSON_AddStringToObject(c, "calibrate", r->study.calib_per_device ? "device" : "population");
    cJSON_AddNumberToObject(c, "verify_every", r->study.verify_every);
    cJSON_AddStringToObject(c, "grid", r->study.grid_own ? "own" : "common");
    cJSON_AddNumberToObject(c, "ff_max_pulses", r->study.ff_max_pulses);
    return c;
}

/* the finished points of a previous run's JSON (the inverse of point_json) */
static ml_transfer_point *points_of(const cJSON *old, size_t *n)
{
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(old, "points"), *p;
    int m = cJSON_GetArraySize(pts);
    ml_transfer_point *v = calloc(m > 0 ? (size_t)m : 1, sizeof *v);
    *n = 0;
    if (!v) return NULL;
    cJSON_ArrayForEach(p, pts) {
#define N(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, k))
        ml_transfer_point *q = &v[(*n)++];
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "scheme"));
        snprintf(q->scheme, sizeof q->scheme, "%s", s ? s : "");
        q->levels = (int)N("levels");
        q->accuracy_mean = N("accuracy_mean");
        q->accuracy_std = N("accuracy_std");
        q->ci95 = N("ci95");
        q->quantized_accuracy = N("quantized_accuracy");
        q->distinguishable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "distinguishable"));
        q->states = N("states");
        q->states_population = N("states_population");
        q->reads_per_device = N("reads_per_device");
        const char *grid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "grid"));
        q->grid_common = grid && !strcmp(grid, "common");
        q->pulses_per_device = N("pulses_per_device");
        q->calibration_pulses_per_device = N("calibration_pulses_per_device");
        q->devices = N("devices");
        q->program_seconds = N("program_seconds");
        q->energy_j = N("energy_J");
        q->trials = (int)N("trials");
        q->yield = N("yield");
        q->devices_fallback = N("devices_fallback");
        /* absent from files written before the verify fallback stage: none */
        q->devices_verify = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "devices_verify")) ? N("devices_verify") : 0;
        q->devices_failed = N("devices_failed");
        q->unconverged = N("unconverged");
        {
            /* the cost parts, per device in the file, per trial in the point */
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "cost");
            const cJSON *ca = cJSON_GetObjectItemCaseSensitive(c, "calibration_per_device");
            const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "reset_per_device");
#define M(o, k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k))
/* a total as written (exact), else rebuilt from the per-device figure */
#define T(k, dflt) (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, k)) ? N(k) : (dflt))
            double dv = q->devices;
            q->calibration_reads_per_device = M(ca, "reads");
            q->calibration_energy_j = T("calibration_energy_J", M(ca, "energy_J") * dv);
            q->calibration_seconds = T("calibration_seconds", M(ca, "time_s") * dv);
            q->reset_pulses_per_device = M(rs, "pulses");
            q->reset_reads_per_device = M(rs, "reads");
            q->reset_energy_j = T("reset_energy_J", M(rs, "energy_J") * dv);
            q->reset_seconds = T("reset_seconds", M(rs, "time_s") * dv);
#undef M
#undef T
        }
#undef N
    }
    return v;
}

static int write_csv(const char *cmd, const char *path, const cJSON *pts)
{
    ml_outfile f;
    ml_error err = {0};
    if (ml_outfile_open(&f, path, 0, &err)) return cli_fail_err(cmd, &err);
    fprintf(f.fp, "scheme,levels,accuracy_mean,accuracy_std,ci95,quantized_accuracy,distinguishable,states,pulses_per_device,devices,program_seconds\n");
    const cJSON *p;
    cJSON_ArrayForEach(p, pts) {
#define N(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, k))
        fprintf(f.fp, "%s,%.0f,%.6f,%.6f,%.6f,%.6f,%d,%.0f,%.4f,%.0f,%.4f\n",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "scheme")), N("levels"), N("accuracy_mean"),
                N("accuracy_std"), N("ci95"), N("quantized_accuracy"),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "distinguishable")), N("states"), N("pulses_per_device"),
                N("devices"), N("program_seconds"));
#undef N
    }
    return ml_outfile_commit(&f, &err) ? cli_fail_err(cmd, &err) : 0;
}

/* What the per-point callback needs: the request, the configuration object, whether the
 * callback already reported an error. */
typedef struct journal {
    const char *cmd;
    const transfer_req *r;
    const cJSON *cfg;
    cli_progress bar;
    int reported;
} journal;

/* The results object: the configuration, then the library's JSON of the result
 * (ml_transfer_result_json), then "complete" when complete >= 0. NULL: out of memory. */
static cJSON *result_json(const journal *jn, const ml_transfer_result *res, int complete)
{
    char *text = NULL;
    if (ml_transfer_result_json(res, &text, NULL)) return NULL;
    cJSON *lib = cJSON_Parse(text), *j = cJSON_CreateObject();
    free(text);
    if (!lib || !j) { cJSON_Delete(lib); cJSON_Delete(j); return NULL; }
    cJSON_AddItemToObject(j, "config", cJSON_Duplicate(jn->cfg, 1));
    while (lib->child) {
        cJSON *it = cJSON_DetachItemViaPointer(lib, lib->child);
        cJSON_AddItemToObject(j, it->string, it); /* the key is copied before the old one is freed */
    }
    cJSON_Delete(lib);
    if (complete >= 0) cJSON_AddBoolToObject(j, "complete", complete);
    return j;
}

/* After the baseline: the table's head. After every point: its row, and the results file
 * rewritten so an interrupted run resumes. */
static ml_status on_point(void *ctx, const ml_transfer_result *res, int point)
{
    journal *jn = ctx;
    const transfer_req *r = jn->r;
    if (point < 0) {
        printf("baseline (float) accuracy %.4f on %zu images\n", res->baseline_accuracy, res->images);
        printf("%-12s %6s %9s %8s %8s %9s %6s %7s %7s %10s %10s %7s %6s %8s %6s %6s %6s\n", "scheme", "levels", "accuracy", "std", "ci95",
               "quantized", "dist", "states", "popul", "pulses/dev", "device_s", "sim_s", "yield", "fallback", "verify", "failed", "unconv");
        return ML_OK;
    }
    const ml_transfer_point *p = &res->points[point];
    char sd[16], ci[16]; /* one trial has no spread: n/a, not 0 */
    if (p->trials > 1) { snprintf(sd, sizeof sd, "%.4f", p->accuracy_std); snprintf(ci, sizeof ci, "%.4f", p->ci95); }
    else { snprintf(sd, sizeof sd, "n/a"); snprintf(ci, sizeof ci, "n/a"); }
    printf("%-12s %6d %9.4f %8s %8s %9.4f %6s %7.0f %7.0f %10.2f %10.3g %7.2f %6.3f %8.0f %6.0f %6.0f %6.0f\n", p->scheme, p->levels,
           p->accuracy_mean, sd, ci, p->quantized_accuracy, p->distinguishable ? "yes" : "no", p->states,
           p->states_population, p->pulses_per_device, p->program_seconds, p->sim_seconds, p->yield, p->devices_fallback, p->devices_verify,
           p->devices_failed, p->unconverged);
    fflush(stdout);
    if (r->json_path) {
        cJSON *j = result_json(jn, res, point == r->study.nschemes * r->study.nlevels - 1);
        int rc = j ? cli_write_json(jn->cmd, r->json_path, j) : cli_fail(jn->cmd, "out of memory");
        cJSON_Delete(j);
        if (rc) { jn->reported = 1; return ML_EIO; }
    }
    return ML_OK;
}

int transfer_run(const char *cmd, const transfer_req *r)
{
    ml_error err = {0};
    ml_net *net = NULL;
    ml_dataset *ds = NULL;
    if (ml_onnx_load(r->model_path, &net, &err)) return cli_fail_err(cmd, &err);
    if (cli_net_conv(cmd, net)) { ml_net_free(net); return 2; }
    if (ml_dataset_load(r->data, 0, &ds, &err)) { ml_net_free(net); return cli_fail_err(cmd, &err); }
    int rc = 0;
    cJSON *old = NULL, *cfg = config_json(r);
    ml_transfer_point *done = NULL;
    size_t ndone = 0;
    ml_transfer_result *res = NULL;
    if (r->resume && r->json_path) {
        char *buf;
        size_t len;
        if (ml_read_file(r->json_path, &buf, &len, 64u << 20, &err) == ML_OK) {
            old = cJSON_Parse(buf);
            free(buf);
            if (!old || !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "config"), cfg, 1)) {
                rc = cli_fail(cmd, "%s: --resume needs results of the same configuration", r->json_path);
                goto out;
            }
            if (!(done = points_of(old, &ndone))) { rc = cli_fail(cmd, "out of memory"); goto out; }
        }
    }
    ml_transfer_study_opts o = r->study;
    cJSON *ob = old ? cJSON_GetObjectItemCaseSensitive(old, "baseline_accuracy") : NULL;
    o.baseline_accuracy = ob ? cJSON_GetNumberValue(ob) : -1;
    o.done = done;
    o.ndone = ndone;
    journal jn = {.cmd = cmd, .r = r, .cfg = cfg};
    o.on_point = on_point;
    o.ctx = &jn;
    o.progress = cli_progress_cb;
    o.progress_ctx = &jn.bar;
    ml_status st = ml_transfer_study(net, ds, &o, &res, &err);
    cli_progress_end(&jn.bar);
    if (st) { rc = jn.reported ? 2 : cli_fail_err(cmd, &err); goto out; }
    if (r->csv_path) {
        cJSON *j = result_json(&jn, res, -1);
        rc = j ? write_csv(cmd, r->csv_path, cJSON_GetObjectItemCaseSensitive(j, "points")) : cli_fail(cmd, "out of memory");
        cJSON_Delete(j);
    }
out:
    ml_transfer_result_free(res);
    free(done);
    cJSON_Delete(cfg);
    cJSON_Delete(old);
    ml_net_free(net);
    ml_dataset_free(ds);
    return rc;
}
