/* Device populations: struct-of-arrays state, D2D draws, pulses, reads and relaxation.
 * Every random draw is keyed by (seed, device index, per-device counter, purpose), so the
 * outcome does not depend on threads or on the order in which devices are visited. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/device.h"
#include "memlev/rng.h"
#include "device/internal.h"

/* A population as this file allocates it: the public struct, then the live parameter set
 * that pulses act on once ml__population_seal() has poisoned the public arrays (NULL until
 * then: pulses use the public arrays). */
typedef struct pop_alloc {
    ml_population pub;
    ml_population *live;
} pop_alloc;

static ml_population *live(ml_population *p)
{
    ml_population *l = ((pop_alloc *)p)->live;
    return l ? l : p;
}

ml_population *ml__population_live(ml_population *p) { return live(p); }

static void free_params(ml_population *p)
{
    ml__free(p->g_min); ml__free(p->g_max); ml__free(p->a_p); ml__free(p->a_d);
    ml__free(p->v0_p); ml__free(p->v0_d); ml__free(p->g_inf_p); ml__free(p->g_inf_d);
}

const ml_population *ml__population_seal(ml_population *p)
{
    pop_alloc *pa = (pop_alloc *)p;
    if (pa->live) return pa->live;
    ml_population *l = ml__malloc(sizeof *l);
    if (!l) return NULL;
    *l = *p; /* shares the state arrays (g, counters, relaxation), keeps the parameters */
    double **arrs[] = {&p->g_min, &p->g_max, &p->a_p, &p->a_d, &p->v0_p, &p->v0_d, &p->g_inf_p, &p->g_inf_d};
    const size_t na = sizeof arrs / sizeof arrs[0];
    double *poison[sizeof arrs / sizeof arrs[0]] = {0};
    for (size_t k = 0; k < na; k++) {
        if (!(poison[k] = ml__malloc(p->n * sizeof(double)))) {
            for (size_t q = 0; q < k; q++) ml__free(poison[q]);
            ml__free(l);
            return NULL;
        }
        for (size_t i = 0; i < p->n; i++) poison[k][i] = NAN;
    }
    for (size_t k = 0; k < na; k++) *arrs[k] = poison[k];
    pa->live = l;
    return l;
}

void ml_population_free(ml_population *p)
{
    if (!p) return;
    ml_population *l = ((pop_alloc *)p)->live;
    if (l) { free_params(l); ml__free(l); }
    ml__free(p->g); ml__free(p->g_min); ml__free(p->g_max); ml__free(p->a_p); ml__free(p->a_d);
    ml__free(p->v0_p); ml__free(p->v0_d); ml__free(p->g_inf_p); ml__free(p->g_inf_d);
    ml__free(p->npulse); ml__free(p->nread); ml__free(p->t_idle); ml__free(p->g_end);
    ml_device_clear(&p->dev);
    ml__free(p);
}

/* multiplicative spread, truncated so that a parameter keeps its sign */
static double spread(double x, double rel, double z)
{
    double f = 1.0 + rel * z;
    if (f < 0.2) f = 0.2;
    return x * f;
}

ml_status ml_population_new(const ml_device *d, size_t n, uint64_t seed, ml_population **out, ml_error *err)
{
    return ml_population_new_at(d, n, 0, seed, out, err);
}

/* Device i's parameters and reset state: every draw keyed by (seed, base + i). */
static void draw_device(ml_population *p, const ml_device *d, size_t i, double an_p, double an_d, double *memo)
{
    const uint64_t seed = p->seed, base = p->base;
    double z[6];
    ml_normal2(seed, base + i, 0, ML_RNG_D2D, &z[0], &z[1]);
    ml_normal2(seed, base + i, 1, ML_RNG_D2D, &z[2], &z[3]);
    ml_normal2(seed, base + i, 2, ML_RNG_D2D, &z[4], &z[5]);
    double gmin = spread(d->g_min, d->d2d_g_min, z[0]);
    double gmax = spread(d->g_max, d->d2d_g_max, z[1]);
    if (gmax < gmin * 1.001) gmax = gmin * 1.001;
    if (d->stuck_fraction > 0 && ml_uniform(seed, base + i, 3, ML_RNG_D2D) < d->stuck_fraction) {
        /* stuck: a window of zero width at g_min or g_max clamps every pulse and reset */
        gmin = gmax = ml_uniform(seed, base + i, 4, ML_RNG_D2D) < 0.5 ? gmin : gmax;
    }
    p->g_min[i] = gmin;
    p->g_max[i] = gmax;
    p->a_p[i] = spread(d->a_p, d->d2d_a_p, z[2]);
    p->a_d[i] = spread(d->a_d, d->d2d_a_d, z[3]);
    p->v0_p[i] = spread(d->v0_p, d->d2d_v0_p, z[4]);
    p->v0_d[i] = spread(d->v0_d, d->d2d_v0_d, z[5]);
    if (d->model == ML_MODEL_NEUROSIM) {
        /* NeuroSim's RealDevice: the device's labels NL + sigmaDtoD z (Cell.cpp:312-315), its A
         * from them (getParamA's grid), its B from its window; Pmax stays the kind's */
        double ap = an_p, ad = an_d;
        if (d->d2d_nl > 0) {
            int kp = ml__neurosim_grid(d->nl_ltp + d->d2d_nl * z[2], 1);
            int kd = ml__neurosim_grid(d->nl_ltd + d->d2d_nl * z[3], -1);
            if (memo[kp - 1] == 0) memo[kp - 1] = ml__neurosim_a_grid(kp);
            if (memo[kd - 1] == 0) memo[kd - 1] = ml__neurosim_a_grid(kd);
            ap = memo[kp - 1];
            ad = memo[kd - 1];
        }
        ml__neurosim_curve(d, ap, ad, gmin, gmax, &p->a_p[i], &p->a_d[i], &p->g_inf_p[i], &p->g_inf_d[i]);
    } else {
        p->g_inf_p[i] = gmax;
        p->g_inf_d[i] = gmin;
    }
    p->g[i] = p->g_end[i] = gmin;
    p->t_idle[i] = 0;
}

ml_status ml_population_new_at(const ml_device *d, size_t n, uint64_t base, uint64_t seed, ml_population **out,
                               ml_error *err)
{
    if (n == 0 || n > ((size_t)1 << 34))
        return ml_error_set(err, ML_EINVAL, "devices: %zu is out of range (1..2^34)", n);
    ml_status st = ml_device_validate(d, NULL, err);
    if (st) return st;
    pop_alloc *pa = ml__calloc(1, sizeof *pa);
    ml_population *p = pa ? &pa->pub : NULL;
    if (!p) return ml_error_set(err, ML_ENOMEM, "out of memory for %zu devices", n);
    if (ml_device_copy(&p->dev, d)) { ml__free(p); return ml_error_set(err, ML_ENOMEM, "out of memory"); }
    p->n = n;
    p->seed = seed;
    p->base = base;
    double **arrs[] = {&p->g, &p->g_min, &p->g_max, &p->a_p, &p->a_d, &p->v0_p, &p->v0_d,
                       &p->g_inf_p, &p->g_inf_d, &p->t_idle, &p->g_end};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++)
        if (!(*arrs[k] = ml__malloc(n * sizeof(double)))) goto oom;
    if (!(p->npulse = ml__calloc(n, sizeof(uint32_t))) || !(p->nread = ml__calloc(n, sizeof(uint32_t))))
        goto oom;
    double an_p = 0, an_d = 0; /* NeuroSim: |A| / Pmax of the nominal labels */
    if (d->model == ML_MODEL_NEUROSIM) {
        an_p = ml__neurosim_a_grid(ml__neurosim_grid(d->nl_ltp, 1));
        an_d = ml__neurosim_a_grid(ml__neurosim_grid(d->nl_ltd, -1));
    }
    #pragma omp parallel
    {
        /* |A| / Pmax of the grid labels k/100 this thread's devices draw, solved once each
         * (memo[k - 1], 0 until needed): a pure function of k, so threads agree */
        double memo[900] = {0};
        #pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) draw_device(p, d, i, an_p, an_d, memo);
    }
    *out = p;
    return ML_OK;
oom:
    ml_population_free(p);
    return ml_error_set(err, ML_ENOMEM, "out of memory for %zu devices", n);
}

ml_devparams ml_population_params(const ml_population *p, size_t i)
{
    ml_devparams q = {p->g_min[i], p->g_max[i], p->a_p[i], p->a_d[i], p->v0_p[i], p->v0_d[i],
                      p->g_inf_p[i], p->g_inf_d[i]};
    return q;
}

void ml_population_reset(ml_population *p)
{
    p = live(p);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        p->g[i] = p->g_end[i] = p->g_min[i];
        p->t_idle[i] = 0;
    }
}

/* Noisy step of one device; counter = the device's pulse index. */
static inline double step_noisy(const ml_population *p, size_t i, double v, double w)
{
    const ml_device *d = &p->dev;
    double g = p->g[i], dg;
    double n1 = 0, n2 = 0;
    if (d->s_c2c > 0 || d->s_abs > 0 || d->model == ML_MODEL_TABLE)
        ml_normal2(p->seed, p->base + i, p->npulse[i], ML_RNG_C2C, &n1, &n2);
    if (d->model == ML_MODEL_SOFTBOUNDS || d->model == ML_MODEL_NEUROSIM) {
        double a, tgt;
        /* unclamped fraction: a pulse far past saturation stays saturated under noise */
        if (fabs(v) < d->v_th || w <= 0) return g;
        if (v >= 0) { a = p->a_p[i] * (ml_exp_poly(fabs(v) / p->v0_p[i]) - 1.0) * (w / d->t_ref); tgt = p->g_inf_p[i]; }
        else { a = p->a_d[i] * (ml_exp_poly(fabs(v) / p->v0_d[i]) - 1.0) * (w / d->t_ref); tgt = p->g_inf_d[i]; }
        if (a == 0) return g;
        /* C2C noise perturbs the fraction of the gap closed, which cannot exceed the gap:
         * a saturating (reset) pulse lands exactly on the bound */
        a *= 1.0 + d->s_c2c * n1;
        a = a > 1 ? 1 : a < 0 ? 0 : a;
        dg = a * (tgt - g) + d->s_abs * n2;
    } else if (d->model == ML_MODEL_SERB) {
        if (fabs(v) < d->v_th) return g;
        dg = ml__serb_step(d, g, v, w) - g;
        dg = dg * (1.0 + d->s_c2c * n1) + d->s_abs * n2;
    } else {
        double m, s;
        if (fabs(v) < d->v_th) return g;
        ml__table_eval(d, g, v, w, &m, &s);
        dg = m + s * n1 + d->s_abs * n2;
    }
    return ml_clamp(g + dg, p->g_min[i], p->g_max[i]);
}

double ml_pulse1(ml_population *p, size_t i, double v, double width)
{
    p = live(p);
    double g = step_noisy(p, i, v, width);
    p->g[i] = g;
    p->g_end[i] = g;
    p->t_idle[i] = 0;
    p->npulse[i]++;
    return g;
}

/* Soft-bounds kernel for one common pulse on devices [i0, i1): the hot loop of bench/pulse.
 * Same arithmetic as step_noisy() (plain arithmetic, no libm, no FMA contraction), so the
 * vector body, the scalar remainder and ml_pulse1 agree bit for bit. Cloned for AVX-512,
 * AVX2 and baseline x86-64; the loader picks the widest the CPU has. */
typedef struct sb_args {
    const double *a0, *v0, *tg, *lo, *hi;
    double *g, *ge, *ti;
    uint32_t *np;
    double av, w, tref, sc, sa;
    uint64_t seed, base;
} sb_args;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ML_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ML_CLONES
#endif

ML_CLONES static void sb_range(const sb_args *A, size_t i0, size_t i1, int noisy)
{
    const double *restrict a0 = A->a0, *restrict v0 = A->v0, *restrict tg = A->tg;
    const double *restrict lo = A->lo, *restrict hi = A->hi;
    double *restrict g = A->g, *restrict ge = A->ge, *restrict ti = A->ti;
    uint32_t *restrict np = A->np;
    const double av = A->av, wt = A->w / A->tref, sc = A->sc, sa = A->sa;
    const uint64_t seed = A->seed, base = A->base;
    if (noisy) {
        #pragma omp simd
        for (size_t i = i0; i < i1; i++) {
            double a = a0[i] * (ml_exp_poly(av / v0[i]) - 1.0) * wt;
            double n1, n2;
            ml_normal2(seed, base + i, np[i], ML_RNG_C2C, &n1, &n2);
            a *= 1.0 + sc * n1;
            a = a > 1 ? 1 : a < 0 ? 0 : a;
            double gn = g[i] + a * (tg[i] - g[i]) + sa * n2;
            gn = gn < lo[i] ? lo[i] : gn;
            gn = gn > hi[i] ? hi[i] : gn;
            g[i] = gn;
            ge[i] = gn;
            ti[i] = 0;
            np[i]++;
        }
    } else {
        #pragma omp simd
        for (size_t i = i0; i < i1; i++) {
            double a = a0[i] * (ml_exp_poly(av / v0[i]) - 1.0) * wt;
            a = a > 1 ? 1 : a;
            double gn = g[i] + a * (tg[i] - g[i]);
            gn = gn < lo[i] ? lo[i] : gn;
            gn = gn > hi[i] ? hi[i] : gn;
            g[i] = gn;
            ge[i] = gn;
            ti[i] = 0;
            np[i]++;
        }
    }
}

void ml_pulse_range(ml_population *p, size_t i0, size_t i1, double v, double w)
{
    p = live(p);
    const ml_device *d = &p->dev;
    if (i1 > p->n) i1 = p->n;
    if (d->model != ML_MODEL_SOFTBOUNDS && d->model != ML_MODEL_NEUROSIM) {
        for (size_t i = i0; i < i1; i++) ml_pulse1(p, i, v, w);
        return;
    }
    if (fabs(v) < d->v_th || w <= 0) {
        for (size_t i = i0; i < i1; i++) p->npulse[i]++;
        return;
    }
    const int pos = v >= 0;
    sb_args A = {pos ? p->a_p : p->a_d, pos ? p->v0_p : p->v0_d, pos ? p->g_inf_p : p->g_inf_d, p->g_min, p->g_max,
                 p->g, p->g_end, p->t_idle, p->npulse, fabs(v), w, d->t_ref, d->s_c2c, d->s_abs, p->seed, p->base};
    sb_range(&A, i0, i1, d->s_c2c > 0 || d->s_abs > 0);
}

void ml_pulse_all(ml_population *p, const double *v, const double *width, double v0, double w0)
{
    if (!v && !width) {
        /* one common pulse: fixed chunks through the vectorised range kernel */
        const size_t chunk = 4096, nc = (p->n + chunk - 1) / chunk;
        #pragma omp parallel for schedule(static)
        for (size_t c = 0; c < nc; c++)
            ml_pulse_range(p, c * chunk, (c + 1) * chunk < p->n ? (c + 1) * chunk : p->n, v0, w0);
        return;
    }
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++)
        ml_pulse1(p, i, v ? v[i] : v0, width ? width[i] : w0);
}

double ml_read1(ml_population *p, size_t i)
{
    const ml_device *d = &p->dev;
    double g = p->g[i];
    if (d->s_read_rel > 0 || d->s_read_abs > 0) {
        double n1, n2;
        ml_normal2(p->seed, p->base + i, p->nread[i], ML_RNG_READ, &n1, &n2);
        g = g * (1.0 + d->s_read_rel * n1) + d->s_read_abs * n2;
    }
    p->nread[i]++;
    return g;
}

void ml_read_all(ml_population *p, double *out)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++)
        out[i] = ml_read1(p, i);
}

void ml_relax_all(ml_population *p, double dt)
{
    p = live(p);
    const ml_device *d = &p->dev;
    if (d->relax_r <= 0 || dt <= 0) return;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        p->t_idle[i] += dt;
        double g = p->g_end[i] + (p->g_min[i] - p->g_end[i]) * d->relax_r * log10(1.0 + p->t_idle[i] / d->relax_tau);
        p->g[i] = ml_clamp(g, p->g_min[i], p->g_max[i]);
    }
}
