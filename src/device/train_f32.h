/* Float32 building blocks of the pulse-train kernel (src/device/train.c): exp, log and
 * sincos by plain arithmetic, and the Gaussian from one Philox output (Box-Muller on two
 * 32-bit words). Plain IEEE operations only (no FMA: -ffp-contract=off is global), so
 * scalar code, SSE2, AVX2 and AVX-512 give the same bits. Shared with tests. */
#ifndef ML_DEVICE_TRAIN_F32_H
#define ML_DEVICE_TRAIN_F32_H
#include <stdint.h>
#include <string.h>

/* exp(x) for 0 <= x <= 80: x = k ln2 + r (Cody-Waite, ln2 in two parts), |r| <= ln2/2,
 * Taylor to r^7 (relative error < 2e-8 before rounding). */
static inline __attribute__((always_inline)) float mlf_exp(float x)
{
    x = x > 80.0f ? 80.0f : x;
    float kf = (float)(int32_t)(x * 1.44269504f + 0.5f);
    float r = (x - kf * 0.693359375f) - kf * -2.12194440e-4f;
    float r2 = r * r, r4 = r2 * r2;
    float p = ((1.0f + r) + r2 * (0.5f + r * (1.0f / 6))) +
              r4 * ((1.0f / 24 + r * (1.0f / 120)) + r2 * (1.0f / 720 + r * (1.0f / 5040)));
    uint32_t e = (uint32_t)((int32_t)kf + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* log(u) for u in (0, 1]: u = m 2^e, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 * s = (m-1)/(m+1), |s| <= 0.1716, odd series to s^9 (relative error < 3e-9). */
static inline __attribute__((always_inline)) float mlf_log01(float u)
{
    uint32_t b;
    memcpy(&b, &u, sizeof b);
    int32_t e = (int32_t)((b >> 23) & 0xff) - 127;
    b = (b & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &b, sizeof m);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s, s4 = s2 * s2;
    float p = (1.0f + s2 * (1.0f / 3)) + s4 * ((1.0f / 5 + s2 * (1.0f / 7)) + s4 * (1.0f / 9));
    return 2.0f * s * p + (float)e * 0.693147181f;
}

/* Uniform in (0, 1] from a 32-bit word, resolution 2^-31 near 0 (so |z| reaches 6.6). */
static inline __attribute__((always_inline)) float mlf_u01(uint32_t w)
{
    return (float)(int32_t)(w >> 1) * 4.65661287e-10f + 2.32830644e-10f;
}

/* Two standard normals from two 32-bit words by Box-Muller: r = sqrt(-2 log u1) with u1 from
 * w1, angle 2 pi u2 with u2 = (w2 >> 8) 2^-24; sin and cos by quadrant reduction and Taylor
 * polynomials on |x| <= pi/4 (sin to x^9, cos to x^8). */
static inline __attribute__((always_inline)) void mlf_normal2(uint32_t w1, uint32_t w2, float *z0, float *z1)
{
    float rad = __builtin_sqrtf(-2.0f * mlf_log01(mlf_u01(w1)));
    float q = (float)(int32_t)(w2 >> 8) * (4.0f / 16777216.0f); /* 4 u2, exact */
    int32_t k = (int32_t)(q + 0.5f);
    float x = (q - (float)k) * 1.57079633f, x2 = x * x, x4 = x2 * x2;
    float sp = ((1.0f - x2 * (1.0f / 6)) + x4 * (1.0f / 120 - x2 * (1.0f / 5040))) + (x4 * x4) * (1.0f / 362880);
    float cp = ((1.0f - x2 * 0.5f) + x4 * (1.0f / 24 - x2 * (1.0f / 720))) + (x4 * x4) * (1.0f / 40320);
    float s0 = x * sp;
    k &= 3;
    float sv = k == 0 ? s0 : k == 1 ? cp : k == 2 ? -s0 : -cp;
    float cv = k == 0 ? cp : k == 1 ? -s0 : k == 2 ? -cp : s0;
    *z0 = rad * cv;
    *z1 = rad * sv;
}
#endif
