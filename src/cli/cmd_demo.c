/* memlev demo: the study on embedded defaults (tio2x preset): identical vs feedforward vs
 * verify staircases, states, nonlinearity and cost; writes a result folder. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/common.h"
#include "cli/levels_run.h"
#include "memlev/util.h"

int ml_cmd_report(int argc, char **argv) __attribute__((weak));

int ml_cmd_demo(int argc, char **argv)
{
    const char *out = "memlev-report";
    long devices = 100, seed = 1, threads = 0;
    cli_opt opts[] = {
        {"out", OPT_STR, &out, "result folder [memlev-report]", 0},
        {"devices", OPT_INT, &devices, "devices per scheme [100]", 0},
        {"seed", OPT_INT, &seed, "random seed [1]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"demo", "[--out DIR] [--devices M] [--seed X]",
                     "Run the study on the tio2x preset and write results (and a report when available).", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (devices < 2 || devices > 100000) return cli_fail("demo", "--devices: %ld is out of range (2..100000)", devices);
    if (seed < 0) return cli_fail("demo", "--seed: must not be negative");
    cli_set_threads(threads);
    if (mkdir(out, 0777) && errno != EEXIST) return cli_fail("demo", "%s: cannot create folder: %s", out, strerror(errno));
    ml_device dev;
    ml_error err = {0};
    if (ml_device_preset("tio2x", &dev, &err)) return cli_fail_err("demo", &err);
    static const ml_scheme_kind kinds[] = {ML_SCHEME_IDENTICAL, ML_SCHEME_FEEDFORWARD, ML_SCHEME_VERIFY};
    char *files[3];
    static char paths[3][4200];
    printf("memlev demo: tio2x (HRS/LRS 1.19), %ld devices per scheme, 512-pulse budget, k = 3\n", devices);
    for (int q = 0; q < 3; q++) {
        levels_req r = {0};
        r.dev = &dev;
        ml_scheme_defaults(&r.scheme, kinds[q]);
        r.P = 512;
        r.dir = 1;
        r.devices = (size_t)devices;
        r.seed = (uint64_t)seed;
        r.k = 3;
        r.frac = 0.9;
        cJSON *j = NULL;
        if (levels_run(&r, &j, &err)) return cli_fail_err("demo", &err);
        levels_print(j);
        snprintf(paths[q], sizeof paths[q], "%s/levels-%s.json", out, ml_scheme_name(kinds[q]));
        files[q] = paths[q];
        rc = cli_write_json("demo", paths[q], j);
        cJSON_Delete(j);
        if (rc) return rc;
    }
    printf("results written to %s/\n", out);
    if (ml_cmd_report) {
        char *av[8] = {"report", files[0], files[1], files[2], "--out", (char *)out, NULL};
        return ml_cmd_report(6, av);
    }
    return 0;
}
