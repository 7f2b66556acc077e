/* memlev calibrate: fit a device model to measured pulse responses; writes device JSON and,
 * with --report, the fit quality (R^2, residual, parameters with errors, noise, warnings). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/common.h"
#include "memlev/measured.h"
#include "memlev/util.h"

static cJSON *polarity_json(const ml_fit_polarity *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "measured", p->measured);
    cJSON_AddNumberToObject(o, "pulses", (double)p->pairs);
    if (p->measured) {
        cJSON_AddNumberToObject(o, "a", p->a);
        cJSON_AddNumberToObject(o, "a_se", p->a_se);
        cJSON_AddNumberToObject(o, "v0_V", p->v0);
        cJSON_AddNumberToObject(o, "v0_se_V", p->v0_se);
        cJSON_AddNumberToObject(o, "g_far_uS", p->g_far * 1e6);
        cJSON_AddNumberToObject(o, "g_far_se_uS", p->g_far_se * 1e6);
    }
    return o;
}

static cJSON *report_json(const ml_fit_report *r, const char *data)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", data);
    cJSON_AddStringToObject(o, "law", r->law);
    cJSON_AddNumberToObject(o, "r2", r->r2);
    cJSON_AddNumberToObject(o, "residual_rms_uS", r->residual_rms * 1e6);
    cJSON *h = cJSON_AddObjectToObject(o, "heldout_rms_uS");
    cJSON_AddNumberToObject(h, "softbounds", r->heldout_rms_softbounds * 1e6);
    cJSON_AddNumberToObject(h, "table", r->heldout_rms_table * 1e6);
    cJSON_AddItemToObject(o, "potentiation", polarity_json(&r->pot));
    cJSON_AddItemToObject(o, "depression", polarity_json(&r->dep));
    cJSON_AddNumberToObject(o, "read_noise_rel", r->read_rel);
    cJSON_AddNumberToObject(o, "read_noise_abs_nS", r->read_abs * 1e9);
    cJSON_AddNumberToObject(o, "read_drift_nS_per_read", r->read_drift * 1e9);
    cJSON_AddNumberToObject(o, "read_drift_se_nS_per_read", r->read_drift_se * 1e9);
    cJSON_AddNumberToObject(o, "read_pairs", (double)r->read_pairs);
    cJSON_AddNumberToObject(o, "c2c", r->c2c);
    cJSON *d = cJSON_AddObjectToObject(o, "d2d");
    cJSON_AddNumberToObject(d, "a_p", r->d2d_a_p);
    cJSON_AddNumberToObject(d, "a_d", r->d2d_a_d);
    cJSON_AddNumberToObject(d, "g_min", r->d2d_g_min);
    cJSON_AddNumberToObject(d, "g_max", r->d2d_g_max);
    cJSON_AddNumberToObject(o, "devices", r->devices);
    cJSON *w = cJSON_AddArrayToObject(o, "warnings");
    for (int i = 0; i < r->nwarn; i++) cJSON_AddItemToArray(w, cJSON_CreateString(r->warn[i]));
    return o;
}

#define TRAIN_DEVICES 4   /* devices whose trains the report carries */
#define TRAIN_POINTS 800  /* rows per train carried: a device's first, pulse by pulse */

static double round4(double x) { return round(x * 1e4) / 1e4; }

/* Measured against fitted trains of the first TRAIN_DEVICES devices (ml_measured_predict), in
 * uS, each device's first TRAIN_POINTS rows; with each train's open-loop rms residual and R^2
 * over all its pulse rows. */
static cJSON *trains_json(const ml_measured *m, const ml_device *d)
{
    double *pred = malloc((m->n ? m->n : 1) * sizeof *pred);
    cJSON *a = cJSON_CreateArray();
    if (!pred || !a || ml_measured_predict(m, d, pred, NULL)) { free(pred); cJSON_Delete(a); return NULL; }
    for (size_t b = 0, nd = 0; b < m->n && nd < TRAIN_DEVICES; nd++) {
        size_t e = b;
        while (e < m->n && m->device[e] == m->device[b]) e++;
        double ss = 0, sm = 0, st = 0, np = 0;
        for (size_t i = b; i < e; i++)
            if (m->kind[i] == ML_ROW_PULSE) { double r = m->g[i] - pred[i]; ss += r * r; sm += m->g[i]; np++; }
        for (size_t i = b; i < e && np > 0; i++)
            if (m->kind[i] == ML_ROW_PULSE) st += (m->g[i] - sm / np) * (m->g[i] - sm / np);
        cJSON *o = cJSON_CreateObject(), *px = cJSON_CreateArray(), *mx = cJSON_CreateArray(), *fx = cJSON_CreateArray();
        if (!o || !px || !mx || !fx) { cJSON_Delete(o); cJSON_Delete(px); cJSON_Delete(mx); cJSON_Delete(fx); break; }
        for (size_t i = b; i < e && i < b + TRAIN_POINTS; i++) {
            cJSON_AddItemToArray(px, cJSON_CreateNumber((double)m->pulse[i]));
            cJSON_AddItemToArray(mx, cJSON_CreateNumber(round4(m->g[i] * 1e6)));
            cJSON_AddItemToArray(fx, cJSON_CreateNumber(round4(pred[i] * 1e6)));
        }
        cJSON_AddNumberToObject(o, "device", (double)m->device[b]);
        cJSON_AddNumberToObject(o, "rows", (double)(e - b));
        cJSON_AddNumberToObject(o, "rms_uS", np > 0 ? sqrt(ss / np) * 1e6 : 0);
        cJSON_AddNumberToObject(o, "r2", st > 0 ? 1 - ss / st : 0);
        cJSON_AddItemToObject(o, "pulse", px);
        cJSON_AddItemToObject(o, "measured_uS", mx);
        cJSON_AddItemToObject(o, "fitted_uS", fx);
        cJSON_AddItemToArray(a, o);
        b = e;
    }
    free(pred);
    return a;
}

int ml_cmd_calibrate(int argc, char **argv)
{
    const char *data = NULL, *model = "auto", *json = NULL, *report = NULL;
    cli_opt opts[] = {
        {"data", OPT_STR, &data, "measured CSV with columns device,pulse,V,width,G_read[,tag] in SI units (required)", 0},
        {"model", OPT_STR, &model, "auto (smaller held-out residual) | softbounds | table (interpolated dG(G, V, width)) [auto]", 0},
        {"json", OPT_OUT, &json, "write the fitted device JSON here (usable by --device) (required)", 0},
        {"report", OPT_OUT, &report, "write the fit quality here (JSON: r2, residual_rms_uS, parameters with errors, noise, warnings)", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"calibrate", "--data FILE.csv [--model auto|softbounds|table] --json FILE [--report FIT.json]",
                     "Fit a device model to measured pulse responses.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (!data) return cli_fail("calibrate", "--data FILE.csv is required");
    if (!json) return cli_fail("calibrate", "--json FILE is required");
    ml_measured *m = NULL;
    ml_device d;
    ml_fit_report r;
    ml_error err = {0};
    if (ml_measured_load(data, &m, &err)) return cli_fail_err("calibrate", &err);
    ml_status st = ml_measured_calibrate(m, model, data, &d, &r, &err);
    if (st) { ml_measured_free(m); return cli_fail_err("calibrate", &err); }
    cJSON *trains = report ? trains_json(m, &d) : NULL;
    ml_measured_free(m);
    char *txt = ml_device_to_json(&d);
    printf("fitted %s (%d devices): G %.3f-%.3f uS, a_p %.4g, v0_p %.4g V, a_d %.4g, v0_d %.4g V\n", r.law, r.devices,
           d.g_min * 1e6, d.g_max * 1e6, d.a_p, d.v0_p, d.a_d, d.v0_d);
    printf("fit: R^2 %.4f, residual %.4g uS rms (held out: softbounds %.4g uS, table %.4g uS)\n", r.r2,
           r.residual_rms * 1e6, r.heldout_rms_softbounds * 1e6, r.heldout_rms_table * 1e6);
    printf("noise: read %.3g %% + %.3g nS (drift %.3g +- %.2g nS/read), C2C %.3g, D2D a_p %.3g a_d %.3g g_min %.3g g_max %.3g\n",
           100 * r.read_rel, r.read_abs * 1e9, r.read_drift * 1e9, r.read_drift_se * 1e9, r.c2c, r.d2d_a_p, r.d2d_a_d, r.d2d_g_min, r.d2d_g_max);
    for (int i = 0; i < r.nwarn; i++) fprintf(stderr, "calibrate: warning: %s\n", r.warn[i]);
    ml_device_clear(&d);
    if (!txt || (report && !trains)) { free(txt); cJSON_Delete(trains); return cli_fail("calibrate", "out of memory"); }
    if (report) {
        cJSON *j = report_json(&r, data);
        if (j) cJSON_AddItemToObject(j, "trains", trains);
        else cJSON_Delete(trains);
        rc = j ? cli_write_json("calibrate", report, j) : cli_fail("calibrate", "out of memory");
        cJSON_Delete(j);
        if (rc) { free(txt); return rc; }
    }
    st = ml_write_text_atomic(json, txt, &err);
    free(txt);
    return st ? cli_fail_err("calibrate", &err) : 0;
}
