/* Pulse trains on soft-bounds populations: a whole train of pulses applied to a block of
 * devices with the state in float32 lane arrays (pulses in the outer loop, devices across
 * SIMD lanes), C2C noise from Philox4x32-10 with four Gaussians per call (Box-Muller on
 * 32-bit words). Compiled for AVX-512, AVX2 and baseline x86-64 and picked at run time;
 * every variant performs the same IEEE operations per device, so results are bit-identical
 * whichever runs and for any split of the devices across threads. */
#include <math.h>
#include <string.h>
#include "memlev/device.h"
#include "memlev/rng.h"
#include "device/internal.h"
#include "device/train_f32.h"

#define LANES 64 /* devices per block: several vectors in flight hide the update's latency */

/* One block of devices: lane arrays, offsets from each device's g_min (float keeps the
 * window's precision: the state is x = G - g_min, 0 <= x <= g_max - g_min). */
typedef struct tr_block {
    float x[LANES], tp[LANES], td[LANES], hx[LANES];
    float a0p[LANES], a0d[LANES], r0p[LANES], r0d[LANES]; /* a and 1/v0 */
    float al[LANES];                                      /* fraction of the current pulse */
    uint32_t s0[LANES], s1[LANES], np[LANES], cnt[LANES];
    float z[4][LANES];                                    /* four Gaussians per Philox call */
} tr_block;

typedef struct tr_job {
    const double *v, *w;
    int k;
    float sc, sa, vth, tref;
    uint32_t k0, k1;
    int per; /* pulses per Philox call: 4 (C2C only), 2 (C2C and additive), 0 (noiseless) */
} tr_job;

/* Philox4x32-10 for every lane: counters (s0, s1, ctr, ML_RNG_C2C_TRAIN), outputs w[4][LANES].
 * The 32x32 -> 64-bit products are written out for each instruction set (compilers widen them
 * to slow 64-bit multiplies); integer arithmetic, so all variants give the same words. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define ML_TRAIN_X86 1
#define TR_V4 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#define TR_V3 __attribute__((target("arch=x86-64-v3")))

/* hi and lo words of a * m for 16 lanes: even lanes by vpmuludq, odd lanes shifted down */
TR_V4 static inline __attribute__((always_inline)) void mul16(__m512i a, __m512i m, __m512i *hi, __m512i *lo)
{
    __m512i pe = _mm512_mul_epu32(a, m), po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

TR_V4 static void philox_v4(const uint32_t *s0, const uint32_t *s1, const uint32_t *ctr, uint32_t k0, uint32_t k1,
                           uint32_t purpose, uint32_t w[4][LANES])
{
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    for (int j = 0; j < LANES; j += 16) {
        __m512i c0 = _mm512_loadu_si512(s0 + j), c1 = _mm512_loadu_si512(s1 + j);
        __m512i c2 = _mm512_loadu_si512(ctr + j), c3 = _mm512_set1_epi32((int)purpose);
        uint32_t q0 = k0, q1 = k1;
        for (int r = 0; r < 10; r++) {
            __m512i h0, l0, h1, l1;
            mul16(c0, m0, &h0, &l0);
            mul16(c2, m1, &h1, &l1);
            c0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)q0));
            c2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)q1));
            c1 = l1;
            c3 = l0;
            q0 += 0x9E3779B9u; q1 += 0xBB67AE85u;
        }
        _mm512_storeu_si512(w[0] + j, c0); _mm512_storeu_si512(w[1] + j, c1);
        _mm512_storeu_si512(w[2] + j, c2); _mm512_storeu_si512(w[3] + j, c3);
    }
}

TR_V3 static inline __attribute__((always_inline)) void mul8(__m256i a, __m256i m, __m256i *hi, __m256i *lo)
{
    __m256i pe = _mm256_mul_epu32(a, m), po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

TR_V3 static void philox_v3(const uint32_t *s0, const uint32_t *s1, const uint32_t *ctr, uint32_t k0, uint32_t k1,
                           uint32_t purpose, uint32_t w[4][LANES])
{
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u), m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    for (int j = 0; j < LANES; j += 8) {
        __m256i c0 = _mm256_loadu_si256((const __m256i *)(s0 + j)), c1 = _mm256_loadu_si256((const __m256i *)(s1 + j));
        __m256i c2 = _mm256_loadu_si256((const __m256i *)(ctr + j)), c3 = _mm256_set1_epi32((int)purpose);
        uint32_t q0 = k0, q1 = k1;
        for (int r = 0; r < 10; r++) {
            __m256i h0, l0, h1, l1;
            mul8(c0, m0, &h0, &l0);
            mul8(c2, m1, &h1, &l1);
            c0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32((int)q0));
            c2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32((int)q1));
            c1 = l1;
            c3 = l0;
            q0 += 0x9E3779B9u; q1 += 0xBB67AE85u;
        }
        _mm256_storeu_si256((__m256i *)(w[0] + j), c0); _mm256_storeu_si256((__m256i *)(w[1] + j), c1);
        _mm256_storeu_si256((__m256i *)(w[2] + j), c2); _mm256_storeu_si256((__m256i *)(w[3] + j), c3);
    }
}
#endif

/* Four Gaussians for every lane from Philox(seed, lane's stream, (c0[lane] + k) >> sh, purpose);
 * isa is a constant at each call site. */
static inline __attribute__((always_inline)) void tr_gauss4(const tr_block *restrict B, const tr_job *J,
                                                           const uint32_t *c0, uint32_t k, uint32_t sh,
                                                           uint32_t purpose, float z[4][LANES], const int isa)
{
    uint32_t ctr[LANES], w[4][LANES];
    for (int j = 0; j < LANES; j++) ctr[j] = (c0[j] + k) >> sh;
#ifdef ML_TRAIN_X86
    if (isa == 2) philox_v4(B->s0, B->s1, ctr, J->k0, J->k1, purpose, w);
    else if (isa == 1) philox_v3(B->s0, B->s1, ctr, J->k0, J->k1, purpose, w);
    else
#endif
        for (int j = 0; j < LANES; j++) {
            ml_u32x4 r = ml_philox_words(B->s0[j], B->s1[j], ctr[j], purpose, J->k0, J->k1);
            w[0][j] = r.v[0]; w[1][j] = r.v[1]; w[2][j] = r.v[2]; w[3][j] = r.v[3];
        }
    #pragma omp simd
    for (int j = 0; j < LANES; j++) {
        float a, b, c, d;
        mlf_normal2(w[0][j], w[1][j], &a, &b);
        mlf_normal2(w[2][j], w[3][j], &c, &d);
        z[0][j] = a; z[1][j] = b; z[2][j] = c; z[3][j] = d;
    }
}

/* Gaussians for every lane at pulse k of the train: the Philox call that holds pulse
 * np + k, i.e. counter (np + k) / per. */
static inline __attribute__((always_inline)) void tr_gauss(tr_block *restrict B, const tr_job *J, int k, const int isa)
{
    tr_gauss4(B, J, B->np, (uint32_t)k, J->per == 4 ? 2 : 1, ML_RNG_C2C_TRAIN, B->z, isa);
}

/* alpha = a (exp(|V|/v0) - 1) (t/t_ref) for every lane (unclamped, as in population.c) */
static inline __attribute__((always_inline)) void tr_alpha(tr_block *restrict B, int pos, float av, float wt)
{
    const float *restrict a0 = pos ? B->a0p : B->a0d, *restrict r0 = pos ? B->r0p : B->r0d;
    #pragma omp simd
    for (int j = 0; j < LANES; j++) B->al[j] = a0[j] * (mlf_exp(av * r0[j]) - 1.0f) * wt;
}

/* Lane j's noise for pulse k (uk = k): per == 4, one draw of four (n1; multiplicative C2C
 * only); per == 2, a pair of two (n1 multiplicative, n2 additive); else none. Inlined into
 * the kernels' simd loops. */
static inline __attribute__((always_inline)) void lane_noise(const tr_block *restrict B, int j, int per, uint32_t uk,
                                                             float *n1, float *n2)
{
    *n1 = *n2 = 0.0f;
    if (per == 4) {
        uint32_t q = (B->np[j] + uk) & 3u;
        float z0 = B->z[0][j], z1 = B->z[1][j], z2 = B->z[2][j], z3 = B->z[3][j];
        *n1 = q & 2u ? (q & 1u ? z3 : z2) : (q & 1u ? z1 : z0);
    } else if (per == 2) {
        uint32_t q = (B->np[j] + uk) & 1u;
        float z0 = B->z[0][j], z1 = B->z[1][j], z2 = B->z[2][j], z3 = B->z[3][j];
        *n1 = q ? z2 : z0;
        *n2 = q ? z3 : z1;
    }
}

/* Lane j's state after pulse k (uk = k) toward asymptote t: the soft-bounds step with its C2C
 * noise (lane_noise; the additive draw scaled by sa), held within [0, hx]. Inlined into the
 * kernels' simd loops. */
static inline __attribute__((always_inline)) float lane_pulse(const tr_block *restrict B, int j, int per, uint32_t uk,
                                                              float sc, float t, float sa)
{
    float n1, n2;
    lane_noise(B, j, per, uk, &n1, &n2);
    float a = B->al[j] * (1.0f + sc * n1);
    a = a > 1.0f ? 1.0f : a;
    a = a < 0.0f ? 0.0f : a;
    const float x = B->x[j];
    float xn = x + a * (t - x);
    if (per == 2) xn = xn + sa * n2;
    xn = xn < 0.0f ? 0.0f : xn;
    return xn > B->hx[j] ? B->hx[j] : xn;
}

/* One pulse (k) on every lane still in its train: the soft-bounds step of step_noisy().
 * per is a constant at each call site (4, 2 or 0), so the lane loop has no branches. */
static inline __attribute__((always_inline)) void tr_step(tr_block *restrict B, const tr_job *J, int k, int pos,
                                                         const int per)
{
    const float *restrict t = pos ? B->tp : B->td;
    const float sc = J->sc, sa = J->sa;
    const uint32_t uk = (uint32_t)k;
    #pragma omp simd
    for (int j = 0; j < LANES; j++) {
        const float x = B->x[j], xn = lane_pulse(B, j, per, uk, sc, t[j], sa);
        B->x[j] = uk < B->cnt[j] ? xn : x;
    }
}

/* Apply the train to one loaded block; every variant below inlines this body. */
static inline __attribute__((always_inline)) void tr_run(tr_block *restrict B, const tr_job *J, int kmax,
                                                        int uniform, const int isa)
{
    float pav = -1, pwt = -1;
    int ppos = -1, have = 0;
    for (int k = 0; k < kmax; k++) {
        double v = J->v[k], w = J->w[k];
        int pos = v >= 0;
        if (J->per && (!have || !uniform || ((B->np[0] + (uint32_t)k) & (uint32_t)(J->per - 1)) == 0)) {
            tr_gauss(B, J, k, isa);
            have = 1;
        }
        if (!(fabs(v) >= J->vth) || !(w > 0)) continue; /* below threshold: counter only */
        float av = (float)fabs(v), wt = (float)w / J->tref;
        if (av != pav || wt != pwt || pos != ppos) { tr_alpha(B, pos, av, wt); pav = av; pwt = wt; ppos = pos; }
        if (J->per == 4) tr_step(B, J, k, pos, 4);
        else if (J->per == 2) tr_step(B, J, k, pos, 2);
        else tr_step(B, J, k, pos, 0);
    }
}

#ifdef ML_TRAIN_X86
TR_V4 static void tr_run_v4(tr_block *B, const tr_job *J, int kmax, int uniform) { tr_run(B, J, kmax, uniform, 2); }
TR_V3 static void tr_run_v3(tr_block *B, const tr_job *J, int kmax, int uniform) { tr_run(B, J, kmax, uniform, 1); }
#endif
static void tr_run_base(tr_block *B, const tr_job *J, int kmax, int uniform) { tr_run(B, J, kmax, uniform, 0); }

static int isa_detect(void)
{
#ifdef ML_TRAIN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
        return 1;
#endif
    return 0;
}

/* Detected once and kept (a benign race: every thread computes the same value), so the
 * kernels that dispatch per call (the fits' lanes among them) pay one load. */
int ml__train_isa_best(void)
{
    static int isa = -1;
    int q = __atomic_load_n(&isa, __ATOMIC_RELAXED);
    if (q < 0) { q = isa_detect(); __atomic_store_n(&isa, q, __ATOMIC_RELAXED); }
    return q;
}

const char *ml_pulse_train_isa(void)
{
    static const char *const names[] = {"x86-64 baseline (SSE2)", "AVX2 (x86-64-v3)", "AVX-512 (x86-64-v4)"};
#ifdef ML_TRAIN_X86
    return names[ml__train_isa_best()];
#else
    (void)names;
    return "generic";
#endif
}

void ml__pulse_train_isa_run(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int k,
                            const int *count, int isa)
{
    const ml_device *d = &p->dev;
    if (i1 > p->n) i1 = p->n;
    if (k <= 0 || i0 >= i1) return;
    if (d->model != ML_MODEL_SOFTBOUNDS && d->model != ML_MODEL_NEUROSIM) {
        for (size_t i = i0; i < i1; i++) {
            int c = count ? count[i - i0] : k;
            for (int q = 0; q < c && q < k; q++) ml_pulse1(p, i, v[q], width[q]);
        }
        return;
    }
    p = ml__population_live(p); /* the real parameters, also when a test sealed the public ones */
    tr_job J = {v, width, k, (float)d->s_c2c, (float)d->s_abs, (float)d->v_th, (float)d->t_ref,
                (uint32_t)p->seed, (uint32_t)(p->seed >> 32), d->s_abs > 0 ? 2 : d->s_c2c > 0 ? 4 : 0};
    tr_block B;
    for (size_t b = i0; b < i1; b += LANES) {
        int nl = i1 - b < LANES ? (int)(i1 - b) : LANES, kmax = 0, uniform = 1;
        for (int j = 0; j < LANES; j++) {
            size_t i = b + (j < nl ? (size_t)j : 0); /* padding lanes copy lane 0, count 0 */
            double lo = p->g_min[i];
            uint64_t s = p->base + i;
            B.x[j] = (float)(p->g[i] - lo);
            B.tp[j] = (float)(p->g_inf_p[i] - lo);
            B.td[j] = (float)(p->g_inf_d[i] - lo);
            B.hx[j] = (float)(p->g_max[i] - lo);
            B.a0p[j] = (float)p->a_p[i];
            B.a0d[j] = (float)p->a_d[i];
            B.r0p[j] = (float)(1.0 / p->v0_p[i]);
            B.r0d[j] = (float)(1.0 / p->v0_d[i]);
            B.s0[j] = (uint32_t)s;
            B.s1[j] = (uint32_t)(s >> 32);
            B.np[j] = p->npulse[i];
            int c = j < nl ? (count ? count[i - i0] : k) : 0;
            c = c < 0 ? 0 : c > k ? k : c;
            B.cnt[j] = (uint32_t)c;
            kmax = c > kmax ? c : kmax;
            if (J.per && c > 0 && ((B.np[j] ^ B.np[0]) & (uint32_t)(J.per - 1))) uniform = 0;
        }
#ifdef ML_TRAIN_X86
        if (isa == 2) tr_run_v4(&B, &J, kmax, uniform);
        else if (isa == 1) tr_run_v3(&B, &J, kmax, uniform);
        else
#endif
            tr_run_base(&B, &J, kmax, uniform);
        for (int j = 0; j < nl; j++) {
            size_t i = b + (size_t)j;
            if (!B.cnt[j]) continue;
            double lo = p->g_min[i];
            p->g[i] = p->g_end[i] = ml_clamp(lo + (double)B.x[j], lo, p->g_max[i]);
            p->t_idle[i] = 0;
            p->npulse[i] += B.cnt[j];
        }
    }
}

void ml_pulse_train(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int k,
                    const int *count)
{
    ml__pulse_train_isa_run(p, i0, i1, v, width, k, count, ml__train_isa_best());
}

void ml_pulse_train_all(ml_population *p, const double *v, const double *width, int k, const int *count)
{
    const size_t chunk = 4096, nc = (p->n + chunk - 1) / chunk;
    const int isa = ml__train_isa_best();
    #pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nc; c++) {
        size_t i0 = c * chunk, i1 = i0 + chunk < p->n ? i0 + chunk : p->n;
        ml__pulse_train_isa_run(p, i0, i1, v, width, k, count ? count + i0 : NULL, isa);
    }
}

/* Trains with reads (ml_pulse_train_read): the per-lane part of a block, beside tr_block. */
typedef struct tr_rblock {
    double lo[LANES], hi[LANES];  /* window (S) */
    float tt[LANES], sal[LANES];  /* the pulse's asymptote (offset) and additive noise (0 below threshold) */
    uint32_t nr[LANES];           /* reads so far */
    float zr[4][LANES];           /* read Gaussians */
} tr_rblock;

typedef struct tr_rjob {
    double rel, abs;   /* read noise */
    int rper;          /* reads per Philox call: 4 (one noise term), 2 (both), 0 (noiseless) */
    int len;
    size_t m, j0;      /* output row length and this block's first column */
    double *rd, *gt;
} tr_rjob;

/* len pulses on every lane, each followed by a read; per, rper constants at each call site. */
static inline __attribute__((always_inline)) void trr_run(tr_block *restrict B, tr_rblock *restrict R,
                                                         const tr_job *J, const tr_rjob *Q, int nl, int up, int ur,
                                                         const int per, const int rper, const int isa)
{
    const float sc = J->sc;
    const double rel = Q->rel, ab = Q->abs;
    for (int j = 0; j < nl; j++) Q->gt[Q->j0 + j] = ml_clamp(R->lo[j] + (double)B->x[j], R->lo[j], R->hi[j]);
    for (int k = 0; k < Q->len; k++) {
        const uint32_t uk = (uint32_t)k;
        if (per && (!up || k == 0 || ((B->np[0] + uk) & (uint32_t)(per - 1)) == 0)) tr_gauss(B, J, k, isa);
        if (rper && (!ur || k == 0 || ((R->nr[0] + uk) & (uint32_t)(rper - 1)) == 0))
            tr_gauss4(B, J, R->nr, uk, rper == 4 ? 2 : 1, ML_RNG_READ_TRAIN, R->zr, isa);
        #pragma omp simd
        for (int j = 0; j < LANES; j++) {
            const float x = B->x[j], xn = lane_pulse(B, j, per, uk, sc, R->tt[j], R->sal[j]);
            B->x[j] = B->cnt[j] ? xn : x;
        }
        double *restrict rd = Q->rd + (size_t)k * Q->m + Q->j0, *restrict gt = Q->gt + (size_t)(k + 1) * Q->m + Q->j0;
        #pragma omp simd
        for (int j = 0; j < LANES; j++) {
            double g = R->lo[j] + (double)B->x[j];
            g = g > R->hi[j] ? R->hi[j] : g;
            double n1 = 0, n2 = 0;
            if (rper == 4) {
                uint32_t q = (R->nr[j] + uk) & 3u;
                float z0 = R->zr[0][j], z1 = R->zr[1][j], z2 = R->zr[2][j], z3 = R->zr[3][j];
                double z = q & 2u ? (q & 1u ? z3 : z2) : (q & 1u ? z1 : z0);
                n1 = rel > 0 ? z : 0;
                n2 = rel > 0 ? 0 : z;
            } else if (rper == 2) {
                uint32_t q = (R->nr[j] + uk) & 1u;
                n1 = q ? R->zr[2][j] : R->zr[0][j];
                n2 = q ? R->zr[3][j] : R->zr[1][j];
            }
            double r = rper ? g * (1.0 + rel * n1) + ab * n2 : g;
            if (j < nl) { rd[j] = B->cnt[j] ? r : NAN; gt[j] = B->cnt[j] ? g : NAN; }
        }
    }
}

#define TRR_CASES(isa_)                                                                                     \
    static void trr_run_##isa_(tr_block *B, tr_rblock *R, const tr_job *J, const tr_rjob *Q, int nl, int up, \
                               int ur)                                                                      \
    {                                                                                                       \
        const int per = J->per, rp = Q->rper;                                                               \
        if (per == 4 && rp == 4) trr_run(B, R, J, Q, nl, up, ur, 4, 4, ISA_##isa_);                           \
        else if (per == 4 && rp == 2) trr_run(B, R, J, Q, nl, up, ur, 4, 2, ISA_##isa_);                      \
        else if (per == 4) trr_run(B, R, J, Q, nl, up, ur, 4, 0, ISA_##isa_);                                 \
        else if (per == 2 && rp == 4) trr_run(B, R, J, Q, nl, up, ur, 2, 4, ISA_##isa_);                      \
        else if (per == 2 && rp == 2) trr_run(B, R, J, Q, nl, up, ur, 2, 2, ISA_##isa_);                      \
        else if (per == 2) trr_run(B, R, J, Q, nl, up, ur, 2, 0, ISA_##isa_);                                 \
        else if (rp == 4) trr_run(B, R, J, Q, nl, up, ur, 0, 4, ISA_##isa_);                                  \
        else if (rp == 2) trr_run(B, R, J, Q, nl, up, ur, 0, 2, ISA_##isa_);                                  \
        else trr_run(B, R, J, Q, nl, up, ur, 0, 0, ISA_##isa_);                                               \
    }
enum { ISA_base = 0, ISA_v3 = 1, ISA_v4 = 2 };
#ifdef ML_TRAIN_X86
TR_V4 TRR_CASES(v4)
TR_V3 TRR_CASES(v3)
#endif
TRR_CASES(base)

void ml__pulse_train_read_isa(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int len,
                              double *read, double *g_true, int isa)
{
    const ml_device *d = &p->dev;
    if (i1 > p->n) i1 = p->n;
    if (len <= 0 || i0 >= i1) return;
    const size_t m = i1 - i0;
    if (d->model != ML_MODEL_SOFTBOUNDS && d->model != ML_MODEL_NEUROSIM) {
        for (size_t i = i0; i < i1; i++) {
            const size_t j = i - i0;
            const int on = width[j] > 0;
            g_true[j] = on ? p->g[i] : NAN;
            for (int k = 0; k < len; k++) {
                if (on) ml_pulse1(p, i, v[j], width[j]);
                read[(size_t)k * m + j] = on ? ml_read1(p, i) : NAN;
                g_true[(size_t)(k + 1) * m + j] = on ? p->g[i] : NAN;
            }
        }
        return;
    }
    p = ml__population_live(p);
    tr_job J = {NULL, NULL, len, (float)d->s_c2c, (float)d->s_abs, (float)d->v_th, (float)d->t_ref,
                (uint32_t)p->seed, (uint32_t)(p->seed >> 32), d->s_abs > 0 ? 2 : d->s_c2c > 0 ? 4 : 0};
    const int rper = d->s_read_rel > 0 && d->s_read_abs > 0 ? 2 : d->s_read_rel > 0 || d->s_read_abs > 0 ? 4 : 0;
    tr_rjob Q = {d->s_read_rel, d->s_read_abs, rper, len, m, 0, read, g_true};
    tr_block B;
    tr_rblock R;
    for (size_t b = i0; b < i1; b += LANES) {
        int nl = i1 - b < LANES ? (int)(i1 - b) : LANES, up = 1, ur = 1, first = -1;
        for (int j = 0; j < LANES; j++) {
            size_t i = b + (j < nl ? (size_t)j : 0); /* padding lanes copy lane 0 and are not applied */
            double lo = p->g_min[i], vj = v[i - i0], wj = width[i - i0];
            uint64_t s = p->base + i;
            int pos = vj >= 0, on = j < nl && wj > 0;
            B.x[j] = (float)(p->g[i] - lo);
            B.hx[j] = (float)(p->g_max[i] - lo);
            R.lo[j] = lo;
            R.hi[j] = p->g_max[i];
            R.tt[j] = (float)((pos ? p->g_inf_p[i] : p->g_inf_d[i]) - lo);
            B.s0[j] = (uint32_t)s;
            B.s1[j] = (uint32_t)(s >> 32);
            B.np[j] = p->npulse[i];
            R.nr[j] = p->nread[i];
            B.cnt[j] = on ? (uint32_t)len : 0;
            /* the fraction of ml_pulse_train's tr_alpha, for this lane's pulse */
            float av = (float)fabs(vj), wt = (float)wj / J.tref;
            int fire = on && fabs(vj) >= J.vth;
            float a0 = (float)(pos ? p->a_p[i] : p->a_d[i]), r0 = (float)(1.0 / (pos ? p->v0_p[i] : p->v0_d[i]));
            B.al[j] = fire ? a0 * (mlf_exp(av * r0) - 1.0f) * wt : 0.0f;
            R.sal[j] = fire ? J.sa : 0.0f;
            if (!on) continue;
            if (first < 0) first = j;
            if (J.per && ((B.np[j] ^ B.np[first]) & (uint32_t)(J.per - 1))) up = 0;
            if (rper && ((R.nr[j] ^ R.nr[first]) & (uint32_t)(rper - 1))) ur = 0;
        }
        if (first < 0) { /* no device of this block takes the train */
            for (int k = 0; k <= len; k++)
                for (int j = 0; j < nl; j++) {
                    g_true[(size_t)k * m + b - i0 + j] = NAN;
                    if (k < len) read[(size_t)k * m + b - i0 + j] = NAN;
                }
            continue;
        }
        if (first > 0) { /* lane 0 decides the shared draws' phase: make it an applied lane's */
            B.np[0] = B.np[first]; R.nr[0] = R.nr[first];
        }
        Q.j0 = b - i0;
#ifdef ML_TRAIN_X86
        if (isa == 2) trr_run_v4(&B, &R, &J, &Q, nl, up, ur);
        else if (isa == 1) trr_run_v3(&B, &R, &J, &Q, nl, up, ur);
        else
#endif
            trr_run_base(&B, &R, &J, &Q, nl, up, ur);
        for (int j = 0; j < nl; j++) {
            size_t i = b + (size_t)j;
            if (!B.cnt[j]) { g_true[b - i0 + (size_t)j] = NAN; continue; }
            double lo = p->g_min[i];
            p->g[i] = p->g_end[i] = ml_clamp(lo + (double)B.x[j], lo, p->g_max[i]);
            p->t_idle[i] = 0;
            p->npulse[i] += (uint32_t)len;
            p->nread[i] += (uint32_t)len;
        }
    }
}

void ml_pulse_train_read(ml_population *p, size_t i0, size_t i1, const double *v, const double *width, int len,
                         double *read, double *g_true)
{
    ml__pulse_train_read_isa(p, i0, i1, v, width, len, read, g_true, ml__train_isa_best());
}
