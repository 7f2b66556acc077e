/* Weight transfer: map a trained network's weights onto differential conductance pairs,
 * program every device with a pulse scheme (pulse-level) or sample the measured level
 * distributions (statistical), read back, and evaluate the perturbed network.
 *
 * Thread safety: a level set is read-only once built and may be shared by threads;
 * ml_transfer_net writes dst (one call at a time per dst) and only reads src. */
#ifndef MEMLEV_TRANSFER_H
#define MEMLEV_TRANSFER_H
#include "memlev/api.h"

#include "memlev/api.h"
#include <stddef.h>
#include <stdint.h>
#include "memlev/nn.h"
#include "memlev/program.h"

#ifdef __cplusplus
extern "C" {
#endif

/* N programmable levels of a (device, scheme): the shared schedule and the measured
 * empirical distribution of the programmed-and-read conductance of every level. */
typedef struct ml_levelset {
    ml_scheme scheme;
    ml_device dev;          /* owned copy */
    int n;                  /* levels (level 0 = the reset state) */
    double *target;         /* planned conductance per level (S) */
    double *mean;           /* measured mean per level (S) */
    int nsamp;              /* samples per level */
    double *samples;        /* [level * nsamp + s], sorted ascending (S): the sample's reads
                               along the staircase, or for a closed-loop scheme (verify) after
                               programming each level straight from reset, as transfer does */
    ml_fit fit, fit_other;  /* shared calibration (staircase polarity, opposite polarity) */
    int states;             /* distinguishable states of this level set (<= n), each device
                               against its own plan */
    int states_population;  /* distinguishable states on one absolute grid shared by all devices
                               (ml_states_population; <= n): what weight transfer can use */
    int level_offset;       /* staircase step of level 0: 1 with a shared grid (scheme.grid_common:
                               level j is the grid's step j + 1, one pulse or more from reset, so
                               every level is absolute), else 0 (level 0 is the reset level) */
    double *v, *w;          /* one shared open-loop schedule (pulse k = 1..n-1), or NULL */
    double pulses_per_level;/* programming pulses per level (mean over levels, from reset) */
    double calib_pulses_per_device; /* calibration cost per device of the sample */
    ml_program_plan *plan;  /* the sample's plan: pulse-mode programming plans from it (sharing
                               its calibration when the scheme calibrates one model) */
    /* Measured cost model: the scheme programmed sample devices from reset to each of nmodel
     * levels model_level[q] (ascending, 0 and n - 1 among them) with its real procedure;
     * model_cost[q]: programming cost per device without the reset; reset_cost: one reset per
     * device; calib_cost: calibration per device of the sample. Transfers without pulses
     * (statistical, quantised) cost each device its reset plus the model at its level
     * (linear between model levels). */
    int nmodel;
    int *model_level;
    ml_cost *model_cost;
    ml_cost reset_cost, calib_cost;
    double yield;           /* fraction of the sample calibration could program */
    size_t devices_fallback, devices_failed, unconverged; /* of the sample (unconverged: verify
                               targets that did not converge, programmed straight from reset as
                               transfer programs them) */
    size_t devices_verify;  /* of the sample: feedforward devices programmed by write-verify */
} ml_levelset;

/* The measured cost model of ls at level j (0..n-1): programming cost per device without the
 * reset, interpolated between the model's levels, added to *c. */
ML_API void ml_levelset_cost(const ml_levelset *ls, int j, ml_cost *c);

/* Characterise n levels on sample_devices devices (a separate chip sample: seed is mixed),
 * calibrated as the scheme says (per device, or one model for the population); with
 * grid_common the sample plans n steps above reset and the levels are steps 1..n. */
ML_API ml_status ml_levelset_build(const ml_device *d, const ml_scheme *s, int n, size_t sample_devices, uint64_t seed,
                            ml_levelset **out, ml_error *err);
ML_API void ml_levelset_free(ml_levelset *ls);

typedef enum { ML_TRANSFER_PULSE = 0, ML_TRANSFER_STATISTICAL = 1, ML_TRANSFER_QUANTIZE = 2 } ml_transfer_mode;

typedef struct ml_transfer_opts {
    ml_transfer_mode mode;
    int per_channel;        /* scale per output channel instead of per layer */
    double relax_time;      /* s after programming before the read (pulse mode) */
    uint64_t seed;          /* programming / read / sampling draws */
} ml_transfer_opts;

typedef struct ml_transfer_stats {
    double devices, pulses, reads, energy_j;
    double seconds;         /* wall-clock time of the simulation (varies run to run) */
    double device_seconds;  /* programming time on the devices: every pulse width and read,
                               one device after another (deterministic) */
    double calib_pulses;    /* calibration pulses (pulse mode: measured; else the level set's rate) */
    /* the part of devices/pulses/reads/energy_j/device_seconds that resets took */
    double reset_pulses, reset_reads, reset_energy_j, reset_seconds;
    double calib_reads, calib_energy_j, calib_seconds; /* calibration, as calib_pulses */
} ml_transfer_stats;

/* Transfer one weight array w[n] (rows = output channels of cols weights each, for
 * per-channel scaling) whose devices are numbered from first_device; writes the read-back
 * weights to out[n] and, when gp/gm are not NULL, the conductances (S). */
ML_API ml_status ml_transfer_array(const float *w, size_t rows, size_t cols, const ml_levelset *ls,
                            const ml_transfer_opts *o, uint64_t first_device, float *out, double *gp, double *gm,
                            ml_transfer_stats *st, ml_error *err);

/* The scale ml_transfer_array uses for w[rows * cols]: scale[0] (per layer) or scale[r] per
 * output channel (per_channel), in siemens per unit weight, so that a weight is rebuilt from
 * its devices as (G+ - G-) / scale. scale has room for rows (or 1) values, the caller's. */
ML_API ml_status ml_transfer_scales(const float *w, size_t rows, size_t cols, const ml_levelset *ls, int per_channel,
                                    double *scale, ml_error *err);

/* Transfer every weight tensor of src into dst (a clone of src: same tensors). */
ML_API ml_status ml_transfer_net(const ml_net *src, ml_net *dst, const ml_levelset *ls, const ml_transfer_opts *o,
                          ml_transfer_stats *st, ml_error *err);

/* Two-sample Kolmogorov-Smirnov statistic D of a[na] and b[nb] (sorted in place). */
ML_API double ml_ks_statistic(double *a, size_t na, double *b, size_t nb);

#ifdef __cplusplus
}
#endif
#endif
