/* Image data sets for the network engine: MNIST-format IDX (optionally gzip), CIFAR-10
 * binary, and the training-time augmentation (random crop with padding, flip).
 * Thread safety: a loaded ml_dataset is read-only, so any number of threads may read
 * one at once; loading and freeing different data sets may run concurrently. */
#ifndef MEMLEV_DATA_H
#define MEMLEV_DATA_H
#include "memlev/api.h"

#include "memlev/api.h"
#include <stddef.h>
#include <stdint.h>
#include "memlev/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n images, NCHW float32 scaled to [0,1], one uint8 label each. Owns both arrays. */
typedef struct ml_dataset {
    size_t n;
    int c, h, w;
    int classes;        /* number of classes (max label + 1, at least 10 for the known sets) */
    float *images;      /* n * c * h * w */
    uint8_t *labels;    /* n */
    char name[64];      /* "fashion-mnist", "cifar10", or the file stem */
} ml_dataset;

/* Directory of the Debian dataset-fashion-mnist package. */
#define ML_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Load a data set by name or path; train != 0 selects the training split.
 *  "fashion-mnist"      -> ML_FASHION_MNIST_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
 *  "cifar10:DIR" or a directory holding data_batch_1.bin / test_batch.bin -> CIFAR-10 binary
 *  a directory holding {train,t10k}-images-idx3-ubyte[.gz] -> IDX pair
 * *out is owned by the caller (ml_dataset_free). Errors: ML_EIO (missing file),
 * ML_EFORMAT (malformed file, message names it), ML_ENOMEM, ML_EINVAL (unknown name). */
ML_API ml_status ml_dataset_load(const char *name_or_path, int train, ml_dataset **out, ml_error *err);

/* Load an IDX image file (magic 0x00000803, u8, dims n,h,w) and an IDX label file
 * (0x00000801, u8, n) into one data set with c = 1; both may be gzip-compressed. */
ML_API ml_status ml_idx_load(const char *images_path, const char *labels_path, ml_dataset **out, ml_error *err);

/* The same from bytes in memory (already decompressed); names are used in errors. */
ML_API ml_status ml_idx_parse(const unsigned char *images, size_t ilen, const unsigned char *labels, size_t llen,
                       const char *images_name, const char *labels_name, ml_dataset **out, ml_error *err);

/* Load CIFAR-10 binary batches (each record: label byte + 3072 bytes CHW). paths[] lists
 * the batch files; they are concatenated in order. */
ML_API ml_status ml_cifar_load(const char *const *paths, int npaths, ml_dataset **out, ml_error *err);

/* Allocate an empty data set of n images of c x h x w (contents zero). */
ML_API ml_status ml_dataset_new(size_t n, int c, int h, int w, ml_dataset **out, ml_error *err);
ML_API void ml_dataset_free(ml_dataset *ds);

/* Pointer to image i (c*h*w floats). */
static inline const float *ml_dataset_image(const ml_dataset *ds, size_t i)
{
    return ds->images + i * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
}

/* Augment one image: copy src (c x h x w) to dst shifted by a random offset in
 * [-pad, pad] on each axis (zero fill, i.e. crop from the zero-padded image) and, when
 * flip is set, mirrored horizontally with probability 1/2. The draws are a pure
 * function of (seed, index, epoch) via rng.h (purpose ML_RNG_DATA). */
ML_API void ml_augment(const float *src, float *dst, int c, int h, int w, int pad, int flip,
                uint64_t seed, uint64_t index, uint32_t epoch);

/* Seeded permutation of 0..n-1 for one epoch (Fisher-Yates on rng.h draws). */
ML_API void ml_shuffle(size_t *perm, size_t n, uint64_t seed, uint32_t epoch);

#ifdef __cplusplus
}
#endif
#endif
