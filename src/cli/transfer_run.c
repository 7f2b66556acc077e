/* Transfer sweep: baseline, then per (scheme, levels): level set, quantised baseline and
 * Monte-Carlo trials of programming + inference. Results are written after every point so an
 * interrupted sweep resumes (--resume) with exactly the results of an uninterrupted one. */
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

/* two-sided 95 % Student t quantile for df degrees of freedom */
static double t95(int df)
{
    static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    return df < 1 ? 0 : df <= 20 ? t[df] : 1.96 + 2.5 / df;
}

static cJSON *config_json(const transfer_req *r)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model", r->model_path);
    cJSON_AddStringToObject(c, "data", r->data);
    cJSON_AddStringToObject(c, "device", r->device_name);
    cJSON_AddStringToObject(c, "mode", r->mode == ML_TRANSFER_PULSE ? "pulse" : "statistical");
    cJSON_AddNumberToObject(c, "trials", r->trials);
    cJSON_AddNumberToObject(c, "limit", (double)r->limit);
    cJSON_AddNumberToObject(c, "seed", (double)r->seed);
    cJSON_AddBoolToObject(c, "per_channel", r->per_channel);
    cJSON_AddNumberToObject(c, "sample_devices", (double)r->sample_devices);
    cJSON_AddNumberToObject(c, "relax_time", r->relax_time);
    cJSON_AddStringToObject(c, "calibrate", r->calib_per_device ? "device" : "population");
    cJSON_AddNumberToObject(c, "verify_every", r->verify_every);
    return c;
}

/* a finished point of a previous run with the same configuration, or NULL */
static cJSON *find_point(cJSON *old, const char *scheme, int levels)
{
    cJSON *pts = cJSON_GetObjectItemCaseSensitive(old, "points"), *p;
    cJSON_ArrayForEach(p, pts) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "scheme"));
        if (s && !strcmp(s, scheme) && (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "levels")) == levels)
            return p;
    }
    return NULL;
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
    if (r->resume && r->json_path) {
        char *buf;
        size_t len;
        if (ml_read_file(r->json_path, &buf, &len, 64u << 20, &err) == ML_OK) {
            old = cJSON_Parse(buf);
            free(buf);
            if (!old || !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "config"), cfg, 1)) {
                cJSON_Delete(old); cJSON_Delete(cfg); ml_net_free(net); ml_dataset_free(ds);
                return cli_fail(cmd, "%s: --resume needs results of the same configuration", r->json_path);
            }
        }
    }
    double base_acc = 0, ips = 0;
    cJSON *ob = old ? cJSON_GetObjectItemCaseSensitive(old, "baseline_accuracy") : NULL;
    if (ob) base_acc = cJSON_GetNumberValue(ob);
    else if (ml_net_evaluate(net, ds, r->limit, r->batch, &base_acc, &ips, &err)) { rc = cli_fail_err(cmd, &err); goto out; }
    size_t images = r->limit && r->limit < ds->n ? r->limit : ds->n;
    printf("baseline (float) accuracy %.4f on %zu images\n", base_acc, images);
    printf("%-12s %6s %9s %8s %8s %9s %6s %7s %10s %10s %7s\n", "scheme", "levels", "accuracy", "std", "ci95", "quantized",
           "dist", "states", "pulses/dev", "device_s", "sim_s");
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "config", cfg);
    cfg = NULL;
    cJSON_AddNumberToObject(res, "baseline_accuracy", base_acc);
    cJSON_AddNumberToObject(res, "images", (double)images);
    cJSON *pts = cJSON_AddArrayToObject(res, "points");
    ml_progress pr;
    ml_progress_begin(&pr, "transfer", (double)r->nschemes * r->nlevels, 0);
    for (int si = 0; si < r->nschemes && !rc; si++) {
        for (int li = 0; li < r->nlevels && !rc; li++) {
            const char *sname = ml_scheme_name(r->schemes[si]);
            int N = r->levels[li];
            cJSON *prev = old ? find_point(old, sname, N) : NULL;
            cJSON *pt;
            double sim_s = 0;
            if (prev) pt = cJSON_Duplicate(prev, 1);
            else {
                ml_scheme s;
                ml_scheme_defaults(&s, r->schemes[si]);
                s.calib_per_device = r->calib_per_device;
                if (s.kind == ML_SCHEME_FEEDFORWARD) s.verify_every = r->verify_every;
                ml_levelset *ls = NULL;
                ml_net *pn = ml_net_clone(net);
                if (!pn) { rc = cli_fail(cmd, "out of memory"); break; }
                if (ml_levelset_build(r->dev, &s, N, r->sample_devices, r->seed, &ls, &err)) { ml_net_free(pn); rc = cli_fail_err(cmd, &err); break; }
                ml_transfer_opts o = {ML_TRANSFER_QUANTIZE, r->per_channel, 0, r->seed};
                double qacc = 0, sum = 0, sum2 = 0;
                ml_transfer_stats st = {0};
                if (ml_transfer_net(net, pn, ls, &o, NULL, &err) || ml_net_evaluate(pn, ds, r->limit, r->batch, &qacc, NULL, &err)) {
                    rc = cli_fail_err(cmd, &err);
                }
                for (int t = 0; t < r->trials && !rc; t++) {
                    double acc;
                    o.mode = r->mode;
                    o.relax_time = r->relax_time;
                    o.seed = ml_seed_mix(r->seed, (uint64_t)t);
                    if (ml_transfer_net(net, pn, ls, &o, &st, &err) || ml_net_evaluate(pn, ds, r->limit, r->batch, &acc, NULL, &err)) {
                        rc = cli_fail_err(cmd, &err);
                        break;
                    }
                    sum += acc;
                    sum2 += acc * acc;
                }
                if (rc) { ml_levelset_free(ls); ml_net_free(pn); break; }
                int T = r->trials;
                double mean = sum / T, sd = T > 1 ? sqrt(fmax(0, (sum2 - T * mean * mean) / (T - 1))) : 0;
                pt = cJSON_CreateObject();
                cJSON_AddStringToObject(pt, "scheme", sname);
                cJSON_AddNumberToObject(pt, "levels", N);
                cJSON_AddNumberToObject(pt, "accuracy_mean", mean);
                cJSON_AddNumberToObject(pt, "accuracy_std", sd);
                cJSON_AddNumberToObject(pt, "ci95", T > 1 ? t95(T - 1) * sd / sqrt(T) : 0);
                cJSON_AddNumberToObject(pt, "quantized_accuracy", qacc);
                cJSON_AddBoolToObject(pt, "distinguishable", ls->states >= N);
                cJSON_AddNumberToObject(pt, "states", ls->states < N ? ls->states : N);
                cJSON_AddNumberToObject(pt, "pulses_per_device", st.devices > 0 ? st.pulses / st.devices : 0);
                cJSON_AddNumberToObject(pt, "calibration_pulses_per_device", st.devices > 0 ? st.calib_pulses / st.devices : 0);
                cJSON_AddNumberToObject(pt, "devices", st.devices / T);
                /* device time, not wall clock: results must be byte-identical run to run */
                cJSON_AddNumberToObject(pt, "program_seconds", st.device_seconds / T);
                cJSON_AddNumberToObject(pt, "energy_J", st.energy_j / T);
                sim_s = st.seconds / T;
                cJSON_AddNumberToObject(pt, "trials", T);
                ml_levelset_free(ls);
                ml_net_free(pn);
            }
            cJSON_AddItemToArray(pts, pt);
#define N_(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, k))
            printf("%-12s %6d %9.4f %8.4f %8.4f %9.4f %6s %7.0f %10.2f %10.3g %7.2f\n", sname, N, N_("accuracy_mean"),
                       N_("accuracy_std"), N_("ci95"), N_("quantized_accuracy"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "distinguishable")) ? "yes" : "no", N_("states"),
                       N_("pulses_per_device"), N_("program_seconds"), sim_s);
#undef N_
            fflush(stdout);
            if (r->json_path) {
                cJSON_DeleteItemFromObjectCaseSensitive(res, "complete");
                cJSON_AddBoolToObject(res, "complete", si == r->nschemes - 1 && li == r->nlevels - 1);
                if ((rc = cli_write_json(cmd, r->json_path, res))) break;
            }
            ml_progress_update(&pr, (double)si * r->nlevels + li + 1);
        }
    }
    ml_progress_end(&pr);
    if (!rc && r->csv_path) rc = write_csv(cmd, r->csv_path, pts);
    cJSON_Delete(res);
out:
    cJSON_Delete(cfg);
    cJSON_Delete(old);
    ml_net_free(net);
    ml_dataset_free(ds);
    return rc;
}
