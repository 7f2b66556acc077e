/* The library's one allocation hook (internal, not exported): every allocation in src/
 * outside the CLI goes through these, so tests can make the Nth one fail (SQLite style).
 * They call the C library's allocator, so sanitizers still see every block. */
#ifndef ML_CORE_ALLOC_H
#define ML_CORE_ALLOC_H
#include <stddef.h>

void *ml__malloc(size_t n);
void *ml__calloc(size_t n, size_t size);
/* On failure p is untouched (and still owned by the caller). */
void *ml__realloc(void *p, size_t n);
void *ml__aligned_alloc(size_t align, size_t n);
char *ml__strdup(const char *s);
void ml__free(void *p);

/* Test only (tests/test_oom.c). Counting starts anew: the allocation with index k
 * (0-based, in call order) from now on fails, once; k < 0 turns injection off.
 * Allocations made concurrently from several threads are counted in the order they
 * happen, so a test runs its workload on one thread for a repeatable k. */
void ml__alloc_fail_at(long k);
/* Whether the injected failure has happened since the last ml__alloc_fail_at. */
int ml__alloc_fault_hit(void);
/* Blocks from the hook not yet freed through it (a leak check between two points). */
long ml__alloc_live(void);

#endif
