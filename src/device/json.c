/* Device JSON form (DESIGN.md): a flat object of SI parameters plus a "d2d" object of
 * device-to-device spreads (those the model draws: a key that does not apply to the model must be
 * 0) and, for the table model, a "table" object. Unknown keys are errors. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/device.h"
#include "memlev/util.h"
#include "device/internal.h"
#include "device/json_write.h"

typedef struct { const char *key; size_t off; } field;
#define F(k) {#k, offsetof(ml_device, k)}
static const field k_fields[] = {
    F(g_min), F(g_max), F(a_p), F(v0_p), F(a_d), F(v0_d), F(t_ref), F(v_th), F(s_c2c), F(s_abs),
    F(s_read_rel), F(s_read_abs), F(relax_r), F(relax_tau), F(v_pulse_p), F(v_pulse_d), F(width),
    F(v_max), F(width_min), F(width_max), F(v_read), F(t_read), F(nl_ltp), F(nl_ltd), F(pmax_ltp),
    F(pmax_ltd), F(serb_ap), F(serb_an), F(serb_tp), F(serb_tn), F(serb_a0p), F(serb_a1p),
    F(serb_a0n), F(serb_a1n), F(stuck_fraction), {NULL, 0}};
#undef F
static const field k_d2d[] = {
    {"a_p", offsetof(ml_device, d2d_a_p)}, {"a_d", offsetof(ml_device, d2d_a_d)},
    {"g_min", offsetof(ml_device, d2d_g_min)}, {"g_max", offsetof(ml_device, d2d_g_max)},
    {"v0_p", offsetof(ml_device, d2d_v0_p)}, {"v0_d", offsetof(ml_device, d2d_v0_d)},
    {"nl", offsetof(ml_device, d2d_nl)}, {NULL, 0}};
static const char *k_models[] = {"softbounds", "neurosim", "serb", "table"};

static const field *lookup(const field *t, const char *k)
{
    for (; t->key; t++)
        if (!strcmp(t->key, k)) return t;
    return NULL;
}

static ml_status number(const cJSON *it, const char *src, const char *prefix, double *out, ml_error *err)
{
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return ml_error_set(err, ML_EFORMAT, "%s: %s%s must be a finite number", src, prefix, it->string);
    *out = it->valuedouble;
    return ML_OK;
}

static ml_status array(const cJSON *o, const char *key, const char *src, double **out, int *n, ml_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > 1000000)
        return ml_error_set(err, ML_EFORMAT, "%s: table.%s must be a non-empty array", src, key);
    int m = cJSON_GetArraySize(a), i = 0;
    double *v = ml__malloc((size_t)m * sizeof *v);
    if (!v) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            ml__free(v);
            return ml_error_set(err, ML_EFORMAT, "%s: table.%s[%d] must be a finite number", src, key, i);
        }
        v[i] = e->valuedouble;
    }
    *out = v;
    *n = m;
    return ML_OK;
}

static ml_status parse_table(const cJSON *o, const char *src, ml_device *d, ml_error *err)
{
    static const char *keys[] = {"v", "width", "g", "dg_mean", "dg_std"};
    if (!cJSON_IsObject(o)) return ml_error_set(err, ML_EFORMAT, "%s: table must be an object", src);
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (int k = 0; k < 5; k++) ok |= !strcmp(it->string, keys[k]);
        if (!ok) return ml_error_set(err, ML_EFORMAT, "%s: unknown key 'table.%s'", src, it->string);
    }
    ml_dev_table *t = ml__calloc(1, sizeof *t);
    if (!t) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    d->table = t;
    int nm = 0, ns = 0;
    ml_status st;
    if ((st = array(o, "v", src, &t->v, &t->nv, err)) || (st = array(o, "width", src, &t->w, &t->nw, err)) ||
        (st = array(o, "g", src, &t->g, &t->ng, err)) || (st = array(o, "dg_mean", src, &t->dg_mean, &nm, err)) ||
        (st = array(o, "dg_std", src, &t->dg_std, &ns, err)))
        return st;
    size_t want = (size_t)t->nv * t->nw * t->ng;
    if ((size_t)nm != want || (size_t)ns != want)
        return ml_error_set(err, ML_EFORMAT, "%s: table.dg_mean/dg_std need len(v)*len(width)*len(g) = %zu values", src, want);
    const double *ax[] = {t->v, t->w, t->g};
    const int an[] = {t->nv, t->nw, t->ng};
    const char *names[] = {"v", "width", "g"};
    for (int k = 0; k < 3; k++)
        for (int i = 1; i < an[k]; i++)
            if (!(ax[k][i] > ax[k][i - 1]))
                return ml_error_set(err, ML_EFORMAT, "%s: table.%s must be strictly ascending", src, names[k]);
    for (size_t i = 0; i < want; i++)
        if (t->dg_std[i] < 0) return ml_error_set(err, ML_EFORMAT, "%s: table.dg_std[%zu] is negative", src, i);
    return ML_OK;
}

ml_status ml_device_from_json_text(const char *text, const char *src, ml_device *out, ml_error *err)
{
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ml_error_set(err, ML_EFORMAT, "%s: not a JSON object", src);
    }
    ml_device d;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    int kind = -1;
    if (cJSON_IsString(m))
        for (int k = 0; k < 4; k++)
            if (!strcmp(m->valuestring, k_models[k])) kind = k;
    if (kind < 0) {
        cJSON_Delete(root);
        return ml_error_set(err, ML_EFORMAT, "%s: model must be one of softbounds, neurosim, serb, table", src);
    }
    ml_device_defaults(&d, (ml_model_kind)kind);
    ml_status st = ML_OK;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        const field *f;
        if (!strcmp(it->string, "model")) continue;
        if (!strcmp(it->string, "name")) {
            if (!cJSON_IsString(it)) st = ml_error_set(err, ML_EFORMAT, "%s: name must be a string", src);
            else snprintf(d.name, sizeof d.name, "%s", it->valuestring);
        } else if (!strcmp(it->string, "d2d")) {
            if (!cJSON_IsObject(it)) { st = ml_error_set(err, ML_EFORMAT, "%s: d2d must be an object", src); break; }
            for (const cJSON *e = it->child; e && !st; e = e->next) {
                const field *g = lookup(k_d2d, e->string);
                if (!g) st = ml_error_set(err, ML_EFORMAT, "%s: unknown key 'd2d.%s'", src, e->string);
                else st = number(e, src, "d2d.", (double *)((char *)&d + g->off), err);
            }
        } else if (!strcmp(it->string, "table")) {
            st = parse_table(it, src, &d, err);
        } else if ((f = lookup(k_fields, it->string))) {
            st = number(it, src, "", (double *)((char *)&d + f->off), err);
        } else {
            st = ml_error_set(err, ML_EFORMAT, "%s: unknown key '%s'", src, it->string);
        }
    }
    cJSON_Delete(root);
    if (!st && d.model == ML_MODEL_TABLE && !d.table)
        st = ml_error_set(err, ML_EFORMAT, "%s: table model needs a \"table\" object", src);
    if (!st) {
        if (d.model == ML_MODEL_SOFTBOUNDS || d.model == ML_MODEL_SERB || d.model == ML_MODEL_TABLE) {
            d.g_inf_p = d.g_max;
            d.g_inf_d = d.g_min;
        }
        st = ml_device_validate(&d, src, err);
        if (!st && d.model == ML_MODEL_NEUROSIM)
            ml__neurosim_to_softbounds(&d);
    }
    if (st) {
        if (err && err->code != st) err->code = st;
        ml_device_clear(&d);
        return st == ML_EINVAL ? ML_EFORMAT : st;
    }
    *out = d;
    return ML_OK;
}

ml_status ml_device_load(const char *name, ml_device *d, ml_error *err)
{
    ml_error tmp;
    if (ml_device_preset(name, d, &tmp) == ML_OK)
        return ML_OK;
    if (!strchr(name, '/') && !strchr(name, '.')) {
        return ml_error_set(err, ML_EINVAL, "device '%s': not a preset (tio2x, agsi, taox-hfox, pcmo, alox-hfo2, serb-virtualarc) nor a .json file", name);
    }
    char *buf;
    size_t len;
    ml_status st = ml_read_file(name, &buf, &len, 256u << 20, err);
    if (st) return st;
    st = ml_device_from_json_text(buf, name, d, err);
    ml__free(buf);
    return st;
}

static cJSON *arr(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, ml__json_exact_number(v[i]));
    return a;
}

char *ml_device_to_json(const ml_device *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", k_models[d->model]);
    cJSON_AddStringToObject(o, "name", d->name);
    for (const field *f = k_fields; f->key; f++) {
        const char *k = f->key;
        int serb = !strncmp(k, "serb_", 5), ns = !strncmp(k, "nl_", 3) || !strncmp(k, "pmax_", 5);
        if ((serb && d->model != ML_MODEL_SERB) || (ns && d->model != ML_MODEL_NEUROSIM)) continue;
        if (d->model == ML_MODEL_NEUROSIM && (!strcmp(k, "a_p") || !strcmp(k, "a_d"))) continue;
        cJSON_AddItemToObject(o, k, ml__json_exact_number(*(const double *)((const char *)d + f->off)));
    }
    cJSON *dd = cJSON_AddObjectToObject(o, "d2d");
    for (const field *f = k_d2d; f->key; f++)
        if (ml__d2d_applies(d->model, f->key))
            cJSON_AddItemToObject(dd, f->key, ml__json_exact_number(*(const double *)((const char *)d + f->off)));
    if (d->table) {
        const ml_dev_table *t = d->table;
        size_t nn = (size_t)t->nv * t->nw * t->ng;
        cJSON *to = cJSON_AddObjectToObject(o, "table");
        cJSON_AddItemToObject(to, "v", arr(t->v, t->nv));
        cJSON_AddItemToObject(to, "width", arr(t->w, t->nw));
        cJSON_AddItemToObject(to, "g", arr(t->g, t->ng));
        cJSON_AddItemToObject(to, "dg_mean", arr(t->dg_mean, nn));
        cJSON_AddItemToObject(to, "dg_std", arr(t->dg_std, nn));
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* heap copy of a device loaded into d (takes ownership of d's table) */
static ml_status to_heap(ml_status st, ml_device *d, ml_device **out, ml_error *err)
{
    if (st) return st;
    ml_device *h = ml__malloc(sizeof *h);
    if (!h) {
        ml_device_clear(d);
        return ml_error_set(err, ML_ENOMEM, "out of memory");
    }
    *h = *d;
    *out = h;
    return ML_OK;
}

ml_status ml_device_new(const char *name_or_path, ml_device **out, ml_error *err)
{
    ml_device d;
    return to_heap(ml_device_load(name_or_path, &d, err), &d, out, err);
}

ml_status ml_device_new_json(const char *text, const char *src, ml_device **out, ml_error *err)
{
    ml_device d;
    return to_heap(ml_device_from_json_text(text, src, &d, err), &d, out, err);
}

void ml_device_free(ml_device *d)
{
    if (!d) return;
    ml_device_clear(d);
    ml__free(d);
}
