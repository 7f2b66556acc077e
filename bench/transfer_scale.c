/* bench/transfer_scale: pulse-level programming of every device of a ResNet-34 (torchvision
 * layout, 3x3 stride-1 stem, 1 input channel, 10 classes: 21.3 M weights, 42.6 M devices)
 * with the feedforward scheme at 512 levels; devices/s, seconds, peak memory. With the network
 * engine present, the programmed ResNet-34 then runs inference on test images.
 * Usage: bench_transfer_scale [levels=512] [calibrate=population|device] [verify_every=0] [images=1000] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "memlev/data.h"
#include "memlev/nn.h"
#include "memlev/rng.h"
#include "memlev/transfer.h"
#include "memlev/util.h"
#include "cli/progress.h"


typedef struct { int out, in, k; } conv_t;

/* ResNet-34 weight tensors in order: stem, 16 basic blocks (3,4,6,3) with 1x1 downsamples, fc */
static int resnet34_shapes(conv_t *c)
{
    int n = 0, in = 64;
    c[n++] = (conv_t){64, 1, 3};
    const int blocks[4] = {3, 4, 6, 3};
    for (int s = 0; s < 4; s++) {
        int w = 64 << s;
        for (int b = 0; b < blocks[s]; b++) {
            c[n++] = (conv_t){w, in, 3};
            c[n++] = (conv_t){w, w, 3};
            if (b == 0 && in != w) c[n++] = (conv_t){w, in, 1};
            in = w;
        }
    }
    c[n++] = (conv_t){10, 512, 1};
    return n;
}

static double peak_rss_gib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1048576.0;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1); /* one BLAS thread per call: the layer kernels split batches across OpenMP threads */
    int levels = argc > 1 ? atoi(argv[1]) : 512;
    int per_device = argc > 2 && !strcmp(argv[2], "device");
    int verify_every = argc > 3 ? atoi(argv[3]) : 0;
    size_t images = argc > 4 ? (size_t)atol(argv[4]) : 1000;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_scheme s;
    ml_scheme_defaults(&s, ml_scheme_feedforward);
    s.calib_per_device = per_device;
    s.verify_every = verify_every;
    ml_error err = {0};
    ml_levelset *ls;
    double t0 = ml_now();
    if (ml_levelset_build(&d, &s, levels, 1000, 1, &ls, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("level set: %d levels, %d distinguishable, %.2f s\n", levels, ls->states, ml_now() - t0);
    conv_t c[64];
    int nt = resnet34_shapes(c);
    ml_net *net = NULL;
    int widx[64], nw = 0;
    if (!ml_arch_build("resnet34", 1, 28, 10, 64, 7, &net, &err)) {
        nw = ml_net_weights(net, widx, 64);
        printf("ResNet-34 built by the engine: %zu parameters, %d weight tensors\n", ml_net_num_params(net), nw);
    }
    size_t total = 0;
    for (int k = 0; k < nt; k++) total += (size_t)c[k].out * c[k].in * c[k].k * c[k].k;
    printf("ResNet-34 (torchvision layout, 1 channel, 10 classes): %d weight tensors, %.2f M weights, %.2f M devices\n",
           nt, total / 1e6, 2 * total / 1e6);
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 3};
    ml_transfer_stats st = {0};
    uint64_t first = 0;
    cli_progress pr;
    cli_progress_begin(&pr, "programming", (double)total);
    double tp = ml_now();
    size_t done = 0;
    for (int k = 0; k < nt; k++) {
        size_t rows = (size_t)c[k].out, cols = (size_t)c[k].in * c[k].k * c[k].k, n = rows * cols;
        float *w = NULL, *out = malloc(n * sizeof *out);
        int own = 1;
        if (net && k < nw && (size_t)(net->tensors[widx[k]].dims[0]) == rows) { w = net->tensors[widx[k]].data; own = 0; }
        else {
            w = malloc(n * sizeof *w);
            double sd = sqrt(2.0 / (double)(rows * c[k].k * c[k].k)); /* Kaiming normal, fan_out */
            for (size_t q = 0; q < n; q++) w[q] = (float)(sd * ml_normal(11, first / 2 + q, 0, ML_RNG_DATA));
        }
        if (!out || ml_transfer_array(w, rows, cols, ls, &o, first, out, NULL, NULL, &st, &err)) {
            fprintf(stderr, "tensor %d: %s\n", k, err.msg);
            return 1;
        }
        if (!own) memcpy(w, out, n * sizeof *out); /* the engine's net now holds programmed weights */
        if (own) free(w);
        free(out);
        first += 2 * n;
        done += n;
        cli_progress_update(&pr, (double)done);
    }
    cli_progress_end(&pr);
    double sec = ml_now() - tp;
    printf("programmed %.0f devices in %.1f s: %.3g devices/s, %.1f pulses/device (+%.1f calibration), %.2f reads/device, "
           "%.3g J, peak RSS %.2f GiB\n",
           st.devices, sec, st.devices / sec, st.pulses / st.devices, st.calib_pulses / st.devices, st.reads / st.devices,
           st.energy_j, peak_rss_gib());
    if (net) {
        ml_dataset *ds = NULL;
        double acc = 0, ips = 0;
        cli_progress bar = {0};
        if (ml_dataset_load("fashion-mnist", 0, &ds, &err) || ml_net_evaluate(net, ds, images, 64, cli_progress_cb, &bar, &acc, &ips, &err)) {
            cli_progress_end(&bar);
            fprintf(stderr, "inference: %s\n", err.msg);
        } else {
            cli_progress_end(&bar);
            printf("inference of the programmed ResNet-34 (random weights) on %zu test images: %.1f images/s "
                   "(accuracy %.3f: untrained weights, this checks the pipeline, not the model)\n",
                   images, ips, acc);
        }
    }
    ml_levelset_free(ls);
    return 0;
}
