/* Noise estimators for measured-data calibration (fit_noise.c), used by fit_data.c. */
#ifndef ML_PROGRAM_FIT_NOISE_H
#define ML_PROGRAM_FIT_NOISE_H
#include <stddef.h>
#include "memlev/measured.h"

/* Read noise from blocks of read-only rows (each block reads one unchanged state):
 * sigma^2(G) = (rel G)^2 + abs^2 fitted to the blocks' successive-difference variances;
 * drift = mean change per read (S), drift_se its standard error. Returns the blocks used (>= 3 reads each); *npairs the
 * read differences seen; *ok 0 when out of memory. */
size_t ml__read_noise(const ml_measured *m, double *rel, double *abs_, double *drift, double *drift_se, size_t *npairs,
                      int *ok);

/* Relative C2C from one-step pairs: res = measured minus modelled step (S), step = modelled
 * step (S), grouped by grp (device and polarity): per chunk of 16 pairs along g0, the
 * variance of res about a local linear fit, less the read
 * noise (read_known) or, without it, fitted jointly with an absolute read noise
 * (*read_abs_out). Returns the chunks used, -1 when out of memory. */
int ml__c2c(const double *g0, const double *res, const double *step, const size_t *grp, size_t n, int read_known,
            double read_rel, double read_abs, double *c2c, double *read_abs_out);
#endif
