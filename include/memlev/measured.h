/* Measured pulse-response data (CSV with columns device, pulse, V, width, G_read; extra
 * columns such as tag are ignored) and model fits from it.
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

typedef struct ml_measured {
    size_t n;
    long *device, *pulse;
    double *v, *width, *g;   /* V, s, S */
} ml_measured;

ML_API ml_status ml_measured_load(const char *path, ml_measured **out, ml_error *err);
/* The same from text in memory (len bytes, need not be NUL-terminated); path names it in errors. */
ML_API ml_status ml_measured_parse(const char *text, size_t len, const char *path, ml_measured **out, ml_error *err);
ML_API void ml_measured_free(ml_measured *m);
/* Fit a device model ("softbounds" or "table") to the data; src names the file in errors. */
ML_API ml_status ml_measured_fit(const ml_measured *m, const char *model, const char *src, ml_device *out, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
