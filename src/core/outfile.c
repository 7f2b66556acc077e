/* Atomic output files: write to a temporary name, then rename. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "memlev/util.h"

ml_status ml_outfile_open(ml_outfile *o, const char *path, int binary, ml_error *err)
{
    memset(o, 0, sizeof *o);
    if (!path || !*path || strlen(path) >= sizeof o->path)
        return ml_error_set(err, ML_EINVAL, "output path is empty or too long");
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    o->fp = fopen(o->tmp, binary ? "wb" : "w");
    if (!o->fp)
        return ml_error_set(err, ML_EIO, "%s: cannot write: %s", path, strerror(errno));
    return ML_OK;
}

ml_status ml_outfile_commit(ml_outfile *o, ml_error *err)
{
    if (!o->fp)
        return ml_error_set(err, ML_EIO, "%s: not open", o->path);
    int bad = ferror(o->fp);
    if (fclose(o->fp) != 0)
        bad = 1;
    o->fp = NULL;
    if (bad) {
        remove(o->tmp);
        return ml_error_set(err, ML_EIO, "%s: write failed", o->path);
    }
    if (rename(o->tmp, o->path) != 0) {
        int e = errno;
        remove(o->tmp);
        return ml_error_set(err, ML_EIO, "%s: cannot rename into place: %s", o->path, strerror(e));
    }
    return ML_OK;
}

void ml_outfile_abort(ml_outfile *o)
{
    if (o->fp) {
        fclose(o->fp);
        o->fp = NULL;
        remove(o->tmp);
    }
}

ml_status ml_write_text_atomic(const char *path, const char *text, ml_error *err)
{
    ml_outfile o;
    ml_status st = ml_outfile_open(&o, path, 0, err);
    if (st)
        return st;
    if (fputs(text, o.fp) < 0) {
        ml_outfile_abort(&o);
        return ml_error_set(err, ML_EIO, "%s: write failed", path);
    }
    return ml_outfile_commit(&o, err);
}

ml_status ml_read_file(const char *path, char **buf, size_t *len, size_t max_bytes, ml_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ml_error_set(err, ML_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    char *b = ml__malloc(cap);
    if (!b) { fclose(f); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= max_bytes + 1) {
                ml__free(b); fclose(f);
                return ml_error_set(err, ML_EFORMAT, "%s: file larger than %zu bytes", path, max_bytes);
            }
            cap *= 2;
            char *nb = ml__realloc(b, cap);
            if (!nb) { ml__free(b); fclose(f); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { ml__free(b); return ml_error_set(err, ML_EIO, "%s: read error", path); }
    if (n > max_bytes) { ml__free(b); return ml_error_set(err, ML_EFORMAT, "%s: file larger than %zu bytes", path, max_bytes); }
    b[n] = 0;
    *buf = b;
    *len = n;
    return ML_OK;
}
