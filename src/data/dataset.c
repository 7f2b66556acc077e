/* Data sets: allocation, and loading by name or path (Fashion-MNIST, IDX folders, CIFAR-10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/alloc.h"
#include "memlev/data.h"

ml_status ml_dataset_new(size_t n, int c, int h, int w, ml_dataset **out, ml_error *err)
{
    if (n == 0 || c <= 0 || h <= 0 || w <= 0 || c > 64 || h > 65536 || w > 65536)
        return ml_error_set(err, ML_EINVAL, "data set: bad size %zu x %d x %d x %d", n, c, h, w);
    size_t per = (size_t)c * h * w;
    if (n > ((size_t)1 << 40) / per)
        return ml_error_set(err, ML_ENOMEM, "data set: %zu images of %zu pixels is too large", n, per);
    ml_dataset *d = ml__calloc(1, sizeof *d);
    if (!d) return ml_error_set(err, ML_ENOMEM, "data set: out of memory");
    d->images = ml__calloc(n * per, sizeof(float));
    d->labels = ml__calloc(n, 1);
    if (!d->images || !d->labels) {
        ml_dataset_free(d);
        return ml_error_set(err, ML_ENOMEM, "data set: out of memory for %zu images", n);
    }
    d->n = n; d->c = c; d->h = h; d->w = w;
    d->classes = 10;
    *out = d;
    return ML_OK;
}

void ml_dataset_free(ml_dataset *ds)
{
    if (!ds) return;
    ml__free(ds->images);
    ml__free(ds->labels);
    ml__free(ds);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* images/labels of an IDX folder, with or without .gz */
static ml_status idx_folder(const char *dir, int train, ml_dataset **out, ml_error *err)
{
    const char *split = train ? "train" : "t10k";
    char im[4096], lb[4096];
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(im, sizeof im, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
        snprintf(lb, sizeof lb, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
        if (exists(im)) return ml_idx_load(im, lb, out, err);
    }
    return ml_error_set(err, ML_EIO, "%s: no %s-images-idx3-ubyte[.gz] (is dataset-fashion-mnist installed?)", dir, split);
}

ml_status ml_dataset_load(const char *name, int train, ml_dataset **out, ml_error *err)
{
    ml_status st;
    if (!strcmp(name, "fashion-mnist")) {
        st = idx_folder(ML_FASHION_MNIST_DIR, train, out, err);
        if (!st) snprintf((*out)->name, sizeof (*out)->name, "fashion-mnist");
        return st;
    }
    const char *dir = !strncmp(name, "cifar10:", 8) ? name + 8 : name;
    if (is_dir(dir)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/test_batch.bin", dir);
        if (exists(p)) {
            char b[5][4096];
            const char *paths[5];
            int np = 0;
            if (train)
                for (int k = 1; k <= 5; k++) { snprintf(b[np], sizeof b[np], "%s/data_batch_%d.bin", dir, k); paths[np] = b[np]; np++; }
            else { snprintf(b[0], sizeof b[0], "%s", p); paths[0] = b[0]; np = 1; }
            st = ml_cifar_load(paths, np, out, err);
            if (!st) snprintf((*out)->name, sizeof (*out)->name, "cifar10");
            return st;
        }
        st = idx_folder(dir, train, out, err);
        if (!st) {
            const char *base = strrchr(dir, '/');
            snprintf((*out)->name, sizeof (*out)->name, "%s", base && base[1] ? base + 1 : dir);
        }
        return st;
    }
    return ml_error_set(err, ML_EINVAL, "data '%s': not fashion-mnist, a CIFAR-10 folder (cifar10:DIR) or an IDX folder", name);
}
