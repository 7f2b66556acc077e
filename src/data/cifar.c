/* CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (3 x 32 x 32, CHW). */
#include <stdio.h>
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/data.h"

#define REC 3073

ml_status ml_cifar_load(const char *const *paths, int npaths, ml_dataset **out, ml_error *err)
{
    if (npaths <= 0) return ml_error_set(err, ML_EINVAL, "cifar10: no batch files");
    size_t total = 0;
    long sizes[16];
    if (npaths > 16) return ml_error_set(err, ML_EINVAL, "cifar10: at most 16 batch files");
    for (int k = 0; k < npaths; k++) {
        FILE *f = fopen(paths[k], "rb");
        if (!f) return ml_error_set(err, ML_EIO, "%s: cannot open", paths[k]);
        if (fseek(f, 0, SEEK_END) != 0 || (sizes[k] = ftell(f)) < 0) { fclose(f); return ml_error_set(err, ML_EIO, "%s: cannot read", paths[k]); }
        fclose(f);
        if (sizes[k] == 0 || sizes[k] % REC)
            return ml_error_set(err, ML_EFORMAT, "%s: size %ld is not a multiple of the 3073-byte record", paths[k], sizes[k]);
        total += (size_t)sizes[k] / REC;
    }
    ml_dataset *d;
    ml_status st = ml_dataset_new(total, 3, 32, 32, &d, err);
    if (st) return st;
    unsigned char *rec = ml__malloc(REC);
    size_t i = 0;
    for (int k = 0; k < npaths && !st; k++) {
        FILE *f = fopen(paths[k], "rb");
        if (!f || !rec) { st = ml_error_set(err, f ? ML_ENOMEM : ML_EIO, "%s: cannot read", paths[k]); if (f) fclose(f); break; }
        for (long r = 0; r < sizes[k] / REC; r++, i++) {
            if (fread(rec, 1, REC, f) != REC) { st = ml_error_set(err, ML_EFORMAT, "%s: truncated at record %ld", paths[k], r); break; }
            if (rec[0] > 9) { st = ml_error_set(err, ML_EFORMAT, "%s: record %ld: label %d is not 0..9", paths[k], r, rec[0]); break; }
            d->labels[i] = rec[0];
            float *img = d->images + i * 3072;
            for (int p = 0; p < 3072; p++) img[p] = rec[1 + p] * (1.0f / 255.0f);
        }
        fclose(f);
    }
    ml__free(rec);
    if (st) { ml_dataset_free(d); return st; }
    snprintf(d->name, sizeof d->name, "cifar10");
    *out = d;
    return ML_OK;
}
