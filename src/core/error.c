/* Error buffer helpers. */
#include <stdarg.h>
#include <stdio.h>
#include "memlev/error.h"

ml_status ml_error_set(ml_error *err, ml_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *ml_status_str(ml_status s)
{
    switch (s) {
    case ML_OK: return "ok";
    case ML_EINVAL: return "invalid argument";
    case ML_EIO: return "i/o error";
    case ML_EFORMAT: return "malformed input";
    case ML_ENOMEM: return "out of memory";
    case ML_EUNSUPP: return "unsupported";
    }
    return "unknown error";
}
