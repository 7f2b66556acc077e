/* The read-to-read steps of measured runs, each predicted by a fit from the read before it:
 * the walk the feedforward misfit check and the step-curve refinement both make. */
#include "memlev/program.h"
#include "program/internal.h"

void ml__runs_steps(const ml_fit *f, const ml_run *runs, int nr, ml__run_step_fn visit, void *ctx)
{
    for (int q = 0; q < nr; q++) {
        const ml_run *r = &runs[q];
        int sd = r->stride > 1 ? r->stride : 1, nm = r->n / sd;
        double prev = r->g0;
        for (int m = 0; m < nm; m++) {
            double g = prev;
            for (int j = m * sd; j < (m + 1) * sd; j++) g = ml_fit_predict(f, g, r->v[j], r->w[j]);
            visit(ctx, m, nm, prev, g, r->read[m]);
            prev = r->read[m];
        }
    }
}
