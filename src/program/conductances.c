/* ml_program_conductances: simulated devices programmed toward given conductances in one
 * call (population, plan and run_to per chunk of devices, then one read of each). */
#include <math.h>
#include "memlev/program.h"

#define CHUNK 4096 /* devices per population and plan; fixed, so results depend on nothing else */

ml_status ml_program_conductances(const ml_device *d, const ml_scheme *s, int P, int dir, uint64_t seed, size_t n,
                                  const double *g, double *g_read, ml_cost *calib, ml_cost *cost,
                                  ml_progress_fn progress, void *progress_ctx, ml_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!(g[i] >= d->g_min && g[i] <= d->g_max))
            return ml_error_set(err, ML_EINVAL, "target %zu (%g S) is outside the device's window [%g, %g] S", i, g[i],
                                d->g_min, d->g_max);
    ml_program_plan *first = NULL;
    ml_cost cal = {0}, run = {0};
    ml_status rc = ML_OK;
    for (size_t i0 = 0; i0 < n && !rc; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        ml_population *pop = NULL;
        ml_program_plan *pl = NULL;
        ml_target t;
        rc = ml_population_new_at(d, m, i0, seed, &pop, err);
        if (!rc) {
            ml_target_population(&t, pop);
            rc = first ? ml_program_plan_for(first, &t, &cal, &pl, err) : ml_program_plan_new(&t, s, P, dir, &cal, &pl, err);
        }
        if (!rc) rc = ml_program_plan_run_to(pl, &t, g + i0, &run, err);
        for (size_t i = 0; i < m && !rc; i++) g_read[i0 + i] = t.ops->read(t.ctx, i, &run);
        if (!first) first = pl;
        else ml_program_plan_free(pl);
        ml_population_free(pop);
        if (!rc && progress) progress(progress_ctx, "program", (double)(i0 + m), (double)n);
    }
    ml_program_plan_free(first);
    if (rc) return rc;
    if (calib) ml_cost_add(calib, &cal);
    if (cost) ml_cost_add(cost, &run);
    return ML_OK;
}
