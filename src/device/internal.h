/* Internal helpers shared by the device model files. */
#ifndef ML_DEVICE_INTERNAL_H
#define ML_DEVICE_INTERNAL_H
#include <stdint.h>
#include "memlev/device.h"

void ml_neurosim_to_softbounds(ml_device *d);
double ml_neurosim_maxdev(double a);
/* Messaritaki/Serb exact pulse response in conductance. */
double ml_serb_step(const ml_device *d, double g, double v, double width);
/* Table model mean and std of dG at (g, v, width). */
void ml_table_eval(const ml_dev_table *t, double g, double v, double width, double *mean, double *std);

/* exp(x) for 0 <= x <= 700 with plain arithmetic (vectorises; identical in scalar and
 * vector code): x = k ln2 + r, |r| <= ln2/2, Taylor series of exp(r) to r^13 (rel. err < 1e-16). */
static inline double ml_exp_poly(double x)
{
    double kf = (double)(int64_t)(x * 1.4426950408889634 + 0.5);
    double r = x - kf * 0.6931471805599453;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0; p = p * r + 1.0 / 39916800.0; p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0; p = p * r + 1.0 / 40320.0; p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0; p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5; p = p * r + 1.0;
    p = p * r + 1.0;
    union { uint64_t i; double d; } b = {(uint64_t)((int64_t)kf + 1023) << 52};
    return p * b.d;
}

static inline double ml_clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
#endif
