/* memlev sweep: a grid of transfer (or levels) studies from a JSON config, serially or under
 * mpirun; finished points are journaled so --resume continues a killed sweep. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/sweep.h"
#include "memlev/util.h"

typedef struct sweep_state {
    const sweep_config *cfg;
    cJSON **points;
    sweep_journal journal;
    size_t finished, total_todo;
    int quiet;
    double t0;
} sweep_state;

/* the coordinates that vary, as "device=agsi scheme=verify levels=8" */
static void describe(const sweep_config *c, const cJSON *pt, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < c->naxes && off < n; i++) {
        const sweep_axis *a = &c->axes[i];
        if (a->n < 2) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pt, a->out);
        if (cJSON_IsString(v)) off += (size_t)snprintf(buf + off, n - off, "%s%s=%s", off ? " " : "", a->out, v->valuestring);
        else if (cJSON_IsBool(v)) off += (size_t)snprintf(buf + off, n - off, "%s%s=%s", off ? " " : "", a->out, cJSON_IsTrue(v) ? "true" : "false");
        else off += (size_t)snprintf(buf + off, n - off, "%s%s=%g", off ? " " : "", a->out, cJSON_GetNumberValue(v));
    }
}

static double result_figure(const sweep_config *c, const cJSON *pt)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, c->levels_only ? "states" : "accuracy_mean"));
}

static int on_done(void *ctx, size_t index, cJSON *pt, int rank, double wall_s)
{
    sweep_state *s = ctx;
    char msg[512];
    cJSON_AddNumberToObject(pt, "wall_s", wall_s);
    if (sweep_journal_append(&s->journal, index, pt, msg, sizeof msg)) {
        cJSON_Delete(pt);
        return cli_fail("sweep", "%s", msg);
    }
    cJSON_Delete(s->points[index]);
    s->points[index] = pt;
    s->finished++;
    if (!s->quiet) {
        char d[512];
        describe(s->cfg, pt, d, sizeof d);
        fprintf(stderr, "sweep: [%zu/%zu] point %zu %s: %s %.4g (rank %d, %.1f s)\n", s->finished, s->total_todo, index, d,
                s->cfg->levels_only ? "states" : "accuracy", result_figure(s->cfg, pt), rank, wall_s);
    }
    return 0;
}

/* cli_parse reads --config itself as option defaults; a sweep config is an axis file */
static int split_config(int argc, char **argv, char **kept, const char **config)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return -1;
            *config = argv[++i];
        } else if (i > 0 && !strncmp(argv[i], "--config=", 9)) {
            *config = argv[i] + 9;
        } else {
            kept[n++] = argv[i];
        }
    }
    kept[n] = NULL;
    return n;
}

/* --config here names an axis file, not option defaults: the help says so */
static void print_help(const cli_spec *s)
{
    printf("usage: memlev sweep %s\n%s\n\noptions:\n", s->synopsis, s->about);
    printf("  %-24s %s\n", "--config FILE.json",
           "the sweep: a JSON object of axes, each a value or a list (docs/sweep.md) (required)");
    for (const cli_opt *o = s->opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name, o->type == OPT_OUT ? " FILE" : o->type == OPT_STR ? " STR" : o->type == OPT_INT ? " INT" : "");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "--quiet", "no progress output on stderr");
    printf("  %-24s %s\n", "--help", "show this help");
    printf("\naxes: model (required), data, limit, mode, per_channel, sample_devices, relax_time, batch, calibrate,\n"
           "verify_every, seed, trials, devices, schemes, levels; with \"levels_only\": true (no network) devices,\n"
           "schemes, levels (pulse budget), seed, population, direction, k, pass_fraction, calibrate, verify_every.\n"
           "Under MPI: mpirun -np N memlev sweep ... (rank 0 hands out points, ranks 1..N-1 compute).\n");
}

/* rank 0 prints; other ranks reach the same verdict silently */
static int silence_stderr(const sweep_comm *m)
{
    if (m->rank == 0) return -1;
    fflush(stderr);
    int saved = dup(STDERR_FILENO), nul = open("/dev/null", O_WRONLY);
    if (saved >= 0 && nul >= 0) dup2(nul, STDERR_FILENO);
    if (nul >= 0) close(nul);
    return saved;
}

static void restore_stderr(int saved)
{
    if (saved < 0) return;
    dup2(saved, STDERR_FILENO);
    close(saved);
}

/* rank 0: open the journal, read back finished points, mark the rest to do */
static int prepare(sweep_state *s, const char *json, int resume, unsigned char *todo)
{
    char msg[4200];
    if (sweep_journal_open(&s->journal, json, s->cfg, resume, s->points, msg, sizeof msg))
        return cli_fail("sweep", "%s", msg);
    for (size_t i = 0; i < s->cfg->npoints; i++) {
        todo[i] = !s->points[i];
        s->total_todo += todo[i];
    }
    if (!s->quiet && resume)
        fprintf(stderr, "sweep: %zu of %zu points already in %s\n", s->cfg->npoints - s->total_todo, s->cfg->npoints,
                s->journal.path);
    return 0;
}

static void print_table(const sweep_config *c, cJSON *const *points)
{
    for (size_t i = 0; i < c->npoints; i++) {
        char d[512];
        describe(c, points[i], d, sizeof d);
        printf("%6zu  %-60s %s %.4f\n", i, d[0] ? d : "-", c->levels_only ? "states" : "accuracy", result_figure(c, points[i]));
    }
}

int ml_cmd_sweep(int argc, char **argv)
{
    sweep_comm m;
    if (sweep_comm_init(&m, &argc, &argv)) return 2;
    const char *config = NULL, *json = NULL, *csv = NULL;
    long threads = 0;
    int resume = 0;
    cli_opt opts[] = {
        {"json", OPT_OUT, &json, "results JSON, written when the sweep is complete (required)", 0},
        {"csv", OPT_OUT, &csv, "results CSV, one row per point", 0},
        {"resume", OPT_FLAG, &resume, "continue a killed sweep from its journal (<json>.journal)", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads per rank [all cores]; results do not depend on it", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"sweep", "--config SWEEP.json --json OUT.json [--csv OUT.csv] [--resume]",
                     "Run a grid of transfer (or levels) studies from a config of axes; under mpirun, on many ranks.",
                     opts, 0};
    char **kept = calloc((size_t)argc + 1, sizeof *kept);
    int saved = silence_stderr(&m);
    int rc = 0, help = 0;
    if (!kept) rc = cli_fail("sweep", "out of memory");
    int kn = rc ? 0 : split_config(argc, argv, kept, &config);
    if (!rc && kn < 0) rc = cli_fail("sweep", "--config needs a file");
    for (int i = 1; !rc && i < kn; i++)
        if (!strcmp(kept[i], "--help") || !strcmp(kept[i], "-h")) help = 1;
    if (help) print_help(&spec);
    if (!rc && !help) {
        rc = cli_parse(&spec, kn, kept, NULL, NULL);
        help = rc == 1;
        if (help) rc = 0;
    }
    if (!rc && !help && !config) rc = cli_fail("sweep", "--config is required (a JSON file of axes; see memlev sweep --help)");
    if (!rc && !help && !json) rc = cli_fail("sweep", "--json is required");
    if (!rc && (threads < 0 || threads > 4096)) rc = cli_fail("sweep", "--threads: %ld is out of range", threads);
    free(kept);
    sweep_config cfg = {0};
    if (!rc && !help) {
        char msg[4200];
        if ((rc = sweep_config_load(config, &cfg, msg, sizeof msg))) cli_fail("sweep", "%s", msg);
    }
    restore_stderr(saved);
    rc = sweep_comm_agree(&m, rc);
    if (rc || help) {
        sweep_config_free(&cfg);
        sweep_comm_finalize(&m);
        return rc;
    }
    cli_set_threads(threads);
    sweep_state s = {&cfg, NULL, {{0}, -1}, 0, 0, cli_quiet(), ml_now()};
    unsigned char *todo = NULL;
    if (m.rank == 0) {
        s.points = calloc(cfg.npoints, sizeof *s.points);
        todo = calloc(cfg.npoints, 1);
        rc = !s.points || !todo ? cli_fail("sweep", "out of memory") : prepare(&s, json, resume, todo);
    }
    rc = sweep_comm_agree(&m, rc);
    if (!rc) rc = sweep_execute(&m, &cfg, todo, on_done, &s);
    if (m.rank == 0 && !rc) {
        char msg[4200];
        if (sweep_write_outputs(&cfg, s.points, json, csv, msg, sizeof msg)) rc = cli_fail("sweep", "%s", msg);
        else {
            sweep_journal_close(&s.journal, 1);
            print_table(&cfg, s.points);
            if (!s.quiet)
                fprintf(stderr, "sweep: wrote %s: %zu points (%zu computed on %d rank%s) in %.1f s\n", json, cfg.npoints,
                        s.total_todo, m.size > 1 ? m.size - 1 : 1, m.size > 2 ? "s" : "", ml_now() - s.t0);
        }
    } else if (m.rank == 0 && s.journal.fd >= 0) {
        fprintf(stderr, "memlev sweep: finished points are kept in %s; run again with --resume\n", s.journal.path);
    }
    if (m.rank == 0) sweep_journal_close(&s.journal, 0);
    for (size_t i = 0; s.points && i < cfg.npoints; i++) cJSON_Delete(s.points[i]);
    free(s.points);
    free(todo);
    sweep_point_cache_free();
    sweep_config_free(&cfg);
    sweep_comm_finalize(&m);
    return rc;
}
