/* memlev status codes and the caller-owned error buffer shared by every module.
 * Thread safety: an ml_error belongs to its caller; use one per thread. */
#ifndef MEMLEV_ERROR_H
#define MEMLEV_ERROR_H
#include "memlev/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ml_status {
    ML_OK = 0,
    ML_EINVAL = 1,   /* a parameter or request is out of range */
    ML_EIO = 2,      /* a file could not be opened, read or written */
    ML_EFORMAT = 3,  /* a file is malformed */
    ML_ENOMEM = 4,   /* an allocation failed or would overflow */
    ML_EUNSUPP = 5   /* valid but not supported (unknown op, model) */
} ml_status;

/* Error message with context ("file: field: what"); owned by the caller. */
typedef struct ml_error {
    ml_status code;
    char msg[512];
} ml_error;

/* Set err (may be NULL) with a printf-style message; returns code. */
ML_API ml_status ml_error_set(ml_error *err, ml_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short English name of a status code. */
ML_API const char *ml_status_str(ml_status s);

#ifdef __cplusplus
}
#endif
#endif
