/* bench/pulse: device-pulse updates per second on 10^6 soft-bounds devices (tio2x, 1 % C2C
 * noise), for 1 and 2 threads: the pulse-train kernel (ml_pulse_train_all, float32, the
 * whole train per block of devices), the one-pulse double kernel (ml_pulse_all), both
 * noiseless, and trains with a read after every pulse (ml_pulse_train_read, trains of 32,
 * each device its own amplitude: what calibration runs; an update is a pulse and its read).
 * Usage: bench_pulse [devices] [pulses]. Prints the instruction set that ran. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "memlev/device.h"
#include "memlev/util.h"

/* updates per second of wall time; *cpu_rate: per second of process CPU time (all threads),
 * which on a machine shared with other jobs shows what the kernel does per core it gets */
static double run(ml_device *d, size_t n, int threads, int pulses, int train, double *cpu_rate)
{
    omp_set_num_threads(threads);
    ml_population *p;
    double *v = malloc((size_t)pulses * sizeof *v), *w = malloc((size_t)pulses * sizeof *w);
    if (!v || !w || ml_population_new(d, n, 1, &p, NULL)) { fprintf(stderr, "alloc failed\n"); exit(1); }
    for (int k = 0; k < pulses; k++) { v[k] = 1.0; w[k] = d->width; }
    ml_pulse_all(p, NULL, NULL, 1.0, d->width); /* warm up (pages, caches) */
    double t0 = ml_now();
    clock_t c0 = clock();
    if (train == 2) {
        /* trains of 32 with reads, chunks of 4,096 devices across the threads */
        enum { TL = 32, CH = 4096 };
        const size_t nc = (n + CH - 1) / CH;
        #pragma omp parallel
        {
            double *rd = malloc((size_t)TL * CH * sizeof *rd), *gt = malloc((size_t)(TL + 1) * CH * sizeof *gt);
            double *vv = malloc(CH * sizeof *vv), *ww = malloc(CH * sizeof *ww);
            if (!rd || !gt || !vv || !ww) { fprintf(stderr, "alloc failed\n"); exit(1); }
            for (int j = 0; j < CH; j++) { vv[j] = 1.0 + 1e-4 * j; ww[j] = d->width; }
            #pragma omp for schedule(static)
            for (size_t c = 0; c < nc; c++)
                for (int k = 0; k + TL <= pulses; k += TL)
                    ml_pulse_train_read(p, c * CH, (c + 1) * CH < n ? (c + 1) * CH : n, vv, ww, TL, rd, gt);
            free(rd); free(gt); free(vv); free(ww);
        }
        pulses = pulses / TL * TL;
    } else if (train) ml_pulse_train_all(p, v, w, pulses, NULL);
    else for (int k = 0; k < pulses; k++) ml_pulse_all(p, NULL, NULL, 1.0, d->width);
    double dt = ml_now() - t0, dc = (double)(clock() - c0) / CLOCKS_PER_SEC;
    *cpu_rate = (double)n * pulses / dc;
    ml_population_free(p);
    free(v); free(w);
    return (double)n * pulses / dt;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    int pulses = argc > 2 ? atoi(argv[2]) : 200;
    if (n == 0 || pulses <= 0) { fprintf(stderr, "usage: bench_pulse [devices > 0] [pulses > 0]\n"); return 2; }
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    printf("bench/pulse: %zu soft-bounds devices x %d pulses; train kernel ISA: %s\n", n, pulses, ml_pulse_train_isa());
    printf("%-44s %8s %14s %16s\n", "kernel", "threads", "updates/s", "updates/cpu-s");
    const char *names[5] = {"train f32, C2C noise (Philox + f32 Box-Muller)", "one-pulse f64, C2C noise (Philox+Box-Muller)",
                            "train f32, noiseless", "one-pulse f64, noiseless", "train+read f32, C2C and read noise"};
    for (int kind = 0; kind < 5; kind++) {
        if (kind == 2) d.s_c2c = 0;
        if (kind == 4) d.s_c2c = 0.01;
        int train = kind == 4 ? 2 : kind % 2 == 0;
        for (int t = 1; t <= 2; t++) {
            double cr, r = run(&d, n, t, train ? pulses : pulses / 4 + 1, train, &cr);
            printf("%-44s %8d %14.3e %16.3e\n", names[kind], t, r, cr);
        }
    }
    double la[3] = {0, 0, 0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) { if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = -1; fclose(f); }
    printf("load average: %.2f %.2f %.2f\n", la[0], la[1], la[2]);
    return 0;
}
