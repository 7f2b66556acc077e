/* Report: reads memlev result files (levels and transfer JSON), draws plots (PNG and SVG
 * through PLplot's cairo drivers) and writes a self-contained index.html beside them.
 * Not thread-safe: PLplot keeps global state, so call it from one thread at a time. */
#ifndef MEMLEV_REPORT_H
#define MEMLEV_REPORT_H
#include "memlev/api.h"

#include <stddef.h>
#include "memlev/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ml_result_kind {
    ML_RESULT_LEVELS = 1,   /* memlev levels --json: staircase, states, nonlinearity, cost */
    ML_RESULT_TRANSFER = 2, /* memlev transfer --json: accuracy vs levels per scheme */
    ML_RESULT_SWEEP = 3,    /* memlev sweep --json: a grid of transfer or levels points */
    ML_RESULT_FIT = 4       /* memlev calibrate --report: fit quality, measured vs fitted trains */
} ml_result_kind;

/* Collected results (opaque). */
typedef struct ml_report ml_report;

typedef struct ml_report_opts {
    int svg;                /* also write an SVG of every plot (default 1) */
    int width_px, height_px;/* PNG size of a single-panel plot (default 900 x 560) */
    const char *title;      /* page title; NULL (the default): "memlev report: MODEL on DEVICE",
                               naming the models and devices the result files name */
} ml_report_opts;

ML_API void ml_report_opts_defaults(ml_report_opts *o);

ML_API ml_status ml_report_new(ml_report **out, ml_error *err);
/* Frees everything; accepts NULL. */
ML_API void ml_report_free(ml_report *r);

/* Read one result file and detect its kind by its keys (levels: "staircase" and
 * "states"; transfer: "baseline_accuracy" and "points"; sweep: "points" and a "config"
 * with "levels_only"). Errors name the file and the field. *kind (may be NULL) receives
 * the kind. */
ML_API ml_status ml_report_add_file(ml_report *r, const char *path, ml_result_kind *kind, ml_error *err);
/* The same from JSON text; src names it in messages. */
ML_API ml_status ml_report_add_json(ml_report *r, const char *text, const char *src, ml_result_kind *kind, ml_error *err);

/* Write plots and index.html into dir (created if missing; its parent must exist).
 * Every file is written to a temporary name and renamed into place. */
ML_API ml_status ml_report_write(ml_report *r, const char *dir, const ml_report_opts *o, ml_error *err);

/* Files written by the last ml_report_write (paths inside dir, index.html last);
 * owned by the report. */
ML_API size_t ml_report_nfiles(const ml_report *r);
ML_API const char *ml_report_file(const ml_report *r, size_t i);

#ifdef __cplusplus
}
#endif
#endif
