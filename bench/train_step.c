/* Training throughput of a built-in architecture in memlev: forward + backward + SGD
 * (momentum 0.9, weight decay 5e-4) steps per second on random data. Used by
 * bench/train_vs_torch.py; prints one JSON line.
 * usage: bench_train_step [arch=resnet20] [batch=128] [threads=2] [seconds=10] [fp32|bf16] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include "memlev/nn.h"
#include "memlev/rng.h"
#include "memlev/util.h"

static int trainable(const ml_tensor *t)
{
    return t->data && (t->flags & ML_TENSOR_PARAM) && !(t->flags & (ML_TENSOR_STAT | ML_TENSOR_CONST));
}

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
    const char *arch = argc > 1 ? argv[1] : "resnet20";
    int batch = argc > 2 ? atoi(argv[2]) : 128;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    double secs = argc > 4 ? atof(argv[4]) : 10;
    const char *prec = argc > 5 ? argv[5] : "fp32";
    if (batch < 1 || threads < 1 || !(secs > 0) || (strcmp(prec, "fp32") && strcmp(prec, "bf16"))) {
        fprintf(stderr, "usage: %s [arch] [batch] [threads] [seconds] [fp32|bf16]\n", argv[0]);
        return 2;
    }
    omp_set_num_threads(threads);
    ml_net *net = NULL;
    ml_error err = {0};
    if (ml_arch_build(arch, 1, 28, 10, 0, 1, &net, &err) ||
        (!strcmp(prec, "bf16") && ml_net_set_precision(net, ML_PRECISION_BF16, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    size_t item = 28 * 28;
    float *x = malloc(sizeof(float) * item * (size_t)batch);
    uint8_t *y = malloc((size_t)batch);
    float **vel = calloc((size_t)net->ntensors, sizeof *vel);
    if (!x || !y || !vel)
        return 2;
    for (size_t i = 0; i < item * (size_t)batch; i++)
        x[i] = (float)ml_uniform(1, i, 0, 0);
    for (int i = 0; i < batch; i++)
        y[i] = (uint8_t)(ml_uniform(1, (uint64_t)i, 0, 1) * 10);
    for (int i = 0; i < net->ntensors; i++) {
        ml_tensor *t = &net->tensors[i];
        if (!trainable(t))
            continue;
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= (size_t)t->dims[d];
        vel[i] = calloc(n ? n : 1, sizeof(float));
        if (!vel[i])
            return 2;
    }
    int steps = 0;
    double loss = 0, t0 = 0, c0 = 0, t = 0;
    for (int warm = 1;; warm = 0) {
        if (ml_net_loss_grad(net, x, y, batch, 1, &loss, NULL, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        for (int i = 0; i < net->ntensors; i++) {
            ml_tensor *tt = &net->tensors[i];
            if (!vel[i] || !tt->grad)
                continue;
            size_t n = 1;
            for (int d = 0; d < tt->ndim; d++)
                n *= (size_t)tt->dims[d];
            float wd = (tt->flags & ML_TENSOR_WEIGHT) ? 5e-4f : 0.0f;
            for (size_t k = 0; k < n; k++) {
                vel[i][k] = 0.9f * vel[i][k] + tt->grad[k] + wd * tt->data[k];
                tt->data[k] -= 0.01f * vel[i][k];
            }
        }
        if (warm) {
            t0 = ml_now();
            c0 = cpu_seconds();
            continue;
        }
        steps++;
        t = ml_now() - t0;
        if (steps >= 3 && t >= secs)
            break;
    }
    double ips = steps * (double)batch / t, cpu = cpu_seconds() - c0;
    printf("{\"arch\": \"%s\", \"precision\": \"%s\", \"batch\": %d, \"threads\": %d, \"steps\": %d, \"seconds\": %.3f, "
           "\"cpu_seconds\": %.3f, \"images_per_cpu_s\": %.2f, \"images_per_s\": %.2f, \"macs_per_image\": %.0f, \"params\": %zu, \"loss\": %.4f}\n",
           arch, prec, batch, threads, steps, t, cpu, steps * (double)batch / cpu, ips, ml_net_macs(net), ml_net_num_params(net), loss);
    for (int i = 0; i < net->ntensors; i++)
        free(vel[i]);
    free(vel);
    free(x);
    free(y);
    ml_net_free(net);
    return 0;
}
