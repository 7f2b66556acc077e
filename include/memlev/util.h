/* Small shared utilities: atomic output files, the progress callback type, file reading,
 * sorting and a clock.
 * Thread safety: no shared state; an ml_outfile belongs to one thread at a time. */
#ifndef MEMLEV_UTIL_H
#define MEMLEV_UTIL_H
#include "memlev/api.h"

#include <stdio.h>
#include <stddef.h>
#include "memlev/api.h"
#include "memlev/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output written to "<path>.tmp.<pid>" and renamed over path on commit, so a reader
 * never sees a half-written file. */
typedef struct ml_outfile {
    FILE *fp;
    char path[4096];
    char tmp[4160];
} ml_outfile;

ML_API ml_status ml_outfile_open(ml_outfile *o, const char *path, int binary, ml_error *err);
/* Flush, close and rename; on any failure the temp file is removed. */
ML_API ml_status ml_outfile_commit(ml_outfile *o, ml_error *err);
/* Close and remove the temp file (error paths). Safe to call twice. */
ML_API void ml_outfile_abort(ml_outfile *o);
/* Write a whole NUL-terminated string atomically. */
ML_API ml_status ml_write_text_atomic(const char *path, const char *text, ml_error *err);

/* Progress callback through which long library calls report: label names the stage
 * ("transfer", "inference", ...), done of total units are finished. Called on the calling
 * thread, between units of work; ctx is the caller's. The library never draws progress
 * itself: the command-line tool passes a callback that draws a bar. A NULL callback means
 * no reports. */
typedef void (*ml_progress_fn)(void *ctx, const char *label, double done, double total);

/* Read a whole file (NUL-terminated, *len excludes the NUL) of at most max_bytes;
 * caller frees *buf. Errors name the file. */
ML_API ml_status ml_read_file(const char *path, char **buf, size_t *len, size_t max_bytes, ml_error *err);

/* Free memory the library handed to the caller with "free()" in its contract (JSON text
 * of ml_device_to_json, ml_levels_result_json, ...), for callers that do not share this
 * library's C runtime (bindings). NULL is fine. */
ML_API void ml_free(void *p);

/* Sort n doubles ascending (in place). */
ML_API void ml_sort_doubles(double *v, size_t n);

/* Monotonic wall clock in seconds. */
ML_API double ml_now(void);

#ifdef __cplusplus
}
#endif
#endif
