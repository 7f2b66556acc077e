/* memlev demo: the study on embedded defaults (tio2x preset): identical vs feedforward vs
 * verify staircases, states, nonlinearity and cost; writes a result folder. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/levels_run.h"
#include "cli/transfer_run.h"
#include "memlev/util.h"

int ml_cmd_report(int argc, char **argv);

/* The bundled network: models/ beside the working directory or beside the build folder. */
static const char *find_model(char *buf, size_t len)
{
    static const char *names[] = {"resnet20-fmnist.onnx", "resnet20-fmnist-torch.onnx", "mlp-fmnist.onnx"};
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    for (int k = 0; k < 3; k++) {
        const char *dirs[2] = {"models", NULL};
        char alt[4200];
        snprintf(alt, sizeof alt, "%s/../models", exe);
        dirs[1] = alt;
        for (int d = 0; d < 2; d++) {
            snprintf(buf, len, "%s/%s", dirs[d], names[k]);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    return NULL;
}

int ml_cmd_demo(int argc, char **argv)
{
    const char *out = "memlev-report";
    long devices = 100, seed = 1, threads = 0, images = 2000, trials = 3;
    cli_opt opts[] = {
        {"out", OPT_OUTDIR, &out, "result folder [memlev-report]", 0},
        {"devices", OPT_INT, &devices, "devices per scheme [100]", 0},
        {"seed", OPT_INT, &seed, "random seed [1]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {"images", OPT_INT, &images, "test images per accuracy figure [2000]", 0},
        {"trials", OPT_INT, &trials, "Monte-Carlo trials per transfer point [3]", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"demo", "[--out DIR] [--devices M] [--seed X]",
                     "Run the study on the tio2x preset and write results (and a report when available).", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (devices < 2 || devices > 100000) return cli_fail("demo", "--devices: %ld is out of range (2..100000)", devices);
    if (seed < 0) return cli_fail("demo", "--seed: must not be negative");
    if (images < 1 || trials < 1 || trials > 1000) return cli_fail("demo", "--images/--trials out of range");
    cli_set_threads(threads);
    if (mkdir(out, 0777) && errno != EEXIST) return cli_fail("demo", "%s: cannot create folder: %s", out, strerror(errno));
    ml_device dev;
    ml_error err = {0};
    if (ml_device_preset("tio2x", &dev, &err)) return cli_fail_err("demo", &err);
    const ml_scheme_type *const kinds[] = {ml_scheme_identical, ml_scheme_feedforward, ml_scheme_verify};
    char *files[4];
    static char paths[3][4200];
    printf("memlev demo: tio2x (HRS/LRS 1.19), %ld devices per scheme, 512-pulse budget, k = 3\n", devices);
    for (int q = 0; q < 3; q++) {
        ml_levels_study_opts r = {0};
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
    /* accuracy against levels for the bundled network (statistical mode: sampled from the
     * measured level distributions, the study's evaluation method) */
    char model[4400], tjson[4200];
    int nfiles = 3;
    if (find_model(model, sizeof model)) {
        transfer_req t;
        memset(&t, 0, sizeof t);
        t.model_path = model;
        t.data = "fashion-mnist";
        t.study.dev = &dev;
        t.device_name = "tio2x";
        t.study.schemes[0] = ml_scheme_identical; t.study.schemes[1] = ml_scheme_feedforward;
        t.study.schemes[2] = ml_scheme_verify;
        t.study.nschemes = 3;
        static const int lv[] = {4, 8, 16, 64, 256, 512};
        memcpy(t.levels, lv, sizeof lv);
        t.study.levels = t.levels;
        t.study.nlevels = (int)(sizeof lv / sizeof lv[0]);
        t.study.trials = (int)trials;
        t.study.mode = ML_TRANSFER_STATISTICAL;
        t.study.limit = (size_t)images;
        t.study.seed = (uint64_t)seed;
        t.study.sample_devices = 1000;
        t.study.batch = 100;
        t.study.calib_per_device = 1;
        snprintf(tjson, sizeof tjson, "%s/transfer.json", out);
        t.json_path = tjson;
        printf("\nweight transfer: %s, %ld test images, %ld trials per point\n", model, images, trials);
        if ((rc = transfer_run("demo", &t))) return rc;
        files[nfiles++] = tjson;
    } else {
        printf("no bundled model under models/: skipping the weight-transfer part\n");
    }
    ml_device_clear(&dev);
    printf("results written to %s/\n", out);
    char *av[10] = {"report", files[0], files[1], files[2], nfiles > 3 ? files[3] : NULL, NULL, NULL, NULL};
    int ac = nfiles + 1;
    av[ac++] = "--out";
    av[ac++] = (char *)out;
    av[ac] = NULL;
    return ml_cmd_report(ac, av);
}
