/* The reset procedure: bring a device to the start of a staircase with pulses of the device's
 * v_max and width_max in the opposite polarity, once or until the reads stop moving or reach
 * the bound; its cost is booked apart (ml_cost's reset_* part). */
#include <math.h>
#include <string.h>
#include "memlev/program.h"
#include "program/internal.h"

static const char *const k_modes[] = {"once", "settle", "verify"};

const char *ml_reset_mode_name(int mode)
{
    return mode >= 0 && mode < (int)(sizeof k_modes / sizeof k_modes[0]) ? k_modes[mode] : "?";
}

int ml_reset_mode_lookup(const char *name)
{
    for (int k = 0; name && k < (int)(sizeof k_modes / sizeof k_modes[0]); k++)
        if (!strcmp(name, k_modes[k])) return k;
    return -1;
}

int pg_reset_rec(const ml_target *t, size_t i, const ml_scheme *s, int dir, ml_cost *c, int cap, double *rv,
                 double *rw, double *rg)
{
    const ml_device *d = t->dev;
    const int mode = s ? s->reset_mode : ML_RESET_ONCE;
    const int max = s && s->reset_max_pulses > 0 ? s->reset_max_pulses : PG_RESET_MAX;
    const double tol = (s && s->reset_tol > 0 ? s->reset_tol : PG_RESET_TOL) * fabs(d->g_max - d->g_min);
    const double v = dir > 0 ? -d->v_max : d->v_max, w = d->width_max;
    const double bound = dir > 0 ? d->g_min : d->g_max;
    ml_cost r = {0};
    int n = 0;
    double prev = mode == ML_RESET_SETTLE ? pg_read(t, i, &r) : NAN;
    for (;;) {
        pg_pulse(t, i, v, w, &r);
        /* a read after every pulse; the single-pulse reset reads nothing (a staircase
         * records its start read in its place) */
        double g = mode == ML_RESET_ONCE ? NAN : pg_read(t, i, &r);
        if (n < cap) { rv[n] = v; rw[n] = w; rg[n] = g; }
        n++;
        if (mode == ML_RESET_ONCE || n >= max) break;
        /* moved toward the bound: down for a potentiation staircase */
        if (mode == ML_RESET_SETTLE && (prev - g) * dir <= tol) break;
        if (mode == ML_RESET_VERIFY && (g - bound) * dir <= tol) break;
        prev = g;
    }
    r.reset_pulses = r.pulses;
    r.reset_reads = r.reads;
    r.reset_time_s = r.time_s;
    r.reset_energy_j = r.energy_j;
    r.resets = 1;
    ml_cost_add(c, &r);
    return n;
}

void pg_reset1(const ml_target *t, size_t i, const ml_scheme *s, int direction, ml_cost *c)
{
    pg_reset_rec(t, i, s, direction, c, 0, NULL, NULL, NULL);
}

int ml_program_reset_target(const ml_target *t, size_t i, const ml_scheme *s, int direction, ml_cost *cost)
{
    ml_cost scratch = {0};
    return pg_reset_rec(t, i, s, direction, cost ? cost : &scratch, 0, NULL, NULL, NULL);
}

void ml_program_reset1(ml_population *pop, size_t i, int direction, ml_cost *c)
{
    ml_target t;
    ml_target_population(&t, pop);
    ml_program_reset_target(&t, i, NULL, direction, c);
}

void ml_program_reset(ml_population *pop, int direction, ml_cost *cost)
{
    for (size_t i = 0; i < pop->n; i++)
        ml_program_reset1(pop, i, direction, cost);
}
