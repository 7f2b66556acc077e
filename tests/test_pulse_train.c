/* Pulse-train kernel (src/device/train.c): float32 error against a double reference on the
 * same random words, bit-identity across instruction sets, thread counts and block phases,
 * its Gaussian against the normal CDF, and its conductance distributions against the
 * one-pulse double kernel (two-sample KS at the real sample sizes); the train with reads
 * (ml_pulse_train_read): its states equal the train kernel's, the same bits for any split
 * and instruction set, and its read noise against the normal CDF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/device.h"
#include "memlev/rng.h"
#include "memlev/transfer.h"
#include "device/internal.h"
#include "device/train_f32.h"

static int short_run(void) { return getenv("ML_TEST_SHORT") != NULL; }

/* Double-precision reference of the train kernel, device by device: the same Philox words
 * (counter t / 4, or t / 2 with additive noise, purpose ML_RNG_C2C_TRAIN) turned into
 * Gaussians with libm, and the soft-bounds step of population.c in double. */
static void reference_train(ml_population *p, size_t i, const double *v, const double *w, int k)
{
    const ml_device *d = &p->dev;
    const int per = d->s_abs > 0 ? 2 : d->s_c2c > 0 ? 4 : 0;
    double g = p->g[i];
    for (int q = 0; q < k; q++) {
        uint32_t t = p->npulse[i] + (uint32_t)q;
        double z[4] = {0, 0, 0, 0}, n1 = 0, n2 = 0;
        if (per) {
            ml_u32x4 r = ml_philox(p->seed, p->base + i, t / (uint32_t)per, ML_RNG_C2C_TRAIN);
            for (int h = 0; h < 2; h++) {
                double u1 = ((double)(r.v[2 * h] >> 1) + 0.5) / 2147483648.0;
                double u2 = (double)(r.v[2 * h + 1] >> 8) / 16777216.0;
                double rad = sqrt(-2.0 * log(u1));
                z[2 * h] = rad * cos(6.283185307179586 * u2);
                z[2 * h + 1] = rad * sin(6.283185307179586 * u2);
            }
            if (per == 4) n1 = z[t & 3];
            else { n1 = z[2 * (t & 1)]; n2 = z[2 * (t & 1) + 1]; }
        }
        double av = fabs(v[q]);
        if (av < d->v_th || w[q] <= 0) continue;
        int pos = v[q] >= 0;
        double a = (pos ? p->a_p[i] : p->a_d[i]) * (exp(av / (pos ? p->v0_p[i] : p->v0_d[i])) - 1) * (w[q] / d->t_ref);
        double tg = pos ? p->g_inf_p[i] : p->g_inf_d[i];
        a *= 1 + d->s_c2c * n1;
        a = a > 1 ? 1 : a < 0 ? 0 : a;
        g = g + a * (tg - g) + d->s_abs * n2;
        g = g < p->g_min[i] ? p->g_min[i] : g > p->g_max[i] ? p->g_max[i] : g;
    }
    p->g[i] = g;
    p->npulse[i] += (uint32_t)k;
}

/* 2,048 pulses: potentiation ramps, depression, sub-threshold and width changes */
static void schedule(double *v, double *w, int k, double width)
{
    for (int q = 0; q < k; q++) {
        int ph = (q / 256) % 4;
        v[q] = ph == 0 ? 0.9 + 0.001 * (q % 256) : ph == 1 ? -1.0 : ph == 2 ? (q % 7 ? 1.2 : 0.1) : -1.3;
        w[q] = width * (ph == 2 ? 0.5 : 1.0);
    }
}

static void float_train_tracks_double_reference(void **state)
{
    enum { N = 1000, K = 2048 };
    static double v[K], w[K];
    for (int noise = 0; noise < 2; noise++) {
        ml_device d;
        ml_device_preset("tio2x", &d, NULL);
        if (noise) { d.s_c2c = 0.05; d.s_abs = 2e-8; }
        schedule(v, w, K, d.width);
        ml_population *a, *b;
        assert_int_equal(ml_population_new(&d, N, 5, &a, NULL), ML_OK);
        assert_int_equal(ml_population_new(&d, N, 5, &b, NULL), ML_OK);
        ml_pulse_train(a, 0, N, v, w, K, NULL);
        double worst = 0;
        for (size_t i = 0; i < N; i++) {
            reference_train(b, i, v, w, K);
            double err = fabs(a->g[i] - b->g[i]) / (a->g_max[i] - a->g_min[i]);
            worst = err > worst ? err : worst;
            assert_int_equal(a->npulse[i], K);
        }
        /* the budget is 1/1024 of the window; float32 keeps ~1e-6 */
        printf("# float32 vs double after %d pulses (noise %d): max error %.3g of the window\n", K, noise, worst);
        assert_true(worst < 1e-5);
        ml_population_free(a);
        ml_population_free(b);
    }
}

/* NeuroSim devices with their own labels and windows (d2d.nl 0.5, 5 % window): the float32
 * train follows each device's own curve (the double reference on the same per-device
 * parameters) to 1e-5 of its window, with and without NeuroSim's absolute C2C; mid-way up, its
 * noiseless states differ from those of the same windows with the nominal labels by far more; and the train with reads gives the
 * train's states bit for bit. */
static void train_follows_each_neurosim_devices_own_curve(void **state)
{
    enum { N = 300, K = 400, L = 40 };
    static double v[K], w[K];
    for (int noise = 0; noise < 2; noise++) {
        ml_device d;
        ml_device_preset("agsi", &d, NULL);
        if (!noise) d.s_abs = 0;
        d.d2d_nl = 0.5;
        d.d2d_g_min = d.d2d_g_max = 0.05;
        for (int q = 0; q < K; q++) { /* LTP, LTD, then mixed amplitudes and widths */
            int ph = q / 150;
            v[q] = ph == 0 ? d.v_pulse_p : ph == 1 ? d.v_pulse_d : (q % 2 ? 1.05 * d.v_pulse_p : 0.95 * d.v_pulse_d);
            w[q] = d.width * (ph == 2 ? 0.5 + 0.01 * (q % 50) : 1.0);
        }
        ml_population *a, *b, *nom;
        assert_int_equal(ml_population_new(&d, N, 5, &a, NULL), ML_OK);
        assert_int_equal(ml_population_new(&d, N, 5, &b, NULL), ML_OK);
        ml_device dn = d;
        dn.d2d_nl = 0; /* the same windows, the nominal labels */
        assert_int_equal(ml_population_new(&dn, N, 5, &nom, NULL), ML_OK);
        ml_pulse_train(a, 0, N, v, w, 40, NULL); /* mid-way up, where the labels bend the curves */
        ml_pulse_train(nom, 0, N, v, w, 40, NULL);
        int off = 0;
        for (size_t i = 0; i < N; i++) off += fabs(a->g[i] - nom->g[i]) > 1e-3 * (a->g_max[i] - a->g_min[i]);
        ml_pulse_train(a, 0, N, v + 40, w + 40, K - 40, NULL);
        double worst = 0;
        for (size_t i = 0; i < N; i++) {
            reference_train(b, i, v, w, K);
            worst = fmax(worst, fabs(a->g[i] - b->g[i]) / (a->g_max[i] - a->g_min[i]));
        }
        printf("# NeuroSim labels (noise %d): float32 train vs double, max error %.3g of the window; %d of %d devices "
               "> 1e-3 of the window off the nominal labels' after 40 LTP pulses\n", noise, worst, off, N);
        assert_true(worst < 1e-5);
        if (!noise) assert_true(off > N * 3 / 4);
        /* the train with reads: per-device pulses, the same states as the train, bit for bit */
        double vd[N], wd[N], *rd = malloc((size_t)L * N * sizeof(double)), *gt = malloc((size_t)(L + 1) * N * sizeof(double));
        for (size_t i = 0; i < N; i++) { vd[i] = i % 2 ? d.v_pulse_p : d.v_pulse_d; wd[i] = d.width; }
        ml_population *c1, *c2;
        assert_int_equal(ml_population_new(&d, N, 7, &c1, NULL), ML_OK);
        assert_int_equal(ml_population_new(&d, N, 7, &c2, NULL), ML_OK);
        ml_pulse_train(c1, 0, N, v, w, 75, NULL); /* somewhere inside the window */
        ml_pulse_train(c2, 0, N, v, w, 75, NULL);
        ml_pulse_train_read(c1, 0, N, vd, wd, L, rd, gt);
        for (size_t i = 0; i < N; i++) {
            double vk[L], wk[L];
            for (int k = 0; k < L; k++) { vk[k] = vd[i]; wk[k] = wd[i]; }
            ml_pulse_train(c2, i, i + 1, vk, wk, L, NULL);
        }
        assert_memory_equal(c1->g, c2->g, N * sizeof(double));
        assert_memory_equal(gt + (size_t)L * N, c2->g, N * sizeof(double));
        free(rd);
        free(gt);
        ml_population_free(c1);
        ml_population_free(c2);
        ml_population_free(a);
        ml_population_free(b);
        ml_population_free(nom);
    }
}

static void train_is_bit_identical_on_every_instruction_set(void **state)
{
    enum { N = 777, K = 300 };
    static double v[K], w[K];
    int best = ml__train_isa_best(), cnt[N];
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    d.s_abs = 1e-8;
    schedule(v, w, K, d.width);
    for (int i = 0; i < N; i++) cnt[i] = (i * 37) % (K + 1);
    for (int abs_noise = 0; abs_noise < 2; abs_noise++) {
        if (!abs_noise) d.s_abs = 0;
        ml_population *p[3] = {NULL, NULL, NULL};
        for (int isa = 0; isa <= best; isa++) {
            assert_int_equal(ml_population_new(&d, N, 9, &p[isa], NULL), ML_OK);
            ml__pulse_train_isa_run(p[isa], 0, N, v, w, K, cnt, isa);
            ml__pulse_train_isa_run(p[isa], 0, N, v, w, K / 3, NULL, isa);
            if (isa) {
                assert_memory_equal(p[isa]->g, p[0]->g, N * sizeof(double));
                assert_memory_equal(p[isa]->npulse, p[0]->npulse, N * sizeof(uint32_t));
            }
        }
        printf("# instruction sets compared: %d (best here: %s)\n", best + 1, ml_pulse_train_isa());
        for (int isa = 0; isa < 3; isa++) ml_population_free(p[isa]);
    }
}

static void train_does_not_depend_on_threads_or_blocks(void **state)
{
    enum { N = 10007, K = 64 };
    double v[K], w[K];
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    schedule(v, w, K, d.width);
    int *cnt = malloc(N * sizeof *cnt);
    for (int i = 0; i < N; i++) cnt[i] = i % 3 ? K : i % K;
    ml_population *p[3];
    for (int t = 0; t < 3; t++) {
        assert_int_equal(ml_population_new(&d, N, 42, &p[t], NULL), ML_OK);
        omp_set_num_threads(t == 1 ? 2 : 1);
        /* phases mixed on purpose: the second train starts at a different counter per device */
        if (t < 2) { ml_pulse_train_all(p[t], v, w, K, cnt); ml_pulse_train_all(p[t], v, w, K, NULL); }
        else
            for (size_t i = 0; i < N; i++) { /* one device at a time: every block uniform */
                ml_pulse_train(p[t], i, i + 1, v, w, K, cnt + i);
                ml_pulse_train(p[t], i, i + 1, v, w, K, NULL);
            }
    }
    omp_set_num_threads(2);
    assert_memory_equal(p[0]->g, p[1]->g, N * sizeof(double));
    assert_memory_equal(p[0]->g, p[2]->g, N * sizeof(double));
    assert_memory_equal(p[0]->npulse, p[2]->npulse, N * sizeof(uint32_t));
    for (int t = 0; t < 3; t++) ml_population_free(p[t]);
    free(cnt);
}

/* KS critical value at alpha = 0.001 (Smirnov's asymptotic c = 1.949) for sizes n and m */
static double ks_crit(size_t n, size_t m) { return 1.949 * sqrt((double)(n + m) / ((double)n * (double)m)); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void gaussian_matches_the_normal_cdf(void **state)
{
    const size_t n = short_run() ? 1 << 16 : 1 << 20;
    double *z = malloc(n * sizeof *z);
    size_t tail = 0;
    for (size_t i = 0; i < n; i += 4) {
        ml_u32x4 r = ml_philox(3, i, 0, ML_RNG_C2C_TRAIN);
        float a, b, c, e;
        mlf_normal2(r.v[0], r.v[1], &a, &b);
        mlf_normal2(r.v[2], r.v[3], &c, &e);
        z[i] = a; z[i + 1] = b; z[i + 2] = c; z[i + 3] = e;
    }
    qsort(z, n, sizeof *z, cmp_double);
    double D = 0;
    for (size_t i = 0; i < n; i++) {
        double F = 0.5 * erfc(-z[i] / sqrt(2.0));
        double d1 = fabs(F - (double)i / n), d2 = fabs((double)(i + 1) / n - F);
        D = fmax(D, fmax(d1, d2));
        tail += fabs(z[i]) > 3;
    }
    /* one-sample KS at the real n; the 3-sigma tail within 5 binomial standard deviations */
    double pt = 2.6997960632601913e-3, sd = sqrt(pt * (1 - pt) / n);
    printf("# Gaussian: n %zu, KS D %.3g (critical %.3g), P(|z|>3) %.5f (expected %.5f)\n", n, D,
           1.949 / sqrt((double)n), (double)tail / n, pt);
    assert_true(D < 1.949 / sqrt((double)n));
    assert_true(fabs((double)tail / n - pt) < 5 * sd);
    assert_true(z[0] > -6.7 && z[n - 1] < 6.7);
    free(z);
}

static void train_distributions_match_the_one_pulse_kernel(void **state)
{
    const size_t n = short_run() ? 4000 : 20000;
    for (int dd = 0; dd < 2; dd++) {
        ml_device d;
        ml_device_preset("tio2x", &d, NULL);
        d.s_c2c = 0.05;
        if (!dd) d.d2d_a_p = d.d2d_a_d = d.d2d_g_min = d.d2d_g_max = d.d2d_v0_p = d.d2d_v0_d = 0; /* C2C only */
        const int marks[3] = {10, 100, 600};
        ml_population *a, *b;
        /* different seeds: the two samples are independent, as the KS critical value assumes */
        assert_int_equal(ml_population_new(&d, n, 11, &a, NULL), ML_OK);
        assert_int_equal(ml_population_new(&d, n, 12, &b, NULL), ML_OK);
        double v[600], w[600];
        for (int q = 0; q < 600; q++) { v[q] = q < 400 ? 1.0 : -0.9; w[q] = d.width; }
        int done = 0;
        double *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
        for (int m = 0; m < 3; m++) {
            ml_pulse_train_all(a, v + done, w + done, marks[m] - done, NULL);
            for (int q = done; q < marks[m]; q++) ml_pulse_all(b, NULL, NULL, v[q], w[q]);
            done = marks[m];
            memcpy(ga, a->g, n * sizeof *ga);
            memcpy(gb, b->g, n * sizeof *gb);
            double D = ml_ks_statistic(ga, n, gb, n);
            printf("# KS train vs one-pulse, d2d %d, %d pulses: D %.4f (critical %.4f, n = m = %zu)\n", dd, done, D,
                   ks_crit(n, n), n);
            assert_true(D < ks_crit(n, n));
        }
        free(ga); free(gb);
        ml_population_free(a);
        ml_population_free(b);
    }
}

/* Trains with reads, each device its own amplitude and width, on mixed read counters: the
 * states equal ml_pulse_train's for the same pulses (devices one at a time), the reads and
 * states are the same bits for every instruction set and for any split into calls, skipped
 * devices stay untouched, and the counters advance by the train's length. */
static void train_read_equals_train_and_does_not_depend_on_split_or_isa(void **state)
{
    enum { N = 1000, L = 37 };
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    d.s_read_rel = 0.002; /* both read noise terms: two reads per Philox call */
    double v[N], w[N];
    for (int i = 0; i < N; i++) {
        v[i] = i % 7 == 3 ? 0.2 : (i % 2 ? 1.0 + 0.001 * i : -0.9 - 0.0005 * i); /* some below threshold */
        w[i] = i % 11 == 5 ? 0 : d.width * (1 + i % 3);                           /* some skipped */
    }
    const int best = ml__train_isa_best();
    double *rd[4], *gt[4];
    ml_population *p[4], *ref;
    assert_int_equal(ml_population_new(&d, N, 9, &ref, NULL), ML_OK);
    for (int c = 0; c < 4; c++) {
        assert_int_equal(ml_population_new(&d, N, 9, &p[c], NULL), ML_OK);
        rd[c] = malloc((size_t)L * N * sizeof(double));
        gt[c] = malloc((size_t)(L + 1) * N * sizeof(double));
    }
    /* uneven counters, so blocks mix Philox phases */
    for (int i = 0; i < N; i++) {
        for (int c = 0; c < 4; c++) { p[c]->nread[i] = (uint32_t)(i % 5); p[c]->npulse[i] = (uint32_t)(i % 3); }
        ref->nread[i] = (uint32_t)(i % 5); ref->npulse[i] = (uint32_t)(i % 3);
    }
    for (int c = 0; c < 3; c++) {
        int isa = c > best ? best : c;
        ml__pulse_train_read_isa(p[c], 0, N, v, w, L, rd[c], gt[c], isa);
    }
    /* the best instruction set in two uneven calls (other column offsets) */
    double *r2 = malloc((size_t)L * N * sizeof(double)), *g2 = malloc((size_t)(L + 1) * N * sizeof(double));
    const size_t cut = 333;
    ml_pulse_train_read(p[3], 0, cut, v, w, L, rd[3], gt[3]);
    ml_pulse_train_read(p[3], cut, N, v + cut, w + cut, L, r2, g2);
    for (int k = 0; k <= L; k++)
        for (size_t i = 0; i < N; i++) {
            if (k < L) {
                double a = rd[0][(size_t)k * N + i], b = i < cut ? rd[3][(size_t)k * cut + i] : r2[(size_t)k * (N - cut) + i - cut];
                assert_memory_equal(&a, &b, sizeof a);
                for (int c = 1; c < 3; c++) assert_memory_equal(&rd[0][(size_t)k * N + i], &rd[c][(size_t)k * N + i], sizeof a);
            }
            for (int c = 1; c < 3; c++) assert_memory_equal(&gt[0][(size_t)k * N + i], &gt[c][(size_t)k * N + i], sizeof(double));
        }
    for (size_t i = 0; i < N; i++) {
        double vk[L], wk[L];
        for (int k = 0; k < L; k++) { vk[k] = v[i]; wk[k] = w[i]; }
        if (w[i] > 0) ml_pulse_train(ref, i, i + 1, vk, wk, L, NULL);
        for (int c = 0; c < 4; c++) {
            assert_memory_equal(&p[c]->g[i], &ref->g[i], sizeof(double));
            assert_int_equal(p[c]->npulse[i], ref->npulse[i]);
            assert_int_equal(p[c]->nread[i], ref->nread[i] + (w[i] > 0 ? L : 0));
        }
        if (w[i] > 0) assert_memory_equal(&gt[0][(size_t)L * N + i], &ref->g[i], sizeof(double));
        else assert_true(isnan(rd[0][i]) && isnan(gt[0][i]));
        if (w[i] > 0 && fabs(v[i]) < d.v_th) assert_true(gt[0][(size_t)L * N + i] == gt[0][i]); /* below threshold */
    }
    for (int c = 0; c < 4; c++) { ml_population_free(p[c]); free(rd[c]); free(gt[c]); }
    ml_population_free(ref);
    free(r2); free(g2);
}

/* The reads' noise, (read - true) / sigma with sigma^2 = (g s_read_rel)^2 + s_read_abs^2,
 * against the normal CDF (one-sample KS, alpha = 0.001), with one and with both noise terms. */
static void train_read_noise_matches_the_normal_cdf(void **state)
{
    const size_t N = short_run() ? 512 : 4096;
    enum { L = 64 };
    for (int both = 0; both < 2; both++) {
        ml_device d;
        ml_device_preset("tio2x", &d, NULL);
        d.s_read_rel = both ? 3e-5 : 0;
        ml_population *p;
        assert_int_equal(ml_population_new(&d, N, 5, &p, NULL), ML_OK);
        double *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
        double *rd = malloc(L * N * sizeof *rd), *gt = malloc((L + 1) * N * sizeof *gt), *z = malloc(L * N * sizeof *z);
        for (size_t i = 0; i < N; i++) { v[i] = 1.0; w[i] = d.width; p->nread[i] = (uint32_t)(i & 3); }
        ml_pulse_train_read(p, 0, N, v, w, L, rd, gt);
        for (size_t q = 0; q < (size_t)L * N; q++) {
            double g = gt[q + N], sg = hypot(g * d.s_read_rel, d.s_read_abs);
            z[q] = (rd[q] - g) / sg;
        }
        const size_t n = (size_t)L * N;
        qsort(z, n, sizeof *z, cmp_double);
        double D = 0;
        for (size_t i = 0; i < n; i++) {
            double F = 0.5 * erfc(-z[i] / sqrt(2.0));
            D = fmax(D, fmax(fabs(F - (double)i / n), fabs((double)(i + 1) / n - F)));
        }
        printf("# read noise (%s): n %zu, KS D %.3g (critical %.3g)\n", both ? "relative and absolute" : "absolute", n, D,
               1.949 / sqrt((double)n));
        assert_true(D < 1.949 / sqrt((double)n));
        free(v); free(w); free(rd); free(gt); free(z);
        ml_population_free(p);
    }
}

/* ml_exp_poly, the kernels' exp: within 3e-16 (1 + x) of libm on 0..700, and defined (no
 * float-to-integer overflow, which UBSan reports) on what vector code may feed it from lanes
 * it redoes afterwards: huge, negative, infinite and NaN arguments (fuzzing found 1.5e54). */
static void exp_poly_is_exact_in_range_and_defined_outside(void **state)
{
    (void)state;
    for (double x = 0; x <= 700; x += 0.37) {
        double e = exp(x), q = ml_exp_poly(x);
        assert_true(fabs(q - e) <= 3e-16 * (1 + x) * e);
    }
    const double odd[] = {1.53036e54, 710, 1e300, -1, -1e300, INFINITY, -INFINITY, NAN};
    double sink = 0;
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) sink += ml_exp_poly(odd[i]) * 0;
    (void)sink;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_poly_is_exact_in_range_and_defined_outside),
        cmocka_unit_test(float_train_tracks_double_reference),
        cmocka_unit_test(train_follows_each_neurosim_devices_own_curve),
        cmocka_unit_test(train_is_bit_identical_on_every_instruction_set),
        cmocka_unit_test(train_does_not_depend_on_threads_or_blocks),
        cmocka_unit_test(gaussian_matches_the_normal_cdf),
        cmocka_unit_test(train_distributions_match_the_one_pulse_kernel),
        cmocka_unit_test(train_read_equals_train_and_does_not_depend_on_split_or_isa),
        cmocka_unit_test(train_read_noise_matches_the_normal_cdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
