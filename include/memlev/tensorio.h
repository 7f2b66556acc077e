/* Writers for standard tensor files: safetensors (one file, many tensors) and NumPy .npy.
 * Both write atomically (temporary file, then rename).
 * Thread safety: no shared state; writes to different paths may run concurrently. */
#ifndef MEMLEV_TENSORIO_H
#define MEMLEV_TENSORIO_H
#include "memlev/api.h"
#include <stddef.h>
#include <stdint.h>
#include "memlev/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml_tensor_out {
    const char *name;
    int ndim;
    int64_t dims[4];
    const double *data;   /* written as little-endian float64 ("F64", "<f8") */
} ml_tensor_out;

ML_API ml_status ml_safetensors_write(const char *path, const ml_tensor_out *t, size_t n, ml_error *err);
ML_API ml_status ml_npy_write(const char *path, const ml_tensor_out *t, ml_error *err);

#ifdef __cplusplus
}
#endif
#endif
