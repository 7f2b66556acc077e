/* Shared option handling for pulse/levels/calibrate/demo, and the output-path check every
 * command runs before it computes. */
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/common.h"
#include "memlev/util.h"

void prog_opts_defaults(prog_opts *o)
{
    memset(o, 0, sizeof *o);
    o->device = "tio2x";
    o->scheme = "feedforward";
    o->direction = "up";
    o->calibrate = "device";
    o->grid = "own";
    o->devices = 100;
    o->seed = 1;
    o->max_pulses = 200;
    o->tol = 0.25;
    o->coverage = 0.95;
    o->reset = "once";
    o->reset_max = 16;
    o->reset_tol = 0.01;
}

void cli_set_threads(long t)
{
    if (t > 0) omp_set_num_threads((int)t);
}

int cli_net_conv(const char *cmd, ml_net *net)
{
    static const char *env;
    static int read;
    if (!read) {
        env = getenv("MEMLEV_CONV");
        read = 1;
    }
    ml_conv_choice c = ML_CONV_AUTO;
    if (env && !strcmp(env, "builtin"))
        c = ML_CONV_BUILTIN;
    else if (env && *env && strcmp(env, "auto"))
        return cli_fail(cmd, "MEMLEV_CONV: '%s' is neither auto nor builtin", env);
    ml_error err = {0};
    return ml_net_set_conv(net, c, &err) ? cli_fail_err(cmd, &err) : 0;
}

int prog_opts_resolve(const char *cmd, const prog_opts *o, const char *scheme_name, ml_device *dev, ml_scheme *s,
                      int *dir)
{
    ml_error err = {0};
    const ml_scheme_type *kind;
    if (o->devices < 1 || o->devices > 100000000) return cli_fail(cmd, "--devices: %ld is out of range (1..1e8)", o->devices);
    if (o->seed < 0) return cli_fail(cmd, "--seed: must not be negative");
    if (o->width < 0) return cli_fail(cmd, "--width: %g s must be positive", o->width);
    if (o->v < 0) return cli_fail(cmd, "--v: give the magnitude in V (%g is negative)", o->v);
    if (o->tol <= 0 || o->tol > 0.5) return cli_fail(cmd, "--tol: %g must be within (0, 0.5]", o->tol);
    if (o->max_pulses < 1 || o->max_pulses > 100000) return cli_fail(cmd, "--max-pulses: %ld is out of range (1..100000)", o->max_pulses);
    if (o->verify_every < 0) return cli_fail(cmd, "--verify-every: must not be negative");
    if (!(o->calib_budget >= 0 && o->calib_budget <= 1e9)) return cli_fail(cmd, "--calib-budget: %g must be within 0..1e9 pulses", o->calib_budget);
    if (!(o->coverage > 0 && o->coverage < 1)) return cli_fail(cmd, "--coverage: %g must be within (0, 1)", o->coverage);
    if (o->target_uS < 0) return cli_fail(cmd, "--target-uS: %g must be positive", o->target_uS);
    if (o->v_start < 0 || o->v_stop < 0) return cli_fail(cmd, "--v-start/--v-stop must not be negative");
    if (strcmp(o->direction, "up") && strcmp(o->direction, "down") && strcmp(o->direction, "auto"))
        return cli_fail(cmd, "--direction: '%s' must be up, down or auto", o->direction);
    if (strcmp(o->calibrate, "device") && strcmp(o->calibrate, "population")) return cli_fail(cmd, "--calibrate: '%s' must be device or population", o->calibrate);
    if (ml_reset_mode_lookup(o->reset) < 0) return cli_fail(cmd, "--reset: '%s' must be once, settle or verify", o->reset);
    if (o->reset_max < 1 || o->reset_max > 1000) return cli_fail(cmd, "--reset-max: %ld is out of range (1..1000)", o->reset_max);
    if (!(o->reset_tol > 0 && o->reset_tol < 1)) return cli_fail(cmd, "--reset-tol: %g must be within (0, 1)", o->reset_tol);
    if (o->ff_max_pulses < 0 || o->ff_max_pulses > 256) return cli_fail(cmd, "--ff-max-pulses: %ld is out of range (0..256)", o->ff_max_pulses);
    if (o->ff_max_pulses > 0 && o->verify_every > 0) return cli_fail(cmd, "--ff-max-pulses: one-shot programming reads nothing; drop --verify-every");
    if (o->ff_max_pulses > 0 && strcmp(scheme_name, "feedforward")) return cli_fail(cmd, "--ff-max-pulses: one-shot programming needs --scheme feedforward");
    if (strcmp(o->grid, "own") && strcmp(o->grid, "common")) return cli_fail(cmd, "--grid: '%s' must be common or own", o->grid);
    if (o->threads < 0 || o->threads > 4096) return cli_fail(cmd, "--threads: %ld is out of range", o->threads);
    if (ml_scheme_parse(scheme_name, &kind, &err)) return cli_fail(cmd, "--scheme: %s", err.msg);
    if (ml_device_load(o->device, dev, &err)) return cli_fail_err(cmd, &err);
    if (o->width > 0 && (o->width < dev->width_min || o->width > dev->width_max)) {
        cli_fail(cmd, "--width: %g s is outside the device's [%g, %g] s", o->width, dev->width_min, dev->width_max);
        ml_device_clear(dev);
        return 2;
    }
    if (o->v > dev->v_max || o->v_start > dev->v_max * (o->modulate_width ? 1e9 : 1) || o->v_stop > dev->v_max * (o->modulate_width ? 1e9 : 1)) {
        cli_fail(cmd, "--v/--v-start/--v-stop exceed the device's safety limit v_max = %g V", dev->v_max);
        ml_device_clear(dev);
        return 2;
    }
    ml_scheme_defaults(s, kind);
    s->v = o->v;
    s->width = o->width;
    s->modulate_width = o->modulate_width;
    s->v_start = o->v_start;
    s->v_stop = o->v_stop;
    s->tol = o->tol;
    s->max_pulses = (int)o->max_pulses;
    s->verify_every = (int)o->verify_every;
    s->calib_per_device = !strcmp(o->calibrate, "device");
    s->calib_budget = o->calib_budget;
    s->coverage = o->coverage;
    s->target_top = o->target_uS * 1e-6;
    s->reset_mode = ml_reset_mode_lookup(o->reset);
    s->reset_max_pulses = (int)o->reset_max;
    s->reset_tol = o->reset_tol;
    s->grid_common = !strcmp(o->grid, "common");
    s->ff_max_pulses = (int)o->ff_max_pulses;
    if (s->grid_common && !ml_scheme_targets(s)) {
        cli_fail(cmd, "--grid: common needs a scheme that programs to targets (feedforward, verify), not %s", scheme_name);
        ml_device_clear(dev);
        return 2;
    }
    *dir = !strcmp(o->direction, "auto") ? 0 : strcmp(o->direction, "down") ? 1 : -1;
    cli_set_threads(o->threads);
    return 0;
}

/* Every number of the tree as raw text in the fewest digits (15..17) that parse back to exactly
 * its double: cJSON's printer stops at 15 digits when a value is within an epsilon of them, and a
 * resumed transfer rebuilds its figures from the file it wrote. 0, or -1 when out of memory. */
static int exact_numbers(cJSON *node)
{
    for (cJSON *it = node ? node->child : NULL; it; it = it->next) {
        if (it->child && exact_numbers(it)) return -1;
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) continue;
        char buf[40];
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, it->valuedouble);
            double back = strtod(buf, NULL);
            if (!memcmp(&back, &it->valuedouble, sizeof back)) break;
        }
        cJSON *raw = cJSON_CreateRaw(buf);
        if (!raw) return -1;
        raw->string = it->string; /* the key moves to the raw item */
        it->string = NULL;
        if (!cJSON_ReplaceItemViaPointer(node, it, raw)) { it->string = raw->string; raw->string = NULL; cJSON_Delete(raw); return -1; }
        it = raw;
    }
    return 0;
}

int cli_write_json(const char *cmd, const char *path, cJSON *root)
{
    cJSON *copy = cJSON_Duplicate(root, 1);
    char *txt = copy && !exact_numbers(copy) ? cJSON_Print(copy) : NULL;
    cJSON_Delete(copy);
    ml_error err = {0};
    if (!txt) return cli_fail(cmd, "out of memory writing %s", path);
    size_t n = strlen(txt);
    char *t2 = malloc(n + 2);
    if (!t2) { free(txt); return cli_fail(cmd, "out of memory"); }
    memcpy(t2, txt, n);
    t2[n] = '\n';
    t2[n + 1] = 0;
    free(txt);
    ml_status st = ml_write_text_atomic(path, t2, &err);
    free(t2);
    return st ? cli_fail_err(cmd, &err) : 0;
}


int cli_check_output(const char *cmd, const char *opt, const char *path, cli_out_kind kind)
{
    if (!*path) return cli_fail(cmd, "--%s: empty path", opt);
    struct stat sb;
    if (!stat(path, &sb)) {
        int dir = S_ISDIR(sb.st_mode);
        if (kind == CLI_OUT_FILE && dir) return cli_fail(cmd, "--%s %s: is a folder, not a file", opt, path);
        if (kind == CLI_OUT_DIR && !dir) return cli_fail(cmd, "--%s %s: exists and is not a folder", opt, path);
        if (access(path, dir ? W_OK | X_OK : W_OK))
            return cli_fail(cmd, "--%s %s: cannot write: %s", opt, path, strerror(errno));
        if (dir) return 0; /* its files are written inside it */
    } else if (errno != ENOENT)
        return cli_fail(cmd, "--%s %s: %s", opt, path, strerror(errno));
    /* the folder that will hold it: everything before the last '/' (trailing ones dropped) */
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    while (n > 0 && path[n - 1] != '/') n--;
    while (n > 1 && path[n - 1] == '/') n--;
    char parent[4096];
    if (n == 0) snprintf(parent, sizeof parent, ".");
    else if (n >= sizeof parent) return cli_fail(cmd, "--%s: path too long", opt);
    else { memcpy(parent, path, n); parent[n] = 0; }
    if (stat(parent, &sb)) return cli_fail(cmd, "--%s %s: folder %s does not exist", opt, path, parent);
    if (!S_ISDIR(sb.st_mode)) return cli_fail(cmd, "--%s %s: %s is not a folder", opt, path, parent);
    if (access(parent, W_OK | X_OK)) return cli_fail(cmd, "--%s %s: cannot write in folder %s: %s", opt, path, parent, strerror(errno));
    return 0;
}
