/* memlev levels: distinguishable states, nonlinearity and cost of a scheme on a device. */
#include <stdio.h>
#include "cli/common.h"
#include "cli/levels_run.h"

int ml_cmd_levels(int argc, char **argv)
{
    prog_opts o;
    prog_opts_defaults(&o);
    long target = 512, cap = ML_LEVELS_P_MAX, cycles = 1;
    double k = 3, frac = 0.9;
    const char *json = NULL;
    cli_opt opts[] = {
        PROG_OPT_ENTRIES(o),
        {"target-states", OPT_INT, &target, "pulse budget P for a sweep of the window = target states [512]", 0},
        {"pulse-cap", OPT_INT, &cap, "while states saturate (= P + 1) double P up to this [8192; <= P: never]", 0},
        {"k", OPT_DBL, &k, "level spacing must be >= k * sigma_read [3]", 0},
        {"pass-fraction", OPT_DBL, &frac, "fraction of devices a level must hit within +-spacing/2 [0.9]", 0},
        {"reprogram-cycles", OPT_INT, &cycles, "programmings one calibration serves: the JSON's total cost amortises calibration over them [1]", 0},
        {"json", OPT_OUT, &json, "write results to this JSON file", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"levels", "--device D --scheme S [options] --json FILE",
                     "Count distinguishable states, nonlinearity and programming cost of a scheme.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (target < 2 || target > 100000) return cli_fail("levels", "--target-states: %ld is out of range (2..100000)", target);
    if (cap < 2 || cap > 100000) return cli_fail("levels", "--pulse-cap: %ld is out of range (2..100000)", cap);
    if (!(k > 0 && k < 100)) return cli_fail("levels", "--k: %g is out of range (0..100)", k);
    if (cycles < 1 || cycles > 1000000000) return cli_fail("levels", "--reprogram-cycles: %ld is out of range (1..1e9)", cycles);
    if (!(frac > 0 && frac <= 1)) return cli_fail("levels", "--pass-fraction: %g must be within (0, 1]", frac);
    ml_levels_study_opts r = {0};
    ml_device dev;
    if (prog_opts_resolve("levels", &o, o.scheme, &dev, &r.scheme, &r.dir)) return 2;
    r.dev = &dev;
    r.P = (int)target;
    r.P_max = (int)cap;
    r.devices = (size_t)o.devices;
    r.seed = (uint64_t)o.seed;
    r.k = k;
    r.frac = frac;
    r.reprogram_cycles = (int)cycles;
    cJSON *j = NULL;
    ml_error err = {0};
    ml_status st = levels_run(&r, &j, &err);
    ml_device_clear(&dev);
    if (st) return cli_fail_err("levels", &err);
    levels_print(j);
    rc = json ? cli_write_json("levels", json, j) : 0;
    cJSON_Delete(j);
    return rc;
}
