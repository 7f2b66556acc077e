/* memlev bench infer: inference throughput of a model or a built-in architecture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
#include "memlev/rng.h"
#include "memlev/util.h"

int ml_cmd_bench(int argc, char **argv)
{
    static const char *use = "usage: memlev bench infer --model M.onnx|--arch resnet34 [--batch 64] [--threads T] [--json FILE]";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("%s\nBenchmarks. Subcommands:\n  infer    inference throughput of a model or a built-in architecture\n"
               "(memlev bench infer --help for its options)\n", use);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "infer"))
        return cli_fail("bench", "%s", use);
    const char *model = NULL, *arch = NULL, *json = NULL;
    long batch = 64, threads = 0, iters = 5, hw = 28, ch = 1, width = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "ONNX model", 0},
        {"arch", OPT_STR, &arch, "built-in architecture (random weights) instead of --model", 0},
        {"batch", OPT_INT, &batch, "batch size [64]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {"iters", OPT_INT, &iters, "timed batches after one warm-up [5]", 0},
        {"size", OPT_INT, &hw, "--arch: input height = width [28]", 0},
        {"channels", OPT_INT, &ch, "--arch: input channels [1]", 0},
        {"width", OPT_INT, &width, "--arch: base width [default]", 0},
        {"json", OPT_OUT, &json, "write images_per_s, gflops as JSON", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"bench infer", "--model M.onnx|--arch resnet34 [--batch 64] [--threads T] [--json FILE]",
                     "Measure inference throughput.", opts, 0};
    int rc = cli_parse(&spec, argc - 1, argv + 1, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (!model == !arch) return cli_fail("bench", "give exactly one of --model and --arch");
    if (batch < 1 || batch > 4096 || iters < 1 || iters > 100000) return cli_fail("bench", "--batch/--iters out of range");
    cli_set_threads(threads);
    ml_error err = {0};
    ml_net *net = NULL;
    if (model ? ml_onnx_load(model, &net, &err) : ml_arch_build(arch, (int)ch, (int)hw, 10, (int)width, 1, &net, &err))
        return cli_fail_err("bench", &err);
    if (cli_net_conv("bench", net)) {
        ml_net_free(net);
        return 2;
    }
    const int64_t *is = net->input_shape;
    size_t per = (size_t)(is[1] * is[2] * is[3]);
    float *x = malloc((size_t)batch * per * sizeof *x), *y = malloc((size_t)batch * net->classes * sizeof *y);
    if (!x || !y) { free(x); free(y); ml_net_free(net); return cli_fail("bench", "out of memory"); }
    for (size_t i = 0; i < (size_t)batch * per; i++) x[i] = (float)ml_uniform(1, i, 0, ML_RNG_DATA);
    rc = 0;
    if (ml_net_forward(net, x, (int)batch, y, &err)) rc = cli_fail_err("bench", &err);
    double t0 = ml_now();
    for (long k = 0; k < iters && !rc; k++)
        if (ml_net_forward(net, x, (int)batch, y, &err)) rc = cli_fail_err("bench", &err);
    double dt = ml_now() - t0, ips = (double)batch * iters / dt, gf = 2 * ml_net_macs(net) * ips / 1e9;
    if (!rc) {
        printf("%s: batch %ld, %.1f images/s, %.1f GFLOP/s (convolutions: %s; BLAS: OpenBLAS %s)\n",
               model ? model : arch, batch, ips, gf, ml_net_conv_engine(net), ml_cli_blas_core());
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "images_per_s", ips);
            cJSON_AddNumberToObject(j, "gflops", gf);
            cJSON_AddNumberToObject(j, "batch", (double)batch);
            cJSON_AddStringToObject(j, "blas_core", ml_cli_blas_core());
            cJSON_AddStringToObject(j, "conv_engine", ml_net_conv_engine(net));
            rc = cli_write_json("bench", json, j);
            cJSON_Delete(j);
        }
    }
    free(x); free(y);
    ml_net_free(net);
    return rc;
}
