/* Scheme types by name, option defaults, the properties studies ask, and cost bookkeeping
 * shared by every scheme. */
#include <string.h>
#include "memlev/program.h"
#include "program/internal.h"

extern const ml_scheme_type pg_identical, pg_ramp, pg_verify, pg_feedforward;
const ml_scheme_type *const ml_scheme_identical = &pg_identical;
const ml_scheme_type *const ml_scheme_ramp = &pg_ramp;
const ml_scheme_type *const ml_scheme_verify = &pg_verify;
const ml_scheme_type *const ml_scheme_feedforward = &pg_feedforward;

static const ml_scheme_type *const k_types[] = {&pg_identical, &pg_ramp, &pg_verify, &pg_feedforward};

void ml_scheme_defaults(ml_scheme *s, const ml_scheme_type *type)
{
    memset(s, 0, sizeof *s);
    s->type = type;
    s->tol = 0.25;
    s->v_step = 0.02;
    s->max_pulses = 200;
    s->max_reversals = 10;
    s->calib_per_device = 1;
    s->calib_rounds = 1;
    s->calib_read_every = 8;
    s->calib_trains = type && type->calib_trains ? type->calib_trains : 7;
    s->calib_train_len = type && type->calib_train_len ? type->calib_train_len : 40;
    s->coverage = 0.95;
    s->reset_mode = ML_RESET_ONCE;
    s->reset_max_pulses = PG_RESET_MAX;
    s->reset_tol = PG_RESET_TOL;
}

const ml_scheme_type *ml_scheme_lookup(const char *name)
{
    for (size_t k = 0; name && k < sizeof k_types / sizeof k_types[0]; k++)
        if (!strcmp(name, k_types[k]->name)) return k_types[k];
    return NULL;
}

ml_status ml_scheme_parse(const char *name, const ml_scheme_type **type, ml_error *err)
{
    const ml_scheme_type *t = ml_scheme_lookup(name);
    if (!t) return ml_error_set(err, ML_EINVAL, "scheme '%s' is unknown (identical, ramp, verify, feedforward)", name);
    *type = t;
    return ML_OK;
}

const char *ml_scheme_name(const ml_scheme_type *type) { return type ? type->name : "?"; }

int ml_scheme_closed_loop(const ml_scheme *s) { return s->type->closed_loop; }
int ml_scheme_fixed_amplitude(const ml_scheme *s) { return s->type->fixed_amplitude; }
int ml_scheme_shares_schedule(const ml_scheme *s) { return s->type->shares_schedule(s); }
int ml_scheme_targets(const ml_scheme *s) { return s->type->targets; }

int ml_scheme_sweep(const ml_scheme *s, const ml_device *d, int dir, double *v, int max, double *v_hi)
{
    return s->type->sweep ? s->type->sweep(s, d, dir, v, max, v_hi) : 0;
}

void ml_cost_add(ml_cost *a, const ml_cost *b)
{
    a->pulses += b->pulses;
    a->reads += b->reads;
    a->time_s += b->time_s;
    a->energy_j += b->energy_j;
    a->converged += b->converged;
    a->failed += b->failed;
    a->reset_pulses += b->reset_pulses;
    a->reset_reads += b->reset_reads;
    a->reset_time_s += b->reset_time_s;
    a->reset_energy_j += b->reset_energy_j;
    a->resets += b->resets;
}

void ml__cost_pulse(ml_cost *c, double v, double g, double width)
{
    c->pulses += 1;
    c->time_s += width;
    c->energy_j += ml_pulse_energy(v, g, width);
}

void ml__cost_read(ml_cost *c, const ml_device *d, double g)
{
    c->reads += 1;
    c->time_s += d->t_read;
    c->energy_j += ml_pulse_energy(d->v_read, g, d->t_read);
}
