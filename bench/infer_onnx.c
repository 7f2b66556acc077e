/* Inference throughput of an ONNX model in memlev: images/s and GFLOP/s at a batch size
 * and thread count. Used by bench/infer_vs_torch.py; prints one JSON line.
 * usage: bench_infer_onnx MODEL.onnx [batch=64] [threads=2] [seconds=10] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include "memlev/onnx.h"
#include "memlev/rng.h"
#include "memlev/util.h"

/* CPU seconds used by this process (all threads). */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1); /* one BLAS thread per call: the layer kernels split batches across OpenMP threads */
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [batch] [threads] [seconds]\n", argv[0]);
        return 2;
    }
    int batch = argc > 2 ? atoi(argv[2]) : 64;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    double secs = argc > 4 ? atof(argv[4]) : 10;
    if (batch < 1 || threads < 1 || !(secs > 0)) {
        fprintf(stderr, "bad batch, threads or seconds\n");
        return 2;
    }
    omp_set_num_threads(threads);
    ml_net *net = NULL;
    ml_error err = {0};
    if (ml_onnx_load(argv[1], &net, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    size_t item = (size_t)(net->input_shape[1] * net->input_shape[2] * net->input_shape[3]);
    float *x = malloc(sizeof(float) * item * (size_t)batch);
    float *y = malloc(sizeof(float) * (size_t)net->classes * (size_t)batch);
    if (!x || !y) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < item * (size_t)batch; i++)
        x[i] = (float)ml_uniform(1, i, 0, 0);
    if (ml_net_forward(net, x, batch, y, &err)) { /* warm-up: buffers, caches */
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    int iters = 0;
    double t0 = ml_now(), c0 = cpu_seconds(), t = 0;
    while (iters < 3 || t < secs) {
        if (ml_net_forward(net, x, batch, y, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        iters++;
        t = ml_now() - t0;
    }
    double ips = iters * (double)batch / t, cpu = cpu_seconds() - c0;
    double macs = ml_net_macs(net);
    printf("{\"model\": \"%s\", \"batch\": %d, \"threads\": %d, \"batches\": %d, \"seconds\": %.3f, "
           "\"cpu_seconds\": %.3f, \"images_per_s\": %.2f, \"images_per_cpu_s\": %.2f, "
           "\"macs_per_image\": %.0f, \"gflops\": %.2f, \"engine\": \"%s\"}\n",
           argv[1], batch, threads, iters, t, cpu, ips, iters * (double)batch / cpu, macs, 2 * macs * ips / 1e9,
           ml_net_conv_engine(net));
    free(x);
    free(y);
    ml_net_free(net);
    return 0;
}
