/* MNIST-format IDX reader (gzip or plain, via zlib): image files (magic 0x00000803, u8,
 * n x h x w) and label files (0x00000801, u8, n). Every size is checked before use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/alloc.h"
#include "memlev/data.h"

#define IDX_MAX_BYTES ((size_t)1 << 30)

/* Whole (possibly gzip-compressed) file into memory. */
static ml_status slurp(const char *path, unsigned char **buf, size_t *len, ml_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return ml_error_set(err, ML_EIO, "%s: cannot open", path);
    size_t cap = 1 << 20, n = 0;
    unsigned char *b = ml__malloc(cap);
    if (!b) { gzclose(f); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            if (cap >= IDX_MAX_BYTES) { ml__free(b); gzclose(f); return ml_error_set(err, ML_EFORMAT, "%s: larger than 1 GiB", path); }
            unsigned char *nb = ml__realloc(b, cap * 2);
            if (!nb) { ml__free(b); gzclose(f); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
            b = nb;
            cap *= 2;
        }
        int r = gzread(f, b + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (r < 0) { ml__free(b); gzclose(f); return ml_error_set(err, ML_EFORMAT, "%s: corrupt gzip data", path); }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    *buf = b;
    *len = n;
    return ML_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ml_status ml_idx_parse(const unsigned char *im, size_t ilen, const unsigned char *lb, size_t llen,
                       const char *iname, const char *lname, ml_dataset **out, ml_error *err)
{
    if (ilen < 16) return ml_error_set(err, ML_EFORMAT, "%s: truncated IDX header (%zu bytes)", iname, ilen);
    if (be32(im) != 0x00000803) return ml_error_set(err, ML_EFORMAT, "%s: bad magic 0x%08x (want 0x00000803, u8 images)", iname, be32(im));
    if (llen < 8) return ml_error_set(err, ML_EFORMAT, "%s: truncated IDX header (%zu bytes)", lname, llen);
    if (be32(lb) != 0x00000801) return ml_error_set(err, ML_EFORMAT, "%s: bad magic 0x%08x (want 0x00000801, u8 labels)", lname, be32(lb));
    uint64_t n = be32(im + 4), h = be32(im + 8), w = be32(im + 12), nl = be32(lb + 4);
    if (n == 0 || h == 0 || w == 0 || h > 4096 || w > 4096)
        return ml_error_set(err, ML_EFORMAT, "%s: bad dimensions %llu x %llu x %llu", iname, (unsigned long long)n,
                            (unsigned long long)h, (unsigned long long)w);
    if (n * h * w > ilen - 16)
        return ml_error_set(err, ML_EFORMAT, "%s: truncated: %llu images of %llux%llu need %llu bytes, file has %zu", iname,
                            (unsigned long long)n, (unsigned long long)h, (unsigned long long)w,
                            (unsigned long long)(n * h * w), ilen - 16);
    if (nl != n) return ml_error_set(err, ML_EFORMAT, "%s: %llu labels for %llu images", lname, (unsigned long long)nl, (unsigned long long)n);
    if (nl > llen - 8) return ml_error_set(err, ML_EFORMAT, "%s: truncated: %llu labels, file has %zu", lname, (unsigned long long)nl, llen - 8);
    ml_dataset *d;
    ml_status st = ml_dataset_new((size_t)n, 1, (int)h, (int)w, &d, err);
    if (st) return st;
    size_t px = (size_t)(n * h * w);
    for (size_t i = 0; i < px; i++) d->images[i] = im[16 + i] * (1.0f / 255.0f);
    int maxl = 0;
    for (size_t i = 0; i < n; i++) {
        d->labels[i] = lb[8 + i];
        if (lb[8 + i] > maxl) maxl = lb[8 + i];
    }
    d->classes = maxl + 1 > 10 ? maxl + 1 : 10;
    snprintf(d->name, sizeof d->name, "idx");
    *out = d;
    return ML_OK;
}

ml_status ml_idx_load(const char *images_path, const char *labels_path, ml_dataset **out, ml_error *err)
{
    unsigned char *im = NULL, *lb = NULL;
    size_t il, ll;
    ml_status st = slurp(images_path, &im, &il, err);
    if (!st) st = slurp(labels_path, &lb, &ll, err);
    if (!st) st = ml_idx_parse(im, il, lb, ll, images_path, labels_path, out, err);
    ml__free(im);
    ml__free(lb);
    return st;
}
