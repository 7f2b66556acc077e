/* The simulated target: the target interface over a device population (pulses through the
 * device model, noisy reads, ohmic energy accounting). */
#include <math.h>
#include "memlev/program.h"
#include "program/internal.h"

static void sim_pulse(void *ctx, size_t i, double v, double w, ml_cost *c)
{
    ml_population *pop = ctx;
    double g0 = pop->g[i];
    double g = ml_pulse1(pop, i, v, w);
    /* ohmic energy with the mean conductance over the pulse */
    ml__cost_pulse(c, v, 0.5 * (g0 + g), w);
}

static double sim_read(void *ctx, size_t i, ml_cost *c)
{
    ml_population *pop = ctx;
    double r = ml_read1(pop, i);
    if (c) ml__cost_read(c, &pop->dev, pop->g[i]);
    return r;
}

static double sim_truth(void *ctx, size_t i)
{
    const ml_population *pop = ctx;
    return pop->g[i];
}

static const ml_target_ops k_sim = {sim_pulse, sim_read, sim_truth};

void ml_target_population(ml_target *t, ml_population *pop)
{
    t->ops = &k_sim;
    t->ctx = pop;
    t->n = pop->n;
    t->dev = &pop->dev;
}
