/* Declarative option parser shared by every subcommand; --config FILE.json supplies the
 * same keys as the long options (command-line values win). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "memlev/util.h"
#include "cli/progress.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "memlev %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_fail_err(const char *cmd, const ml_error *err)
{
    return cli_fail(cmd, "%s", err->msg[0] ? err->msg : "error");
}

void cli_print_help(const cli_spec *s, FILE *f)
{
    fprintf(f, "usage: memlev %s %s\n%s\n\noptions:\n", s->cmd, s->synopsis, s->about);
    for (const cli_opt *o = s->opts; o->name; o++) {
        const char *arg = o->type == OPT_OUT ? " FILE" : o->type == OPT_OUTDIR ? " DIR" : o->type == OPT_STR ? " STR" : o->type == OPT_INT ? " INT" : o->type == OPT_DBL ? " NUM" : "";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name, arg);
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
    fprintf(f, "  %-24s %s\n", "--config FILE.json", "read options from a JSON object with the same keys");
    fprintf(f, "  %-24s %s\n", "--quiet", "no progress output on stderr");
    fprintf(f, "  %-24s %s\n", "--help", "show this help");
}

static cli_opt *find(cli_spec *s, const char *name)
{
    for (cli_opt *o = s->opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

/* Store val in o; file/key name where it came from in the error (NULL: the command line). */
static int set_value(cli_spec *s, cli_opt *o, const char *val, const char *file, const char *key)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_STR:
    case OPT_OUT:
    case OPT_OUTDIR:
        *(const char **)o->dst = val;
        break;
    case OPT_INT: {
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end)
            return file ? cli_fail(s->cmd, "%s: %s: '%s' is not an integer", file, key, val)
                        : cli_fail(s->cmd, "--%s: '%s' is not an integer", o->name, val);
        *(long *)o->dst = v;
        break;
    }
    case OPT_DBL: {
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return file ? cli_fail(s->cmd, "%s: %s: '%s' is not a finite number", file, key, val)
                        : cli_fail(s->cmd, "--%s: '%s' is not a finite number", o->name, val);
        *(double *)o->dst = v;
        break;
    }
    case OPT_FLAG:
        *(int *)o->dst = 1;
        break;
    }
    o->seen = 1;
    return 0;
}

/* Strings taken from the config file must outlive parsing. */
static char *keep(const char *s)
{
    /* kept (reachable) until exit: option values point into these strings */
    static char *pool[256];
    static int n;
    if (n >= 256) return NULL;
    return pool[n++] = strdup(s);
}

static int apply_config(cli_spec *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(s->cmd, "%s: cannot open config file", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (64u << 20)) { free(buf); fclose(f); return cli_fail(s->cmd, "%s: config file too large", path); }
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return cli_fail(s->cmd, "%s: out of memory", path); }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    buf[len] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(buf, &end, 0);
    /* cJSON stops at the end of the first value: anything but white space after it is an error */
    while (root && end && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    int trailing = root && end && *end;
    free(buf);
    if (!root || !cJSON_IsObject(root) || trailing) {
        cJSON_Delete(root);
        if (trailing) return cli_fail(s->cmd, "%s: text after the JSON object", path);
        return cli_fail(s->cmd, "%s: not a JSON object", path);
    }
    int rc = 0;
    for (cJSON *it = root->child; it && !rc; it = it->next) {
        char key[64];
        snprintf(key, sizeof key, "%s", it->string);
        for (char *c = key; *c; c++)
            if (*c == '_') *c = '-';
        for (cJSON *prev = root->child; prev != it; prev = prev->next) {
            char pk[64];
            snprintf(pk, sizeof pk, "%s", prev->string);
            for (char *c = pk; *c; c++)
                if (*c == '_') *c = '-';
            if (!strcmp(pk, key)) { rc = cli_fail(s->cmd, "%s: key '%s' appears more than once", path, it->string); break; }
        }
        if (rc) break;
        if (!strcmp(key, "quiet")) { /* the global flag, as on the command line */
            if (!cJSON_IsBool(it)) { rc = cli_fail(s->cmd, "%s: quiet: expected true or false", path); break; }
            if (cJSON_IsTrue(it)) cli_set_quiet(1);
            continue;
        }
        cli_opt *o = find(s, key);
        if (!o) { rc = cli_fail(s->cmd, "%s: unknown key '%s'", path, it->string); break; }
        if (o->seen) continue; /* the command line wins */
        char num[64];
        const char *val = NULL;
        if (cJSON_IsString(it)) val = keep(it->valuestring);
        else if (cJSON_IsBool(it)) {
            if (o->type != OPT_FLAG) { rc = cli_fail(s->cmd, "%s: %s: expected a value", path, it->string); break; }
            if (cJSON_IsTrue(it)) rc = set_value(s, o, "1", path, it->string);
            continue;
        }
        else if (cJSON_IsNumber(it)) {
            double v = it->valuedouble;
            if (o->type == OPT_INT) {
                if (!(v == floor(v) && fabs(v) <= 9007199254740992.0)) {
                    rc = cli_fail(s->cmd, "%s: %s: %.17g is not an integer", path, it->string, v);
                    break;
                }
                snprintf(num, sizeof num, "%.0f", v);
            } else
                snprintf(num, sizeof num, "%.17g", v);
            val = num;
        }
        else { rc = cli_fail(s->cmd, "%s: %s: expected a string, number or boolean", path, it->string); break; }
        if (o->type == OPT_FLAG) { rc = cli_fail(s->cmd, "%s: %s: expected true or false", path, it->string); break; }
        if ((o->type == OPT_OUT || o->type == OPT_OUTDIR) && !cJSON_IsString(it)) {
            rc = cli_fail(s->cmd, "%s: %s: expected a path (a string)", path, it->string);
            break;
        }
        if (o->type == OPT_STR && !cJSON_IsString(it)) val = keep(val);
        if (!val) { rc = cli_fail(s->cmd, "%s: out of memory", path); break; }
        rc = set_value(s, o, val, path, it->string);
    }
    cJSON_Delete(root);
    return rc;
}

int cli_parse(cli_spec *s, int argc, char **argv, char **pos, int *npos)
{
    const char *config = NULL;
    if (npos) *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(s, stdout);
            return 1;
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { cli_set_quiet(1); continue; }
        if (strncmp(a, "--", 2)) {
            if (!pos || *npos >= s->max_positional)
                return cli_fail(s->cmd, "unexpected argument '%s' (see memlev %s --help)", a, s->cmd);
            pos[(*npos)++] = argv[i];
            continue;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name)
            return cli_fail(s->cmd, "unknown option '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        if (!strcmp(name, "config")) {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return cli_fail(s->cmd, "--config needs a file");
            config = v;
            continue;
        }
        cli_opt *o = find(s, name);
        if (!o)
            return cli_fail(s->cmd, "unknown option '--%s' (see memlev %s --help)", name, s->cmd);
        if (o->type == OPT_FLAG) {
            if (eq) return cli_fail(s->cmd, "--%s takes no value", name);
            set_value(s, o, "1", NULL, NULL);
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            return cli_fail(s->cmd, "--%s needs a value", name);
        if (set_value(s, o, v, NULL, NULL))
            return 2;
    }
    if (config && apply_config(s, config))
        return 2;
    /* outputs are checked now, not after a long run */
    for (cli_opt *o = s->opts; o->name; o++) {
        const char *v = (o->type == OPT_OUT || o->type == OPT_OUTDIR) ? *(const char **)o->dst : NULL;
        if (v && cli_check_output(s->cmd, o->name, v, o->type == OPT_OUT ? CLI_OUT_FILE : CLI_OUT_DIR))
            return 2;
    }
    return 0;
}
