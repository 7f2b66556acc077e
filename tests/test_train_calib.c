/* Shared-train calibration (ml_calibrate_train, ml_program_train): per-device closed-form fits
 * from one constant pulse train, programming by per-device pulse counts, thread independence. */
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
#include "memlev/metrics.h"
#include "memlev/program.h"
#include "memlev/rng.h"
#include "device/internal.h"

/* Shared-train calibration (ml_calibrate_train): every device's closed-form fit lies near its
 * own drawn parameters, and programming with the fitted counts lands within half a spacing of
 * a 512-level shared grid on (nearly) every device. */
static void train_calibration_fits_each_device(void **state)
{
    ml_device d;
    ml_device_preset("tio2x", &d, NULL); /* D2D on a, v0, g_min, g_max; C2C and read noise */
    ml_train_calib c;
    assert_int_equal(ml_train_calib_defaults(&d, 1, 512, 0.95, &c, NULL), ML_OK);
    const size_t n = 600;
    ml_population *p;
    assert_int_equal(ml_population_new(&d, n, 21, &p, NULL), ML_OK);
    ml_train_fit *f = malloc(n * sizeof *f);
    double *g = malloc(n * sizeof *g);
    ml_cost cost = {0};
    assert_int_equal(ml_calibrate_train(p, &c, f, &cost, NULL), ML_OK);
    assert_true(fabs(cost.pulses / n - ((c.reads - 1) * c.read_every + 1)) < 1e-9); /* the reset is a pulse */
    assert_true(fabs(cost.reads / n - c.reads) < 1e-9);
    double worst_a = 0, worst_g0 = 0, worst_far = 0;
    for (size_t i = 0; i < n; i++) {
        ml_devparams q = ml_population_params(p, i);
        double al = ml_softbounds_alpha(q.a_p, q.v0_p, d.v_th, d.t_ref, c.v, c.width_prog);
        assert_int_equal(f[i].status, ML_FIT_OK);
        worst_a = fmax(worst_a, fabs(f[i].alpha / al - 1));
        worst_g0 = fmax(worst_g0, fabs(f[i].g0 - q.g_min));
        worst_far = fmax(worst_far, fabs(f[i].g_far - q.g_inf_p));
    }
    /* against spreads of 5 % on a, 2 % on v0 (8 % on the step at 1 V) and 84-100 nS on the
     * bounds, the worst of 600 devices lies within 1 % and six read sigmas (3 nS) of its truth
     * (measured 0.42 %, 12.1 nS, 10.2 nS: 15 reads, and C2C noise along the run) */
    assert_true(worst_a < 0.01);
    assert_true(worst_g0 < 6 * d.s_read_abs);
    assert_true(worst_far < 6 * d.s_read_abs);
    double lo, hi;
    assert_int_equal(ml_train_window(f, n, 1, 0.95, &lo, &hi, NULL), ML_OK);
    const double sp = (hi - lo) / 512;
    for (size_t i = 0; i < n; i++) g[i] = lo + sp * (1 + (double)(ml_seed_mix(5, i) % 512));
    assert_int_equal(ml_program_train(p, &c, f, g, NULL, NULL), ML_OK);
    size_t in = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        in += fabs(p->g[i] - g[i]) <= 0.5 * sp;
        worst = fmax(worst, fabs(p->g[i] - g[i]) / sp);
    }
    assert_true(in >= n * 97 / 100); /* measured 98.8 %; the states rule asks 90 % per level */
    assert_true(worst < 1);
    free(f);
    free(g);
    ml_population_free(p);
}

/* The same fits and programmed states, bit for bit, with 1 and 2 threads; the shared-grid
 * staircase counts all 512 levels distinguishable on the population's grid. */
static void train_calibration_is_thread_independent_and_counts_levels(void **state)
{
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_train_calib c;
    assert_int_equal(ml_train_calib_defaults(&d, 1, 512, 0.95, &c, NULL), ML_OK);
    const size_t n = 700;
    ml_train_fit *f[2];
    double *g = malloc(n * sizeof *g), *state_after[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        ml_population *p;
        assert_int_equal(ml_population_new(&d, n, 8, &p, NULL), ML_OK);
        f[t] = malloc(n * sizeof *f[t]);
        assert_int_equal(ml_calibrate_train(p, &c, f[t], NULL, NULL), ML_OK);
        for (size_t i = 0; i < n; i++) g[i] = f[0][i].g0 + (f[0][i].g_far - f[0][i].g0) * 0.9 * (double)i / n;
        assert_int_equal(ml_program_train(p, &c, f[t], g, NULL, NULL), ML_OK);
        state_after[t] = malloc(n * sizeof(double));
        memcpy(state_after[t], p->g, n * sizeof(double));
        if (t == 1) {
            double lo, hi, sigma;
            ml_staircase *st;
            assert_int_equal(ml_train_window(f[t], n, 1, 0.95, &lo, &hi, NULL), ML_OK);
            assert_int_equal(ml_train_staircase(p, &c, f[t], lo, hi, 512, &st, NULL), ML_OK);
            assert_int_equal(ml_measure_sigma_read(p, 16, &sigma, NULL), ML_OK);
            assert_int_equal(ml_states_population(st, 3, sigma, 0.9), 512);
            ml_staircase_free(st);
        }
        ml_population_free(p);
    }
    omp_set_num_threads(2);
    assert_memory_equal(f[0], f[1], n * sizeof *f[0]);
    assert_memory_equal(state_after[0], state_after[1], n * sizeof(double));
    /* stuck devices (a window of zero width) fail; the others still fit their own law */
    d.stuck_fraction = 0.3;
    ml_population *ps;
    assert_int_equal(ml_population_new(&d, 200, 3, &ps, NULL), ML_OK);
    assert_int_equal(ml_calibrate_train(ps, &c, f[0], NULL, NULL), ML_OK);
    int stuck = 0;
    for (size_t i = 0; i < 200; i++) {
        int is = ps->g_min[i] == ps->g_max[i];
        stuck += is;
        assert_int_equal(f[0][i].status, is ? ML_FIT_FAILED : ML_FIT_OK);
        if (is) assert_int_equal(ml_train_count(&f[0][i], 0.5 * (d.g_min + d.g_max), 100), 0); /* left alone */
    }
    assert_true(stuck >= 40 && stuck <= 80);
    ml_population_free(ps);
    d.stuck_fraction = 0;
    ml_train_calib bad = c;
    bad.reads = 7;
    ml_population *p;
    assert_int_equal(ml_population_new(&d, 4, 8, &p, NULL), ML_OK);
    assert_int_equal(ml_calibrate_train(p, &bad, f[0], NULL, NULL), ML_EINVAL);
    ml_population_free(p);
    ml_device_preset("serb-virtualarc", &d, NULL);
    assert_int_equal(ml_train_calib_defaults(&d, 1, 512, 0.95, &c, NULL), ML_EINVAL);
    for (int t = 0; t < 2; t++) { free(f[t]); free(state_after[t]); }
    free(g);
}

/* NeuroSim devices with their own labels (d2d.nl 0.5), in both directions: each device's fit
 * from the default calibration recovers its own step fraction and asymptote, which spread
 * across devices far beyond the fits' errors. (A NeuroSim device reaches its far bound after
 * Pmax nominal pulses whatever its label and its reads clamp there: the defaults' run used to
 * close 98 % of the gap to the asymptote beyond it, and fits were 29 % off on the nominal
 * device, 130 % with label spread.) */
static void train_calibration_fits_each_neurosim_label(void **state)
{
    ml_device d;
    ml_device_preset("agsi", &d, NULL);
    d.s_abs = 0;
    d.s_read_rel = 1e-4;
    d.d2d_nl = 0.5;
    const size_t n = 300;
    ml_train_fit *f = malloc(n * sizeof *f);
    for (int dir = 1; dir >= -1; dir -= 2) {
        ml_train_calib c;
        assert_int_equal(ml_train_calib_defaults(&d, dir, 64, 0.9, &c, NULL), ML_OK);
        ml_population *p;
        assert_int_equal(ml_population_new(&d, n, 13, &p, NULL), ML_OK);
        assert_int_equal(ml_calibrate_train(p, &c, f, NULL, NULL), ML_OK);
        double worst_a = 0, worst_far = 0, a_lo = 1, a_hi = 0, w = d.g_max - d.g_min;
        for (size_t i = 0; i < n; i++) {
            ml_devparams q = ml_population_params(p, i);
            double al = dir > 0 ? ml_softbounds_alpha(q.a_p, q.v0_p, d.v_th, d.t_ref, c.v, c.width_prog)
                                : ml_softbounds_alpha(q.a_d, q.v0_d, d.v_th, d.t_ref, c.v, c.width_prog);
            assert_int_equal(f[i].status, ML_FIT_OK);
            worst_a = fmax(worst_a, fabs(f[i].alpha / al - 1));
            worst_far = fmax(worst_far, fabs(f[i].g_far - (dir > 0 ? q.g_inf_p : q.g_inf_d)) / w);
            a_lo = fmin(a_lo, al);
            a_hi = fmax(a_hi, al);
        }
        print_message("NeuroSim labels, direction %+d: true step fractions %.3g..%.3g; worst fit %.2g %% off, "
                      "asymptote %.2g of the window off\n", dir, a_lo, a_hi, 100 * worst_a, worst_far);
        assert_true(a_hi / a_lo > 1.5);
        assert_true(worst_a < 0.02);
        assert_true(worst_far < 0.02);
        ml_population_free(p);
    }
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_calibration_fits_each_device),
        cmocka_unit_test(train_calibration_is_thread_independent_and_counts_levels),
        cmocka_unit_test(train_calibration_fits_each_neurosim_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
