/* Counter-based random numbers (Philox4x32-10, Salmon et al. SC'11).
 * Every draw is a pure function of (seed, stream, counter, purpose), so results do not
 * depend on the number of threads or on the order in which work is done.
 * The functions are static inline so hot loops over devices can be vectorised.
 * Thread safety: pure functions, callable from any thread. */
#ifndef MEMLEV_RNG_H
#define MEMLEV_RNG_H

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Purposes keep independent draws apart for the same device and counter. */
enum {
    ML_RNG_C2C = 1,      /* multiplicative cycle-to-cycle step noise */
    ML_RNG_ABS = 2,      /* additive step noise */
    ML_RNG_READ = 3,     /* read noise */
    ML_RNG_D2D = 4,      /* device-to-device parameter draws */
    ML_RNG_TRANSFER = 5, /* weight-transfer sampling */
    ML_RNG_DATA = 6,     /* data shuffling / augmentation / init */
    ML_RNG_RELAX = 7,    /* relaxation */
    ML_RNG_C2C_TRAIN = 8, /* step noise of the float32 pulse-train kernel (four pulses per draw) */
    ML_RNG_READ_TRAIN = 9 /* read noise of the pulse-train-with-reads kernel (two or four reads per draw) */
};

typedef struct ml_u32x4 { uint32_t v[4]; } ml_u32x4;

/* Philox4x32-10 on the counter (c0, c1, c2, c3) under the key (k0, k1). */
static inline ml_u32x4 ml_philox_words(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0; c1 = (uint32_t)p1; c2 = n2; c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    ml_u32x4 o = {{c0, c1, c2, c3}};
    return o;
}

/* Four random words for (seed, stream, counter, purpose). */
static inline ml_u32x4 ml_philox(uint64_t seed, uint64_t stream, uint32_t counter, uint32_t purpose)
{
    return ml_philox_words((uint32_t)stream, (uint32_t)(stream >> 32), counter, purpose, (uint32_t)seed,
                           (uint32_t)(seed >> 32));
}

/* Uniform in (0,1) from 53 random bits; never 0 or 1. */
static inline double ml_u01(uint32_t hi, uint32_t lo)
{
    uint64_t b = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
    b &= ((uint64_t)1 << 53) - 1;
    return ((double)b + 0.5) * (1.0 / 9007199254740992.0);
}

/* log(u) for u in (0, 1] with plain arithmetic (no libm call), so loops over devices
 * vectorise and give bit-identical results in vector and scalar code: u = m 2^e with
 * m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), odd series to s^15
 * (|s| <= 0.1716: relative error < 1e-14). */
static inline double ml_log01(double u)
{
    union { double d; uint64_t i; } b = {u};
    int64_t e = (int64_t)((b.i >> 52) & 0x7ff) - 1023;
    b.i = (b.i & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
    double m = b.d;
    if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
    /* Estrin's scheme: short dependency chains for scalar code */
    double pa = 1.0 + s2 * (1.0 / 3), pb = 1.0 / 5 + s2 * (1.0 / 7);
    double pc = 1.0 / 9 + s2 * (1.0 / 11), pd = 1.0 / 13 + s2 * (1.0 / 15);
    double p = (pa + s4 * pb) + s8 * (pc + s4 * pd);
    return 2.0 * s * p + (double)e * 0.6931471805599453;
}

/* sin and cos of 2 pi u for u in (0, 1): quadrant reduction, then Taylor polynomials on
 * |x| <= pi/4 (errors < 1e-15). */
static inline void ml_sincos2pi(double u, double *sn, double *cs)
{
    double q = u * 4.0;
    int k = (int)(q + 0.5);               /* nearest quadrant 0..4 */
    double x = (q - k) * 1.5707963267948966; /* |x| <= pi/4 */
    double x2 = x * x;
    double x4 = x2 * x2, x8 = x4 * x4;
    double sp = ((1.0 - x2 * (1.0 / 6)) + x4 * (1.0 / 120 - x2 * (1.0 / 5040))) +
                x8 * ((1.0 / 362880 - x2 * (1.0 / 39916800)) + x4 * (1.0 / 6227020800.0 - x2 * (1.0 / 1307674368000.0)));
    double cp = ((1.0 - x2 * 0.5) + x4 * (1.0 / 24 - x2 * (1.0 / 720))) +
                x8 * ((1.0 / 40320 - x2 * (1.0 / 3628800)) + x4 * (1.0 / 479001600 - x2 * (1.0 / 87178291200.0)));
    double s0 = x * sp, c0 = cp;
    k &= 3;
    double sv = k == 0 ? s0 : k == 1 ? c0 : k == 2 ? -s0 : -c0;
    double cv = k == 0 ? c0 : k == 1 ? -s0 : k == 2 ? -c0 : s0;
    *sn = sv;
    *cs = cv;
}

/* Two independent standard normals by Box-Muller. */
static inline void ml_normal2(uint64_t seed, uint64_t stream, uint32_t counter, uint32_t purpose,
                              double *z0, double *z1)
{
    ml_u32x4 r = ml_philox(seed, stream, counter, purpose);
    double u1 = ml_u01(r.v[0], r.v[1]), u2 = ml_u01(r.v[2], r.v[3]);
    double rad = sqrt(-2.0 * ml_log01(u1));
    double sn, cs;
    ml_sincos2pi(u2, &sn, &cs);
    *z0 = rad * cs;
    *z1 = rad * sn;
}

static inline double ml_normal(uint64_t seed, uint64_t stream, uint32_t counter, uint32_t purpose)
{
    double a, b;
    ml_normal2(seed, stream, counter, purpose, &a, &b);
    return a;
}

static inline double ml_uniform(uint64_t seed, uint64_t stream, uint32_t counter, uint32_t purpose)
{
    ml_u32x4 r = ml_philox(seed, stream, counter, purpose);
    return ml_u01(r.v[0], r.v[1]);
}

/* Mix a user seed with a sub-seed (e.g. a trial index) into a new 64-bit key. */
static inline uint64_t ml_seed_mix(uint64_t seed, uint64_t sub)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (sub + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif
#endif
