/* Weight transfer on weight arrays: pulse-level vs statistical agreement (KS), thread
 * independence, quantisation, invalid requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/rng.h"
#include "memlev/transfer.h"

#define NW 20000

static float *laplace_weights(size_t n)
{
    float *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        double u = ml_uniform(5, i, 0, 9) - 0.5;
        w[i] = (float)(-0.05 * (u < 0 ? -1 : 1) * log(1 - 2 * fabs(u)));
    }
    return w;
}

/* per_device = 0: one calibration for the population (fast enough for large layers) */
static ml_levelset *levels_cal(ml_scheme_kind k, int n, int per_device)
{
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_scheme s;
    ml_scheme_defaults(&s, k);
    s.calib_per_device = per_device;
    ml_levelset *ls = NULL;
    assert_int_equal(ml_levelset_build(&d, &s, n, 400, 3, &ls, NULL), ML_OK);
    return ls;
}

static ml_levelset *levels(ml_scheme_kind k, int n) { return levels_cal(k, n, 0); }

static void pulse_and_statistical_modes_agree_in_distribution(void **state)
{
    ml_levelset *ls = levels(ML_SCHEME_FEEDFORWARD, 64);
    float *w = laplace_weights(NW), *a = malloc(NW * sizeof *a), *b = malloc(NW * sizeof *b);
    double *ga = malloc(NW * sizeof *ga), *gb = malloc(NW * sizeof *gb), *gma = malloc(NW * sizeof *gma), *gmb = malloc(NW * sizeof *gmb);
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 11};
    ml_transfer_stats st = {0};
    assert_int_equal(ml_transfer_array(w, 100, NW / 100, ls, &o, 0, a, ga, gma, &st, NULL), ML_OK);
    assert_true(st.pulses > NW && st.devices == 2.0 * NW);
    o.mode = ML_TRANSFER_STATISTICAL;
    assert_int_equal(ml_transfer_array(w, 100, NW / 100, ls, &o, 0, b, gb, gmb, NULL, NULL), ML_OK);
    /* the idle (reset) devices of positive weights: same level, two sampling routes */
    size_t na = 0;
    double *x = malloc(NW * sizeof *x), *y = malloc(NW * sizeof *y);
    for (size_t i = 0; i < NW; i++)
        if (w[i] > 0) { x[na] = gma[i]; y[na] = gmb[i]; na++; }
    double D = ml_ks_statistic(x, na, y, na);
    /* statistical mode resamples ls->nsamp measured devices: that is the second sample */
    double crit = 1.63 * sqrt(1.0 / na + 1.0 / ls->nsamp); /* alpha = 0.01 */
    assert_true(D < crit);
    /* the programmed weights as a whole */
    double *wa = malloc(NW * sizeof *wa), *wb = malloc(NW * sizeof *wb);
    for (size_t i = 0; i < NW; i++) { wa[i] = a[i]; wb[i] = b[i]; }
    D = ml_ks_statistic(wa, NW, wb, NW);
    assert_true(D < 1.63 * sqrt(1.0 / NW + 1.0 / ls->nsamp));
    free(w); free(a); free(b); free(ga); free(gb); free(gma); free(gmb); free(x); free(y); free(wa); free(wb);
    ml_levelset_free(ls);
}

static void pulse_mode_does_not_depend_on_threads(void **state)
{
    ml_levelset *ls = levels(ML_SCHEME_VERIFY, 16);
    float *w = laplace_weights(NW), *a = malloc(NW * sizeof *a), *b = malloc(NW * sizeof *b);
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 1, 0, 4};
    omp_set_num_threads(1);
    assert_int_equal(ml_transfer_array(w, 200, NW / 200, ls, &o, 77, a, NULL, NULL, NULL, NULL), ML_OK);
    omp_set_num_threads(2);
    assert_int_equal(ml_transfer_array(w, 200, NW / 200, ls, &o, 77, b, NULL, NULL, NULL, NULL), ML_OK);
    assert_memory_equal(a, b, NW * sizeof *a);
    free(w); free(a); free(b);
    ml_levelset_free(ls);
}

static void quantize_mode_picks_the_nearest_level(void **state)
{
    ml_levelset *ls = levels(ML_SCHEME_FEEDFORWARD, 8);
    float w[5] = {-1, -0.5f, 0, 0.3f, 1}, out[5];
    ml_transfer_opts o = {ML_TRANSFER_QUANTIZE, 0, 0, 1};
    assert_int_equal(ml_transfer_array(w, 1, 5, ls, &o, 0, out, NULL, NULL, NULL, NULL), ML_OK);
    assert_true(fabsf(out[0] + 1) < 1e-6 && fabsf(out[4] - 1) < 1e-6 && out[2] == 0);
    assert_true(fabsf(out[3] - 2.0f / 7) < 0.02); /* 8 near-uniform levels: 0.3 -> 2/7 */
    ml_levelset_free(ls);
}

static void per_device_calibration_programs_each_device(void **state)
{
    ml_levelset *ls = levels_cal(ML_SCHEME_FEEDFORWARD, 32, 1);
    enum { M = 512 };
    float *w = laplace_weights(M), out[M];
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 2};
    ml_transfer_stats st = {0};
    assert_int_equal(ml_transfer_array(w, 1, M, ls, &o, 0, out, NULL, NULL, &st, NULL), ML_OK);
    assert_true(st.calib_pulses > 100.0 * 2 * M); /* every device characterised itself */
    double e = 0, wmax = 0;
    for (int i = 0; i < M; i++) { e += (out[i] - w[i]) * (out[i] - w[i]); wmax = fmax(wmax, fabs(w[i])); }
    assert_true(sqrt(e / M) < 0.05 * wmax); /* 32 levels: quantisation + device noise */
    free(w);
    ml_levelset_free(ls);
}

static void invalid_requests_are_errors(void **state)
{
    ml_levelset *ls = levels(ML_SCHEME_FEEDFORWARD, 4);
    float w[3] = {0.1f, NAN, 0.2f}, out[3];
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 1};
    ml_error e = {0};
    assert_int_not_equal(ml_transfer_array(w, 1, 3, ls, &o, 0, out, NULL, NULL, NULL, &e), ML_OK);
    assert_non_null(strstr(e.msg, "not finite"));
    ml_levelset_free(ls);
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_scheme s;
    ml_scheme_defaults(&s, ML_SCHEME_FEEDFORWARD);
    assert_int_not_equal(ml_levelset_build(&d, &s, 1, 100, 1, &ls, &e), ML_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pulse_and_statistical_modes_agree_in_distribution),
        cmocka_unit_test(pulse_mode_does_not_depend_on_threads),
        cmocka_unit_test(quantize_mode_picks_the_nearest_level),
        cmocka_unit_test(per_device_calibration_programs_each_device),
        cmocka_unit_test(invalid_requests_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
