/* The one adapter between a sweep point and the study code. Today it drives the CLI's
 * transfer_run (one scheme, one level count, the point's trials and seed, into a temporary
 * JSON file read back) and levels_run; it is the file to re-point at the library's study
 * functions, which will also let a rank keep its model and data loaded between points. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/levels_run.h"
#include "cli/progress.h"
#include "cli/sweep.h"
#include "cli/transfer_run.h"
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

/* transfer_run prints a table on stdout: a sweep point runs with stdout on /dev/null */
static int mute_stdout(void)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), nul = open("/dev/null", O_WRONLY);
    if (saved < 0 || nul < 0 || dup2(nul, STDOUT_FILENO) < 0) {
        if (saved >= 0) close(saved);
        if (nul >= 0) close(nul);
        return -1;
    }
    close(nul);
    return saved;
}

static void unmute_stdout(int saved)
{
    if (saved < 0) return;
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
}

static ml_status run_transfer(const sweep_point *p, cJSON **out, ml_error *err)
{
    transfer_req r;
    memset(&r, 0, sizeof r);
    ml_error e2 = {0};
    if (ml_scheme_parse(str_of(p, "scheme"), &r.schemes[0], &e2)) return ml_error_set(err, ML_EINVAL, "%s", e2.msg);
    r.nschemes = 1;
    r.levels[0] = (int)num_of(p, "levels");
    r.nlevels = 1;
    r.model_path = str_of(p, "model");
    r.data = str_of(p, "data");
    r.dev = p->dev;
    r.device_name = str_of(p, "device");
    r.trials = (int)num_of(p, "trials");
    r.mode = strcmp(str_of(p, "mode"), "pulse") ? ML_TRANSFER_STATISTICAL : ML_TRANSFER_PULSE;
    r.per_channel = (int)num_of(p, "per_channel");
    r.limit = (size_t)num_of(p, "limit");
    r.seed = p->seed;
    r.sample_devices = (size_t)num_of(p, "sample_devices");
    r.relax_time = num_of(p, "relax_time");
    r.batch = (int)num_of(p, "batch");
    r.calib_per_device = !strcmp(str_of(p, "calibrate"), "device");
    r.verify_every = (int)num_of(p, "verify_every");
    const char *dir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/memlev-sweep-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0) return ml_error_set(err, ML_EIO, "%s: cannot create a temporary file", tmp);
    close(fd);
    r.json_path = tmp;
    int quiet = cli_quiet(), saved = mute_stdout();
    cli_set_quiet(1);
    int rc = transfer_run("sweep", &r);
    cli_set_quiet(quiet);
    unmute_stdout(saved);
    char *buf = NULL;
    size_t len;
    ml_status st = rc ? ml_error_set(err, ML_EINVAL, "point %zu failed (see the message above)", p->index)
                      : ml_read_file(tmp, &buf, &len, 64u << 20, err);
    unlink(tmp);
    if (st) return st;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    if (cJSON_GetArraySize(pts) != 1) {
        cJSON_Delete(j);
        return ml_error_set(err, ML_EFORMAT, "point %zu: transfer wrote no result", p->index);
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
    r.dir = strcmp(str_of(p, "direction"), "down") ? 1 : -1;
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
