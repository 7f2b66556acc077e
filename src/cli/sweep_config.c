/* Sweep config: a JSON object whose keys are axes (a value or a non-empty list of values).
 * Validated once, on every rank, before anything is written: unknown keys, empty lists, wrong
 * types, out-of-range values and missing required keys give one line naming the key. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/sweep.h"
#include "memlev/program.h"
#include "memlev/util.h"

enum { FOR_TRANSFER = 1, FOR_LEVELS = 2, FOR_BOTH = 3 };

typedef struct key_spec {
    const char *key, *out;
    sweep_kind kind;
    int applies;          /* FOR_* */
    const char *def;      /* default as JSON text; NULL = required */
    double lo, hi;        /* range for numbers */
    int seeded;           /* enters the point seed hash */
} key_spec;

/* Table order is grid order: the last key varies fastest. */
static const key_spec k_keys[] = {
    {"model", "model", SW_STR, FOR_TRANSFER, NULL, 0, 0, 1},
    {"data", "data", SW_STR, FOR_TRANSFER, "\"fashion-mnist\"", 0, 0, 1},
    {"limit", "limit", SW_INT, FOR_TRANSFER, "0", 0, 1e12, 1},
    {"mode", "mode", SW_STR, FOR_TRANSFER, "\"statistical\"", 0, 0, 1},
    {"per_channel", "per_channel", SW_BOOL, FOR_TRANSFER, "false", 0, 0, 1},
    {"sample_devices", "sample_devices", SW_INT, FOR_TRANSFER, "1000", 8, 1e7, 1},
    {"relax_time", "relax_time", SW_NUM, FOR_TRANSFER, "0", 0, 1e12, 1},
    {"batch", "batch", SW_INT, FOR_TRANSFER, "100", 1, 4096, 0},
    {"calibrate", "calibrate", SW_STR, FOR_BOTH, "\"device\"", 0, 0, 1},
    {"verify_every", "verify_every", SW_INT, FOR_BOTH, "0", 0, 1e6, 1},
    {"population", "population", SW_INT, FOR_LEVELS, "100", 1, 1e8, 1},
    {"direction", "direction", SW_STR, FOR_LEVELS, "\"up\"", 0, 0, 1},
    {"k", "k", SW_NUM, FOR_LEVELS, "3", 1e-9, 100, 1},
    {"pass_fraction", "pass_fraction", SW_NUM, FOR_LEVELS, "0.9", 1e-9, 1, 1},
    {"seed", "seed", SW_INT, FOR_BOTH, "1", 0, 9007199254740991.0, 0},
    {"trials", "trials", SW_INT, FOR_TRANSFER, "5", 1, 10000, 0},
    {"devices", "device", SW_STR, FOR_BOTH, "\"tio2x\"", 0, 0, 1},
    {"schemes", "scheme", SW_STR, FOR_BOTH, "\"feedforward\"", 0, 0, 1},
    {"levels", "levels", SW_INT, FOR_BOTH, "[2,4,8,16,32,64,128,256,512]", 2, 65536, 1},
};
#define NKEYS (sizeof k_keys / sizeof k_keys[0])

int sweep_fail(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return 2;
}

static const key_spec *spec_of(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(k_keys[i].key, key)) return &k_keys[i];
    return NULL;
}

static const char *kind_name(sweep_kind k)
{
    return k == SW_STR ? "a string" : k == SW_INT ? "an integer" : k == SW_NUM ? "a number" : "true or false";
}

/* check one value's type and range; "what" names it ("levels[2]") */
static int check_value(const char *path, const char *what, const key_spec *s, const cJSON *v, char *msg, size_t n)
{
    switch (s->kind) {
    case SW_STR:
        if (!cJSON_IsString(v) || !v->valuestring[0]) return sweep_fail(msg, n, "%s: %s: expected a non-empty string", path, what);
        return 0;
    case SW_BOOL:
        if (!cJSON_IsBool(v)) return sweep_fail(msg, n, "%s: %s: expected true or false", path, what);
        return 0;
    case SW_INT:
    case SW_NUM: {
        if (!cJSON_IsNumber(v)) return sweep_fail(msg, n, "%s: %s: expected %s", path, what, kind_name(s->kind));
        double d = v->valuedouble;
        if (!(d >= s->lo && d <= s->hi)) return sweep_fail(msg, n, "%s: %s: %g is out of range (%g..%g)", path, what, d, s->lo, s->hi);
        if (s->kind == SW_INT && d != floor(d)) return sweep_fail(msg, n, "%s: %s: %g is not an integer", path, what, d);
        return 0;
    }
    }
    return 0;
}

/* key-specific checks on a string value */
static int check_word(const char *path, const char *what, const char *key, const char *v, char *msg, size_t n)
{
    ml_error err = {0};
    const ml_scheme_type *kind;
    if (!strcmp(key, "mode") && strcmp(v, "pulse") && strcmp(v, "statistical"))
        return sweep_fail(msg, n, "%s: %s: '%s' must be pulse or statistical", path, what, v);
    if (!strcmp(key, "calibrate") && strcmp(v, "device") && strcmp(v, "population"))
        return sweep_fail(msg, n, "%s: %s: '%s' must be device or population", path, what, v);
    if (!strcmp(key, "direction") && strcmp(v, "up") && strcmp(v, "down") && strcmp(v, "auto"))
        return sweep_fail(msg, n, "%s: %s: '%s' must be up, down or auto", path, what, v);
    if (!strcmp(key, "schemes") && ml_scheme_parse(v, &kind, &err)) return sweep_fail(msg, n, "%s: %s: %s", path, what, err.msg);
    return 0;
}

/* validate one key's value (scalar or list) and store it in echo as an array */
static int take_key(const char *path, const key_spec *s, const cJSON *v, cJSON *echo, char *msg, size_t n)
{
    cJSON *arr;
    if (cJSON_IsArray(v)) {
        if (!cJSON_GetArraySize(v)) return sweep_fail(msg, n, "%s: %s: empty list", path, s->key);
        arr = cJSON_Duplicate(v, 1);
    } else {
        arr = cJSON_CreateArray();
        if (arr) cJSON_AddItemToArray(arr, cJSON_Duplicate(v, 1));
    }
    if (!arr) return sweep_fail(msg, n, "%s: out of memory", path);
    cJSON_AddItemToObject(echo, s->key, arr);
    int i = 0;
    const cJSON *e, *f;
    cJSON_ArrayForEach(e, arr) {
        char what[96];
        if (cJSON_IsArray(v)) snprintf(what, sizeof what, "%s[%d]", s->key, i);
        else snprintf(what, sizeof what, "%s", s->key);
        if (check_value(path, what, s, e, msg, n)) return 2;
        if (s->kind == SW_STR && check_word(path, what, s->key, e->valuestring, msg, n)) return 2;
        cJSON_ArrayForEach(f, arr) {
            if (f == e) break;
            if (cJSON_Compare(e, f, 1)) return sweep_fail(msg, n, "%s: %s: duplicate value", path, what);
        }
        i++;
    }
    return 0;
}

const sweep_axis *sweep_axis_find(const sweep_config *c, const char *key)
{
    for (int i = 0; i < c->naxes; i++)
        if (!strcmp(c->axes[i].key, key)) return &c->axes[i];
    return NULL;
}

void sweep_config_free(sweep_config *c)
{
    for (int i = 0; i < c->ndevs; i++) ml_device_clear(&c->devs[i]);
    free(c->devs);
    cJSON_Delete(c->echo);
    memset(c, 0, sizeof *c);
}

/* cross-key checks that a single value cannot make */
static int check_combinations(const char *path, sweep_config *c, char *msg, size_t n)
{
    const sweep_axis *rt = sweep_axis_find(c, "relax_time"), *mode = sweep_axis_find(c, "mode");
    const cJSON *e;
    if (rt && mode) {
        int any_relax = 0, any_stat = 0;
        cJSON_ArrayForEach(e, rt->values) any_relax |= e->valuedouble > 0;
        cJSON_ArrayForEach(e, mode->values) any_stat |= !strcmp(e->valuestring, "statistical");
        if (any_relax && any_stat) return sweep_fail(msg, n, "%s: relax_time: needs mode \"pulse\" for every point", path);
    }
    c->npoints = 1;
    for (int i = 0; i < c->naxes; i++) {
        if (c->npoints > SWEEP_MAX_POINTS / (size_t)c->axes[i].n)
            return sweep_fail(msg, n, "%s: %s: the grid exceeds %d points", path, c->axes[i].key, SWEEP_MAX_POINTS);
        c->npoints *= (size_t)c->axes[i].n;
    }
    return 0;
}

static int load_devices(const char *path, sweep_config *c, char *msg, size_t n)
{
    const sweep_axis *d = sweep_axis_find(c, "devices");
    c->devs = calloc((size_t)d->n, sizeof *c->devs);
    if (!c->devs) return sweep_fail(msg, n, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, d->values) {
        ml_error err = {0};
        if (ml_device_load(e->valuestring, &c->devs[c->ndevs], &err))
            return sweep_fail(msg, n, "%s: devices[%d]: %s", path, c->ndevs, err.msg);
        c->ndevs++;
    }
    return 0;
}

/* the model files must be readable now, not when a rank reaches them hours later */
static int check_models(const char *path, const sweep_config *c, char *msg, size_t n)
{
    const sweep_axis *m = sweep_axis_find(c, "model");
    const cJSON *e;
    int i = 0;
    if (!m) return 0;
    cJSON_ArrayForEach(e, m->values) {
        FILE *f = fopen(e->valuestring, "rb");
        if (!f) return sweep_fail(msg, n, "%s: model[%d]: cannot open '%s'", path, i, e->valuestring);
        fclose(f);
        i++;
    }
    return 0;
}

int sweep_config_load(const char *path, sweep_config *c, char *msg, size_t n)
{
    memset(c, 0, sizeof *c);
    char *buf = NULL;
    size_t len;
    ml_error err = {0};
    if (ml_read_file(path, &buf, &len, 16u << 20, &err)) return sweep_fail(msg, n, "%s", err.msg);
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sweep_fail(msg, n, "%s: not a JSON object", path);
    }
    int rc = 0;
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(root, "levels_only");
    if (lo && !cJSON_IsBool(lo)) rc = sweep_fail(msg, n, "%s: levels_only: expected true or false", path);
    c->levels_only = cJSON_IsTrue(lo);
    int mask = c->levels_only ? FOR_LEVELS : FOR_TRANSFER;
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        if (!strcmp(it->string, "levels_only")) continue;
        const key_spec *s = spec_of(it->string);
        if (!s) rc = sweep_fail(msg, n, "%s: unknown axis '%s'", path, it->string);
        else if (!(s->applies & mask))
            rc = sweep_fail(msg, n, "%s: %s: %s", path, it->string,
                      c->levels_only ? "does not apply with levels_only" : "applies only with levels_only");
        else if (cJSON_GetObjectItemCaseSensitive(root, it->string) != it)
            rc = sweep_fail(msg, n, "%s: %s: given twice", path, it->string);
    }
    c->echo = cJSON_CreateObject();
    if (!rc && !c->echo) rc = sweep_fail(msg, n, "%s: out of memory", path);
    if (!rc) cJSON_AddBoolToObject(c->echo, "levels_only", c->levels_only);
    for (size_t i = 0; i < NKEYS && !rc; i++) {
        const key_spec *s = &k_keys[i];
        if (!(s->applies & mask)) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, s->key);
        cJSON *def = NULL;
        if (!v) {
            if (!s->def) { rc = sweep_fail(msg, n, "%s: %s: missing (required%s)", path, s->key, " unless levels_only"); break; }
            /* levels_only: levels are the pulse budget P of the staircase (memlev levels --target-states) */
            v = def = cJSON_Parse(c->levels_only && !strcmp(s->key, "levels") ? "512" : s->def);
        }
        rc = take_key(path, s, v, c->echo, msg, n);
        cJSON_Delete(def);
        if (rc) break;
        sweep_axis *a = &c->axes[c->naxes++];
        a->key = s->key;
        a->out = s->out;
        a->kind = s->kind;
        a->values = cJSON_GetObjectItemCaseSensitive(c->echo, s->key);
        a->n = cJSON_GetArraySize(a->values);
        a->seeded = s->seeded;
    }
    cJSON_Delete(root);
    if (!rc) rc = check_combinations(path, c, msg, n);
    if (!rc) rc = check_models(path, c, msg, n);
    if (!rc) rc = load_devices(path, c, msg, n);
    if (rc) sweep_config_free(c);
    return rc;
}
