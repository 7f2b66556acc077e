/* The distinct steps of a planned staircase (internal): how many of its n - 1 transitions
 * move it. A plan whose equal steps are capped by a device's finest step repeats its top
 * target, so this counts the levels it can tell apart, less one. Shared by the planner's
 * check runs (program/feedforward.c) and the levels study's planned_steps (study/levels.c). */
#ifndef ML_CORE_STEPS_H
#define ML_CORE_STEPS_H
#include <stddef.h>

static inline int ml__distinct_steps(const double *g, size_t n)
{
    int q = 0;
    for (size_t k = 1; k < n; k++) q += g[k] != g[k - 1];
    return q;
}

#endif
