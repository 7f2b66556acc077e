/* Internal pieces shared by the scheme files: the scheme type table, the program plan and
 * pulse/read helpers through the target interface. */
#ifndef ML_PROGRAM_INTERNAL_H
#define ML_PROGRAM_INTERNAL_H
#include <math.h>
#include "memlev/program.h"
#include "device/internal.h" /* ml_exp_poly */

/* One measured run: start level g0, n pulses (v, w) and a read after every stride-th pulse
 * (read[m] after pulse (m + 1) stride; stride 0 or 1: after every pulse). */
typedef struct ml_run {
    double g0;
    int n;
    const double *v, *w, *read;
    int stride;
} ml_run;

/* One step of a run: read m of the run's nm, the read before it (from; g0 for m = 0), what the
 * fit predicts from there over the pulses between (pred) and what was read (read). */
typedef void (*ml__run_step_fn)(void *ctx, int m, int nm, double from, double pred, double read);
/* visit(ctx, ...) for every step of every run, in order (run by run, read by read). */
void ml__runs_steps(const ml_fit *f, const ml_run *runs, int nr, ml__run_step_fn visit, void *ctx);

/* Refine a fit on whole trajectories (Levenberg-Marquardt): a and g_far with v0 held, or a and
 * v0 with g_far at the measured saturation f->g_lim, whichever fits the runs better. */
void ml__fit_runs(const ml_run *runs, int nruns, ml_fit *f);
/* exp(y) - 1 as every soft-bounds fit computes a drive: ml_exp_poly where subtracting 1 loses
 * nothing (0.5 <= y <= 700; also what fit.c's vector lanes compute), expm1 elsewhere. */
static inline double ml__fit_expm1(double y)
{
    return y >= 0.5 && y <= 700 ? ml_exp_poly(y) - 1.0 : expm1(y);
}
/* Soft-bounds least squares of one-step pairs for a fixed v0: step scale *a and asymptote
 * *g_far; returns the sum of squared residuals (S^2). */
double ml__fit_pairs_v0(const double *g0, const double *v, const double *w, const double *g1, size_t n, double v0,
                        double t_ref, double v_th, double *a, double *g_far);
/* ml_fit_pairs on m devices side by side, bit for bit the same fits: device i's pairs at
 * pairs[i] (g0, v, w, g1 at offsets 0, per, 2 per, 3 per; NULL: skipped), n[i] of them; on
 * success out[i]'s a, g_far, v0, t_ref, v_th, rms set and ok[i] = 1, else ok[i] = 0 and out[i]
 * untouched. */
void ml__fit_pairs_many(double *const *pairs, size_t per, const size_t *n, size_t m, int direction, double t_ref,
                        double v_th, ml_fit *out, int *ok);
int ml__solve3(double A[3][3], const double *b, double *x);

/* Account one pulse / one read (energy from the conductance g during it). */
void ml__cost_pulse(ml_cost *c, double v, double g, double width);
void ml__cost_read(ml_cost *c, const ml_device *d, double g);

/* One pulse / one read on device i of a target, cost accounted into c (reads: c may be NULL). */
static inline void pg_pulse(const ml_target *t, size_t i, double v, double w, ml_cost *c)
{
    t->ops->pulse(t->ctx, i, v, w, c);
}
static inline double pg_read(const ml_target *t, size_t i, ml_cost *c) { return t->ops->read(t->ctx, i, c); }

/* Planned staircase grid: P equal steps from fit->g_start to the scheme's target_top or to
 * `coverage` of the calibrated window. */
void ml__plan_grid(const ml_fit *f, const ml_scheme *s, int P, double *grid);
/* Amplitude/width schedule realising grid[0..P] under fit (open loop): pulses 1..P. */
void ml__schedule_ff(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P,
                    double *v, double *w);
/* Refinement runs (ff_refine.c): reads after every stride-th step of a P-step run (at least
 * 64 per run); one open-loop run of device i's schedule (sub pulses per step; v, w hold P sub;
 * rd the reads, *g0 the start; cost into c): -1 when out of memory. */
int ml__ff_read_stride(const ml_scheme *s, int P);
int ml__ff_run_once(const ml_target *t, size_t i, const ml_fit *f, const ml_scheme *s, int P, int sub, int dir,
                    double *v, double *w, double *rd, double *g0, ml_cost *c);
/* Refinement runs of the feedforward schedule (s->calib_rounds); with misfit (one entry per
 * calibration device, may be NULL): the rms distance of the runs' reads from the refined model's
 * own prediction of them, in planned steps. */
ml_status ml__ff_refine(const ml_target *t, const ml_scheme *s, int P, int sub, int dir, ml_fit *fits, ml_cost *cost,
                       double *misfit, ml_error *err);
/* Pulses per staircase step, at most: open-loop C2C noise adds up along a staircase, and m
 * pulses of a step's m-th part spread by 1/sqrt(m) of one pulse's. */
#define ML__FF_SUB_MAX 8
/* Schedule of a staircase grid[0..P] in sub pulses per step (fewer where a step's part would be
 * finer than f->step_min; v 0 in the pulses not used): pulse (k - 1) sub + j (0-based) of step k. */
void ml__schedule_ff_sub(const ml_fit *f, const ml_device *d, const ml_scheme *s, const double *grid, int P, int sub,
                         double *v, double *w);

/* Measured step curve (ff_curve.c): the law for devices soft bounds misfit. */
double ml__curve_predict(const ml_fit *f, double g, double v, double width);
double ml__curve_solve_v(const ml_fit *f, double g, double dg, double width, double v_max);
double ml__curve_solve_width(const ml_fit *f, double g, double dg, double v, double wmin, double wmax);
/* Measure device i's step curve between f->g_start and f->g_lim with pulse trains from reset
 * (two amplitudes, a read after every pulse) and make f that curve (law ML_LAW_CURVE, status
 * OK); cost into c. Returns 0, or -1 when the device does not respond (f unchanged). */
int ml__curve_measure(const ml_target *t, size_t i, const ml_scheme *s, int dir, ml_fit *f, ml_cost *c);
/* The same, adding to c2c[0], c2c[1] (c2c may be NULL) the sums whose ratio estimates the
 * squared relative step noise (C2C) from the reads of the curve's first train. */
int ml__curve_measure_c2c(const ml_target *t, size_t i, const ml_scheme *s, int dir, ml_fit *f, ml_cost *c,
                          double *c2c);
/* Pulses per step (1..ML__FF_SUB_MAX) that keep the C2C noise an open-loop staircase of P steps
 * under curve f accumulates within 0.3 of a step at every level (c2c: relative step noise);
 * 1 for a law other than the curve. */
int ml__curve_sub_pulses(const ml_fit *f, const ml_scheme *s, int P, double c2c);
/* A device the soft-bounds calibration failed on although it moves (its saturation level lies
 * over 2 % away from its reset level): it needs the measured curve. */
int ml__fit_moves_unmodelled(const ml_fit *f);
/* Refine a curve on whole runs of its schedule: each bin's steps scaled by the increments
 * measured there over those the curve predicted from the read before them. */
void ml__curve_refine(const ml_run *runs, int nr, ml_fit *f);
/* The finest step (S, magnitude) f says device d makes from g_start up to top at the lowest
 * amplitude and width the scheme allows, the largest such over that range. */
double ml__fit_step_min(const ml_fit *f, const ml_device *d, const ml_scheme *s, double top);
/* Closed-loop write-verify of device i of a target (see ml_verify_to). */
int pg_verify_to(const ml_target *t, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last);
/* Default cap on reset pulses and the settle/verify tolerance (fraction of the window). */
#define PG_RESET_MAX 16
#define PG_RESET_TOL 0.01

/* Reset device i of a target to the start of a staircase with s's reset procedure (s may be
 * NULL: the defaults); cost and its reset_* part into c. pg_reset_rec also records up to cap
 * pulses (amplitude, width, the read after it) and returns the pulses applied. */
void pg_reset1(const ml_target *t, size_t i, const ml_scheme *s, int direction, ml_cost *c);
int pg_reset_rec(const ml_target *t, size_t i, const ml_scheme *s, int direction, ml_cost *c, int cap, double *rv,
                 double *rw, double *rg);

/* A program plan: the scheme, its calibration and whatever it precomputed, for n devices.
 * It holds no pointer to a target or device: it runs on any target of n devices of the kind
 * it was calibrated on. */
struct ml_program_plan {
    ml_scheme s;
    size_t n;
    int P, dir;
    ml_fit *fits, *other;   /* per device; other: the opposite polarity (verify) or NULL */
    double v_fixed;         /* identical: the amplitude (signed); else NAN */
    double r0, r1;          /* ramp: first and last amplitude (or width) */
    double width;           /* pulse width of open-loop steps (s) */
    double *grid, *sv, *sw; /* one shared model: its grid and feedforward schedule, computed once */
    double *shv, *shw;      /* schemes that share one schedule: pulse k (1..P) every device gets
                               (zeros when the shared calibration failed); else NULL */
    double grid_lo, grid_hi;/* grid_common: the shared grid's base (the highest reset level) and
                               its last level (S); level k = lo + (hi - lo) k / P */
    int sub;                /* feedforward: pulses per staircase step (0 or 1: one), each a
                               sub-th of the step (ml__curve_sub_pulses) */
    double c2c;             /* feedforward: C2C estimated from the curve trains (0: none) */
};

/* Device i's planned staircase grid[0..P]: its own (ml__plan_grid) or, with grid_common, its
 * measured reset level followed by the shared absolute levels. */
void pg_plan_grid(const ml_program_plan *pl, size_t i, double *grid);

/* Record step k of device i into a staircase (true level, one read, mean of 4 reads). */
void pg_record(const ml_target *t, ml_staircase *st, size_t i, int k);
/* Open-loop step k of device i: apply (v, w) unless v is 0, record it with its planned level. */
void pg_open_step(const ml_target *t, size_t i, int k, double v, double w, double g_pred, ml_cost *c,
                  ml_staircase *st);

/* The scheme type: a const table of the functions one scheme implements. */
struct ml_scheme_type {
    const char *name;
    int closed_loop;      /* programs by reading toward each target */
    int fixed_amplitude;  /* one amplitude for every pulse (v_fixed) */
    int targets;          /* programs toward planned conductances: can share one grid */
    /* Calibrate pl->fits (and pl->other) on the target's devices; cost added to calib. */
    ml_status (*calibrate)(ml_program_plan *pl, const ml_target *t, ml_cost *calib, ml_error *err);
    /* Opposite-polarity fits a shared calibration must carry (verify): 1, else 0. */
    int opposite;
    /* Characterisation trains and their length this scheme defaults to (0: 7 and 40). */
    int calib_trains, calib_train_len;
    /* Precompute from the calibration (mf: the mean fit over devices). May be NULL. */
    ml_status (*plan)(ml_program_plan *pl, const ml_device *d, const ml_fit *mf, ml_error *err);
    /* Program device i, already reset, along grid from step 1 to stop; with st, record every
     * step; sv, sw: scratch of P + 1 entries. */
    void (*program)(const ml_program_plan *pl, const ml_target *t, size_t i, int stop, ml_cost *c,
                    ml_staircase *st, const double *grid, double *sv, double *sw);
    /* Program device i, already reset, toward conductance g (S) (ml_program_plan_run_to);
     * grid, sv, sw: scratch of P + 1 entries. */
    void (*program_to)(const ml_program_plan *pl, const ml_target *t, size_t i, double g, ml_cost *c, double *grid,
                       double *sv, double *sw);
    /* 1 when every device gets the same pulse sequence (no per-device model, no reads). */
    int (*shares_schedule)(const ml_scheme *s);
    /* With shares_schedule: write that sequence, pulse k (1..P) to v[k], w[k], from the plan
     * (what program applies to a device of the shared model). */
    void (*schedule)(const ml_program_plan *pl, const ml_device *d, double *v, double *w);
    /* The states the plan's open-loop staircases are expected to hold, from one check run of
     * every device (reads, never the truth; cost added to calib): what ml_program_plan_new's
     * direction auto compares. NULL: nothing to compare, auto calibrates potentiation alone.
     * Returns -1 when out of memory. */
    double (*expected_states)(const ml_program_plan *pl, const ml_target *t, ml_cost *calib);
    /* Candidate values of a free amplitude the levels study sweeps; NULL: none. */
    int (*sweep)(const ml_scheme *s, const ml_device *d, int dir, double *v, int max, double *v_hi);
};

/* Equal steps of at most device i's staircase spacing from its calibrated start toward g:
 * writes grid[0..k] and returns k (0 when g lies on the reset side of the start, at most P). */
int pg_grid_to(const ml_program_plan *pl, size_t i, double g, double *grid);
/* Device i's staircase spacing (S, signed with the direction). */
double pg_spacing(const ml_program_plan *pl, size_t i, double *grid);

/* Calibration of the staircase polarity (shared by every scheme). */
ml_status pg_calibrate_basic(ml_program_plan *pl, const ml_target *t, ml_cost *calib, ml_error *err);
#endif
