/* Program a population of tio2x devices with a calibrated feedforward staircase and print
 * its distinguishable states and nonlinearity, using only the installed library:
 *   cc program_population.c $(pkg-config --cflags --libs --static memlev) -o program_population
 *   ./program_population [devices] [pulses] */
#include <stdio.h>
#include <stdlib.h>
#include <memlev/device.h>
#include <memlev/metrics.h>
#include <memlev/program.h>

int main(int argc, char **argv)
{
    size_t devices = argc > 1 ? (size_t)atol(argv[1]) : 50;
    int pulses = argc > 2 ? atoi(argv[2]) : 128;
    if (devices < 2 || pulses < 2) {
        fprintf(stderr, "usage: %s [devices >= 2] [pulses >= 2]\n", argv[0]);
        return 2;
    }
    ml_error err = {0};
    ml_device dev;
    ml_population *pop = NULL;
    ml_staircase *st = NULL;
    if (ml_device_preset("tio2x", &dev, &err) || ml_population_new(&dev, devices, 1, &pop, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ml_scheme s;
    ml_scheme_defaults(&s, ml_scheme_feedforward); /* calibrates each device, then plans equal steps */
    if (ml_program_staircase(pop, &s, pulses, +1, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        ml_population_free(pop);
        ml_device_clear(&dev);
        return 1;
    }
    /* mean staircase over devices (mean of 4 reads after each pulse) */
    double *mean = calloc(st->npts, sizeof *mean);
    if (!mean) return 1;
    for (size_t i = 0; i < st->ndev; i++)
        for (size_t k = 0; k < st->npts; k++) mean[k] += st->g_mean[i * st->npts + k] / (double)st->ndev;
    double sigma = 0;
    if (ml_measure_sigma_read(pop, 32, &sigma, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ml_nonlin nl = ml_nonlinearity(mean, st->npts);
    int states = ml_states_open(st, 3, sigma, 0.9);
    printf("tio2x, %zu devices, feedforward, %d pulses: %.2f -> %.2f uS\n", devices, pulses, mean[0] * 1e6,
           mean[st->npts - 1] * 1e6);
    printf("states %d (of %d), staircase states %.0f, NL %+.3f, R2 %.5f, sigma_read %.2f nS, %.2f pulses per state\n",
           states, pulses + 1, ml_staircase_states(st, 3, sigma), nl.label, nl.r2, sigma * 1e9,
           (st->cost.pulses - (double)devices) / ((double)devices * pulses));
    free(mean);
    ml_staircase_free(st);
    ml_population_free(pop);
    ml_device_clear(&dev);
    return 0;
}
