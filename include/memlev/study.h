/* The studies: the levels study (a staircase on a simulated population: distinguishable
 * states, nonlinearity, precision, cost) and the transfer study (accuracy of a network whose
 * weights are programmed onto devices, against the number of levels, with Monte-Carlo
 * trials, confidence intervals, a quantised baseline and resumption). They hold the science
 * the CLI used to: the CLI parses options, calls them and prints what they return.
 * Thread safety: a study runs its own populations and network copies; different studies may
 * run concurrently as long as they do not share a network being evaluated (ml_transfer_study
 * evaluates copies of net and reads net only while cloning). Callbacks are called on the
 * calling thread, between units of work. */
#ifndef MEMLEV_STUDY_H
#define MEMLEV_STUDY_H

#include <stddef.h>
#include <stdint.h>
#include "memlev/api.h"
#include "memlev/data.h"
#include "memlev/metrics.h"
#include "memlev/nn.h"
#include "memlev/program.h"
#include "memlev/transfer.h"
#include "memlev/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the levels study ---- */

typedef struct ml_levels_study_opts {
    const ml_device *dev;   /* the devices' kind (borrowed for the call) */
    ml_scheme scheme;
    int P;                  /* pulse budget: staircase steps (P + 1 levels) */
    int P_max;              /* while states saturate (== P + 1, the metric's ceiling) P is
                               doubled up to this cap and the study rerun; 0: ML_LEVELS_P_MAX,
                               <= P: never raised */
    int dir;                /* +1 potentiation, -1 depression, 0 auto (ml_program_plan_new:
                               both calibrated, the finer staircase kept) */
    size_t devices;         /* simulated devices */
    uint64_t seed;
    double k;               /* level spacing must be >= k sigma_read */
    double frac;            /* fraction of devices a level must hit within +-spacing/2 */
    ml_progress_fn progress;/* the amplitude sweep's progress ("identical sweep"), or NULL */
    void *progress_ctx;
    int reprogram_cycles;   /* calibration amortised over this many programmings (0: 1) */
    double calib_budget;    /* calibration pulses per device a raised P may cost: P is not raised
                               to one whose calibration costs more than this (and more than the P
                               before it), nor kept when it gives fewer states than the P before;
                               0: the scheme's calib_budget if > 0, else ML_LEVELS_CALIB_BUDGET;
                               < 0: no limit. The requested P is always run. */
} ml_levels_study_opts;

/* One amplitude of a sweep (schemes with a free amplitude): coverage of the calibrated
 * window the staircase reached and its distinguishable states. */
typedef struct ml_levels_sweep_point {
    double v, coverage;
    int states;
} ml_levels_sweep_point;

/* The default cap on the pulse budget a saturating levels study raises P to. */
#define ML_LEVELS_P_MAX 8192
/* The default calibration budget (pulses per device) a raised P must stay within: issue 13's
 * target for feedforward on tio2x (<= 1,100 pulses and <= 200 reads per device). */
#define ML_LEVELS_CALIB_BUDGET 1100

/* Why a levels study stopped raising P (ml_levels_result.raise_stop). */
enum {
    ML_RAISE_UNSATURATED = 0, /* the states at the final P are a count below its ceiling */
    ML_RAISE_CAP = 1,         /* P reached P_max with the states still at the ceiling */
    ML_RAISE_BUDGET = 2,      /* the next P's calibration costs more than the budget */
    ML_RAISE_FEWER = 3        /* the next P gave fewer states than the final one */
};

/* What `memlev levels --json` reports, in SI units (S, J, s). */
typedef struct ml_levels_result {
    char device[64];
    const char *scheme;      /* the scheme type's name (static) */
    int dir;                 /* the staircase's direction (+1, -1; auto resolved) */
    int dir_auto;            /* 1 when it was chosen (opts.dir 0) */
    size_t devices;
    int pulses;              /* P the study ended at (raised from pulses_requested while
                                states saturated) */
    int pulses_requested;    /* P asked for (opts.P) */
    uint64_t seed;
    double k;
    int states;              /* distinguishable states, each device against its own plan (its own
                                reset level and top): the single-device figure */
    int states_population;   /* distinguishable levels of one absolute grid shared by every device
                                (ml_states_population): what weight transfer can use */
    int states_saturated;    /* states == P + 1, the metric's ceiling, at the final P (the cap
                                P_max, or raising stopped by the budget): a lower bound, not a count */
    double staircase_states; /* ArC-style staircase count (median over devices) */
    double planned_steps;    /* distinct planned steps of 1..P (median over devices): below P
                                when a device's finest step caps feedforward's equal steps */
    ml_nonlin nonlin;
    double g_min, g_max, hrs_lrs_ratio; /* mean calibrated window (S) */
    double pulses_per_state, reads_per_state, energy_per_state_j, time_per_state_s;
    double sigma_read;
    double calibration_pulses_per_device, calibration_reads_per_device;
    double precision_rms, precision_sigma, precision_worst; /* programmed - planned (S) */
    double unconverged;
    double yield;            /* fraction of devices calibration could program (stuck or dead
                                devices, found by calibration, count against it) */
    size_t devices_fallback; /* devices whose own fit failed: programmed with the population's model */
    size_t devices_failed;   /* devices excluded from states (no response up to v_max/width_max) */
    size_t devices_verify;   /* feedforward: fallback devices the population's model still could not
                                program open loop within a spacing: programmed by write-verify
                                (not among devices_fallback) */
    double v_fixed;          /* fixed amplitude (V, signed) of schemes with one, else NAN */
    double pulses_per_level_from_reset, reads_per_level_from_reset; /* closed-loop schemes, else NAN */
    int nsweep;              /* amplitudes swept (0: none) */
    ml_levels_sweep_point *sweep;
    size_t npts;             /* P + 1 */
    double *g_mean, *g_p05, *g_p95, *step, *v_mean, *pulses_mean; /* per step, over devices */
    /* Costs apart, per device: calibration (its reset_* part: the resets calibration made),
     * one reset, and programming the staircase without its reset */
    ml_cost calibration_cost, reset_cost, program_cost;
    int reprogram_cycles;    /* the JSON's totals amortise calibration over this many */
    const char *reset;       /* the reset procedure's name (static) */
    /* Raising P: why it stopped (ML_RAISE_*), the calibration budget it respected (pulses per
     * device; INFINITY: none) and, when the next P was run and not kept (ML_RAISE_BUDGET,
     * ML_RAISE_FEWER), that P (else 0) with its calibration per device and states. */
    int raise_stop;
    double calib_budget;
    int refused_pulses, refused_states;
    double refused_calibration_pulses, refused_calibration_reads;
    int verify_every;        /* feedforward: the scheme's read-and-correct stride (0: open loop) */
} ml_levels_result;

/* Run the levels study; on success *out is the caller's (ml_levels_result_free). A scheme
 * with a free amplitude (identical without v) sweeps it and keeps the amplitude with the most
 * states among those that span the scheme's coverage. When the states reach the metric's
 * ceiling (P + 1) the whole study is rerun with P doubled (at most o->P_max), so the states
 * reported are a measured count below the ceiling unless the cap was hit (states_saturated);
 * a doubled P whose calibration would cost more than the calibration budget (o->calib_budget)
 * or that gives fewer states is run but not kept, and raising stops there (raise_stop says
 * why); every figure is that of the final P (pulses). Errors: ML_EINVAL (options, no amplitude
 * spans the window), ML_ENOMEM. */
ML_API ml_status ml_levels_study(const ml_levels_study_opts *o, ml_levels_result **out, ml_error *err);
ML_API void ml_levels_result_free(ml_levels_result *r);
/* The result as the JSON text `memlev levels --json` writes (conductances in uS); on success
 * *text is the caller's (free() or ml_free()). Errors: ML_ENOMEM. */
ML_API ml_status ml_levels_result_json(const ml_levels_result *r, char **text, ml_error *err);

/* ---- the transfer study ---- */

/* One point (scheme, levels) of the transfer study, averaged over its trials. */
typedef struct ml_transfer_point {
    char scheme[32];
    int levels;
    double accuracy_mean, accuracy_std, ci95; /* ci95: half-width of the 95 % Student-t interval */
    double quantized_accuracy;   /* weights set to the levels' means: no device variation */
    int distinguishable;         /* the level set's states_population >= levels */
    double states;               /* min(states, levels): per device, each against its own plan */
    double pulses_per_device, calibration_pulses_per_device;
    double devices, program_seconds, energy_j; /* per trial; program_seconds: device time */
    int trials;
    double sim_seconds;          /* wall clock of the simulation per trial (varies; 0 when resumed) */
    double states_population;    /* min(states on one absolute grid shared by all devices, levels) */
    int grid_common;             /* the level set's devices shared one absolute grid */
    double reads_per_device;     /* programming reads per device, the reset's included (pulse mode's
                                    one read-back of every device that evaluates the weight aside) */
    /* Costs apart, per device and trial: calibration (pulses above), the reset before
     * programming, and programming itself (pulses_per_device, reads_per_device,
     * program_seconds and energy_j above include the reset). Statistical mode: from the level
     * set's measured cost model. */
    double calibration_reads_per_device;
    double calibration_energy_j, calibration_seconds;   /* per trial, all devices */
    double reset_pulses_per_device, reset_reads_per_device;
    double reset_energy_j, reset_seconds;               /* per trial, all devices */
    double yield;                /* of the level set's sample: fraction calibration could program */
    double devices_fallback, devices_failed, unconverged; /* of the level set's sample */
    double devices_verify;       /* of the level set's sample: programmed by write-verify (feedforward's
                                    second fallback stage) */
} ml_transfer_point;

typedef struct ml_transfer_result {
    double baseline_accuracy;    /* float network */
    size_t images;               /* test images evaluated */
    size_t npoints;              /* points finished so far */
    ml_transfer_point *points;   /* schemes x levels, scheme-major */
    int reprogram_cycles;        /* totals in the JSON amortise calibration over this many
                                    programmings (>= 1) */
} ml_transfer_result;

/* Called after the baseline (point = -1) and after every finished point (its index); r holds
 * every figure so far. A nonzero return stops the study with that status. */
typedef ml_status (*ml_transfer_point_fn)(void *ctx, const ml_transfer_result *r, int point);

typedef struct ml_transfer_study_opts {
    const ml_device *dev;
    const ml_scheme_type *schemes[8];
    int nschemes;
    const int *levels;           /* level counts (2..65536) */
    int nlevels;
    int trials;                  /* Monte-Carlo trials per point */
    ml_transfer_mode mode;       /* ML_TRANSFER_STATISTICAL or ML_TRANSFER_PULSE */
    int per_channel;
    size_t limit;                /* first test images (0 = all) */
    uint64_t seed;
    size_t sample_devices;       /* devices measured per level set */
    double relax_time;           /* pulse mode */
    int batch;                   /* inference batch */
    int calib_per_device;        /* 1: every device calibrates itself; 0: one model */
    int verify_every;            /* feedforward hybrid */
    int grid_own;                /* 1: every device on its own grid; 0 (default): schemes that target
                                    levels share one absolute grid (ml_scheme.grid_common) */
    int ff_max_pulses;           /* feedforward: one-shot programming in at most K pulses, no reads
                                    (ml_scheme.ff_max_pulses; 0 = the staircase) */
    /* resumption: figures of an earlier run of the same configuration */
    double baseline_accuracy;    /* NAN (or negative): evaluate */
    const ml_transfer_point *done; /* finished points, taken as they are (matched by scheme, levels) */
    size_t ndone;
    ml_transfer_point_fn on_point;
    void *ctx;
    ml_progress_fn progress;     /* points done of all points ("transfer"), or NULL */
    void *progress_ctx;
    int reprogram_cycles;        /* calibration amortised over this many programmings (0: 1) */
} ml_transfer_study_opts;

/* Run the transfer study of net on ds; on success *out is the caller's
 * (ml_transfer_result_free); on failure *out is untouched (the callback has seen every point
 * finished before the failure). Errors: the level set's,
 * the transfer's and the evaluation's (ML_EINVAL, ML_ENOMEM), or a callback's status. */
ML_API ml_status ml_transfer_study(const ml_net *net, const ml_dataset *ds, const ml_transfer_study_opts *o,
                                   ml_transfer_result **out, ml_error *err);
ML_API void ml_transfer_result_free(ml_transfer_result *r);
/* The result as JSON text: the "baseline_accuracy", "images" and "points" members of what
 * `memlev transfer --json` writes (the CLI adds its "config" and "complete"); on success
 * *text is the caller's (free() or ml_free()). Errors: ML_ENOMEM. */
ML_API ml_status ml_transfer_result_json(const ml_transfer_result *r, char **text, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
