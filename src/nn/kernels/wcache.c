/* Per-layer caches of transformed weights for inference (the built-in Winograd's G w G^T;
 * oneDNN's blocked weights use the same hash): an entry is keyed by a hash of the values it
 * was made from, so any write to the weights (weight transfer, a user's edit, a reload)
 * invalidates it without every writer having to say so. */
#include <omp.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/internal.h"

#define HBLK 65536

uint64_t ml__hash_floats(const float *v, size_t n, uint64_t h)
{
    if (!v)
        return h * 0x9E3779B97F4A7C15ull + 1;
    const size_t nblk = (n + HBLK - 1) / HBLK;
    uint64_t one, *part = nblk > 1 ? ml__malloc(nblk * sizeof *part) : &one;
    if (!part)
        return 0; /* 0 is never a stored key: forces a rebuild */
    /* fixed blocks combined in order: the hash does not depend on the thread count */
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (size_t b = 0; b < nblk; b++) {
        const size_t i1 = (b + 1) * HBLK < n ? (b + 1) * HBLK : n;
        uint64_t a[4] = {b + 1, 0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull};
        size_t i = b * HBLK;
        for (; i + 4 <= i1; i += 4)
            for (int k = 0; k < 4; k++) {
                uint32_t u;
                memcpy(&u, &v[i + k], sizeof u);
                a[k] = (a[k] ^ u) * 0x100000001B3ull;
            }
        for (; i < i1; i++) {
            uint32_t u;
            memcpy(&u, &v[i], sizeof u);
            a[0] = (a[0] ^ u) * 0x100000001B3ull;
        }
        part[b] = a[0] ^ (a[1] << 1 | a[1] >> 63) ^ (a[2] << 2 | a[2] >> 62) ^ (a[3] << 3 | a[3] >> 61);
    }
    for (size_t b = 0; b < nblk; b++)
        h = (h ^ part[b]) * 0x9E3779B97F4A7C15ull + (h >> 29);
    if (part != &one)
        ml__free(part);
    return h;
}

struct ml_wcache {
    int n;           /* entries (nodes) */
    float **buf;     /* per node, NULL when none */
    size_t *floats;  /* per node */
    uint64_t *key;   /* per node, 0 = stale */
    size_t total;    /* floats held in all */
    size_t max;      /* floats allowed in all */
    long rebuilds;   /* entries (re)made so far (tests) */
};

ml_wcache *ml__wcache_new(int n, size_t max_floats)
{
    ml_wcache *c = ml__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n;
    c->max = max_floats;
    c->buf = ml__calloc((size_t)n, sizeof *c->buf);
    c->floats = ml__calloc((size_t)n, sizeof *c->floats);
    c->key = ml__calloc((size_t)n, sizeof *c->key);
    if (!c->buf || !c->floats || !c->key) {
        ml__wcache_free(c);
        return NULL;
    }
    return c;
}

void ml__wcache_free(ml_wcache *c)
{
    if (!c)
        return;
    for (int i = 0; c->buf && i < c->n; i++)
        ml__free(c->buf[i]);
    ml__free(c->buf);
    ml__free(c->floats);
    ml__free(c->key);
    ml__free(c);
}

float *ml__wcache_get(ml_wcache *c, int node, uint64_t key, size_t floats, int *fresh)
{
    *fresh = 0;
    if (!c || node < 0 || node >= c->n || !key)
        return NULL;
    if (c->buf[node] && c->floats[node] == floats && c->key[node] == key)
        return c->buf[node];
    if (c->floats[node] != floats) {
        c->total -= c->floats[node];
        ml__free(c->buf[node]);
        c->buf[node] = NULL;
        c->floats[node] = 0;
        if (c->total + floats > c->max || !(c->buf[node] = ml__malloc(floats * sizeof(float))))
            return NULL;
        c->floats[node] = floats;
        c->total += floats;
    }
    c->key[node] = key;
    c->rebuilds++;
    *fresh = 1;
    return c->buf[node];
}

void ml__wcache_drop(ml_wcache *c, int node)
{
    if (c && node >= 0 && node < c->n)
        c->key[node] = 0;
}

long ml__wcache_rebuilds(const ml_wcache *c)
{
    return c ? c->rebuilds : 0;
}
