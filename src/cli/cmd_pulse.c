/* memlev pulse: program a staircase on a device population; CSV one row per pulse/read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/common.h"
#include "memlev/metrics.h"
#include "memlev/util.h"

/* Rows per device: the reset pulses (tag reset, their real amplitude and width, the read after
 * each), the read of the start level (tag read, V = width = 0), then one row per staircase
 * step (tag pulse: the step's last pulse and the read after it; read when the step applied no
 * pulse). `pulse` numbers the rows of a device in the order they happened. */
static int write_csv(const char *path, const ml_staircase *st)
{
    ml_outfile f;
    ml_error err = {0};
    if (ml_outfile_open(&f, path, 0, &err)) return cli_fail_err("pulse", &err);
    fprintf(f.fp, "device,pulse,V,width,G_read,tag\n");
    for (size_t i = 0; i < st->ndev; i++) {
        size_t row = 0;
        int nr = st->reset_n[i] < st->reset_cap ? st->reset_n[i] : st->reset_cap;
        for (int q = 0; q < nr; q++) {
            size_t x = i * (size_t)st->reset_cap + (size_t)q;
            fprintf(f.fp, "%zu,%zu,%.6g,%.6g,%.9e,reset\n", i, row++, st->reset_v[x], st->reset_w[x], st->reset_g[x]);
        }
        for (size_t k = 0; k < st->npts; k++) {
            size_t x = i * st->npts + k;
            int pulsed = k && st->pulses[x] > 0;
            fprintf(f.fp, "%zu,%zu,%.6g,%.6g,%.9e,%s\n", i, row++, pulsed ? st->v[x] : 0.0, pulsed ? st->w[x] : 0.0,
                    st->g_read[x], pulsed ? "pulse" : "read");
        }
    }
    if (ml_outfile_commit(&f, &err)) return cli_fail_err("pulse", &err);
    return 0;
}

int ml_cmd_pulse(int argc, char **argv)
{
    prog_opts o;
    prog_opts_defaults(&o);
    o.devices = 10;
    long pulses = 512;
    const char *csv = NULL, *json = NULL;
    cli_opt opts[] = {
        PROG_OPT_ENTRIES(o),
        {"pulses", OPT_INT, &pulses, "pulses (steps) in the staircase [512]", 0},
        {"csv", OPT_OUT, &csv, "write one row per pulse/read (device,pulse,V,width,G_read,tag)", 0},
        {"json", OPT_OUT, &json, "write a summary (nonlinearity, window, cost, mean curve) as JSON", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"pulse", "--device D --scheme S [--pulses N] [--devices M] [--seed X] [--csv FILE] [--json FILE]",
                     "Program a potentiation (or --direction down: depression) staircase on M devices.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (pulses < 1 || pulses > 1000000) return cli_fail("pulse", "--pulses: %ld is out of range (1..1000000)", pulses);
    ml_device dev;
    ml_scheme s;
    int dir;
    if (prog_opts_resolve("pulse", &o, o.scheme, &dev, &s, &dir)) return 2;
    ml_population *pop = NULL;
    ml_staircase *st = NULL;
    ml_error err = {0};
    if (ml_population_new(&dev, (size_t)o.devices, (uint64_t)o.seed, &pop, &err) ||
        ml_program_staircase(pop, &s, (int)pulses, dir, &st, &err)) {
        ml_population_free(pop);
        ml_device_clear(&dev);
        return cli_fail_err("pulse", &err);
    }
    size_t np = st->npts, nd = st->ndev;
    double *mean = calloc(np, sizeof *mean);
    for (size_t k = 0; k < np; k++) {
        for (size_t i = 0; i < nd; i++) mean[k] += st->g_mean[i * np + k];
        mean[k] /= nd;
    }
    ml_nonlin nl = ml_nonlinearity(mean, np);
    const ml_cost *c = &st->cost;
    printf("%s on %s: %zu devices x %ld pulses  NL %+.2f  maxdev %.4f  G %.3f -> %.3f uS  pulses %.0f  reads %.0f  energy %.3g J"
           "  (reset: %.0f pulses, %.0f reads, %.3g J)%s\n",
           ml_scheme_name(s.type), dev.name, nd, pulses, nl.label, nl.max_dev, mean[0] * 1e6, mean[np - 1] * 1e6,
           c->pulses - c->reset_pulses, c->reads - c->reset_reads, c->energy_j - c->reset_energy_j, c->reset_pulses,
           c->reset_reads, c->reset_energy_j,
           dir ? "" : st->direction > 0 ? "  direction up (auto)" : "  direction down (auto)");
    rc = 0;
    if (csv) rc = write_csv(csv, st);
    if (!rc && json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "device", dev.name);
        cJSON_AddStringToObject(j, "scheme", ml_scheme_name(s.type));
        cJSON_AddNumberToObject(j, "devices", (double)nd);
        cJSON_AddNumberToObject(j, "pulses", (double)pulses);
        cJSON_AddStringToObject(j, "direction", st->direction > 0 ? "up" : "down");
        cJSON_AddBoolToObject(j, "direction_auto", dir == 0);
        cJSON_AddNumberToObject(j, "nonlinearity", nl.label);
        cJSON_AddNumberToObject(j, "max_deviation", nl.max_dev);
        cJSON_AddNumberToObject(j, "r2", nl.r2);
        cJSON_AddNumberToObject(j, "g_start_uS", mean[0] * 1e6);
        cJSON_AddNumberToObject(j, "g_end_uS", mean[np - 1] * 1e6);
        /* programming without the resets; the resets apart */
        cJSON_AddNumberToObject(j, "program_pulses", c->pulses - c->reset_pulses);
        cJSON_AddNumberToObject(j, "program_reads", c->reads - c->reset_reads);
        cJSON_AddNumberToObject(j, "program_energy_J", c->energy_j - c->reset_energy_j);
        cJSON_AddNumberToObject(j, "program_time_s", c->time_s - c->reset_time_s);
        cJSON_AddStringToObject(j, "reset", ml_reset_mode_name(s.reset_mode));
        cJSON_AddNumberToObject(j, "reset_pulses", c->reset_pulses);
        cJSON_AddNumberToObject(j, "reset_reads", c->reset_reads);
        cJSON_AddNumberToObject(j, "reset_energy_J", c->reset_energy_j);
        cJSON_AddNumberToObject(j, "reset_time_s", c->reset_time_s);
        cJSON_AddNumberToObject(j, "calibration_pulses", st->calib_cost.pulses);
        cJSON *a = cJSON_AddArrayToObject(j, "g_mean_uS");
        for (size_t k = 0; k < np; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(mean[k] * 1e6));
        rc = cli_write_json("pulse", json, j);
        cJSON_Delete(j);
    }
    free(mean);
    ml_staircase_free(st);
    ml_population_free(pop);
    ml_device_clear(&dev);
    return rc;
}
