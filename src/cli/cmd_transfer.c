/* memlev transfer: accuracy against levels after programming every weight's devices. */
#include <string.h>
#include "cli/common.h"
#include "cli/transfer_run.h"

int ml_cmd_transfer(int argc, char **argv)
{
    const char *model = NULL, *data = "fashion-mnist", *device = "tio2x", *schemes = "feedforward";
    const char *levels = "2,4,8,16,32,64,128,256,512", *mode = "statistical", *json = NULL, *csv = NULL;
    const char *calibrate = "device", *grid = "common";
    long verify_every = 0, ff_max_pulses = 0;
    long trials = 5, cycles = 1, limit = 0, seed = 1, sample = 1000, batch = 100, threads = 0;
    int per_channel = 0, resume = 0;
    double relax = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "trained network (ONNX) (required)", 0},
        {"data", OPT_STR, &data, "test data: fashion-mnist, or an IDX/CIFAR path [fashion-mnist]", 0},
        {"device", OPT_STR, &device, "device preset or JSON file [tio2x]", 0},
        {"scheme", OPT_STR, &schemes, "comma list of identical, ramp, verify, feedforward [feedforward]", 0},
        {"levels", OPT_STR, &levels, "comma list of level counts, each 2..65536 [2,4,...,512]", 0},
        {"trials", OPT_INT, &trials, "Monte-Carlo trials per point [5]", 0},
        {"reprogram-cycles", OPT_INT, &cycles, "programmings one calibration serves: the JSON's total cost amortises calibration over them [1]", 0},
        {"mode", OPT_STR, &mode, "pulse (program every device) | statistical (sample measured levels) [statistical]", 0},
        {"limit", OPT_INT, &limit, "evaluate the first N test images [0 = all]", 0},
        {"per-channel", OPT_FLAG, &per_channel, "scale weights per output channel (default: per layer)", 0},
        {"seed", OPT_INT, &seed, "random seed [1]", 0},
        {"sample-devices", OPT_INT, &sample, "devices measured per level set [1000]", 0},
        {"relax-time", OPT_DBL, &relax, "seconds between programming and read (pulse mode) [0]", 0},
        {"batch", OPT_INT, &batch, "inference batch size [100]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]; results do not depend on it", 0},
        {"json", OPT_OUT, &json, "results JSON (rewritten after every point)", 0},
        {"csv", OPT_OUT, &csv, "results CSV, one row per point", 0},
        {"calibrate", OPT_STR, &calibrate, "device (each device calibrates itself) | population (one model) [device]", 0},
        {"verify-every", OPT_INT, &verify_every, "feedforward: read and correct every K pulses [0 = never]", 0},
        {"ff-max-pulses", OPT_INT, &ff_max_pulses, "feedforward: one-shot: every weight's device from reset in at most K (1..256) pulses from its model, no reads [0 = walk the staircase]", 0},
        {"grid", OPT_STR, &grid, "feedforward/verify: common (one absolute grid every device reaches) | own (each device its own) [common]", 0},
        {"resume", OPT_FLAG, &resume, "continue an interrupted run from its --json file", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"transfer", "--model M.onnx --data fashion-mnist --device D --scheme S[,S2] --levels 2,4,... --json FILE",
                     "Program a network's weights onto devices and report accuracy against the number of levels.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    transfer_req r;
    memset(&r, 0, sizeof r);
    if (!model) return cli_fail("transfer", "--model is required");
    if ((r.study.nlevels = parse_int_list(levels, r.levels, 64)) < 0)
        return cli_fail("transfer", "--levels: '%s' must be a comma list of integers within 2..65536", levels);
    if (cycles < 1 || cycles > 1000000000) return cli_fail("transfer", "--reprogram-cycles: %ld is out of range (1..1e9)", cycles);
    if (trials < 1 || trials > 10000) return cli_fail("transfer", "--trials: %ld is out of range (1..10000)", trials);
    if (limit < 0) return cli_fail("transfer", "--limit: must not be negative");
    if (seed < 0) return cli_fail("transfer", "--seed: must not be negative");
    if (sample < 8 || sample > 10000000) return cli_fail("transfer", "--sample-devices: %ld is out of range (8..1e7)", sample);
    if (batch < 1 || batch > 4096) return cli_fail("transfer", "--batch: %ld is out of range (1..4096)", batch);
    if (relax < 0) return cli_fail("transfer", "--relax-time: must not be negative");
    if (strcmp(calibrate, "device") && strcmp(calibrate, "population"))
        return cli_fail("transfer", "--calibrate: '%s' must be device or population", calibrate);
    if (verify_every < 0) return cli_fail("transfer", "--verify-every: must not be negative");
    if (strcmp(grid, "common") && strcmp(grid, "own")) return cli_fail("transfer", "--grid: '%s' must be common or own", grid);
    if (ff_max_pulses < 0 || ff_max_pulses > 256) return cli_fail("transfer", "--ff-max-pulses: %ld is out of range (0..256)", ff_max_pulses);
    if (ff_max_pulses > 0 && verify_every > 0) return cli_fail("transfer", "--ff-max-pulses: one-shot programming reads nothing; drop --verify-every");
    r.study.ff_max_pulses = (int)ff_max_pulses;
    r.study.grid_own = !strcmp(grid, "own");
    r.study.calib_per_device = !strcmp(calibrate, "device");
    r.study.verify_every = (int)verify_every;
    if (resume && !json) return cli_fail("transfer", "--resume needs --json FILE");
    if (!strcmp(mode, "pulse")) r.study.mode = ML_TRANSFER_PULSE;
    else if (!strcmp(mode, "statistical")) r.study.mode = ML_TRANSFER_STATISTICAL;
    else return cli_fail("transfer", "--mode: '%s' must be pulse or statistical", mode);
    if (relax > 0 && r.study.mode != ML_TRANSFER_PULSE) return cli_fail("transfer", "--relax-time needs --mode pulse");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", schemes);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        ml_error err = {0};
        if (r.study.nschemes >= 4 || ml_scheme_parse(t, &r.study.schemes[r.study.nschemes], &err))
            return cli_fail("transfer", "--scheme: %s", err.msg[0] ? err.msg : "at most 4 schemes");
        r.study.nschemes++;
    }
    if (!r.study.nschemes) return cli_fail("transfer", "--scheme: empty list");
    ml_device dev;
    ml_error err = {0};
    if (ml_device_load(device, &dev, &err)) return cli_fail_err("transfer", &err);
    cli_set_threads(threads);
    r.model_path = model;
    r.data = data;
    r.study.dev = &dev;
    r.study.levels = r.levels;
    r.device_name = device;
    r.study.trials = (int)trials;
    r.study.reprogram_cycles = (int)cycles;
    r.study.per_channel = per_channel;
    r.study.limit = (size_t)limit;
    r.study.seed = (uint64_t)seed;
    r.study.sample_devices = (size_t)sample;
    r.study.relax_time = relax;
    r.study.batch = (int)batch;
    r.json_path = json;
    r.csv_path = csv;
    r.resume = resume;
    rc = transfer_run("transfer", &r);
    ml_device_clear(&dev);
    return rc;
}
