/* The one adapter between a sweep point and the study code: the library's transfer study
 * (one scheme, one level count, the point's trials and seed) on a model and data set each
 * rank loads once and keeps, with the float baseline measured once per (limit, batch); and
 * the levels study for levels-only sweeps. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/levels_run.h"
#include "cli/progress.h"
#include "cli/sweep.h"
#include "memlev/onnx.h"
#include "memlev/study.h"
#include "memlev/util.h"

static const char *str_of(const sweep_point *p, const char *k)
{
    return cJSON_GetStringValue(sweep_coord(p, k));
}

static double num_of(const sweep_point *p, const char *k)
{
    const cJSON *v = sweep_coord(p, k);
    return cJSON_IsBool(v) ? (double)cJSON_IsTrue(v) : cJSON_GetNumberValue(v);
}

/* What a rank keeps between points: the last model and data set it loaded (a sweep's points
 * mostly share them) and the float baselines it measured, keyed by what decides them. */
typedef struct point_cache {
    char model[4096], data[4096];
    ml_net *net;
    ml_dataset *ds;
    struct { size_t limit; int batch; double acc; } base[16];
    int nbase;
} point_cache;
static point_cache g_cache;

static ml_status cache_load(const char *model, const char *data, ml_error *err)
{
    point_cache *c = &g_cache;
    if (!c->net || strcmp(c->model, model)) {
        ml_net_free(c->net);
        c->net = NULL;
        c->nbase = 0;
        ml_status st = ml_onnx_load(model, &c->net, err);
        if (st) return st;
        if (cli_net_conv("sweep", c->net)) /* printed its one line */
            return ml_error_set(err, ML_EINVAL, "MEMLEV_CONV: neither auto nor builtin");
        snprintf(c->model, sizeof c->model, "%s", model);
    }
    if (!c->ds || strcmp(c->data, data)) {
        ml_dataset_free(c->ds);
        c->ds = NULL;
        c->nbase = 0;
        ml_status st = ml_dataset_load(data, 0, &c->ds, err);
        if (st) return st;
        snprintf(c->data, sizeof c->data, "%s", data);
    }
    return ML_OK;
}

void sweep_point_cache_free(void)
{
    ml_net_free(g_cache.net);
    ml_dataset_free(g_cache.ds);
    memset(&g_cache, 0, sizeof g_cache);
}

static double *cached_baseline(size_t limit, int batch)
{
    for (int i = 0; i < g_cache.nbase; i++)
        if (g_cache.base[i].limit == limit && g_cache.base[i].batch == batch) return &g_cache.base[i].acc;
    return NULL;
}

/* One (scheme, levels) point through the library's transfer study, on the cached model and
 * data; the output holds the study's JSON point plus "baseline_accuracy" and "images". */
static ml_status run_transfer(const sweep_point *p, cJSON **out, ml_error *err)
{
    ml_status st = cache_load(str_of(p, "model"), str_of(p, "data"), err);
    if (st) return st;
    ml_transfer_study_opts o = {0};
    if ((st = ml_scheme_parse(str_of(p, "scheme"), &o.schemes[0], err))) return st;
    int levels = (int)num_of(p, "levels");
    o.dev = p->dev;
    o.nschemes = 1;
    o.levels = &levels;
    o.nlevels = 1;
    o.trials = (int)num_of(p, "trials");
    o.mode = strcmp(str_of(p, "mode"), "pulse") ? ML_TRANSFER_STATISTICAL : ML_TRANSFER_PULSE;
    o.per_channel = (int)num_of(p, "per_channel");
    o.limit = (size_t)num_of(p, "limit");
    o.seed = p->seed;
    o.sample_devices = (size_t)num_of(p, "sample_devices");
    o.relax_time = num_of(p, "relax_time");
    o.batch = (int)num_of(p, "batch");
    o.calib_per_device = !strcmp(str_of(p, "calibrate"), "device");
    o.verify_every = (int)num_of(p, "verify_every");
    const double *b = cached_baseline(o.limit, o.batch);
    o.baseline_accuracy = b ? *b : -1;
    ml_transfer_result *res = NULL;
    if ((st = ml_transfer_study(g_cache.net, g_cache.ds, &o, &res, err))) return st;
    if (!b && g_cache.nbase < 16) {
        g_cache.base[g_cache.nbase].limit = o.limit;
        g_cache.base[g_cache.nbase].batch = o.batch;
        g_cache.base[g_cache.nbase++].acc = res->baseline_accuracy;
    }
    char *text = NULL;
    st = ml_transfer_result_json(res, &text, err);
    ml_transfer_result_free(res);
    if (st) return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    if (cJSON_GetArraySize(pts) != 1) {
        cJSON_Delete(j);
        return ml_error_set(err, ML_ENOMEM, "point %zu: out of memory", p->index);
    }
    cJSON *pt = cJSON_DetachItemFromArray(pts, 0);
    cJSON_AddItemToObject(pt, "baseline_accuracy", cJSON_DetachItemFromObjectCaseSensitive(j, "baseline_accuracy"));
    cJSON_AddItemToObject(pt, "images", cJSON_DetachItemFromObjectCaseSensitive(j, "images"));
    cJSON_Delete(j);
    *out = pt;
    return ML_OK;
}

static ml_status run_levels(const sweep_point *p, cJSON **out, ml_error *err)
{
    ml_levels_study_opts r;
    memset(&r, 0, sizeof r);
    const ml_scheme_type *kind;
    ml_status st = ml_scheme_parse(str_of(p, "scheme"), &kind, err);
    if (st) return st;
    ml_scheme_defaults(&r.scheme, kind);
    r.scheme.calib_per_device = !strcmp(str_of(p, "calibrate"), "device");
    r.scheme.verify_every = (int)num_of(p, "verify_every");
    r.dev = p->dev;
    r.P = (int)num_of(p, "levels");
    r.P_max = r.P; /* a grid point is its P: states_saturated marks a ceiling, P is not raised */
    r.dir = !strcmp(str_of(p, "direction"), "auto") ? 0 : strcmp(str_of(p, "direction"), "down") ? 1 : -1;
    r.devices = (size_t)num_of(p, "population");
    r.seed = p->seed;
    r.k = num_of(p, "k");
    r.frac = num_of(p, "pass_fraction");
    int quiet = cli_quiet();
    cli_set_quiet(1);
    st = levels_run(&r, out, err);
    cli_set_quiet(quiet);
    return st;
}

int sweep_point_run(const sweep_point *p, cJSON **result, ml_error *err)
{
    cJSON *res = NULL;
    ml_status st = p->cfg->levels_only ? run_levels(p, &res, err) : run_transfer(p, &res, err);
    if (st) return 2;
    /* the output point: coordinates first, then the study's own keys */
    cJSON *pt = cJSON_Duplicate(p->coords, 1);
    if (!pt) { cJSON_Delete(res); return ml_error_set(err, ML_ENOMEM, "out of memory"), 2; }
    cJSON_AddNumberToObject(pt, "point_seed", (double)p->seed);
    while (res->child) {
        cJSON *it = cJSON_DetachItemViaPointer(res, res->child);
        if (cJSON_GetObjectItemCaseSensitive(pt, it->string) || !strcmp(it->string, "seed")) cJSON_Delete(it);
        else cJSON_AddItemToObject(pt, it->string, it);
    }
    cJSON_Delete(res);
    *result = pt;
    return 0;
}
