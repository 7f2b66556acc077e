/* Batched calibration (the simulated population's train_read op: float32 trains with reads)
 * against the pulse-by-pulse path a target without the op takes: same fits by KS test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/metrics.h"
#include "memlev/program.h"
#include "memlev/rng.h"
#include "memlev/transfer.h"
#include "device/internal.h"
#include "program/internal.h"

/* A simulated target without the batched op: every calibration pulse and read one at a time
 * (ml_pulse1, ml_read1), the path a target without train_read takes. */
static void sc_pulse(void *ctx, size_t i, double v, double w, ml_cost *c)
{
    ml_pulse1(ctx, i, v, w);
    c->pulses += 1;
    c->time_s += w;
}
static double sc_read(void *ctx, size_t i, ml_cost *c)
{
    if (c) c->reads += 1;
    return ml_read1(ctx, i);
}
static double sc_truth(void *ctx, size_t i) { return ((ml_population *)ctx)->g[i]; }
static const ml_target_ops k_scalar = {sc_pulse, sc_read, sc_truth, NULL, NULL};

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The batched calibration (the population's train_read: float32 trains with reads) against
 * pulse-by-pulse calibration through ml_pulse1 and ml_read1, on independent populations
 * (different seeds) of like devices with C2C and read noise and no device-to-device spread, so
 * the fits' spread is the noise's: the fitted a, v0 and g_far and the conductance a per-device
 * feedforward then programs to level P/2 match by two-sample KS at alpha = 0.001, and the
 * calibrations cost the same pulses and reads to 0.1 %. */
static void batched_calibration_matches_pulse_by_pulse(void **state)
{
    const size_t n = getenv("ML_TEST_SHORT") ? 600 : 3000;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    d.d2d_a_p = d.d2d_a_d = d.d2d_g_min = d.d2d_g_max = d.d2d_v0_p = d.d2d_v0_d = 0;
    d.s_c2c = 0.03;
    d.s_read_abs = 20e-9;
    ml_scheme s;
    ml_scheme_defaults(&s, ml_scheme_feedforward);
    const int P = 32;
    double *x[2][4];
    ml_cost cal[2] = {{0}};
    for (int path = 0; path < 2; path++) {
        ml_population *p;
        assert_int_equal(ml_population_new(&d, n, 21 + path, &p, NULL), ML_OK);
        ml_target t;
        ml_target_population(&t, p);
        if (path) t.ops = &k_scalar;
        ml_program_plan *pl;
        assert_int_equal(ml_program_plan_new(&t, &s, P, 1, &cal[path], &pl, NULL), ML_OK);
        int *lev = malloc(n * sizeof *lev);
        for (size_t i = 0; i < n; i++) lev[i] = P / 2;
        ml_cost c = {0};
        assert_int_equal(ml_program_plan_run(pl, &t, lev, &c, NULL), ML_OK);
        for (int q = 0; q < 4; q++) x[path][q] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            const ml_fit *f = ml_program_plan_fit(pl, i);
            assert_int_equal(f->status, ML_FIT_OK);
            x[path][0][i] = f->a; x[path][1][i] = f->v0; x[path][2][i] = f->g_far; x[path][3][i] = p->g[i];
        }
        free(lev);
        ml_program_plan_free(pl);
        ml_population_free(p);
    }
    const char *names[4] = {"a", "v0", "g_far", "programmed G"};
    const double crit = 1.949 * sqrt(2.0 / (double)n);
    for (int q = 0; q < 4; q++) {
        qsort(x[0][q], n, sizeof(double), cmp_dbl);
        qsort(x[1][q], n, sizeof(double), cmp_dbl);
        double D = ml_ks_statistic(x[0][q], n, x[1][q], n);
        printf("# batched vs pulse-by-pulse calibration, %s: KS D %.4f (critical %.4f, n = m = %zu); medians %.6g, %.6g\n",
               names[q], D, crit, n, x[0][q][n / 2], x[1][q][n / 2]);
        assert_true(D < crit);
        free(x[0][q]); free(x[1][q]);
    }
    printf("# calibration pulses %.0f, %.0f; reads %.0f, %.0f\n", cal[0].pulses, cal[1].pulses, cal[0].reads, cal[1].reads);
    /* the same trains; the adaptive probing before them follows each sample's own reads */
    assert_true(fabs(cal[0].pulses / cal[1].pulses - 1) < 1e-3 && fabs(cal[0].reads / cal[1].reads - 1) < 1e-3);
}

/* ml__fit_pairs_many (the calibration's fits of a block side by side, in vector lanes) gives
 * every device the bits ml_fit_pairs gives it alone, whatever its neighbours: devices with 2..7
 * trains of different lengths, one with too few pairs, one skipped (NULL), one with more runs
 * of equal pulses than the grouped sums hold (pair by pair), one that does not respond; the
 * block fitted in two orders. */
static void fit_side_by_side_matches_one_at_a_time(void **state)
{
    (void)state;
    enum { M = 23, PER = 7 * 40 };
    static double buf[M][4 * PER];
    double *pairs[M], *rev[M];
    size_t n[M], nrev[M];
    uint64_t r = 12345;
#define U01() ((double)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 11) / 9007199254740992.0)
    for (int i = 0; i < M; i++) {
        double *g0 = buf[i], *v = g0 + PER, *w = g0 + 2 * PER, *g1 = g0 + 3 * PER;
        double a = 0.002 * (0.5 + U01()), v0 = 0.2 + 0.3 * U01(), gf = 1e-4 * (1 + U01()), g = 1e-5;
        int nt = 2 + i % 6, len = 10 + (i * 7) % 31;
        size_t k = 0;
        for (int t = 0; t < nt; t++) {
            double va = 0.8 + 0.1 * t, wd = 1e-6 * (1 + (i % 3));
            g = 1e-5;
            for (int q = 0; q < len; q++, k++) {
                double vv = i == 5 ? (q % 2 ? va : va + 0.05) : va; /* device 5: a run per pair */
                double al = a * expm1(vv / v0) * (wd / 1e-6), gn = g + al * (gf - g);
                g0[k] = g * (1 + 0.01 * (U01() - 0.5));
                v[k] = vv; w[k] = wd;
                g1[k] = i == 9 ? g0[k] : gn * (1 + 0.01 * (U01() - 0.5)); /* device 9: no response */
                g = gn;
            }
        }
        n[i] = i == 3 ? 3 : k;
        pairs[i] = i == 7 ? NULL : buf[i];
    }
#undef U01
    for (int i = 0; i < M; i++) { rev[i] = pairs[M - 1 - i]; nrev[i] = n[M - 1 - i]; }
    ml_fit many[M], back[M];
    int ok[M], okb[M];
    memset(many, 0, sizeof many);
    memset(back, 0, sizeof back);
    ml__fit_pairs_many(pairs, PER, n, M, 1, 1e-6, 0.5, many, ok);
    ml__fit_pairs_many(rev, PER, nrev, M, 1, 1e-6, 0.5, back, okb);
    int fitted = 0;
    for (int i = 0; i < M; i++) {
        if (!pairs[i]) continue;
        double *b = pairs[i];
        ml_fit one;
        memset(&one, 0, sizeof one);
        int o1 = ml_fit_pairs(b, b + PER, b + 2 * PER, b + 3 * PER, n[i], 1, 1e-6, 0.5, &one, NULL) == ML_OK;
        assert_int_equal(ok[i], o1);
        assert_int_equal(okb[M - 1 - i], o1);
        if (!o1) continue;
        fitted++;
        assert_memory_equal(&many[i], &one, sizeof one);
        assert_memory_equal(&back[M - 1 - i], &one, sizeof one);
    }
    assert_int_equal(ok[3], 0); /* too few pairs */
    assert_int_equal(ok[9], 0); /* no response */
    assert_true(fitted >= M - 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batched_calibration_matches_pulse_by_pulse),
        cmocka_unit_test(fit_side_by_side_matches_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
