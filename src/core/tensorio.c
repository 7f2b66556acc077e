/* safetensors: 8-byte little-endian header size, a JSON header {name: {dtype, shape,
 * data_offsets}}, then the raw data. .npy v1.0: magic, header dict, raw data. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/tensorio.h"
#include "memlev/util.h"

static size_t numel(const ml_tensor_out *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
    return n;
}

ml_status ml_safetensors_write(const char *path, const ml_tensor_out *t, size_t n, ml_error *err)
{
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        cJSON *e = cJSON_AddObjectToObject(h, t[k].name);
        cJSON_AddStringToObject(e, "dtype", "F64");
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t[k].ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[k].dims[d]));
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        size_t bytes = numel(&t[k]) * 8;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *txt = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!txt) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    size_t hl = strlen(txt), pad = (8 - hl % 8) % 8; /* keep the data 8-byte aligned */
    ml_outfile o;
    ml_status st = ml_outfile_open(&o, path, 1, err);
    if (st) { cJSON_free(txt); return st; }
    uint64_t len = hl + pad;
    unsigned char le[8];
    for (int b = 0; b < 8; b++) le[b] = (unsigned char)(len >> (8 * b));
    fwrite(le, 1, 8, o.fp);
    fwrite(txt, 1, hl, o.fp);
    for (size_t p = 0; p < pad; p++) fputc(' ', o.fp);
    cJSON_free(txt);
    for (size_t k = 0; k < n; k++) fwrite(t[k].data, 8, numel(&t[k]), o.fp); /* x86-64/ARM: little-endian */
    return ml_outfile_commit(&o, err);
}

ml_status ml_npy_write(const char *path, const ml_tensor_out *t, ml_error *err)
{
    char shape[128] = "";
    size_t L = 0;
    for (int d = 0; d < t->ndim; d++)
        L += (size_t)snprintf(shape + L, sizeof shape - L, "%lld,%s", (long long)t->dims[d], d + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) shape[L - 1] = 0; /* "(a, b)" but "(a,)" for one dimension */
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", shape);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    ml_outfile o;
    ml_status st = ml_outfile_open(&o, path, 1, err);
    if (st) return st;
    unsigned short n = (unsigned short)(hl + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, o.fp);
    fputc(n & 0xff, o.fp);
    fputc(n >> 8, o.fp);
    fwrite(hdr, 1, (size_t)hl, o.fp);
    for (int p = 0; p < pad; p++) fputc(' ', o.fp);
    fputc('\n', o.fp);
    fwrite(t->data, 8, numel(t), o.fp);
    return ml_outfile_commit(&o, err);
}
