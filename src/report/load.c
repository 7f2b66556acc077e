/* Reading result files: detect the kind by its keys and check every field the report
 * uses (messages name the file and the field). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "report/internal.h"

#define MAX_RESULT_BYTES (256u << 20)
#define MAX_POINTS 1000000

void rep_levels_clear(rep_levels *l)
{
    ml__free(l->file); ml__free(l->scheme); ml__free(l->device); ml__free(l->label);
    ml__free(l->g_mean); ml__free(l->p05); ml__free(l->p95); ml__free(l->step); ml__free(l->v_mean); ml__free(l->pulses_mean);
    ml__free(l->sw_v); ml__free(l->sw_cov); ml__free(l->sw_states);
    memset(l, 0, sizeof *l);
}

void rep_transfer_clear(rep_transfer *t)
{
    ml__free(t->file); ml__free(t->device); ml__free(t->model); ml__free(t->pts);
    memset(t, 0, sizeof *t);
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ml__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ml_status rep_json_number(const cJSON *o, const char *key, const char *src, double *v, int required, ml_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        if (required) return ml_error_set(err, ML_EFORMAT, "%s: missing number '%s'", src, key);
        return ML_OK;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return ml_error_set(err, ML_EFORMAT, "%s: '%s' must be a finite number", src, key);
    *v = it->valuedouble;
    return ML_OK;
}

static ml_status str(const cJSON *o, const char *key, const char *src, char **out, ml_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(it) || !it->valuestring[0])
        return ml_error_set(err, ML_EFORMAT, "%s: '%s' must be a non-empty string", src, key);
    if (strlen(it->valuestring) > 200) return ml_error_set(err, ML_EFORMAT, "%s: '%s' is too long", src, key);
    if (!(*out = dup(it->valuestring))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    return ML_OK;
}

ml_status rep_json_numbers(const cJSON *o, const char *key, const char *src, size_t lo, size_t hi, size_t *n,
                           double **out, ml_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) return ml_error_set(err, ML_EFORMAT, "%s: missing array '%s'", src, key);
    size_t len = (size_t)cJSON_GetArraySize(a);
    if (*n == 0) {
        if (len < lo || len > hi)
            return ml_error_set(err, ML_EFORMAT, "%s: '%s' has %zu entries (%zu..%zu expected)", src, key, len, lo, hi);
        *n = len;
    } else if (len != *n) {
        return ml_error_set(err, ML_EFORMAT, "%s: '%s' has %zu entries, expected %zu", src, key, len, *n);
    }
    double *v = ml__malloc(len * sizeof *v);
    if (!v) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            ml__free(v);
            return ml_error_set(err, ML_EFORMAT, "%s: %s[%zu] must be a finite number", src, key, i);
        }
        v[i] = e->valuedouble;
    }
    *out = v;
    return ML_OK;
}

/* A staircase array of exactly n entries (n == 0: 2..MAX_POINTS, stored in *n). */
static ml_status arr(const cJSON *o, const char *key, const char *src, size_t *n, double **out, ml_error *err)
{
    return rep_json_numbers(o, key, src, 2, MAX_POINTS, n, out, err);
}

static ml_status load_levels(const cJSON *j, const char *src, rep_levels *l, ml_error *err)
{
    ml_status st;
    l->k = 3;
    l->prec_rms_uS = -1;
    l->yield = l->fallback = l->verify = l->failed = l->unconverged = -1;
    l->pulses = l->verify_every = l->states_pop = -1;
    if (!(l->file = dup(src))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    if ((st = str(j, "scheme", src, &l->scheme, err)) || (st = str(j, "device", src, &l->device, err))) return st;
    const struct { const char *k; double *v; int req; } f[] = {
        {"states", &l->states, 1}, {"staircase_states", &l->staircase_states, 1}, {"nonlinearity", &l->nl, 1},
        {"max_deviation", &l->max_dev, 1}, {"r2", &l->r2, 1}, {"g_min_uS", &l->g_min_uS, 1},
        {"g_max_uS", &l->g_max_uS, 1}, {"pulses_per_state", &l->pps, 1}, {"reads_per_state", &l->rps, 1},
        {"energy_per_state_J", &l->eps, 1}, {"sigma_read_uS", &l->sigma_uS, 1},
        {"calibration_pulses_per_device", &l->calib_pulses, 1}, {"k", &l->k, 0},
        {"precision_rms_uS", &l->prec_rms_uS, 0}, {"yield", &l->yield, 0}, {"devices_fallback", &l->fallback, 0},
        {"devices_verify", &l->verify, 0}, {"devices_failed", &l->failed, 0}, {"unconverged", &l->unconverged, 0}, {"pulses", &l->pulses, 0},
        {"verify_every", &l->verify_every, 0}, {"states_population", &l->states_pop, 0}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if ((st = rep_json_number(j, f[i].k, src, f[i].v, f[i].req, err))) return st;
    if (l->states < 0 || l->staircase_states < 0 || l->pps < 0 || l->rps < 0 || l->eps < 0 || l->sigma_uS < 0)
        return ml_error_set(err, ML_EFORMAT, "%s: states, costs and sigma_read_uS must not be negative", src);
    if (cJSON_HasObjectItem(j, "verify_every") && (l->verify_every < 0 || l->verify_every != floor(l->verify_every)))
        return ml_error_set(err, ML_EFORMAT, "%s: 'verify_every' must be an integer >= 0", src);
    if (!(l->k > 0)) return ml_error_set(err, ML_EFORMAT, "%s: 'k' must be positive", src);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "staircase");
    if (!cJSON_IsObject(sc)) return ml_error_set(err, ML_EFORMAT, "%s: 'staircase' must be an object", src);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s: staircase", src);
    if ((st = arr(sc, "g_mean_uS", sub, &l->npts, &l->g_mean, err)) || (st = arr(sc, "g_p05_uS", sub, &l->npts, &l->p05, err)) ||
        (st = arr(sc, "g_p95_uS", sub, &l->npts, &l->p95, err)) || (st = arr(sc, "step_uS", sub, &l->npts, &l->step, err)) ||
        (st = arr(sc, "v_mean", sub, &l->npts, &l->v_mean, err)) ||
        (st = arr(sc, "pulses_mean", sub, &l->npts, &l->pulses_mean, err)))
        return st;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sweep");
    if (sw) {
        if (!cJSON_IsArray(sw)) return ml_error_set(err, ML_EFORMAT, "%s: 'sweep' must be an array", src);
        size_t n = (size_t)cJSON_GetArraySize(sw), i = 0;
        if (n > MAX_POINTS) return ml_error_set(err, ML_EFORMAT, "%s: 'sweep' is too long", src);
        if (n) {
            l->sw_v = ml__malloc(n * sizeof(double)); l->sw_cov = ml__malloc(n * sizeof(double)); l->sw_states = ml__malloc(n * sizeof(double));
            if (!l->sw_v || !l->sw_cov || !l->sw_states) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        }
        for (const cJSON *e = sw->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s: sweep[%zu]", src, i);
            if (!cJSON_IsObject(e)) return ml_error_set(err, ML_EFORMAT, "%s must be an object", sub);
            if ((st = rep_json_number(e, "v", sub, &l->sw_v[i], 1, err)) || (st = rep_json_number(e, "coverage", sub, &l->sw_cov[i], 1, err)) ||
                (st = rep_json_number(e, "states", sub, &l->sw_states[i], 1, err)))
                return st;
        }
        l->nsweep = n;
    }
    return ML_OK;
}

static ml_status load_transfer(const cJSON *j, const char *src, rep_transfer *t, ml_error *err)
{
    ml_status st;
    t->images = -1;
    t->complete = -1;
    if (!(t->file = dup(src))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    if ((st = rep_json_number(j, "baseline_accuracy", src, &t->baseline, 1, err)) || (st = rep_json_number(j, "images", src, &t->images, 0, err)))
        return st;
    if (t->baseline < 0 || t->baseline > 1)
        return ml_error_set(err, ML_EFORMAT, "%s: 'baseline_accuracy' (%g) must be a fraction in [0, 1]", src, t->baseline);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "complete");
    if (c) t->complete = cJSON_IsTrue(c);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    const cJSON *dv = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "device") : NULL;
    if (cJSON_IsString(dv) && strlen(dv->valuestring) <= 200 && !(t->device = dup(dv->valuestring)))
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    const cJSON *md = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "model") : NULL;
    if (cJSON_IsString(md) && strlen(md->valuestring) <= 400 && !(t->model = dup(md->valuestring)))
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    if (!cJSON_IsArray(pts)) return ml_error_set(err, ML_EFORMAT, "%s: 'points' must be an array", src);
    size_t n = (size_t)cJSON_GetArraySize(pts), i = 0;
    if (n > MAX_POINTS) return ml_error_set(err, ML_EFORMAT, "%s: 'points' is too long", src);
    if (n && !(t->pts = ml__calloc(n, sizeof *t->pts))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    char sub[4200];
    for (const cJSON *e = pts->child; e; e = e->next, i++) {
        rep_point *p = &t->pts[i];
        snprintf(sub, sizeof sub, "%s: points[%zu]", src, i);
        if (!cJSON_IsObject(e)) return ml_error_set(err, ML_EFORMAT, "%s must be an object", sub);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "scheme");
        if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) >= sizeof p->scheme)
            return ml_error_set(err, ML_EFORMAT, "%s: 'scheme' must be a short non-empty string", sub);
        snprintf(p->scheme, sizeof p->scheme, "%s", s->valuestring);
        p->trials = p->yield = p->fallback = p->verify = p->failed = -1;
        const struct { const char *k; double *v; int req; } f[] = {
            {"trials", &p->trials, 0}, {"yield", &p->yield, 0}, {"devices_fallback", &p->fallback, 0},
            {"devices_verify", &p->verify, 0}, {"devices_failed", &p->failed, 0}, {"levels", &p->levels, 1}, {"accuracy_mean", &p->acc, 1}, {"accuracy_std", &p->std, 1}, {"ci95", &p->ci95, 1},
            {"quantized_accuracy", &p->qacc, 1}, {"pulses_per_device", &p->ppd, 1}, {"devices", &p->devices, 1},
            {"program_seconds", &p->seconds, 1}};
        for (size_t q = 0; q < sizeof f / sizeof f[0]; q++)
            if ((st = rep_json_number(e, f[q].k, sub, f[q].v, f[q].req, err))) return st;
        if (p->levels < 2 || p->levels > 1e9 || p->levels != floor(p->levels))
            return ml_error_set(err, ML_EFORMAT, "%s: 'levels' (%g) must be an integer >= 2", sub, p->levels);
        if (p->acc < 0 || p->acc > 1 || p->qacc < 0 || p->qacc > 1)
            return ml_error_set(err, ML_EFORMAT, "%s: accuracies must be fractions in [0, 1]", sub);
        if (p->std < 0 || p->ci95 < 0 || p->ppd < 0 || p->devices < 0 || p->seconds < 0)
            return ml_error_set(err, ML_EFORMAT, "%s: std, ci95 and costs must not be negative", sub);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "distinguishable");
        if (!cJSON_IsBool(d)) return ml_error_set(err, ML_EFORMAT, "%s: 'distinguishable' must be true or false", sub);
        p->dist = cJSON_IsTrue(d);
    }
    t->n = n;
    return ML_OK;
}

/* Labels tell results apart: the scheme, plus the file name when a scheme repeats. */
static ml_status relabel(ml_report *r, ml_error *err)
{
    for (size_t i = 0; i < r->nlv; i++) {
        rep_levels *l = &r->lv[i];
        int dupl = 0;
        for (size_t q = 0; q < r->nlv; q++)
            if (q != i && !strcmp(r->lv[q].scheme, l->scheme)) dupl = 1;
        const char *base = strrchr(l->file, '/');
        base = base ? base + 1 : l->file;
        size_t n = strlen(l->scheme) + strlen(base) + 8;
        char *s = ml__malloc(n);
        if (!s) return ml_error_set(err, ML_ENOMEM, "out of memory");
        if (dupl) snprintf(s, n, "%s (%s)", l->scheme, base);
        else snprintf(s, n, "%s", l->scheme);
        ml__free(l->label);
        l->label = s;
    }
    return ML_OK;
}

ml_status ml_report_add_json(ml_report *r, const char *text, const char *src, ml_result_kind *kind, ml_error *err)
{
    if (!r || !text || !src) return ml_error_set(err, ML_EINVAL, "ml_report_add_json: NULL argument");
    cJSON *j = cJSON_Parse(text);
    if (!j) return ml_error_set(err, ML_EFORMAT, "%s: not valid JSON", src);
    ml_status st;
    if (!cJSON_IsObject(j)) {
        st = ml_error_set(err, ML_EFORMAT, "%s: not a JSON object", src);
    } else if (cJSON_HasObjectItem(j, "staircase") && cJSON_HasObjectItem(j, "states")) {
        rep_levels l = {0};
        rep_levels *nv = ml__realloc(r->lv, (r->nlv + 1) * sizeof *nv);
        if (!nv) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        else if (r->lv = nv, (st = load_levels(j, src, &l, err))) rep_levels_clear(&l);
        else {
            r->lv[r->nlv++] = l;
            st = relabel(r, err);
            if (kind) *kind = ML_RESULT_LEVELS;
        }
    } else if (cJSON_HasObjectItem(j, "points") &&
               cJSON_HasObjectItem(cJSON_GetObjectItemCaseSensitive(j, "config"), "levels_only")) {
        rep_sweep s = {0};
        rep_sweep *ns = ml__realloc(r->sw, (r->nsw + 1) * sizeof *ns);
        if (!ns) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        else if (r->sw = ns, (st = rep_load_sweep(j, src, &s, err))) rep_sweep_clear(&s);
        else {
            r->sw[r->nsw++] = s;
            if (kind) *kind = ML_RESULT_SWEEP;
        }
    } else if (cJSON_HasObjectItem(j, "baseline_accuracy") && cJSON_HasObjectItem(j, "points")) {
        rep_transfer t = {0};
        rep_transfer *nt = ml__realloc(r->tr, (r->ntr + 1) * sizeof *nt);
        if (!nt) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        else if (r->tr = nt, (st = load_transfer(j, src, &t, err))) rep_transfer_clear(&t);
        else {
            r->tr[r->ntr++] = t;
            if (kind) *kind = ML_RESULT_TRANSFER;
        }
    } else if (cJSON_HasObjectItem(j, "law") && cJSON_HasObjectItem(j, "residual_rms_uS")) {
        rep_fit f = {0};
        rep_fit *nf = ml__realloc(r->fit, (r->nfit + 1) * sizeof *nf);
        if (!nf) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        else if (r->fit = nf, (st = rep_load_fit(j, src, &f, err))) rep_fit_clear(&f);
        else {
            r->fit[r->nfit++] = f;
            if (kind) *kind = ML_RESULT_FIT;
        }
    } else {
        st = ml_error_set(err, ML_EFORMAT,
                          "%s: not a memlev result (levels results have 'staircase' and 'states', transfer results "
                          "'baseline_accuracy' and 'points', sweep results 'points' and 'config', fit reports "
                          "'law' and 'residual_rms_uS')", src);
    }
    cJSON_Delete(j);
    return st;
}

ml_status ml_report_add_file(ml_report *r, const char *path, ml_result_kind *kind, ml_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    ml_status st = ml_read_file(path, &buf, &len, MAX_RESULT_BYTES, err);
    if (st) return st;
    st = ml_report_add_json(r, buf, path, kind, err);
    ml__free(buf);
    return st;
}
