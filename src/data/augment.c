/* Training augmentation (random crop from a zero-padded image, horizontal flip) and
 * seeded shuffling; every draw is a pure function of (seed, index, epoch). */
#include <string.h>
#include "memlev/data.h"
#include "memlev/rng.h"

void ml_augment(const float *src, float *dst, int c, int h, int w, int pad, int flip, uint64_t seed, uint64_t index,
                uint32_t epoch)
{
    ml_u32x4 r = ml_philox(seed, index, epoch, ML_RNG_DATA);
    int span = 2 * pad + 1;
    int dy = pad ? (int)(r.v[0] % (uint32_t)span) - pad : 0, dx = pad ? (int)(r.v[1] % (uint32_t)span) - pad : 0;
    int mirror = flip && (r.v[2] & 1);
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            float *o = dst + ((size_t)ch * h + y) * w;
            int sy = y + dy;
            if (sy < 0 || sy >= h) { memset(o, 0, (size_t)w * sizeof *o); continue; }
            const float *in = src + ((size_t)ch * h + sy) * w;
            for (int x = 0; x < w; x++) {
                int sx = (mirror ? w - 1 - x : x) + dx;
                o[x] = sx >= 0 && sx < w ? in[sx] : 0.0f;
            }
        }
}

void ml_shuffle(size_t *perm, size_t n, uint64_t seed, uint32_t epoch)
{
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        ml_u32x4 r = ml_philox(seed, (uint64_t)i, epoch, ML_RNG_DATA + 16);
        uint64_t x = ((uint64_t)r.v[0] << 32) | r.v[1];
        size_t j = (size_t)(x % i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
