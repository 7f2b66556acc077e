/* Pulse schemes: identical, ramp, closed-loop verify and calibrated feedforward, each a
 * scheme type (a const table) behind an opaque program plan: ml_program_plan_new calibrates
 * and plans, ml_program_plan_run programs, ml_program_plan_free. Schemes see devices only
 * through the target interface (pulses, noisy reads, cost accounting), so a simulated
 * population and a real instrument are interchangeable; the feedforward scheme calibrates its
 * own model from measured responses and never reads the population's hidden parameters.
 * Thread safety: schemes pulse and read a population, so one call at a time per population
 * (device.h); fits, plans and scheme options are read-only once made and may be shared; see
 * ml_program_plan below and docs/architecture.md. */
#ifndef MEMLEV_PROGRAM_H
#define MEMLEV_PROGRAM_H

#include <stddef.h>
#include "memlev/api.h"
#include "memlev/device.h"
#include "memlev/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A scheme type: a const table of the functions one scheme implements (calibrate, plan a
 * staircase, program a target), chosen by pointer as GSL chooses its generators. Opaque. */
typedef struct ml_scheme_type ml_scheme_type;
ML_API extern const ml_scheme_type *const ml_scheme_identical;   /* one fixed pulse, repeated */
ML_API extern const ml_scheme_type *const ml_scheme_ramp;        /* a linear amplitude/width ramp */
ML_API extern const ml_scheme_type *const ml_scheme_verify;      /* closed-loop write-verify */
ML_API extern const ml_scheme_type *const ml_scheme_feedforward; /* calibrated open-loop schedule */

typedef struct ml_scheme {
    const ml_scheme_type *type;
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
    int calib_rounds;      /* feedforward: refinement runs of the schedule (default 1) */
    int calib_read_every;  /* feedforward: refinement runs read after every K-th pulse, but at
                              least 64 times a run (default 8) */
    int calib_trains;      /* characterisation trains per device (2..7; default 7, feedforward 4,
                              since its refinement runs do the rest) */
    int calib_train_len;   /* pulses per train, a read after each (default 40, feedforward 30) */
    double calib_budget;   /* feedforward: if > 0, calibration pulses per device: the refinement
                              runs (P + 1 pulses each) that fit in what characterisation left,
                              instead of calib_rounds */
    double coverage;       /* fraction of the calibrated window a staircase spans (default 0.95) */
    double target_top;     /* if > 0: the staircase's last level (S) instead of coverage; must lie
                              inside every device's calibrated window */
    int reset_mode;        /* the reset procedure (ML_RESET_*; default ML_RESET_ONCE) */
    int reset_max_pulses;  /* cap on reset pulses (<= 0: 16) */
    double reset_tol;      /* settle: a read that moved less than this fraction of the device's
                              nominal window toward the bound ends the reset; verify: the
                              distance to the bound that is close enough (<= 0: 0.01) */
    int grid_common;       /* feedforward/verify: 1 = one absolute grid shared by every device: each
                              device is planned from its own measured reset level to the same
                              targets, P equal steps above the highest reset level (the first a
                              spacing above it) up to the lowest top every device reaches; 0 = each
                              device on its own grid from its reset level (default) */
    int ff_max_pulses;     /* feedforward: if > 0 (at most 256), one-shot programming: every level
                              from reset in at most K pulses computed from the device's calibrated
                              model (the fewest equal steps the model says its pulses make, else
                              K), no reads; a staircase programs each level from reset */
} ml_scheme;

/* Reset procedures. Every reset pulse has the device's v_max and width_max in the polarity
 * opposite to the staircase's.
 * ONCE: one pulse, no read (the default; on a device whose strongest pulse saturates, as on
 *   the presets, it is enough; on slow devices it leaves part of the gap);
 * SETTLE: read, then pulse and read until a read moves less than reset_tol of the window
 *   toward the bound (the reads stop moving) or reset_max_pulses pulses are spent;
 * VERIFY: pulse and read until a read lies within reset_tol of the window from the device
 *   kind's nominal bound (g_min for potentiation staircases), or the cap. */
enum { ML_RESET_ONCE = 0, ML_RESET_SETTLE = 1, ML_RESET_VERIFY = 2 };
/* The procedure's name ("once", "settle", "verify"; "?" if unknown) and the reverse (-1 if unknown). */
ML_API const char *ml_reset_mode_name(int mode);
ML_API int ml_reset_mode_lookup(const char *name);

/* Defaults of every option for a scheme of the given type. */
ML_API void ml_scheme_defaults(ml_scheme *s, const ml_scheme_type *type);
/* Look a scheme type up by name ("identical", "ramp", "verify", "feedforward"); NULL if unknown. */
ML_API const ml_scheme_type *ml_scheme_lookup(const char *name);
/* The same with an error naming the known schemes (ML_EINVAL). */
ML_API ml_status ml_scheme_parse(const char *name, const ml_scheme_type **type, ml_error *err);
/* The type's name ("?" for NULL). */
ML_API const char *ml_scheme_name(const ml_scheme_type *type);
/* Properties of a scheme the studies ask instead of its kind:
 * closed_loop: it programs by reading toward each target, so a level is reached straight
 *   from reset and its pulse count is measured, not the level index;
 * fixed_amplitude: every pulse has one amplitude (a staircase's v_fixed);
 * shares_schedule: every device gets the same pulse sequence (one model, no reads), which a
 *   simulated population can run in lockstep. */
ML_API int ml_scheme_closed_loop(const ml_scheme *s);
ML_API int ml_scheme_fixed_amplitude(const ml_scheme *s);
ML_API int ml_scheme_shares_schedule(const ml_scheme *s);
/* targets: it programs toward planned conductances (feedforward, verify), so it can use a grid
 *   shared by all devices (grid_common). */
ML_API int ml_scheme_targets(const ml_scheme *s);
/* Candidate amplitudes (V, magnitudes) of a scheme whose amplitude is free (identical with v = 0)
 * for a sweep on device d in direction dir: writes up to max of them to v (v may be NULL to
 * count) and the top of the swept range to *v_hi; returns how many there are, 0 when the scheme
 * has nothing to sweep. */
ML_API int ml_scheme_sweep(const ml_scheme *s, const ml_device *d, int dir, double *v, int max, double *v_hi);

typedef struct ml_cost {
    double pulses, reads, time_s, energy_j;
    size_t converged, failed;
    /* the part of the figures above that resets took (already included in them) */
    double reset_pulses, reset_reads, reset_time_s, reset_energy_j;
    double resets;         /* reset procedures run */
} ml_cost;
ML_API void ml_cost_add(ml_cost *a, const ml_cost *b);

/* Knots of a measured step curve (ml_fit.law ML_LAW_CURVE). */
#define ML_FIT_CURVE_KNOTS 16

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
    double width;     /* operating pulse width calibration chose for this device (s): the
                         probe trains' width, raised toward width_max for slow devices and
                         lowered toward width_min for fast ones; 0 = the device's default */
    int status;       /* ML_FIT_OK; ML_FIT_FALLBACK: the device's own fit failed and it uses
                         the population's model (own start and saturation levels);
                         ML_FIT_FAILED: no response up to v_max/width_max (stuck or dead):
                         it is left alone and excluded from states;
                         ML_FIT_VERIFY (feedforward): a fallback device whose open-loop check
                         run under the population's model missed its plan by more than a
                         level spacing (rms): programmed by write-verify per level instead */
    int law;          /* ML_LAW_SOFTBOUNDS (0): the law above; ML_LAW_CURVE: a measured step
                         curve, step = a (exp(|V|/v0) - 1) (t/t_ref) curve(G), for devices soft
                         bounds misfit (feedforward measures it; g_far is then the measured top) */
    double step_min;  /* finest step (S, magnitude) the device makes under this model anywhere
                         on its planned staircase, at the lowest amplitude and width allowed;
                         a staircase's equal steps are never planned finer (0 = no limit) */
    double curve_lo, curve_hi;       /* ML_LAW_CURVE: conductance span of the knots (S) */
    double curve[ML_FIT_CURVE_KNOTS];/* ML_LAW_CURVE: step per unit drive at knot k, the
                                        centre of bin k of (curve_lo, curve_hi) (S, signed);
                                        linear between knots, held beyond the end ones */
} ml_fit;

enum { ML_FIT_OK = 0, ML_FIT_FALLBACK = 1, ML_FIT_FAILED = 2, ML_FIT_VERIFY = 3 };
enum { ML_LAW_SOFTBOUNDS = 0, ML_LAW_CURVE = 1 };

/* The pulse width a schedule uses under fit f: the scheme's, else the fit's, else the
 * device's default. */
ML_API double ml_fit_width(const ml_fit *f, const ml_scheme *s, const ml_device *d);

/* End of the usable window under a fit: the asymptote or the measured saturation level,
 * whichever is nearer the start. */
ML_API double ml_fit_far(const ml_fit *f);
/* Predicted G after one pulse under a fit (either law). */
ML_API double ml_fit_predict(const ml_fit *f, double g, double v, double width);
/* Amplitude (width fixed) or width (amplitude fixed) that moves G by dg under the fit (either
 * law); clipped to the device's limits. */
ML_API double ml_fit_solve_v(const ml_fit *f, double g, double dg, double width, double v_max);
ML_API double ml_fit_solve_width(const ml_fit *f, double g, double dg, double v, double wmin, double wmax);

/* Fit a soft-bounds model to measured pulse responses: pairs (g_before, v, width, g_after)
 * read through the noisy read path. Linear least squares for fixed v0, golden-section on v0. */
ML_API ml_status ml_fit_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                       int direction, double t_ref, double v_th, ml_fit *out, ml_error *err);

/* The target interface: what a scheme may do to devices. A simulated population and a real
 * source-measure unit are interchangeable behind it. Operations on distinct devices may run
 * concurrently (schemes program devices in parallel); one device is used by one thread. */
typedef struct ml_target_ops {
    /* One pulse of v volts (sign = polarity) and width seconds on device i; adds its cost
     * (one pulse, its width, its energy) to *cost. */
    void (*pulse)(void *ctx, size_t i, double v, double width, ml_cost *cost);
    /* One read of device i (S); adds its cost to *cost unless cost is NULL. */
    double (*read)(void *ctx, size_t i, ml_cost *cost);
    /* The true conductance of device i (S) where known (simulation), else NAN. */
    double (*truth)(void *ctx, size_t i);
    /* Optional (NULL: the plan programs device by device through pulse): to every device,
     * already reset by the plan (the scheme's reset procedure), apply the first count[i] pulses of one
     * schedule all devices share (pulse j + 1 is v[j] volts, width[j] seconds; k pulses at
     * most), adding the cost to *cost. The target may choose which of its devices takes which
     * count (a simulated population of like devices sorts them so that every pulse goes to a
     * prefix of its devices, in lockstep): on return device map[i] has had count[i] pulses.
     * Returns ML_OK or ML_ENOMEM (devices then in an undefined state). */
    ml_status (*pulse_shared)(void *ctx, int dir, const int *count, const double *v, const double *width, int k,
                              size_t *map, ml_cost *cost);
    /* Optional (NULL: calibration pulses and reads its trains one at a time through pulse and
     * read): to devices i0 .. i1 - 1 at once, each its own train of len equal pulses (device
     * i0 + j: v[j] volts, width[j] seconds; width[j] <= 0: left alone) with a read after every
     * pulse, written as ml_pulse_train_read writes them: read[k * (i1 - i0) + j] after pulse k,
     * g_true[q * (i1 - i0) + j] the true conductance before the train (q = 0) and after pulse q
     * (NAN where unknown). Books no cost (the caller books each pulse and read). The simulated
     * population runs ml_pulse_train_read. */
    void (*train_read)(void *ctx, size_t i0, size_t i1, const double *v, const double *width, int len, double *read,
                       double *g_true);
} ml_target_ops;

typedef struct ml_target {
    const ml_target_ops *ops;
    void *ctx;              /* the implementation's state */
    size_t n;               /* devices */
    const ml_device *dev;   /* the devices' kind: limits and nominal pulses (not owned) */
} ml_target;

/* A target over a simulated population (borrowed: pop must outlive the target). The fast
 * lockstep path for a shared schedule is the simulated population's own: its pulse_shared
 * op pulses prefixes of its devices with the vectorised kernel (ml_pulse_train). */
ML_API void ml_target_population(ml_target *t, ml_population *pop);

/* Calibrate: characterisation pulse trains on every device (reset, trains at several
 * amplitudes, reads after each pulse), least-squares fit. fits has pop->n entries
 * (per-device) or one shared fit in every entry. Cost of calibration added to *cost. */
ML_API ml_status ml_calibrate(ml_population *pop, const ml_scheme *s, int direction, ml_fit *fits, ml_cost *cost,
                              ml_error *err);
/* The same on any target. */
ML_API ml_status ml_calibrate_target(const ml_target *t, const ml_scheme *s, int direction, ml_fit *fits,
                                     ml_cost *cost, ml_error *err);

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
    double v_fixed;       /* the fixed amplitude (V, signed) of schemes with one; else NAN */
    ml_cost cost, calib_cost;
    /* the reset before the staircase, per device: reset_n[dev] pulses, pulse q of device i
     * at [dev * reset_cap + q]: its amplitude (V, signed), width (s) and a read after it (S) */
    int reset_cap;
    int *reset_n;
    double *reset_v, *reset_w, *reset_g;
    int grid_common;      /* planned on one shared grid (scheme.grid_common): step 0 is each
                             device's own reset level, below the grid's levels (steps 1..P) */
} ml_staircase;

/* A program plan (FFTW's plan/execute): made once by calibrating a scheme on a target's
 * devices and precomputing what it can (grids, a shared schedule, a fixed amplitude), then
 * run any number of times. A plan holds no pointer to its target: it runs on any target with
 * as many devices of the same kind. Thread safety: making, running and freeing different
 * plans may happen concurrently; a plan is read-only while it runs, so one plan may run on
 * several targets at once; a target must not be used by two runs at once. */
typedef struct ml_program_plan ml_program_plan;

/* Calibrate scheme s on the devices of t (cost added to *calib) and plan staircases of P
 * steps in direction dir (+1 potentiation, -1 depression; 0: auto, both polarities
 * calibrated and the plan expected to hold more states kept, by one open-loop check run of
 * each for feedforward, whose equal steps are no finer than a device's finest step in its
 * polarity; potentiation on a tie; the other schemes calibrate potentiation alone, as dir
 * +1 does; every calibration and check run added to *calib; ml_program_plan_direction tells
 * which). On success *out is the caller's
 * (ml_program_plan_free). Errors: ML_EINVAL (out-of-range options, a device that does not
 * respond, a target_top outside a device's window, grid_common on a scheme that does not
 * target levels or on devices that share no window), ML_ENOMEM. */
ML_API ml_status ml_program_plan_new(const ml_target *t, const ml_scheme *s, int P, int dir, ml_cost *calib,
                                     ml_program_plan **out, ml_error *err);
/* A plan of the same scheme, P and direction for the devices of another target t. Sharing a
 * calibration is a property of the plan: with one model for the population
 * (calib_per_device = 0) the new plan reuses src's model and costs nothing; otherwise it
 * calibrates t's devices (cost added to *calib). A shared grid (grid_common) is src's: its
 * absolute targets, not ones of t's devices. */
ML_API ml_status ml_program_plan_for(const ml_program_plan *src, const ml_target *t, ml_cost *calib,
                                     ml_program_plan **out, ml_error *err);
/* Program device i of t from reset to step level[i] (0..P) of its staircase (closed-loop
 * schemes go straight to that target); the cost is added to *cost. Devices run in parallel,
 * results do not depend on the thread count. t must have the plan's device count. */
ML_API ml_status ml_program_plan_run(const ml_program_plan *pl, const ml_target *t, const int *level, ml_cost *cost,
                                     ml_error *err);
/* As ml_program_plan_run, but the target may choose which of its devices takes which level:
 * on return device map[i] of t holds level[i] (map: t->n entries, the caller's). When the
 * plan's scheme gives every device one pulse schedule (ml_scheme_shares_schedule) and the
 * target has a pulse_shared op (the simulated population: lockstep), the target programs
 * all devices at once from the schedule of the plan's calibration (a plan made by
 * ml_program_plan_for with a shared model keeps its source's schedule); otherwise device i
 * takes level[i] (map[i] = i) exactly as ml_program_plan_run programs it. Errors as
 * ml_program_plan_run. */
ML_API ml_status ml_program_plan_run_levels(const ml_program_plan *pl, const ml_target *t, const int *level,
                                            size_t *map, ml_cost *cost, ml_error *err);
/* Program device i of t from reset toward the conductance g[i] (S) instead of a level index,
 * each scheme its own way: feedforward plans equal steps of at most its staircase's spacing
 * from the device's calibrated start to g[i] and schedules them under the device's model;
 * verify reads toward g[i] within tol times the spacing; identical and ramp apply the number
 * of their staircase's pulses whose planned level lies nearest g[i]. A target on the reset
 * side of the start leaves the device at reset; one past the staircase's top is approached in
 * at most P steps. The cost is added to *cost; devices run in parallel, results do not depend
 * on the thread count. Errors: ML_EINVAL (device count, a g[i] that is not finite), ML_ENOMEM. */
ML_API ml_status ml_program_plan_run_to(const ml_program_plan *pl, const ml_target *t, const double *g, ml_cost *cost,
                                        ml_error *err);
/* Program the whole staircase on every device of t, recording each step; *out is the
 * caller's (ml_staircase_free) and keeps a copy of the plan's calibration. */
ML_API ml_status ml_program_plan_staircase(const ml_program_plan *pl, const ml_target *t, ml_staircase **out,
                                           ml_error *err);
/* The plan's staircase direction: +1 potentiation, -1 depression. */
ML_API int ml_program_plan_direction(const ml_program_plan *pl);
/* Free a plan (NULL is fine). */
ML_API void ml_program_plan_free(ml_program_plan *pl);
/* The plan's calibration of device i (staircase polarity) and of the opposite polarity (NULL
 * unless the scheme calibrates it). */
ML_API const ml_fit *ml_program_plan_fit(const ml_program_plan *pl, size_t i);
ML_API const ml_fit *ml_program_plan_fit_other(const ml_program_plan *pl, size_t i);

/* Reset to the start of a staircase with the default procedure (ML_RESET_ONCE). */
ML_API void ml_program_reset(ml_population *pop, int direction, ml_cost *cost);
ML_API void ml_program_reset1(ml_population *pop, size_t i, int direction, ml_cost *cost);
/* Reset device i of target t to the start of a staircase in direction dir with the reset
 * procedure of s (NULL: the defaults). Cost added to *cost, its reset_* part included.
 * Returns the pulses applied. */
ML_API int ml_program_reset_target(const ml_target *t, size_t i, const ml_scheme *s, int direction, ml_cost *cost);
/* Plan, calibrate and program a staircase of P steps on a population in one call
 * (ml_program_plan_new + ml_program_plan_staircase). The population is reset first. */
ML_API ml_status ml_program_staircase(ml_population *pop, const ml_scheme *s, int P, int direction,
                                      ml_staircase **out, ml_error *err);
ML_API void ml_staircase_free(ml_staircase *st);

/* Program n simulated devices of kind d toward given conductances in one call: device i
 * (device i of a population drawn from seed) toward g[i] (S) with scheme s planned as a
 * staircase of P steps in direction dir (ml_program_plan_run_to), then one noisy read of
 * each into g_read[i] (S). Devices are made, calibrated and programmed in chunks of a fixed
 * size (a plan for the first chunk, ml_program_plan_for for the others, so a population
 * calibration is shared by all), so results depend neither on the thread count nor on
 * anything but the arguments. Calibration and programming costs (reads included) are added
 * to *calib and *cost (either may be NULL). progress ("program", devices done, n) is called
 * after every chunk on the calling thread, or is NULL. Errors: ML_EINVAL (a g[i] outside
 * d's window [g_min, g_max], naming the first such i and the window; the plan's errors),
 * ML_ENOMEM. */
ML_API ml_status ml_program_conductances(const ml_device *d, const ml_scheme *s, int P, int dir, uint64_t seed,
                                         size_t n, const double *g, double *g_read, ml_cost *calib, ml_cost *cost,
                                         ml_progress_fn progress, void *progress_ctx, ml_error *err);

/* Closed-loop write-verify of device i from its present state to target (S); tol_s in S.
 * fit_up/fit_down: calibrated models of the two polarities (either may be NULL: the ramp
 * then starts at threshold). Returns 1 if converged. Updates cost. */
ML_API int ml_verify_to(ml_population *pop, size_t i, const ml_scheme *s, const ml_fit *fit_up, const ml_fit *fit_down,
                 double target, double tol_s, ml_cost *cost, double *v_last);


/* Per-device calibration and programming of a simulated population at network scale, with one
 * pulse train every device shares (the vectorised kernel, ml_pulse_train, runs it across
 * devices): every pulse has one amplitude and width, so a soft-bounds device's trajectory is
 * G_t = g_far - (g_far - g0) (1 - alpha)^t with its own g0, g_far and alpha. Calibration runs
 * the train (at a longer width: the step is linear in the width) from reset with a few reads
 * and fits each device in closed form; programming gives each device the number of pulses its
 * own fit says lands nearest its target. Per device: 16 bytes of fit, nothing kept per pulse.
 * Soft-bounds and NeuroSim devices only. Thread safety as the population's (device.h). */
typedef struct ml_train_calib {
    int dir;            /* +1 potentiation, -1 depression */
    double v;           /* amplitude of every calibration and programming pulse (V, magnitude) */
    double width_cal;   /* calibration pulse width (s) */
    double width_prog;  /* programming pulse width (s) */
    int read_every;     /* calibration pulses between reads */
    int reads;          /* reads of a calibration run (a multiple of 3, >= 6): one after the
                           reset, then one after every read_every pulses */
    int max_pulses;     /* cap on programming pulses per device */
} ml_train_calib;

/* One device's fit under the programming pulse: start level g0, asymptote g_far (S), step
 * fraction alpha per programming pulse; status ML_FIT_OK, ML_FIT_FALLBACK (its run gave no
 * usable fit: the mean fit of the call's other devices from its own start read) or
 * ML_FIT_FAILED (no device of the call fitted). */
typedef struct ml_train_fit {
    float g0, g_far, alpha;
    int status;
} ml_train_fit;

/* Defaults for device kind d, direction dir, `levels` levels over `coverage` of the window
 * (0 < coverage <= 1): the nominal amplitude; a calibration width whose run of
 * (reads - 1) * read_every pulses (14 * 24 by default) closes about 98 % of the nominal
 * device's gap (on a NeuroSim device at most 0.8 Pmax nominal pulses' worth, since it meets its
 * far bound after Pmax, before its asymptote); a programming width whose first step is a third
 * of a level's spacing.
 * Errors: ML_EINVAL (not a soft-bounds or NeuroSim device; no nominal response). */
ML_API ml_status ml_train_calib_defaults(const ml_device *d, int dir, int levels, double coverage, ml_train_calib *c,
                                         ml_error *err);

/* Calibrate every device of pop: reset (ML_RESET_ONCE), one read, then reads - 1 times
 * read_every pulses of width_cal and a read; fits[i] (pop->n entries, the caller's) from the
 * reads in closed form (three-block sums give the ratio, a linear least-squares fit gives g0 and
 * g_far). Cost (pulses, reads, device time, energy from the reads) added to *cost (may be
 * NULL). Devices run in parallel in fixed blocks; results depend on nothing but pop and c.
 * Errors: ML_EINVAL (options out of range, a model without the kernel), ML_ENOMEM. */
ML_API ml_status ml_calibrate_train(ml_population *pop, const ml_train_calib *c, ml_train_fit *fits, ml_cost *cost,
                                    ml_error *err);

/* Predicted level (S) after `count` programming pulses from reset under fit f. */
ML_API double ml_train_predict(const ml_train_fit *f, int count);
/* The programming pulse count (0..max) whose predicted level lies nearest g (S). */
ML_API int ml_train_count(const ml_train_fit *f, double g, int max);

/* The window every device of fits[n] can be programmed in: lo = the highest (dir > 0) start
 * level, hi = the lowest level coverage of the way from each device's start to its asymptote;
 * failed devices are skipped. A shared grid of P levels is lo + (hi - lo) k / P, k = 1..P.
 * Errors: ML_EINVAL (no usable device, or the window is empty). */
ML_API ml_status ml_train_window(const ml_train_fit *fits, size_t n, int dir, double coverage, double *lo,
                                 double *hi, ml_error *err);

/* Program device i of pop from reset toward g[i] (S): ml_train_count pulses of width_prog.
 * Failed devices stay at reset. Cost added to *cost (may be NULL). Devices run in parallel
 * in fixed blocks; results do not depend on the thread count. Errors: ML_EINVAL, ML_ENOMEM. */
ML_API ml_status ml_program_train(ml_population *pop, const ml_train_calib *c, const ml_train_fit *fits,
                                  const double *g, ml_cost *cost, ml_error *err);

/* The staircase of the shared grid lo + (hi - lo) k / P (k = 1..P; step 0: each device's own
 * reset) programmed on every device of pop, calibrated by fits, one train run per device with
 * a record (true level, a read, the mean of 4 reads) at each level: what ml_states_population
 * counts. *out is the caller's (ml_staircase_free). Errors: ML_EINVAL, ML_ENOMEM. */
ML_API ml_status ml_train_staircase(ml_population *pop, const ml_train_calib *c, const ml_train_fit *fits, double lo,
                                    double hi, int P, ml_staircase **out, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
