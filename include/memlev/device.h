/* Device models and device populations (struct-of-arrays).
 * A device spec (ml_device) holds a model's nominal parameters and its device-to-device
 * spreads; a population instantiates M devices of one spec, each with its own drawn
 * parameters, conductance state and random stream. Units are SI (S, V, s).
 * Thread safety: a device spec is read-only once made and may be shared. A population
 * changes on every pulse and read: one call at a time per population (the calls split
 * their devices across OpenMP threads themselves); different populations may be used
 * from different threads at once. */
#ifndef MEMLEV_DEVICE_H
#define MEMLEV_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "memlev/api.h"
#include "memlev/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ml_model_kind {
    ML_MODEL_SOFTBOUNDS = 0, /* soft bounds, exponential amplitude and linear width dependence */
    ML_MODEL_NEUROSIM = 1,   /* NeuroSim G(P)=B(1-exp(-P/A))+Gmin, as soft bounds toward G_inf */
    ML_MODEL_SERB = 2,       /* Messaritaki/Serb data-driven model (ArC ParameterFit) */
    ML_MODEL_TABLE = 3       /* interpolated dG(G, V, width) from measured data */
} ml_model_kind;

/* Measured-data table: mean and spread of dG on a grid of (V, width, G). */
typedef struct ml_dev_table {
    int nv, nw, ng;           /* grid sizes */
    double *v, *w, *g;        /* grid axes (ascending), lengths nv, nw, ng */
    double *dg_mean, *dg_std; /* [iv][iw][ig], S per pulse */
} ml_dev_table;

typedef struct ml_device {
    ml_model_kind model;
    char name[64];
    double g_min, g_max;        /* window (S) */
    /* soft bounds (also used by NeuroSim after conversion) */
    double a_p, v0_p, a_d, v0_d;/* step fraction scale (1) and amplitude scale (V) */
    double t_ref;               /* reference width (s) */
    double v_th;                /* |V| below this changes nothing (V) */
    double g_inf_p, g_inf_d;    /* asymptotes (S); equal to g_max/g_min for plain soft bounds */
    /* NeuroSim parameters (kept for reporting and JSON round trip) */
    double nl_ltp, nl_ltd, pmax_ltp, pmax_ltd;
    /* Messaritaki/Serb: s(V)=A(exp(|V|/t)-1) (1/(Ohm s)), r(V)=a0+a1 V (Ohm) */
    double serb_ap, serb_an, serb_tp, serb_tn, serb_a0p, serb_a1p, serb_a0n, serb_a1n;
    /* noise */
    double s_c2c;               /* relative step noise (1) */
    double s_abs;               /* absolute step noise per pulse (S) */
    double s_read_rel, s_read_abs; /* read noise, relative (1) and absolute (S) */
    /* relaxation: G(t)=G_end+(G_rest-G_end)*r*log10(1+t/tau); G_rest = g_min */
    double relax_r, relax_tau;
    /* stuck devices: this fraction of a population (drawn from its seed) sits at g_min or
     * g_max, with equal probability, and ignores pulses (0..1) */
    double stuck_fraction;
    /* device-to-device relative spreads (which apply depends on the model: docs/devices.md) */
    double d2d_a_p, d2d_a_d, d2d_g_min, d2d_g_max, d2d_v0_p, d2d_v0_d;
    /* NeuroSim only: standard deviation of each device's nonlinearity labels NL_LTP and NL_LTD
     * (label units, NeuroSim's sigmaDtoD); each device's curve parameter A follows its label */
    double d2d_nl;
    /* nominal programming pulse and instrument limits */
    double v_pulse_p, v_pulse_d;/* default amplitudes (V) */
    double width;               /* default width (s) */
    double v_max;               /* safety limit on |V| (V) */
    double width_min, width_max;/* allowed widths (s) */
    double v_read, t_read;      /* read conditions (V, s) for energy accounting */
    ml_dev_table *table;        /* owned; ML_MODEL_TABLE only */
} ml_device;

/* Fill *d with defaults for a model kind (all noise off). */
ML_API void ml_device_defaults(ml_device *d, ml_model_kind kind);
/* Check the parameters; message names the field. */
ML_API ml_status ml_device_validate(const ml_device *d, const char *src, ml_error *err);
/* Built-in presets: "tio2x", "agsi" (NeuroSim Ag:a-Si), "taox-hfox", "pcmo", "alox-hfo2",
 * "serb-virtualarc". */
ML_API ml_status ml_device_preset(const char *name, ml_device *d, ml_error *err);
ML_API const char *const *ml_device_preset_names(void);
/* Load a device from a preset name or a JSON file (DESIGN.md form; unknown keys rejected). */
ML_API ml_status ml_device_load(const char *name_or_path, ml_device *d, ml_error *err);
ML_API ml_status ml_device_from_json_text(const char *text, const char *src, ml_device *d, ml_error *err);
/* Serialise to JSON (caller frees with free() or ml_free()). */
ML_API char *ml_device_to_json(const ml_device *d);
/* A device on the heap, for callers that cannot hold an ml_device (bindings): from a preset
 * name or JSON file (ml_device_new), or from JSON text whose errors name src
 * (ml_device_new_json). On success *out is the caller's (ml_device_free, NULL is fine);
 * errors as ml_device_load / ml_device_from_json_text. */
ML_API ml_status ml_device_new(const char *name_or_path, ml_device **out, ml_error *err);
ML_API ml_status ml_device_new_json(const char *text, const char *src, ml_device **out, ml_error *err);
ML_API void ml_device_free(ml_device *d);
/* Copy (deep for the table) and free owned parts. */
ML_API ml_status ml_device_copy(ml_device *dst, const ml_device *src);
ML_API void ml_device_clear(ml_device *d);

/* Ideal (noise-free) single-pulse response of one device with parameters p: returns G+.
 * This is the model equation; schemes must not call it on the simulated devices' true
 * parameters (they calibrate their own). */
typedef struct ml_devparams {
    double g_min, g_max, a_p, a_d, v0_p, v0_d, g_inf_p, g_inf_d;
} ml_devparams;
ML_API double ml_model_step(const ml_device *d, const ml_devparams *p, double g, double v, double width);
/* Messaritaki/Serb exact single-pulse response (noise-free), for tests and fits. */
ML_API double ml_serb_step_public(const ml_device *d, double g, double v, double width);
/* Step fraction a(V, width) of the soft-bounds family (0 below threshold, clamped to 1). */
ML_API double ml_softbounds_alpha(double a, double v0, double v_th, double t_ref, double v, double width);

/* A population of devices. Arrays are owned; length n. */
typedef struct ml_population {
    ml_device dev;              /* spec copy */
    size_t n;
    uint64_t seed;
    uint64_t base;              /* global index of device 0 (random streams are base + i) */
    double *g;                  /* true conductance (S) */
    double *g_min, *g_max, *a_p, *a_d, *v0_p, *v0_d, *g_inf_p, *g_inf_d; /* per device */
    uint32_t *npulse;           /* pulses applied so far (RNG counter) */
    uint32_t *nread;            /* reads so far (RNG counter) */
    double *t_idle;             /* time since the last pulse (s), for relaxation */
    double *g_end;              /* conductance right after the last pulse (S) */
} ml_population;

/* Create n devices; D2D parameters drawn from seed; all start at their g_min (reset). */
ML_API ml_status ml_population_new(const ml_device *d, size_t n, uint64_t seed, ml_population **out, ml_error *err);
/* The same for devices base .. base+n-1 of a larger population (identical draws to the
 * corresponding devices of one big population): for programming networks in chunks. */
ML_API ml_status ml_population_new_at(const ml_device *d, size_t n, uint64_t base, uint64_t seed, ml_population **out,
                               ml_error *err);
ML_API void ml_population_free(ml_population *p);
ML_API ml_devparams ml_population_params(const ml_population *p, size_t i);
/* Reset every device to its g_min (a strong reset pulse; counters keep running). */
ML_API void ml_population_reset(ml_population *p);

/* One pulse (v, width) on device i (with C2C noise); returns the new true G. */
ML_API double ml_pulse1(ml_population *p, size_t i, double v, double width);
/* One pulse on devices [0, n): per-device v[] and width[] (either may be NULL to use
 * v0/w0 for all). Threaded with OpenMP; results independent of thread count. */
ML_API void ml_pulse_all(ml_population *p, const double *v, const double *width, double v0, double w0);
/* One pulse (v, width) on devices [i0, i1), in the calling thread (vectorised for the
 * soft-bounds family; callers split ranges across threads). Same results as ml_pulse1. */
ML_API void ml_pulse_range(ml_population *p, size_t i0, size_t i1, double v, double width);
/* A train of k pulses (v[q] volts, width[q] seconds, q = 0..k-1) on devices [i0, i1), in the
 * calling thread: device i receives the first count[i - i0] pulses of the train (count NULL:
 * all k); pulses below v_th change nothing but still advance the device's pulse counter.
 * Soft-bounds and NeuroSim devices run a float32 kernel with the state in vector registers
 * (devices across SIMD lanes, pulses inside), the same step as ml_pulse1 to float precision
 * (|error| < 1e-5 of the window after 2,048 pulses), with its own C2C draws: pulse t of
 * device i takes Gaussians from Philox(seed, base + i, t / 4, ML_RNG_C2C_TRAIN) (t / 2 with
 * additive noise), so the outcome is the same bits for any split of the devices, any thread
 * count and any instruction set (AVX-512, AVX2 or baseline, chosen at run time). Other models
 * apply ml_pulse1 pulse by pulse. v and width have k entries; nothing is allocated. */
ML_API void ml_pulse_train(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int k,
                           const int *count);
/* The same on all n devices, threaded with OpenMP over fixed blocks (count: n entries or NULL). */
ML_API void ml_pulse_train_all(ml_population *p, const double *v, const double *width, int k, const int *count);
/* Trains with a read after every pulse, each device its own pulse: device i (i0 <= i < i1,
 * j = i - i0) receives len pulses of v[j] volts and width[j] seconds, each followed by one noisy
 * read, written pulse-major: read[k * (i1 - i0) + j] after pulse k (S), and the true conductance
 * g_true[q * (i1 - i0) + j] before the train (q = 0) and after pulse q (q = 1..len), so g_true
 * has len + 1 rows. A device with width[j] <= 0 is left alone (its entries NAN, its counters
 * unchanged). Soft-bounds and NeuroSim devices run ml_pulse_train's float32 kernel (the same
 * C2C draws, so the states equal ml_pulse_train's for the same pulses) with read noise from
 * Philox(seed, base + i, r / 4, ML_RNG_READ_TRAIN) for read r of the device (r / 2 when it has
 * both relative and absolute read noise) by the same float Box-Muller; results are the same bits
 * for any split of the devices and any instruction set. Other models apply ml_pulse1 and
 * ml_read1. In the calling thread; nothing is allocated. */
ML_API void ml_pulse_train_read(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int len,
                                double *read, double *g_true);
/* Name of the instruction set ml_pulse_train runs on this CPU (static string). */
ML_API const char *ml_pulse_train_isa(void);
/* One noisy read of device i (true state unchanged). */
ML_API double ml_read1(ml_population *p, size_t i);
/* Read all devices into out[n]. */
ML_API void ml_read_all(ml_population *p, double *out);
/* Let every device relax for dt seconds after its last pulse. */
ML_API void ml_relax_all(ml_population *p, double dt);

/* Energy of one pulse, ohmic approximation V^2 G t (J). */
static inline double ml_pulse_energy(double v, double g, double width) { return v * v * g * width; }

/* Table model from one-pulse responses (g0 -> g1 under v, w); owned by *out. */
ML_API ml_status ml_table_from_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                              double gmin, double gmax, ml_dev_table **out, ml_error *err);

/* NeuroSim normalised A parameter for a nonlinearity label (table from formula.cpp,
 * NL 0.01..9 step 0.01, negative for depression); and its inverse (NL from A/Pmax). */
ML_API double ml_neurosim_param_a(double nl);
ML_API double ml_neurosim_nl_from_a(double a_norm);

#ifdef __cplusplus
}
#endif
#endif
