/* Training checkpoints: the whole state ml_net_train needs to continue bit-identically
 * (tensor data, momentum buffers, the options that decide the result, the position),
 * in one binary file written atomically and guarded by a checksum.
 *
 * Layout (host byte order, identified by the marker 0x01020304):
 *   "MLCKPT\0\1", u32 marker,
 *   u32 epochs, u32 batch, i32 pad, i32 flip | precision << 8, u64 seed, u64 images, u64 batches per epoch,
 *   f64 lr, momentum, weight decay, warm-up epochs,
 *   u32 epoch, u64 next batch, f64 loss sum of the epoch so far, f64 last accuracy,
 *   u32 tensor count, per tensor: u32 name length, name, u32 ndim, i64 dims[ndim],
 *   u32 has momentum, f32 data[numel], f32 momentum[numel] if it has one,
 *   u64 FNV-1a hash of every byte before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "nn/checkpoint.h"
#include "nn/internal.h"

static const char MAGIC[8] = {'M', 'L', 'C', 'K', 'P', 'T', 0, 1};
#define MARKER 0x01020304u
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

/* ---- writing ---- */

typedef struct wr { FILE *fp; uint64_t h; int bad; } wr;

static void put(wr *w, const void *p, size_t n)
{
    if (w->bad || !n) return;
    if (fwrite(p, 1, n, w->fp) != n) w->bad = 1;
    w->h = fnv(w->h, p, n);
}

static void put_u32(wr *w, uint32_t v) { put(w, &v, sizeof v); }
static void put_u64(wr *w, uint64_t v) { put(w, &v, sizeof v); }
static void put_f64(wr *w, double v) { put(w, &v, sizeof v); }

ml_status ml__ckpt_save(const char *path, const ml_net *net, const ml_train_opts *o, size_t n, size_t nb,
                       float *const *vel, const ml_train_pos *pos, ml_error *err)
{
    ml_outfile of;
    ml_status st = ml_outfile_open(&of, path, 1, err);
    if (st) return st;
    wr w = {of.fp, FNV_OFFSET, 0};
    put(&w, MAGIC, sizeof MAGIC);
    put_u32(&w, MARKER);
    put_u32(&w, (uint32_t)o->epochs);
    put_u32(&w, (uint32_t)o->batch);
    put_u32(&w, (uint32_t)o->augment_pad);
    put_u32(&w, (uint32_t)o->augment_flip | (uint32_t)o->precision << 8); /* 0 before bf16: fp32 */
    put_u64(&w, o->seed);
    put_u64(&w, n);
    put_u64(&w, nb);
    put_f64(&w, o->lr);
    put_f64(&w, o->momentum);
    put_f64(&w, o->weight_decay);
    put_f64(&w, o->warmup_epochs);
    put_u32(&w, (uint32_t)pos->epoch);
    put_u64(&w, pos->batch);
    put_f64(&w, pos->loss_sum);
    put_f64(&w, pos->acc);
    uint32_t cnt = 0;
    for (int t = 0; t < net->ntensors; t++) cnt += net->tensors[t].data != NULL;
    put_u32(&w, cnt);
    for (int t = 0; t < net->ntensors; t++) {
        const ml_tensor *T = &net->tensors[t];
        if (!T->data) continue;
        size_t len = strlen(T->name), m = ml_tensor_numel(T);
        put_u32(&w, (uint32_t)len);
        put(&w, T->name, len);
        put_u32(&w, (uint32_t)T->ndim);
        put(&w, T->dims, (size_t)T->ndim * sizeof T->dims[0]);
        put_u32(&w, vel[t] != NULL);
        put(&w, T->data, m * sizeof(float));
        if (vel[t]) put(&w, vel[t], m * sizeof(float));
    }
    uint64_t h = w.h;
    put_u64(&w, h);
    if (w.bad) {
        int e = errno;
        ml_outfile_abort(&of);
        return ml_error_set(err, ML_EIO, "%s: cannot write checkpoint: %s", path, strerror(e));
    }
    return ml_outfile_commit(&of, err);
}

/* ---- reading ---- */

typedef struct rd { const unsigned char *p, *end; } rd;

static int get(rd *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n) return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

/* The file's bytes after checking magic, marker and checksum; *len excludes the hash. */
static ml_status read_verified(const char *path, unsigned char **buf, size_t *len, ml_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ml_error_set(err, ML_EIO, "%s: cannot open checkpoint: %s", path, strerror(errno));
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ml_error_set(err, ML_EIO, "%s: cannot read checkpoint", path);
    }
    unsigned char *b = ml__malloc(sz > 0 ? (size_t)sz : 1);
    if (!b) { fclose(f); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
    size_t got = fread(b, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) { ml__free(b); return ml_error_set(err, ML_EIO, "%s: cannot read checkpoint", path); }
    uint32_t marker;
    uint64_t h;
    if ((size_t)sz < sizeof MAGIC + 4 + 8 || memcmp(b, MAGIC, sizeof MAGIC)) {
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: not a memlev training checkpoint", path);
    }
    memcpy(&marker, b + sizeof MAGIC, 4);
    memcpy(&h, b + sz - 8, 8);
    if (marker != MARKER) {
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: checkpoint written on a machine of other byte order", path);
    }
    if (fnv(FNV_OFFSET, b, (size_t)sz - 8) != h) {
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: corrupt checkpoint (checksum mismatch)", path);
    }
    *buf = b;
    *len = (size_t)sz - 8;
    return ML_OK;
}

typedef struct hdr {
    uint32_t epochs, batch, pad, flip;
    uint64_t seed, n, nb;
    double lr, momentum, wd, warmup;
    uint32_t epoch;
    uint64_t next;
    double loss_sum, acc;
    uint32_t ntens;
} hdr;

static int get_hdr(rd *r, hdr *h)
{
    r->p += sizeof MAGIC + 4;
    return get(r, &h->epochs, 4) || get(r, &h->batch, 4) || get(r, &h->pad, 4) || get(r, &h->flip, 4) ||
           get(r, &h->seed, 8) || get(r, &h->n, 8) || get(r, &h->nb, 8) || get(r, &h->lr, 8) ||
           get(r, &h->momentum, 8) || get(r, &h->wd, 8) || get(r, &h->warmup, 8) || get(r, &h->epoch, 4) ||
           get(r, &h->next, 8) || get(r, &h->loss_sum, 8) || get(r, &h->acc, 8) || get(r, &h->ntens, 4);
}

ml_status ml_checkpoint_info_read(const char *path, ml_checkpoint_info *info, ml_error *err)
{
    unsigned char *b;
    size_t len;
    ml_status st = read_verified(path, &b, &len, err);
    if (st) return st;
    rd r = {b, b + len};
    hdr h;
    if (get_hdr(&r, &h) || h.epoch > h.epochs || h.next >= (h.nb ? h.nb : 1)) {
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: corrupt checkpoint (header)", path);
    }
    info->epoch = (int)h.epoch;
    info->epochs = (int)h.epochs;
    info->batch = h.next;
    info->batches = h.nb;
    ml__free(b);
    return ML_OK;
}

/* The first option of this run that differs from the checkpoint's, or NULL. */
static const char *mismatch(const hdr *h, const ml_train_opts *o, size_t n, size_t nb, char *why, size_t wn)
{
#define CHK_I(name, a, b) if ((uint64_t)(a) != (uint64_t)(b)) { snprintf(why, wn, "%s is %llu in the checkpoint, %llu in this run", name, (unsigned long long)(a), (unsigned long long)(b)); return why; }
#define CHK_D(name, a, b) if ((a) != (b)) { snprintf(why, wn, "%s is %g in the checkpoint, %g in this run", name, (a), (b)); return why; }
    CHK_I("epochs", h->epochs, o->epochs)
    CHK_I("batch", h->batch, o->batch)
    CHK_I("images", h->n, n)
    CHK_I("batches per epoch", h->nb, nb)
    CHK_I("seed", h->seed, o->seed)
    CHK_I("pad", h->pad, (uint32_t)o->augment_pad)
    CHK_I("flip", h->flip & 0xff, (uint32_t)o->augment_flip)
    CHK_I("precision (0 fp32, 1 bf16)", h->flip >> 8, (uint32_t)o->precision)
    CHK_D("lr", h->lr, o->lr)
    CHK_D("momentum", h->momentum, o->momentum)
    CHK_D("weight decay", h->wd, o->weight_decay)
    CHK_D("warm-up", h->warmup, o->warmup_epochs)
#undef CHK_I
#undef CHK_D
    return NULL;
}

ml_status ml__ckpt_load(const char *path, ml_net *net, const ml_train_opts *o, size_t n, size_t nb,
                       float **vel, ml_train_pos *pos, ml_error *err)
{
    unsigned char *b;
    size_t len;
    ml_status st = read_verified(path, &b, &len, err);
    if (st) return st;
    rd r = {b, b + len};
    hdr h;
    char why[512];
    const char *bad = NULL;
    const unsigned char **src = ml__calloc((size_t)net->ntensors, sizeof *src);
    if (!src) { ml__free(b); return ml_error_set(err, ML_ENOMEM, "%s: out of memory", path); }
    uint32_t want = 0;
    for (int t = 0; t < net->ntensors; t++) want += net->tensors[t].data != NULL;
    if (get_hdr(&r, &h)) bad = "corrupt checkpoint (header)";
    else if ((bad = mismatch(&h, o, n, nb, why, sizeof why))) {}
    else if (h.epoch > h.epochs || h.next >= nb) bad = "corrupt checkpoint (position)";
    else if (h.ntens != want) {
        snprintf(why, sizeof why, "%u tensors in the checkpoint, %u in the model", h.ntens, want);
        bad = why;
    }
    /* First pass: check every record against the model, remembering where its data is. */
    for (uint32_t k = 0; k < h.ntens && !bad; k++) {
        uint32_t nl, nd, hv;
        int64_t dims[ML_MAX_DIMS];
        char name[256];
        if (get(&r, &nl, 4) || nl >= sizeof name || get(&r, name, nl)) { bad = "corrupt checkpoint (tensor name)"; break; }
        name[nl] = 0;
        int t = ml_net_find_tensor(net, name);
        const ml_tensor *T = t >= 0 ? &net->tensors[t] : NULL;
        if (!T || !T->data || src[t]) {
            snprintf(why, sizeof why, "tensor '%s' is not a parameter of this model", name);
            bad = why;
            break;
        }
        if (get(&r, &nd, 4) || nd > ML_MAX_DIMS || get(&r, dims, nd * sizeof dims[0]) || get(&r, &hv, 4)) {
            bad = "corrupt checkpoint (tensor header)";
            break;
        }
        if ((int)nd != T->ndim || memcmp(dims, T->dims, nd * sizeof dims[0]) || (hv != 0) != (vel[t] != NULL)) {
            snprintf(why, sizeof why, "tensor '%s' has another shape or role in this model", name);
            bad = why;
            break;
        }
        size_t bytes = ml_tensor_numel(T) * sizeof(float) * (hv ? 2 : 1);
        if ((size_t)(r.end - r.p) < bytes) { bad = "corrupt checkpoint (truncated tensor)"; break; }
        src[t] = r.p;
        r.p += bytes;
    }
    if (!bad && r.p != r.end) bad = "corrupt checkpoint (trailing bytes)";
    if (bad) {
        ml__free(src);
        ml__free(b);
        return ml_error_set(err, ML_EFORMAT, "%s: %s", path, bad);
    }
    /* Second pass: everything matched, so copy. */
    for (int t = 0; t < net->ntensors; t++) {
        if (!src[t]) continue;
        size_t m = ml_tensor_numel(&net->tensors[t]);
        memcpy(net->tensors[t].data, src[t], m * sizeof(float));
        if (vel[t]) memcpy(vel[t], src[t] + m * sizeof(float), m * sizeof(float));
    }
    pos->epoch = (int)h.epoch;
    pos->batch = h.next;
    pos->loss_sum = h.loss_sum;
    pos->acc = h.acc;
    ml__free(src);
    ml__free(b);
    return ML_OK;
}
