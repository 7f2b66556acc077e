/* Metrics of programmed staircases: NeuroSim nonlinearity label, deviation from linear,
 * R^2, distinguishable states (k sigma_read rule), precision and cost.
 * Thread safety: the functions on a staircase or curve only read it and may run
 * concurrently; ml_measure_sigma_read and ml_states_verify pulse and read the population,
 * so the population rule of device.h applies (one call at a time per population). */
#ifndef MEMLEV_METRICS_H
#define MEMLEV_METRICS_H
#include "memlev/api.h"

#include <stddef.h>
#include "memlev/program.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml_nonlin {
    double label;    /* NeuroSim nonlinearity label, NeuroSim's sign: > 0 a saturating rise, < 0 a
                        saturating fall (depression); 0 = linear */
    double a_norm;   /* fitted normalised A (A/Pmax; +-inf for a straight line) */
    double max_dev;  /* max |normalised G - normalised pulse| (0..1) */
    double r2;       /* R^2 of a straight-line fit of G vs pulse */
} ml_nonlin;

/* Nonlinearity of one curve g[0..npts-1] (G after 0..P pulses). */
ML_API ml_nonlin ml_nonlinearity(const double *g, size_t npts);

/* Read-noise sigma measured from `reads` (>= 2) repeated reads of every device at its present
 * state, from the reads alone: median over devices of the per-device standard deviation,
 * into *sigma (S). ML_EINVAL for reads < 2, ML_ENOMEM when out of memory (*sigma untouched). */
ML_API ml_status ml_measure_sigma_read(ml_population *pop, int reads, double *sigma, ml_error *err);

/* Distinguishable uniform levels of an open-loop staircase (identical, ramp, feedforward):
 * the largest N (2..P+1) such that every level of an evenly spaced N-grid across each
 * device's planned window (its planned levels: steps 0..P, or 1..P on a shared grid), programmed with the pulse count the scheme predicts nearest,
 * reads back within +-spacing/2 on at least `frac` of devices, and spacing >= k sigma_read.
 * -1 when out of memory. */
ML_API int ml_states_open(const ml_staircase *st, double k, double sigma_read, double frac);

/* Distinguishable levels of the population on one absolute grid (what weight transfer
 * needs): the largest N such that every level t of an evenly spaced N-grid between the
 * population's mean planned levels at steps `first` and P (first = 1 on a shared grid, whose
 * levels start one step above reset, st->grid_common; else 0: the reset level is a level), programmed on every
 * device with the step whose mean planned level lies nearest t (one level index for all
 * devices, as a weight is mapped), reads back within +-spacing/2 of t on at least `frac` of
 * the calibrated devices, and spacing >= k sigma_read. Any scheme's staircase. 1 when no
 * grid passes, -1 when out of memory. */
ML_API int ml_states_population(const ml_staircase *st, double k, double sigma_read, double frac);

/* Same figure for the closed-loop verify scheme: programs every level of candidate grids
 * from the reset state with write-verify (binary search on N). Adds the programming cost
 * of the final grid to *cost and its pulses per level to *pulses_per_level. -1 when out
 * of memory (*cost and *pulses_per_level then untouched). */
ML_API int ml_states_verify(ml_population *pop, const ml_scheme *s, const ml_staircase *st, double k, double sigma_read,
                     double frac, int n_max, ml_cost *cost, double *pulses_per_level);

/* ArC-style staircase states: walk each device's staircase of mean reads and count a new
 * state when it is at least k sigma_read from the last counted one; median over devices.
 * -1 when out of memory. */
ML_API double ml_staircase_states(const ml_staircase *st, double k, double sigma_read);

/* Precision of a staircase: programmed (true) minus planned conductance over all steps
 * and devices: rms, standard deviation and worst absolute error (S). */
ML_API void ml_precision(const ml_staircase *st, double *rms, double *sigma, double *worst);

#ifdef __cplusplus
}
#endif
#endif
