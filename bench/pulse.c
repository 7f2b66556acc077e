/* bench/pulse: device-pulse updates per second on 10^6 soft-bounds devices with C2C noise,
 * for 1 and 2 threads (and the noiseless kernel for comparison). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "memlev/device.h"
#include "memlev/util.h"

static double run(ml_device *d, size_t n, int threads, int pulses)
{
    omp_set_num_threads(threads);
    ml_population *p;
    if (ml_population_new(d, n, 1, &p, NULL)) { fprintf(stderr, "alloc failed\n"); exit(1); }
    ml_pulse_all(p, NULL, NULL, 1.0, d->width); /* warm up */
    double t0 = ml_now();
    for (int k = 0; k < pulses; k++) ml_pulse_all(p, NULL, NULL, 1.0, d->width);
    double dt = ml_now() - t0;
    ml_population_free(p);
    return (double)n * pulses / dt;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    int pulses = argc > 2 ? atoi(argv[2]) : 50;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    printf("bench/pulse: %zu soft-bounds devices x %d pulses\n", n, pulses);
    printf("%-28s %8s %16s\n", "kernel", "threads", "updates/s");
    for (int t = 1; t <= 2; t++) printf("%-28s %8d %16.3e\n", "C2C noise (Philox+Box-Muller)", t, run(&d, n, t, pulses));
    d.s_c2c = 0;
    for (int t = 1; t <= 2; t++) printf("%-28s %8d %16.3e\n", "noiseless", t, run(&d, n, t, pulses));
    return 0;
}
