/* Sweep grid: point `index` in mixed radix over the axes (the last axis varies fastest) and
 * its seed, a hash of the base seed and the point's coordinates. The seed is a function of
 * what the point is, not of which rank ran it or when, so results do not depend on N. */
#include <string.h>
#include <stdlib.h>
#include "cli/sweep.h"
#include "memlev/rng.h"

/* FNV-1a, 64 bit, over the coordinate text */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

int sweep_point_make(const sweep_config *c, size_t index, sweep_point *p)
{
    memset(p, 0, sizeof *p);
    p->index = index;
    p->cfg = c;
    p->coords = cJSON_CreateObject();
    cJSON *hashed = cJSON_CreateObject();
    if (!p->coords || !hashed) goto oom;
    size_t rest = index;
    int pick[SWEEP_MAX_AXES];
    for (int i = c->naxes - 1; i >= 0; i--) {
        pick[i] = (int)(rest % (size_t)c->axes[i].n);
        rest /= (size_t)c->axes[i].n;
    }
    uint64_t base = 0;
    for (int i = 0; i < c->naxes; i++) {
        const sweep_axis *a = &c->axes[i];
        const cJSON *v = cJSON_GetArrayItem(a->values, pick[i]);
        cJSON *d = cJSON_Duplicate(v, 1);
        if (!d) goto oom;
        cJSON_AddItemToObject(p->coords, a->out, d);
        if (a->seeded && !cJSON_AddItemToObject(hashed, a->key, cJSON_Duplicate(v, 1))) goto oom;
        if (!strcmp(a->key, "seed")) base = (uint64_t)v->valuedouble;
        if (!strcmp(a->key, "devices")) p->dev = &c->devs[pick[i]];
    }
    /* seed and trials stay out of the hash: trials t of a point use ml_seed_mix(seed, t), so a
     * point run with more trials extends the same sequence; batch does not change results */
    char *txt = cJSON_PrintUnformatted(hashed);
    if (!txt) goto oom;
    /* 49 bits so that the seed survives a JSON number exactly: cJSON prints 15 significant
     * digits whenever they parse back within a rounding error, which holds every integer
     * below 10^15 but not all 53-bit ones */
    p->seed = ml_seed_mix(base, fnv1a(txt)) & ((1ull << 49) - 1);
    free(txt);
    cJSON_Delete(hashed);
    return 0;
oom:
    cJSON_Delete(hashed);
    sweep_point_clear(p);
    return 2;
}

void sweep_point_clear(sweep_point *p)
{
    cJSON_Delete(p->coords);
    p->coords = NULL;
}

const cJSON *sweep_coord(const sweep_point *p, const char *out_key)
{
    return cJSON_GetObjectItemCaseSensitive(p->coords, out_key);
}
