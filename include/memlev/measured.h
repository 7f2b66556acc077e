/* Measured pulse-response data (CSV with columns device, pulse, V, width, G_read and an
 * optional tag) and model fits from it with their quality.
 * Thread safety: no shared state; calls on different data may run concurrently, and a
 * loaded data set may be read from several threads. */
#ifndef MEMLEV_MEASURED_H
#define MEMLEV_MEASURED_H
#include "memlev/api.h"
#include <stddef.h>
#include "memlev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Row kinds: a programming pulse (G_read is the read after it), a read-only row, or a reset
 * (its G_read reads the state after the reset, but the step into it is no pulse response). */
enum { ML_ROW_PULSE = 0, ML_ROW_READ = 1, ML_ROW_RESET = 2 };

typedef struct ml_measured {
    size_t n;
    long *device, *pulse;
    double *v, *width, *g;   /* V, s, S */
    unsigned char *kind;     /* ML_ROW_* per row */
} ml_measured;

/* Load a CSV. Columns (any order, extras ignored): device, pulse, V, width, G_read and an
 * optional tag; a row tagged "reset" is a reset, "read" (or untagged with V 0 or width 0) a
 * read, anything else a pulse. Checked, each an ML_EFORMAT naming file, line and column:
 * G_read within 1 nS..10 mS (siemens), pulse and reset widths within 1 ns..10 s (seconds),
 * each device's rows contiguous with pulse numbers ascending. */
ML_API ml_status ml_measured_load(const char *path, ml_measured **out, ml_error *err);
/* The same from text in memory (len bytes, need not be NUL-terminated); path names it in errors. */
ML_API ml_status ml_measured_parse(const char *text, size_t len, const char *path, ml_measured **out, ml_error *err);
ML_API void ml_measured_free(ml_measured *m);
/* Parameters of one polarity's soft-bounds fit with standard errors (across devices where
 * there are 3 or more, else from the two halves of the pulse responses). */
typedef struct ml_fit_polarity {
    int measured;               /* 0: no pulses of this polarity (a fallback was used) */
    size_t pairs;               /* pulse responses */
    double a, a_se, v0, v0_se;  /* step scale (1), amplitude scale (V) */
    double g_far, g_far_se;     /* asymptote (S) */
} ml_fit_polarity;

#define ML_FIT_MAX_WARN 8
/* Fit quality and the noise figures separated from the data. */
typedef struct ml_fit_report {
    char law[16];               /* the law in the device: "softbounds" or "table" */
    double r2;                  /* of one-step dG against the chosen law (1 - SSR/SST) */
    double residual_rms;        /* RMS of the one-step dG residual (S) */
    double heldout_rms_softbounds, heldout_rms_table; /* fit on half the pairs, tested on the rest (S) */
    ml_fit_polarity pot, dep;
    double read_rel, read_abs;  /* read noise sigma = sqrt((read_rel G)^2 + read_abs^2) */
    double read_drift, read_drift_se; /* mean change of the read offset per read and its error (S) */
    size_t read_pairs;          /* consecutive read-only pairs used */
    double c2c;                 /* relative step noise beyond read noise and misfit */
    double d2d_a_p, d2d_a_d, d2d_g_min, d2d_g_max; /* relative spreads of per-device fits */
    int devices;                /* devices in the data */
    int nwarn;
    char warn[ML_FIT_MAX_WARN][200];
} ml_fit_report;

/* Fit a device model to the data: law "softbounds", "table" or "auto" (the one with the
 * smaller held-out one-step residual). Read noise (relative and absolute) and the read
 * offset's drift come from read-only rows; C2C from the one-step residual within narrow
 * conductance bins (local linear fits absorb misfit) beyond read noise; D2D from per-device
 * fits. Data without one polarity mirror the other and say so in rep->warn. rep may be
 * NULL. src names the file in errors. On failure *out is cleared. */
ML_API ml_status ml_measured_calibrate(const ml_measured *m, const char *law, const char *src, ml_device *out,
                                       ml_fit_report *rep, ml_error *err);
/* The fitted device d's prediction of every row of m (pred: m->n entries, S): the noise-free
 * response to the measured pulses, each run of pulses of one polarity predicted open loop from
 * the read before it (a device's first row, reads and resets take the measured read). */
ML_API ml_status ml_measured_predict(const ml_measured *m, const ml_device *d, double *pred, ml_error *err);
/* The same without a report. */
ML_API ml_status ml_measured_fit(const ml_measured *m, const char *model, const char *src, ml_device *out, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
