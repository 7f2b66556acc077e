/* Measured data CSV reader: header names the columns; rows are numbers (an optional tag
 * column marks resets and reads). Units, row order and device blocks are checked; every
 * error names the file, line and column. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/measured.h"
#include "memlev/util.h"

void ml_measured_free(ml_measured *m)
{
    if (!m) return;
    ml__free(m->device); ml__free(m->pulse); ml__free(m->v); ml__free(m->width); ml__free(m->g);
    ml__free(m->kind);
    ml__free(m);
}

static const char *k_cols[] = {"device", "pulse", "V", "width", "G_read", "tag"};

/* Row kind from its tag (reset/read win) or, untagged, from V and width. */
static unsigned char row_kind(const char *tag, size_t l, double v, double w)
{
    if (l == 5 && !strncmp(tag, "reset", 5)) return ML_ROW_RESET;
    if (l == 4 && !strncmp(tag, "read", 4)) return ML_ROW_READ;
    return (v == 0 || w == 0) ? ML_ROW_READ : ML_ROW_PULSE;
}

typedef struct { long dev; size_t line; } dev_block;

static int cmp_block(const void *a, const void *b)
{
    const dev_block *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Each device's rows must be contiguous (rows sorted by device, then pulse). */
static ml_status check_blocks(dev_block *b, size_t nb, const char *path, ml_error *err)
{
    qsort(b, nb, sizeof *b, cmp_block);
    for (size_t i = 1; i < nb; i++)
        if (b[i].dev == b[i - 1].dev)
            return ml_error_set(err, ML_EFORMAT,
                                "%s:%zu: rows of device %ld are not contiguous (sort the rows by device, then pulse)",
                                path, b[i].line, b[i].dev);
    return ML_OK;
}

ml_status ml_measured_load(const char *path, ml_measured **out, ml_error *err)
{
    char *buf;
    size_t len;
    ml_status st = ml_read_file(path, &buf, &len, (size_t)1 << 31, err);
    if (st) return st;
    st = ml_measured_parse(buf, len, path, out, err);
    ml__free(buf);
    return st;
}

ml_status ml_measured_parse(const char *text, size_t len, const char *path, ml_measured **out, ml_error *err)
{
    if (memchr(text, 0, len)) return ml_error_set(err, ML_EFORMAT, "%s: binary data in a CSV file", path);
    char *buf = ml__malloc(len + 1);
    if (!buf) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    memcpy(buf, text, len);
    buf[len] = 0;
    ml_status st;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    ml_measured *m = ml__calloc(1, sizeof *m);
    size_t cap = lines + 1;
    if (!m || !(m->device = ml__malloc(cap * sizeof(long))) || !(m->pulse = ml__malloc(cap * sizeof(long))) ||
        !(m->v = ml__malloc(cap * sizeof(double))) || !(m->width = ml__malloc(cap * sizeof(double))) ||
        !(m->g = ml__malloc(cap * sizeof(double))) || !(m->kind = ml__malloc(cap))) {
        ml_measured_free(m); ml__free(buf);
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    }
    int map[64];
    int ncol = 0, have[6] = {0};
    dev_block *blk = ml__malloc(cap * sizeof *blk);
    size_t nblk = 0;
    if (!blk) { ml_measured_free(m); ml__free(buf); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    size_t lineno = 1;
    st = ML_OK;
    if (!line) st = ml_error_set(err, ML_EFORMAT, "%s: empty file (needs a header: device,pulse,V,width,G_read)", path);
    else {
        char *s2 = NULL;
        for (char *c = strtok_r(line, ",\r", &s2); c; c = strtok_r(NULL, ",\r", &s2)) {
            while (*c == ' ') c++;
            if (ncol >= 64) { st = ml_error_set(err, ML_EFORMAT, "%s:1: too many columns", path); break; }
            map[ncol] = -1;
            for (int k = 0; k < 6; k++)
                if (!strcmp(c, k_cols[k])) { map[ncol] = k; have[k]++; }
            ncol++;
        }
        for (int k = 0; k < 5 && !st; k++)
            if (have[k] != 1)
                st = ml_error_set(err, ML_EFORMAT, "%s:1: header needs exactly one '%s' column", path, k_cols[k]);
        if (!st && have[5] > 1) st = ml_error_set(err, ML_EFORMAT, "%s:1: more than one 'tag' column", path);
    }
    while (!st && (line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        if (line[0] == '\r' || line[0] == 0) continue;
        double val[5];
        const char *tag = "";
        size_t taglen = 0;
        int col = 0;
        const char *p = line;
        for (;;) {
            const char *e = p;
            while (*e && *e != ',' && *e != '\r') e++;
            if (col >= ncol) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: more fields than the header", path, lineno); break; }
            if (map[col] == 5) { tag = p; taglen = (size_t)(e - p); }
            else if (map[col] >= 0) {
                char tmp[64];
                size_t l = (size_t)(e - p);
                if (l == 0 || l >= sizeof tmp) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: column %s: empty or too long", path, lineno, k_cols[map[col]]); break; }
                memcpy(tmp, p, l); tmp[l] = 0;
                char *end;
                errno = 0;
                double x = strtod(tmp, &end);
                if (errno || *end || !isfinite(x)) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: column %s: '%s' is not a finite number", path, lineno, k_cols[map[col]], tmp); break; }
                val[map[col]] = x;
            }
            col++;
            if (*e != ',') break;
            p = e + 1;
        }
        if (st) break;
        if (col != ncol) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: %d fields, header has %d", path, lineno, col, ncol); break; }
        if (val[3] < 0) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: width %g is negative", path, lineno, val[3]); break; }
        if (!(val[4] >= 1e-9 && val[4] <= 1e-2)) {
            st = ml_error_set(err, ML_EFORMAT, "%s:%zu: column G_read: %g S is outside 1 nS..10 mS (G_read is in siemens)",
                              path, lineno, val[4]);
            break;
        }
        if (val[0] < 0 || val[0] > 1e12 || val[1] < 0 || val[1] > 1e15) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: device/pulse must be non-negative integers", path, lineno); break; }
        unsigned char kind = row_kind(tag, taglen, val[2], val[3]);
        if ((kind == ML_ROW_PULSE || (kind == ML_ROW_RESET && val[3] != 0)) && !(val[3] >= 1e-9 && val[3] <= 10)) {
            st = ml_error_set(err, ML_EFORMAT, "%s:%zu: column width: %g s is outside 1 ns..10 s (width is in seconds)",
                              path, lineno, val[3]);
            break;
        }
        size_t i = m->n++;
        m->device[i] = (long)val[0]; m->pulse[i] = (long)val[1];
        m->v[i] = val[2]; m->width[i] = val[3]; m->g[i] = val[4]; m->kind[i] = kind;
        if (i == 0 || m->device[i] != m->device[i - 1]) { blk[nblk].dev = m->device[i]; blk[nblk++].line = lineno; }
        else if (m->pulse[i] <= m->pulse[i - 1]) {
            st = ml_error_set(err, ML_EFORMAT, "%s:%zu: column pulse: %ld does not exceed the previous row's %ld for device %ld "
                              "(sort the rows by device, then pulse)", path, lineno, m->pulse[i], m->pulse[i - 1], m->device[i]);
            break;
        }
    }
    ml__free(buf);
    if (!st) st = check_blocks(blk, nblk, path, err);
    ml__free(blk);
    if (!st && m->n < 2) st = ml_error_set(err, ML_EFORMAT, "%s: no data rows", path);
    if (st) { ml_measured_free(m); return st; }
    *out = m;
    return ML_OK;
}
