/* Closed-loop write-verify (Alibart 2012 / ArC ConvergeToState style): read, compare with
 * the target within a tolerance, pulse toward it; the amplitude starts from the calibrated
 * model's estimate for half the remaining error and ramps by v_step while the polarity holds;
 * an overshoot reverses the polarity and restarts the ramp; give up after a pulse cap or too
 * many reversals. */
#include <math.h>
#include "memlev/program.h"
#include "program/internal.h"

int ml_verify_to(ml_population *pop, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last)
{
    const ml_device *d = &pop->dev;
    double width = s->width > 0 ? s->width : d->width;
    int pol = 0, rev = 0;
    double v = 0;
    for (int p = 0; p <= s->max_pulses; p++) {
        double r = ml_do_read(pop, i, cost);
        double e = target - r;
        if (fabs(e) <= tol_s) {
            cost->converged++;
            return 1;
        }
        if (p == s->max_pulses) break;
        int want = e > 0 ? 1 : -1;
        if (want != pol) {
            if (pol != 0 && ++rev > s->max_reversals) break;
            pol = want;
            /* model estimate for half the error; without a model, start at threshold */
            const ml_fit *f = pol > 0 ? fit_up : fit_down;
            v = f ? ml_fit_solve_v(f, r, 0.5 * e, width, d->v_max) : d->v_th * 1.05;
        } else {
            v += s->v_step;
            if (v > d->v_max) v = d->v_max;
        }
        ml_do_pulse(pop, i, pol * v, width, cost);
        if (v_last) *v_last = pol * v;
    }
    cost->failed++;
    return 0;
}
