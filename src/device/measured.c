/* Measured data CSV reader: header names the columns; rows are numbers. Every error names
 * the file, line and column. */
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
    ml__free(m);
}

static const char *k_cols[] = {"device", "pulse", "V", "width", "G_read"};

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
        !(m->g = ml__malloc(cap * sizeof(double)))) {
        ml_measured_free(m); ml__free(buf);
        return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    }
    int map[64];
    int ncol = 0, have[5] = {0};
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
            for (int k = 0; k < 5; k++)
                if (!strcmp(c, k_cols[k])) { map[ncol] = k; have[k]++; }
            ncol++;
        }
        for (int k = 0; k < 5 && !st; k++)
            if (have[k] != 1)
                st = ml_error_set(err, ML_EFORMAT, "%s:1: header needs exactly one '%s' column", path, k_cols[k]);
    }
    while (!st && (line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        if (line[0] == '\r' || line[0] == 0) continue;
        double val[5];
        int col = 0;
        const char *p = line;
        for (;;) {
            const char *e = p;
            while (*e && *e != ',' && *e != '\r') e++;
            if (col >= ncol) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: more fields than the header", path, lineno); break; }
            if (map[col] >= 0) {
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
        if (val[4] <= 0) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: G_read %g must be positive (siemens)", path, lineno, val[4]); break; }
        if (val[0] < 0 || val[0] > 1e12 || val[1] < 0 || val[1] > 1e15) { st = ml_error_set(err, ML_EFORMAT, "%s:%zu: device/pulse must be non-negative integers", path, lineno); break; }
        size_t i = m->n++;
        m->device[i] = (long)val[0]; m->pulse[i] = (long)val[1];
        m->v[i] = val[2]; m->width[i] = val[3]; m->g[i] = val[4];
    }
    ml__free(buf);
    if (!st && m->n < 2) st = ml_error_set(err, ML_EFORMAT, "%s: no data rows", path);
    if (st) { ml_measured_free(m); return st; }
    *out = m;
    return ML_OK;
}
