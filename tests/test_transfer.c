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

/* per_device = 0: one calibration for the population (fast enough for large layers);
 * grid_common: one absolute grid for every device (scheme.grid_common) */
static ml_levelset *levels_grid(const ml_scheme_type *k, int n, int per_device, int grid_common)
{
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_scheme s;
    ml_scheme_defaults(&s, k);
    s.calib_per_device = per_device;
    s.grid_common = grid_common;
    ml_levelset *ls = NULL;
    assert_int_equal(ml_levelset_build(&d, &s, n, 400, 3, &ls, NULL), ML_OK);
    return ls;
}

static ml_levelset *levels_cal(const ml_scheme_type *k, int n, int per_device) { return levels_grid(k, n, per_device, 0); }
static ml_levelset *levels(const ml_scheme_type *k, int n) { return levels_cal(k, n, 0); }

/* one programmed device of a positive weight: its level (quantised weight) and its read
 * conductance in pulse and in statistical mode */
typedef struct lvl_dev { float q; double pulse, stat; } lvl_dev;

static int by_level(const void *a, const void *b)
{
    float x = ((const lvl_dev *)a)->q, y = ((const lvl_dev *)b)->q;
    return (x > y) - (x < y);
}

/* Pulse-mode and statistical transfer of NW Laplace weights through ls; at least min_tested
 * levels hold enough devices to be tested. */
static void modes_agree(ml_levelset *ls, int min_tested)
{
    float *w = laplace_weights(NW), *a = malloc(NW * sizeof *a), *b = malloc(NW * sizeof *b);
    double *ga = malloc(NW * sizeof *ga), *gb = malloc(NW * sizeof *gb), *gma = malloc(NW * sizeof *gma), *gmb = malloc(NW * sizeof *gmb);
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 11};
    ml_transfer_stats st = {0};
    assert_int_equal(ml_transfer_array(w, 100, NW / 100, ls, &o, 0, a, ga, gma, &st, NULL), ML_OK);
    assert_true(st.pulses > NW && st.devices == 2.0 * NW);
    o.mode = ML_TRANSFER_STATISTICAL;
    assert_int_equal(ml_transfer_array(w, 100, NW / 100, ls, &o, 0, b, gb, gmb, NULL, NULL), ML_OK);
    /* the devices of positive weights, level by level (level 0: the idle, reset G- devices;
     * levels above: the G+ devices, grouped by their quantised weight, one value per level).
     * Per level, n devices programmed pulse by pulse against n draws from the level's
     * ls->nsamp measured devices: D_crit = c(alpha) sqrt(2/n + 1/nsamp), with alpha = 0.01
     * shared by the levels tested (Bonferroni). A statistical mode without device noise
     * (each level at its mean) gives D near 0.5 on every level. */
    float *q = malloc(NW * sizeof *q);
    o.mode = ML_TRANSFER_QUANTIZE;
    assert_int_equal(ml_transfer_array(w, 100, NW / 100, ls, &o, 0, q, NULL, NULL, NULL, NULL), ML_OK);
    double *x = malloc(NW * sizeof *x), *y = malloc(NW * sizeof *y);
    lvl_dev *dv = malloc(NW * sizeof *dv);
    size_t na = 0, nd = 0;
    for (size_t i = 0; i < NW; i++) {
        if (!(w[i] > 0)) continue;
        x[na] = gma[i]; y[na] = gmb[i]; na++;
        if (q[i] > 0) { dv[nd].q = q[i]; dv[nd].pulse = ga[i]; dv[nd].stat = gb[i]; nd++; }
    }
    double D = ml_ks_statistic(x, na, y, na);
    assert_true(D < 1.63 * sqrt(2.0 / na + 1.0 / ls->nsamp));
    qsort(dv, nd, sizeof *dv, by_level);
    const double cb = sqrt(-0.5 * log(0.01 / ls->n / 2));
    int tested = 0;
    double worst = 0;
    for (size_t k0 = 0, k1; k0 < nd; k0 = k1) {
        for (k1 = k0; k1 < nd && dv[k1].q == dv[k0].q; k1++) {
            x[k1 - k0] = dv[k1].pulse;
            y[k1 - k0] = dv[k1].stat;
        }
        size_t n = k1 - k0;
        if (n < 100) continue;
        D = ml_ks_statistic(x, n, y, n);
        double crit = cb * sqrt(2.0 / n + 1.0 / ls->nsamp);
        if (D / crit > worst) worst = D / crit;
        tested++;
    }
    print_message("%d levels tested, largest D/D_crit %.3f\n", tested, worst);
    assert_true(tested >= min_tested);
    assert_true(worst < 1);
    free(w); free(a); free(b); free(ga); free(gb); free(gma); free(gmb); free(x); free(y); free(q); free(dv);
    ml_levelset_free(ls);
}

static void pulse_and_statistical_modes_agree_in_distribution(void **state)
{
    (void)state;
    modes_agree(levels(ml_scheme_feedforward, 64), 10);
}

/* Verify reads toward each weight's level straight from reset, and lands elsewhere within
 * its tolerance than along the staircase (on a shared grid, a quarter of a spacing from it):
 * its level set samples what transfer programs, so the two modes agree here too. */
static void verify_modes_agree_on_a_shared_grid(void **state)
{
    (void)state;
    modes_agree(levels_grid(ml_scheme_verify, 8, 1, 1), 3);
}

static void pulse_mode_does_not_depend_on_threads(void **state)
{
    ml_levelset *ls = levels(ml_scheme_verify, 16);
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
    ml_levelset *ls = levels(ml_scheme_feedforward, 8);
    float w[5] = {-1, -0.5f, 0, 0.3f, 1}, out[5];
    ml_transfer_opts o = {ML_TRANSFER_QUANTIZE, 0, 0, 1};
    assert_int_equal(ml_transfer_array(w, 1, 5, ls, &o, 0, out, NULL, NULL, NULL, NULL), ML_OK);
    assert_true(fabsf(out[0] + 1) < 1e-6 && fabsf(out[4] - 1) < 1e-6 && out[2] == 0);
    assert_true(fabsf(out[3] - 2.0f / 7) < 0.02); /* 8 near-uniform levels: 0.3 -> 2/7 */
    ml_levelset_free(ls);
}

/* ml_transfer_scales is the scale the transfer applies: every read-back weight is exactly
 * (G+ - G-) / scale, per layer and per channel, in every mode */
static void transfer_scales_rebuild_the_read_back_weights(void **state)
{
    ml_levelset *ls = levels(ml_scheme_feedforward, 16);
    enum { R = 4, C = 50 };
    float *w = laplace_weights(R * C), out[R * C];
    for (int k = 0; k < C; k++) w[C + k] *= 10; /* channels of very different ranges */
    double gp[R * C], gm[R * C], sc[R];
    for (int per = 0; per < 2; per++)
        for (int mode = 0; mode < 3; mode++) {
            ml_transfer_opts o = {(ml_transfer_mode)mode, per, 0, 7};
            assert_int_equal(ml_transfer_array(w, R, C, ls, &o, 0, out, gp, gm, NULL, NULL), ML_OK);
            assert_int_equal(ml_transfer_scales(w, R, C, ls, per, sc, NULL), ML_OK);
            for (int q = 0; q < R * C; q++)
                assert_true(out[q] == (float)((gp[q] - gm[q]) / sc[per ? q / C : 0]));
        }
    assert_int_equal(ml_transfer_scales(w, R, C, ls, 1, sc, NULL), ML_OK);
    assert_true(sc[1] < sc[0] / 5); /* the wide channel gets fewer siemens per unit weight */
    assert_int_equal(ml_transfer_scales(w, 0, C, ls, 1, sc, NULL), ML_EINVAL);
    free(w);
    ml_levelset_free(ls);
}

static void per_device_calibration_programs_each_device(void **state)
{
    ml_levelset *ls = levels_cal(ml_scheme_feedforward, 32, 1);
    enum { M = 512 };
    float *w = laplace_weights(M), out[M];
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 2};
    ml_transfer_stats st = {0};
    assert_int_equal(ml_transfer_array(w, 1, M, ls, &o, 0, out, NULL, NULL, &st, NULL), ML_OK);
    assert_true(st.calib_pulses > 100.0 * 2 * M); /* every device characterised itself */
    /* against the same weights rounded to the level means (quantisation alone) */
    float *qz = malloc(M * sizeof *qz);
    o.mode = ML_TRANSFER_QUANTIZE;
    assert_int_equal(ml_transfer_array(w, 1, M, ls, &o, 0, qz, NULL, NULL, NULL, NULL), ML_OK);
    double e = 0, eq = 0;
    for (int i = 0; i < M; i++) { e += (out[i] - w[i]) * (out[i] - w[i]); eq += (qz[i] - w[i]) * (qz[i] - w[i]); }
    e = sqrt(e / M); eq = sqrt(eq / M);
    print_message("RMS error: pulse %.3g, quantisation alone %.3g\n", e, eq);
    assert_true(e < 1.5 * eq); /* 32 levels: quantisation + device noise */
    free(qz);
    free(w);
    ml_levelset_free(ls);
}

/* One absolute grid for all devices (grid_common): level 0 is the grid's first level, a step
 * above every device's reset, so a weight's two devices land on the same absolute levels; on
 * their own grids the devices' reset levels alone spread the weights. Per-device calibration. */
static void a_common_grid_programs_weights_closer(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    enum { M = 256, L = 128 };
    float *w = laplace_weights(M), out[M];
    double err[2];
    for (int common = 0; common < 2; common++) {
        ml_scheme s;
        ml_scheme_defaults(&s, ml_scheme_feedforward);
        s.grid_common = common;
        ml_levelset *ls = NULL;
        assert_int_equal(ml_levelset_build(&d, &s, L, 64, 3, &ls, NULL), ML_OK);
        assert_int_equal(ls->level_offset, common);
        if (common) assert_int_equal(ls->states_population, L);
        else assert_true(ls->states_population < L && ls->states >= L);
        ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 2};
        assert_int_equal(ml_transfer_array(w, 1, M, ls, &o, 0, out, NULL, NULL, NULL, NULL), ML_OK);
        double e = 0;
        for (int i = 0; i < M; i++) e += (out[i] - w[i]) * (out[i] - w[i]);
        err[common] = sqrt(e / M);
        ml_levelset_free(ls);
    }
    print_message("RMS weight error: own grids %.3g, one common grid %.3g\n", err[0], err[1]);
    assert_true(err[1] < 0.7 * err[0]);
    free(w);
}

static void invalid_requests_are_errors(void **state)
{
    ml_levelset *ls = levels(ml_scheme_feedforward, 4);
    float w[3] = {0.1f, NAN, 0.2f}, out[3];
    ml_transfer_opts o = {ML_TRANSFER_PULSE, 0, 0, 1};
    ml_error e = {0};
    assert_int_not_equal(ml_transfer_array(w, 1, 3, ls, &o, 0, out, NULL, NULL, NULL, &e), ML_OK);
    assert_non_null(strstr(e.msg, "not finite"));
    ml_levelset_free(ls);
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_scheme s;
    ml_scheme_defaults(&s, ml_scheme_feedforward);
    assert_int_not_equal(ml_levelset_build(&d, &s, 1, 100, 1, &ls, &e), ML_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pulse_and_statistical_modes_agree_in_distribution),
        cmocka_unit_test(verify_modes_agree_on_a_shared_grid),
        cmocka_unit_test(pulse_mode_does_not_depend_on_threads),
        cmocka_unit_test(quantize_mode_picks_the_nearest_level),
        cmocka_unit_test(transfer_scales_rebuild_the_read_back_weights),
        cmocka_unit_test(per_device_calibration_programs_each_device),
        cmocka_unit_test(a_common_grid_programs_weights_closer),
        cmocka_unit_test(invalid_requests_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
