/* Scheme names, defaults and cost bookkeeping shared by every scheme. */
#include <string.h>
#include "memlev/program.h"
#include "program/internal.h"

static const char *k_names[] = {"identical", "ramp", "verify", "feedforward"};

void ml_scheme_defaults(ml_scheme *s, ml_scheme_kind kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->tol = 0.25;
    s->v_step = 0.02;
    s->max_pulses = 200;
    s->max_reversals = 10;
    s->calib_per_device = 1;
    s->calib_rounds = 3;
    s->coverage = 0.95;
}

ml_status ml_scheme_parse(const char *name, ml_scheme_kind *kind, ml_error *err)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, k_names[k])) { *kind = (ml_scheme_kind)k; return ML_OK; }
    return ml_error_set(err, ML_EINVAL, "scheme '%s' is unknown (identical, ramp, verify, feedforward)", name);
}

const char *ml_scheme_name(ml_scheme_kind kind)
{
    return (unsigned)kind < 4 ? k_names[kind] : "?";
}

void ml_cost_add(ml_cost *a, const ml_cost *b)
{
    a->pulses += b->pulses;
    a->reads += b->reads;
    a->time_s += b->time_s;
    a->energy_j += b->energy_j;
    a->converged += b->converged;
    a->failed += b->failed;
}

void ml_cost_pulse(ml_cost *c, double v, double g, double width)
{
    c->pulses += 1;
    c->time_s += width;
    c->energy_j += ml_pulse_energy(v, g, width);
}

void ml_cost_read(ml_cost *c, const ml_device *d, double g)
{
    c->reads += 1;
    c->time_s += d->t_read;
    c->energy_j += ml_pulse_energy(d->v_read, g, d->t_read);
}

double ml_do_pulse(ml_population *pop, size_t i, double v, double w, ml_cost *c)
{
    double g0 = pop->g[i];
    double g = ml_pulse1(pop, i, v, w);
    /* ohmic energy with the mean conductance over the pulse */
    ml_cost_pulse(c, v, 0.5 * (g0 + g), w);
    return g;
}

double ml_do_read(ml_population *pop, size_t i, ml_cost *c)
{
    double r = ml_read1(pop, i);
    ml_cost_read(c, &pop->dev, pop->g[i]);
    return r;
}
