/* Pulse schemes: identical, ramp, closed-loop verify and calibrated feedforward.
 * A scheme turns a device population and targets into pulses and records what it did
 * (pulses, reads, time, energy, convergence). Schemes see devices only through pulses
 * and noisy reads; the feedforward scheme calibrates its own model from measured
 * responses and never reads the population's hidden parameters. */
#ifndef MEMLEV_PROGRAM_H
#define MEMLEV_PROGRAM_H

#include <stddef.h>
#include "memlev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ml_scheme_kind {
    ML_SCHEME_IDENTICAL = 0,
    ML_SCHEME_RAMP = 1,
    ML_SCHEME_VERIFY = 2,
    ML_SCHEME_FEEDFORWARD = 3
} ml_scheme_kind;

typedef struct ml_scheme {
    ml_scheme_kind kind;
    double v;              /* identical: amplitude (V); 0 = the one that traverses the window in P pulses */
    double width;          /* pulse width (s); 0 = the device's default */
    int modulate_width;    /* ramp/feedforward: modulate width instead of amplitude */
    double v_start, v_stop;/* ramp: first/last amplitude (V); 0 = from calibration */
    double tol;            /* verify: tolerance as a fraction of the level spacing (default 0.25) */
    double v_step;         /* verify: amplitude increment per pulse (V, default 0.02) */
    int max_pulses;        /* verify: cap per target (default 200) */
    int max_reversals;     /* verify: polarity reversals before giving up (default 10) */
    int verify_every;      /* feedforward: read-and-correct every K pulses (0 = pure open loop) */
    int calib_per_device;  /* calibrate each device (1, default) or one model for all (0) */
    int calib_rounds;      /* feedforward: refinement runs of the schedule (default 3) */
    double coverage;       /* fraction of the calibrated window a staircase spans (default 0.95) */
    double target_top;     /* if > 0: the staircase's last level (S) instead of coverage; must lie
                              inside every device's calibrated window */
    const struct ml_fit *shared, *shared_other; /* with calib_per_device = 0: use these fits
                                                   instead of calibrating (e.g. a level set's) */
} ml_scheme;

void ml_scheme_defaults(ml_scheme *s, ml_scheme_kind kind);
ml_status ml_scheme_parse(const char *name, ml_scheme_kind *kind, ml_error *err);
const char *ml_scheme_name(ml_scheme_kind kind);

typedef struct ml_cost {
    double pulses, reads, time_s, energy_j;
    size_t converged, failed;
} ml_cost;
void ml_cost_add(ml_cost *a, const ml_cost *b);

/* A calibrated soft-bounds model of one device, for one direction (+1 potentiation,
 * -1 depression): step = a (exp(|V|/v0) - 1) (t/t_ref) (g_far - G). */
typedef struct ml_fit {
    double g_start;   /* measured level after reset (S) */
    double g_far;     /* asymptote: g_max for potentiation, g_min for depression (S) */
    double a, v0;     /* fitted step scale (1) and amplitude slope (V) */
    double g_lim;     /* measured saturation level under the strongest allowed pulses (S);
                         plans never go past it (0 = unknown) */
    double t_ref, v_th;
    double rms;       /* rms residual of the fit (S) */
} ml_fit;

/* End of the usable window under a fit: the asymptote or the measured saturation level,
 * whichever is nearer the start. */
double ml_fit_far(const ml_fit *f);
/* Predicted G after one pulse under a fit. */
double ml_fit_predict(const ml_fit *f, double g, double v, double width);
/* Amplitude (width fixed) or width (amplitude fixed) that moves G by dg under the fit;
 * clipped to the device's limits. */
double ml_fit_solve_v(const ml_fit *f, double g, double dg, double width, double v_max);
double ml_fit_solve_width(const ml_fit *f, double g, double dg, double v, double wmin, double wmax);

/* Fit a soft-bounds model to measured pulse responses: pairs (g_before, v, width, g_after)
 * read through the noisy read path. Linear least squares for fixed v0, golden-section on v0. */
ml_status ml_fit_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                       int direction, double t_ref, double v_th, ml_fit *out, ml_error *err);

/* Calibrate: characterisation pulse trains on every device (reset, trains at several
 * amplitudes, reads after each pulse), least-squares fit. fits has pop->n entries
 * (per-device) or one shared fit in every entry. Cost of calibration added to *cost. */
ml_status ml_calibrate(ml_population *pop, const ml_scheme *s, int direction, ml_fit *fits, ml_cost *cost,
                       ml_error *err);

/* A programmed staircase: P equal target steps from the reset state, per device. */
typedef struct ml_staircase {
    size_t ndev, npts;    /* npts = P + 1 */
    int direction;
    double *g_true;       /* [dev * npts + k], true conductance after step k */
    double *g_read;       /* one noisy read after each step */
    double *g_mean;       /* mean of 4 reads after each step */
    double *g_pred;       /* the scheme's planned conductance at step k (its grid) */
    double *v, *w;        /* the (last) pulse of step k */
    double *pulses;       /* pulses used for step k */
    ml_fit *fits;         /* calibration per device (staircase direction) */
    ml_fit *fits_other;   /* verify: calibration of the opposite polarity (else NULL) */
    double v_fixed;       /* identical: amplitude used */
    ml_cost cost, calib_cost;
} ml_staircase;

/* Reset to the start of a staircase (strong pulse of the opposite polarity). */
void ml_program_reset(ml_population *pop, int direction, ml_cost *cost);
void ml_program_reset1(ml_population *pop, size_t i, int direction, ml_cost *cost);
/* Program a staircase of P steps with a scheme; direction +1 potentiation, -1 depression.
 * The population is reset first. */
ml_status ml_program_staircase(ml_population *pop, const ml_scheme *s, int P, int direction, ml_staircase **out,
                               ml_error *err);
void ml_staircase_free(ml_staircase *st);
/* Calibrate as for a staircase of P steps, then program device i from reset to step
 * level[i] of its staircase (verify: straight to that target). Costs of programming and of
 * calibration are added to *prog and *calib. */
ml_status ml_program_levels(ml_population *pop, const ml_scheme *s, int P, int dir, const int *level, ml_cost *prog,
                            ml_cost *calib, ml_error *err);

/* Closed-loop write-verify of device i from its present state to target (S); tol_s in S.
 * fit_up/fit_down: calibrated models of the two polarities (either may be NULL: the ramp
 * then starts at threshold). Returns 1 if converged. Updates cost. */
int ml_verify_to(ml_population *pop, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last);

#ifdef __cplusplus
}
#endif
#endif
