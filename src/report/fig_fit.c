/* Fit reports (memlev calibrate --report): reading their measured and fitted trains, and the
 * figure that draws them, one panel per device, with the fit's R^2 and residual. */
#include <cjson/cJSON.h>
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <string.h>
#include "core/alloc.h"
#include "report/internal.h"

#define MAX_TRAINS 8
#define MAX_TRAIN_POINTS 100000

void rep_fit_clear(rep_fit *f)
{
    ml__free(f->file);
    for (size_t i = 0; i < f->n; i++) {
        ml__free(f->tr[i].pulse); ml__free(f->tr[i].measured); ml__free(f->tr[i].fitted);
    }
    ml__free(f->tr);
    memset(f, 0, sizeof *f);
}

/* A train's array of n entries (n == 0: 1..MAX_TRAIN_POINTS, stored in *n). */
static ml_status arr(const cJSON *o, const char *key, const char *src, size_t *n, double **out, ml_error *err)
{
    return rep_json_numbers(o, key, src, 1, MAX_TRAIN_POINTS, n, out, err);
}

ml_status rep_load_fit(const cJSON *j, const char *src, rep_fit *f, ml_error *err)
{
    ml_status st;
    size_t n = strlen(src) + 1;
    if (!(f->file = ml__malloc(n))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    memcpy(f->file, src, n);
    const cJSON *law = cJSON_GetObjectItemCaseSensitive(j, "law");
    if (!cJSON_IsString(law) || !law->valuestring[0] || strlen(law->valuestring) >= sizeof f->law)
        return ml_error_set(err, ML_EFORMAT, "%s: 'law' must be a short non-empty string", src);
    snprintf(f->law, sizeof f->law, "%s", law->valuestring);
    if ((st = rep_json_number(j, "r2", src, &f->r2, 1, err)) ||
        (st = rep_json_number(j, "residual_rms_uS", src, &f->rms_uS, 1, err)))
        return st;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "trains");
    if (!cJSON_IsArray(tr) || cJSON_GetArraySize(tr) < 1)
        return ml_error_set(err, ML_EFORMAT, "%s: 'trains' must be a non-empty array (memlev calibrate --report writes it)", src);
    size_t nt = (size_t)cJSON_GetArraySize(tr);
    if (nt > MAX_TRAINS) nt = MAX_TRAINS;
    if (!(f->tr = ml__calloc(nt, sizeof *f->tr))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    char sub[4200];
    size_t i = 0;
    for (const cJSON *e = tr->child; e && i < nt; e = e->next, i++) {
        rep_train *t = &f->tr[i];
        f->n = i + 1;
        snprintf(sub, sizeof sub, "%s: trains[%zu]", src, i);
        if (!cJSON_IsObject(e)) return ml_error_set(err, ML_EFORMAT, "%s must be an object", sub);
        if ((st = rep_json_number(e, "device", sub, &t->device, 1, err)) ||
            (st = rep_json_number(e, "rms_uS", sub, &t->rms_uS, 1, err)) ||
            (st = rep_json_number(e, "r2", sub, &t->r2, 1, err)) || (st = arr(e, "pulse", sub, &t->n, &t->pulse, err)) ||
            (st = arr(e, "measured_uS", sub, &t->n, &t->measured, err)) ||
            (st = arr(e, "fitted_uS", sub, &t->n, &t->fitted, err)))
            return st;
        if (t->rms_uS < 0) return ml_error_set(err, ML_EFORMAT, "%s: 'rms_uS' must not be negative", sub);
    }
    return ML_OK;
}

/* One panel per train (the first few), stacked: measured (grey dots) and fitted (line) G. */
void rep_fig_fit(const ml_report *r, const void *arg)
{
    (void)r;
    const rep_fit *f = arg;
    const size_t np = f->n < REP_FIT_PANELS ? f->n : REP_FIT_PANELS;
    pladv(0);
    plschr(0, np > 1 ? 0.6 : 0.95); /* the page grows with the panels; the letters do not */
    char title[160];
    snprintf(title, sizeof title, "Measured vs fitted (%s): one-step R^2 %.4f, residual %.3g uS rms", f->law, f->r2,
             f->rms_uS);
    plvpor(0.12, 0.97, 0.9, 0.93);
    plwind(0, 1, 0, 1);
    plcol0(REP_FG);
    plmtex("t", 1.2, 0.5, 0.5, title);
    for (size_t k = 0; k < np; k++) {
        const rep_train *t = &f->tr[k];
        double x0 = t->pulse[0], x1 = t->pulse[t->n - 1], y0 = INFINITY, y1 = -INFINITY;
        for (size_t i = 0; i < t->n; i++) {
            y0 = fmin(y0, fmin(t->measured[i], t->fitted[i]));
            y1 = fmax(y1, fmax(t->measured[i], t->fitted[i]));
        }
        double pad = 0.05 * (y1 - y0), h = 0.78 / (double)np, top = 0.84 - k * h;
        rep_axes(0.12, 0.97, top - h + 0.08, top, x0, x1, y0 - pad, y1 + pad, k + 1 == np ? "bcnst" : "bcst", 0,
                 "bcnstv");
        char lab[160];
        snprintf(lab, sizeof lab, "device %.0f: open-loop rms %.3g uS, R^2 %.4f", t->device, t->rms_uS, t->r2);
        pllab(k + 1 == np ? "pulse" : "", "G (uS)", lab);
        plcol0(REP_GREY);
        plwidth(1.0);
        plssym(0, 0.6);
        plpoin((PLINT)t->n, t->pulse, t->measured, 17);
        plssym(0, 1.0);
        plcol0(rep_scheme_colour("verify"));
        plwidth(1.6);
        plline((PLINT)t->n, t->pulse, t->fitted);
        plwidth(1.0);
        if (k == 0) {
            const char *lt[2] = {"measured", "fitted"};
            int lc[2] = {REP_GREY, rep_scheme_colour("verify")}, ls[2] = {1, 1};
            rep_legend(2, lt, lc, ls, 1);
        }
    }
    plschr(0, 0.95);
}
