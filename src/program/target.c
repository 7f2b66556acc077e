/* The simulated target: the target interface over a device population (pulses through the
 * device model, noisy reads, ohmic energy accounting). */
#include <math.h>
#include "core/alloc.h"
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

/* The lockstep path of a shared schedule: pulse k goes to every device whose count is >= k,
 * so the counts are ordered (descending, ties by position; count i goes to device map[i])
 * and each pulse goes to a prefix of the devices through the vectorised kernel. The devices are like draws of one population, so which one
 * takes which count is the target's choice. Cost: the train's pulses and device time (one
 * device after another); its energy is not booked here. */
static ml_status sim_pulse_shared(void *ctx, int dir, const int *count, const double *v, const double *w, int k,
                                  size_t *map, ml_cost *c)
{
    ml_population *pop = ctx;
    const size_t m = pop->n;
    int *sl = ml__malloc((m ? m : 1) * sizeof *sl);
    size_t *bucket = ml__calloc((size_t)k + 2, sizeof *bucket);
    if (!sl || !bucket) { ml__free(sl); ml__free(bucket); return ML_ENOMEM; }
    /* counting sort by count, descending */
    for (size_t i = 0; i < m; i++) bucket[k - count[i] + 1]++;
    for (int b = 1; b <= k + 1; b++) bucket[b] += bucket[b - 1];
    for (size_t i = 0; i < m; i++) { size_t slot = bucket[k - count[i]]++; map[i] = slot; sl[slot] = count[i]; }
    ml__free(bucket);
    (void)dir; /* the devices are already reset (the plan's reset procedure) */
    size_t top = m;
    for (int q = 1; q <= k; q++) {
        while (top > 0 && sl[top - 1] < q) top--;
        if (v[q - 1] == 0) continue; /* a level planned twice: no pulse */
        c->pulses += (double)top;
        c->time_s += (double)top * w[q - 1];
    }
    ml_pulse_train(pop, 0, m, v, w, k, sl); /* slot s: the first sl[s] pulses */
    ml__free(sl);
    return ML_OK;
}

static void sim_train_read(void *ctx, size_t i0, size_t i1, const double *v, const double *w, int len, double *read,
                           double *g_true)
{
    ml_pulse_train_read(ctx, i0, i1, v, w, len, read, g_true);
}

static const ml_target_ops k_sim = {sim_pulse, sim_read, sim_truth, sim_pulse_shared, sim_train_read};

void ml_target_population(ml_target *t, ml_population *pop)
{
    t->ops = &k_sim;
    t->ctx = pop;
    t->n = pop->n;
    t->dev = &pop->dev;
}
