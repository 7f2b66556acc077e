/* The allocation hook: the C library's allocator plus a counter that can fail the Nth
 * call (out-of-memory tests) and a count of live blocks. The counters are atomics, so
 * the hook is safe from the engine's OpenMP threads. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"

static long g_next;       /* allocations since ml__alloc_fail_at */
static long g_fail = -1;  /* index of the allocation to fail, < 0: none */
static int g_hit;
static long g_live;

/* 1 when this allocation is the one to fail. */
static int fault(void)
{
    if (__atomic_load_n(&g_fail, __ATOMIC_RELAXED) < 0)
        return 0;
    long k = __atomic_fetch_add(&g_next, 1, __ATOMIC_RELAXED);
    if (k != __atomic_load_n(&g_fail, __ATOMIC_RELAXED))
        return 0;
    __atomic_store_n(&g_hit, 1, __ATOMIC_RELAXED);
    return 1;
}

static void *counted(void *p)
{
    if (p)
        __atomic_fetch_add(&g_live, 1, __ATOMIC_RELAXED);
    return p;
}

void *ml__malloc(size_t n) { return fault() ? NULL : counted(malloc(n)); }

void *ml__calloc(size_t n, size_t size) { return fault() ? NULL : counted(calloc(n, size)); }

void *ml__aligned_alloc(size_t align, size_t n) { return fault() ? NULL : counted(aligned_alloc(align, n)); }

void *ml__realloc(void *p, size_t n)
{
    if (fault())
        return NULL;
    void *q = realloc(p, n);
    if (!p)
        counted(q);
    return q;
}

char *ml__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ml__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void ml__free(void *p)
{
    if (!p)
        return;
    __atomic_fetch_sub(&g_live, 1, __ATOMIC_RELAXED);
    free(p);
}

void ml__alloc_fail_at(long k)
{
    __atomic_store_n(&g_fail, -1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_hit, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_fail, k, __ATOMIC_RELAXED);
}

int ml__alloc_fault_hit(void) { return __atomic_load_n(&g_hit, __ATOMIC_RELAXED); }

long ml__alloc_live(void) { return __atomic_load_n(&g_live, __ATOMIC_RELAXED); }
