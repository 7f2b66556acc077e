/* Internal pieces shared by the scheme files. */
#ifndef ML_PROGRAM_INTERNAL_H
#define ML_PROGRAM_INTERNAL_H
#include "memlev/program.h"

/* One measured run: start level g0, pulses (v, w) and a read after each pulse. */
typedef struct ml_run {
    double g0;
    int n;
    const double *v, *w, *read;
} ml_run;

/* Refine a fit on whole trajectories (Levenberg-Marquardt on log a, log v0, g_far). */
void ml_fit_runs(const ml_run *runs, int nruns, ml_fit *f);
int ml_solve3(double A[3][3], const double *b, double *x);

/* Account one pulse / one read on device i of pop. */
void ml_cost_pulse(ml_cost *c, double v, double g, double width);
void ml_cost_read(ml_cost *c, const ml_device *d, double g);
/* One pulse with cost accounting; returns new true G. */
double ml_do_pulse(ml_population *pop, size_t i, double v, double w, ml_cost *c);
double ml_do_read(ml_population *pop, size_t i, ml_cost *c);

/* Planned staircase grid: P equal steps from fit->g_start to the scheme's target_top or to
 * `coverage` of the calibrated window. */
void ml_plan_grid(const ml_fit *f, const ml_scheme *s, int P, double *grid);
/* Amplitude/width schedule realising grid[0..P] under fit (open loop): pulses 1..P. */
void ml_schedule_ff(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P,
                    double *v, double *w);
ml_status ml_ff_refine(ml_population *pop, const ml_scheme *s, int P, int dir, ml_fit *fits, ml_cost *cost,
                       ml_error *err);
#endif
