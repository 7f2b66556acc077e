/* bench/transfer_scale: pulse-level programming of every device of a ResNet-34 (torchvision
 * layout, 3x3 stride-1 stem, 1 input channel, 10 classes: 21.3 M weights, 42.6 M devices)
 * at 512 levels; devices/s, seconds, peak memory; then inference of the programmed ResNet-34
 * on test images. `population`: the feedforward scheme with one shared calibration (level
 * set, lockstep schedule). `device`: every device calibrated on its own by the shared-train
 * calibration (ml_calibrate_train, in chunks) and programmed to the shared grid (see
 * run_device below); its last line is a JSON object.
 * Usage: bench_transfer_scale [levels=512] [calibrate=population|device] [verify_every=0] [images=1000]
 *        [--model PATH]  (or MEMLEV_RESNET34_ONNX; default models/resnet34-fmnist.onnx if present) */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "memlev/data.h"
#include "memlev/metrics.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
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

static int run_device(int levels, size_t images, const char *model);

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines appear as they are printed, also into a file */
    openblas_set_num_threads(1); /* one BLAS thread per call: the layer kernels split batches across OpenMP threads */
    const char *model = getenv("MEMLEV_RESNET34_ONNX");
    char *pos[4] = {0};
    int np = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--model")) {
            if (a + 1 >= argc) { fprintf(stderr, "bench_transfer_scale: --model needs a path\n"); return 2; }
            model = argv[++a];
        } else if (np < 4) pos[np++] = argv[a];
    }
    int levels = pos[0] ? atoi(pos[0]) : 512;
    int per_device = pos[1] && !strcmp(pos[1], "device");
    int verify_every = pos[2] ? atoi(pos[2]) : 0;
    size_t images = pos[3] ? (size_t)atol(pos[3]) : 1000;
    if (levels < 2) { fprintf(stderr, "bench_transfer_scale: levels must be >= 2\n"); return 2; }
    if (per_device) return run_device(levels, images, model);
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

/* ---- per-device mode ---- */

static size_t numel(const ml_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
    return n;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f) {
        if (fgets(buf, (int)len, f)) buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
}

typedef struct dev_totals {
    ml_cost calib, prog;
    double devices, within, fallback, failed;
} dev_totals;

/* Calibrate and program the devices of w[n] (rows of cols) chunk by chunk onto the shared grid
 * lo + (hi - lo) k / P, k = 1..P (a weight's level j is step j + 1; the other device of its pair
 * stays at step 1), read back into out. */
static int program_tensor(const ml_device *d, const ml_train_calib *c, double lo, double hi, int P, const float *w,
                          size_t n, uint64_t first, float *out, dev_totals *tot)
{
    enum { CH = 1 << 16 };
    float m = 0;
    for (size_t q = 0; q < n; q++) m = fmaxf(m, fabsf(w[q]));
    const double sp = (hi - lo) / P, scale = m > 0 ? sp * (P - 1) / m : 1; /* S per unit weight */
    ml_train_fit *fits = malloc(2 * CH * sizeof *fits);
    double *g = malloc(2 * CH * sizeof *g), *r = malloc(2 * CH * sizeof *r);
    ml_error err = {0};
    int rc = !fits || !g || !r;
    for (size_t q0 = 0; q0 < n && !rc; q0 += CH) {
        size_t nq = n - q0 < CH ? n - q0 : CH, nd = 2 * nq;
        ml_population *pop = NULL;
        if (ml_population_new_at(d, nd, first + 2 * q0, 3, &pop, &err) || ml_calibrate_train(pop, c, fits, &tot->calib, &err)) {
            fprintf(stderr, "calibration: %s\n", err.msg);
            ml_population_free(pop);
            rc = 1;
            break;
        }
        for (size_t q = 0; q < nq; q++) {
            long j = lround(fabs(w[q0 + q]) * scale / sp);
            j = j > P - 1 ? P - 1 : j;
            double tj = lo + sp * (double)(j + 1), t0 = lo + sp;
            g[2 * q] = w[q0 + q] > 0 ? tj : t0;
            g[2 * q + 1] = w[q0 + q] < 0 ? tj : t0;
        }
        if (ml_program_train(pop, c, fits, g, &tot->prog, &err)) {
            fprintf(stderr, "programming: %s\n", err.msg);
            ml_population_free(pop);
            rc = 1;
            break;
        }
        ml_read_all(pop, r);
        for (size_t i = 0; i < nd; i++) {
            tot->within += fabs(r[i] - g[i]) <= 0.5 * sp;
            tot->fallback += fits[i].status == ML_FIT_FALLBACK;
            tot->failed += fits[i].status == ML_FIT_FAILED;
        }
        for (size_t q = 0; q < nq; q++) out[q0 + q] = (float)((r[2 * q] - r[2 * q + 1]) / scale);
        tot->devices += (double)nd;
        ml_population_free(pop);
    }
    free(fits); free(g); free(r);
    return rc;
}

static int run_device(int levels, size_t images, const char *model)
{
    char la0[128], la1[128];
    loadavg(la0, sizeof la0);
    double t0 = ml_now(), c0 = cpu_seconds();
    ml_device d;
    ml_error err = {0};
    ml_train_calib c;
    const double coverage = 0.95;
    ml_device_preset("tio2x", &d, NULL);
    if (ml_train_calib_defaults(&d, 1, levels, coverage, &c, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    /* the network: a trained ONNX model if one is given or present, else random weights */
    const char *def = "models/resnet34-fmnist.onnx";
    FILE *probe = model ? NULL : fopen(def, "rb");
    if (probe) { fclose(probe); model = def; }
    ml_net *net = NULL;
    if (model ? ml_onnx_load(model, &net, &err) : ml_arch_build("resnet34", 1, 28, 10, 64, 7, &net, &err)) {
        fprintf(stderr, "bench_transfer_scale: %s\n", err.msg); /* the message names the file */
        return 2;
    }
    if (!model) printf("no trained model (%s absent; --model PATH or MEMLEV_RESNET34_ONNX): random weights\n", def);
    int widx[128], nw = ml_net_weights(net, widx, 128);
    printf("%s: %zu parameters, %d weight tensors\n", model ? model : "ResNet-34 (random weights)",
           ml_net_num_params(net), nw);
    /* the shared grid: from 1,000 devices of a separate sample (another seed), whose staircase on
     * it gives the distinguishable levels */
    ml_population *sp = NULL;
    ml_train_fit *sf = malloc(1000 * sizeof *sf);
    ml_staircase *st = NULL;
    ml_cost scal = {0};
    double lo, hi, sigma;
    if (!sf || ml_population_new(&d, 1000, 1000003, &sp, &err) || ml_calibrate_train(sp, &c, sf, &scal, &err) ||
        ml_train_window(sf, 1000, 1, coverage, &lo, &hi, &err) ||
        ml_train_staircase(sp, &c, sf, lo, hi, levels, &st, &err) || ml_measure_sigma_read(sp, 32, &sigma, &err)) {
        fprintf(stderr, "sample: %s\n", err.msg);
        return 1;
    }
    int states = ml_states_population(st, 3, sigma, 0.9);
    printf("shared grid: %d levels from %.4f to %.4f uS (spacing %.2f nS, read sigma %.2f nS); calibration: %d pulses "
           "of %.3g s at %.2f V, %d reads; programming pulses of %.3g s\n", levels, lo * 1e6, hi * 1e6,
           (hi - lo) / levels * 1e9, sigma * 1e9, (c.reads - 1) * c.read_every, c.width_cal, c.v, c.reads, c.width_prog);
    printf("sample of 1,000 devices: %d of %d levels distinguishable on the shared grid (states_population), %.2f s\n",
           states, levels, ml_now() - t0);
    ml_staircase_free(st);
    ml_population_free(sp);
    free(sf);
    /* every device of the network */
    dev_totals tot = {0};
    size_t total = 0;
    for (int k = 0; k < nw; k++) total += numel(&net->tensors[widx[k]]);
    cli_progress pr;
    cli_progress_begin(&pr, "calibrate+program", (double)total);
    double tp = ml_now();
    uint64_t first = 0;
    size_t done = 0;
    for (int k = 0; k < nw; k++) {
        ml_tensor *t = &net->tensors[widx[k]];
        size_t n = numel(t);
        float *out = malloc(n * sizeof *out);
        if (!out || program_tensor(&d, &c, lo, hi, levels, t->data, n, first, out, &tot)) return 1;
        memcpy(t->data, out, n * sizeof *out); /* the net now holds the programmed weights */
        free(out);
        first += 2 * n;
        done += n;
        cli_progress_update(&pr, (double)done);
    }
    cli_progress_end(&pr);
    double psec = ml_now() - tp, nd = tot.devices;
    printf("calibrated and programmed %.0f devices in %.1f s (%.3g devices/s): calibration %.1f pulses + %.1f reads per "
           "device, programming %.1f pulses per device (reset included) + 1 read; %.4f of devices read back within "
           "half a spacing of their target; fallback fits %.0f, failed %.0f; energy %.3g J\n",
           nd, psec, nd / psec, tot.calib.pulses / nd, tot.calib.reads / nd, tot.prog.pulses / nd, tot.within / nd,
           tot.fallback, tot.failed, tot.calib.energy_j + tot.prog.energy_j);
    ml_dataset *ds = NULL;
    double acc = 0, ips = 0, acc10k = NAN, ti = ml_now(), isec = 0;
    cli_progress bar = {0};
    if (ml_dataset_load("fashion-mnist", 0, &ds, &err) || ml_net_evaluate(net, ds, images, 64, cli_progress_cb, &bar, &acc, &ips, &err)) {
        cli_progress_end(&bar);
        fprintf(stderr, "inference: %s\n", err.msg);
        return 1;
    }
    cli_progress_end(&bar);
    isec = ml_now() - ti;
    printf("inference of the programmed network on %zu test images: %.1f images/s, accuracy %.4f%s\n", images, ips, acc,
           model ? "" : " (random weights: this checks the pipeline, not the model)");
    double sec = ml_now() - t0, cpu = cpu_seconds() - c0;
    loadavg(la1, sizeof la1);
    if (model) {
        cli_progress b2 = {0};
        double ips2;
        if (ml_net_evaluate(net, ds, 10000, 64, cli_progress_cb, &b2, &acc10k, &ips2, &err)) {
            fprintf(stderr, "inference: %s\n", err.msg);
            return 1;
        }
        cli_progress_end(&b2);
        printf("accuracy of the programmed network on 10,000 test images: %.4f\n", acc10k);
    }
    char a10[32] = "null";
    if (model) snprintf(a10, sizeof a10, "%.4f", acc10k);
    printf("wall %.1f s (sample %.1f, calibrate+program %.1f, inference %.1f), CPU %.1f s, peak RSS %.2f GiB, "
           "load average before: %s, after: %s\n", sec, tp - t0, psec, isec, cpu, peak_rss_gib(), la0, la1);
    printf("{\"devices\": %.0f, \"seconds\": %.2f, \"peak_rss_gib\": %.3f, \"distinguishable_levels\": %d, "
           "\"calibration_pulses_per_device\": %.2f, \"images_per_s\": %.2f, \"levels\": %d, \"cpu_seconds\": %.2f, "
           "\"program_seconds\": %.2f, \"calibration_reads_per_device\": %.2f, \"programming_pulses_per_device\": %.2f, "
           "\"within_half_spacing\": %.5f, \"accuracy\": %.4f, \"accuracy_10k\": %s, \"images\": %zu, "
           "\"loadavg\": \"%s\"}\n",
           nd, sec, peak_rss_gib(), states, tot.calib.pulses / nd, ips, levels, cpu, psec, tot.calib.reads / nd,
           tot.prog.pulses / nd, tot.within / nd, acc, a10, images, la1);
    ml_dataset_free(ds);
    ml_net_free(net);
    return 0;
}
