/* Internal helpers shared by the device model files. */
#ifndef ML_DEVICE_INTERNAL_H
#define ML_DEVICE_INTERNAL_H
#include <stdint.h>
#include <string.h>
#include "memlev/device.h"

/* NeuroSim: d's a_p, a_d, g_inf_p, g_inf_d from its labels, Pmax, window and nominal pulses. */
void ml__neurosim_to_softbounds(ml_device *d);
double ml__neurosim_maxdev(double a);
/* The getParamA table entry NeuroSim uses for label nl on side sign (+1 LTP, -1 LTD): k with
 * |label| = k/100, k in 1..900 (the magnitude floored to the 0.01 grid and clamped to 0.01..9);
 * a label on the other side of zero (NeuroSim's anti-saturating curvature) gives 1. */
int ml__neurosim_grid(double nl, int sign);
/* |A| / Pmax for the grid label k/100 (NeuroSim's getParamA(k/100), solved, not tabulated). */
double ml__neurosim_a_grid(int k);
/* The soft-bounds form of NeuroSim's curves with |A| / Pmax = an_p, an_d on the window
 * gmin..gmax, keeping d's Pmax, nominal pulses and v0: step scales and asymptotes. */
void ml__neurosim_curve(const ml_device *d, double an_p, double an_d, double gmin, double gmax, double *a_p,
                        double *a_d, double *g_inf_p, double *g_inf_d);
/* Whether d2d spread `key` ("a_p", "nl", ...) is drawn for model m (the others must be 0). */
int ml__d2d_applies(ml_model_kind m, const char *key);
/* Messaritaki/Serb exact pulse response in conductance. */
double ml__serb_step(const ml_device *d, double g, double v, double width);
/* Table model mean and std of dG at (g, v, width) from d->table; beyond its amplitudes and
 * widths scaled by the soft-bounds drive with d->v0_p/v0_d and d->t_ref; 0 below d->v_th. */
void ml__table_eval(const ml_device *d, double g, double v, double width, double *mean, double *std);

/* exp(x) for 0 <= x <= 700 with plain arithmetic (vectorises; identical in scalar and
 * vector code): x = k ln2 + r, |r| <= ln2/2, Taylor series of exp(r) to r^13; relative error
 * < 3e-16 (1 + x), as the reduction by k ln2 loses ~1e-16 x. Outside that range (NaN
 * included) the result is meaningless but defined: k is clamped to 0..1023 before its
 * conversion, so vector code may evaluate every lane and redo the out-of-range ones. */
static inline double ml_exp_poly(double x)
{
    double t = x * 1.4426950408889634 + 0.5;
    /* the clamp on t's bits (integer compares if-convert and vectorise; floating ones, which
     * may trap, do not): negative values and -NaN to +0, past 1023 and +NaN to 1023 */
    int64_t tb;
    memcpy(&tb, &t, sizeof tb);
    tb = tb < 0 ? 0 : tb;
    tb = tb > INT64_C(0x408FF80000000000) ? INT64_C(0x408FF80000000000) : tb;
    memcpy(&t, &tb, sizeof t);
    double kf = (double)(int64_t)t;
    double r = x - kf * 0.6931471805599453;
    /* Estrin's scheme for the degree-13 Taylor polynomial (short dependency chains) */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double q0 = (1.0 + r) + r2 * (0.5 + r * (1.0 / 6));
    double q1 = (1.0 / 24 + r * (1.0 / 120)) + r2 * (1.0 / 720 + r * (1.0 / 5040));
    double q2 = (1.0 / 40320 + r * (1.0 / 362880)) + r2 * (1.0 / 3628800 + r * (1.0 / 39916800));
    double q3 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    double p = (q0 + r4 * q1) + r8 * (q2 + r4 * q3);
    union { uint64_t i; double d; } b = {(uint64_t)((int64_t)kf + 1023) << 52};
    return p * b.d;
}

/* Test hook (for tests only, never called by the library): replace p's public per-device
 * parameter arrays (g_min .. g_inf_d) by NaN-filled ones, so that code which reads them
 * instead of pulsing and reading fails visibly. Pulses, resets and relaxation keep acting on
 * the real parameters, which the returned population (owned by p, freed with it; NULL on out
 * of memory) exposes for the test's own comparisons. The conductance state stays public. */
const ml_population *ml__population_seal(ml_population *p);
/* The parameter set pulses act on: p itself, or its live copy once sealed (kernels outside
 * population.c call this before reading the per-device parameters). */
ml_population *ml__population_live(ml_population *p);

/* Pulse-train kernel with a chosen instruction set (0 baseline, 1 AVX2, 2 AVX-512; the
 * caller checks the CPU has it), and the best this CPU has: tests compare the variants. */
void ml__pulse_train_isa_run(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int k,
                            const int *count, int isa);
int ml__train_isa_best(void);
/* ml_pulse_train_read with a chosen instruction set (as above). */
void ml__pulse_train_read_isa(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int len,
                              double *read, double *g_true, int isa);

static inline double ml_clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
#endif
