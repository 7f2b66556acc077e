/* Direction auto (ml_program_plan_new with dir 0): both polarities calibrated, the one whose
 * feedforward staircase is expected to hold more states kept, and its cost counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/study.h"

/* tio2x whose potentiation (coarse_up) or depression moves 300x further per pulse, at one
 * width: in that polarity the finest step the device makes is several of a 64-step grid's. */
static void coarse_device(ml_device *d, int coarse_up)
{
    ml_device_preset("tio2x", d, NULL);
    if (coarse_up) d->a_p *= 300;
    else d->a_d *= 300;
    d->width_min = d->width;
}

static ml_program_plan *plan(const ml_device *d, const ml_scheme_type *ty, int dir, ml_cost *calib)
{
    ml_population *pop = NULL;
    assert_int_equal(ml_population_new(d, 24, 3, &pop, NULL), ML_OK);
    ml_target t;
    ml_target_population(&t, pop);
    ml_scheme s;
    ml_scheme_defaults(&s, ty);
    ml_program_plan *pl = NULL;
    assert_int_equal(ml_program_plan_new(&t, &s, 64, dir, calib, &pl, NULL), ML_OK);
    ml_population_free(pop);
    return pl;
}

static int study_states(const ml_device *d, int dir, int *dir_out)
{
    ml_levels_study_opts o = {0};
    o.dev = d;
    o.k = 3;
    o.frac = 0.9;
    ml_scheme_defaults(&o.scheme, ml_scheme_feedforward);
    o.P = o.P_max = 64;
    o.dir = dir;
    o.devices = 24;
    o.seed = 3;
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    int states = r->states;
    *dir_out = r->dir;
    assert_int_equal(r->dir_auto, dir == 0);
    char *text = NULL;
    assert_int_equal(ml_levels_result_json(r, &text, NULL), ML_OK);
    const char *k = strstr(text, "\"direction_auto\"");
    assert_non_null(k);
    k += strlen("\"direction_auto\"");
    k += strspn(k, ": \t");
    assert_int_equal(strncmp(k, dir == 0 ? "true" : "false", dir == 0 ? 4 : 5), 0);
    free(text);
    ml_levels_result_free(r);
    return states;
}

static void feedforward_auto_takes_the_polarity_with_the_finer_staircase(void **state)
{
    (void)state;
    for (int up = 0; up < 2; up++) {
        ml_device d;
        coarse_device(&d, up);
        int want = up ? -1 : 1; /* the other polarity */
        ml_cost c_auto = {0}, c_one = {0}, c_other = {0};
        ml_program_plan *pa = plan(&d, ml_scheme_feedforward, 0, &c_auto);
        ml_program_plan *p1 = plan(&d, ml_scheme_feedforward, want, &c_one);
        ml_program_plan *p2 = plan(&d, ml_scheme_feedforward, -want, &c_other);
        assert_int_equal(ml_program_plan_direction(pa), want);
        assert_int_equal(ml_program_plan_direction(p1), want);
        /* both calibrations and a check run of each are calibration */
        assert_true(c_auto.pulses > c_one.pulses + c_other.pulses);
        assert_true(c_auto.reads > c_one.reads + c_other.reads);
        ml_program_plan_free(pa); ml_program_plan_free(p1); ml_program_plan_free(p2);
        /* the levels study: more states than the coarse polarity, its direction reported */
        int dc, da;
        int coarse = study_states(&d, -want, &dc), best = study_states(&d, 0, &da);
        assert_int_equal(dc, -want);
        assert_int_equal(da, want);
        assert_true(best >= 4 * coarse);
    }
}

/* The choice, its check runs and the study's result do not depend on the thread count. */
static void auto_does_not_depend_on_threads(void **state)
{
    (void)state;
    ml_device d;
    coarse_device(&d, 1);
    int saved = omp_get_max_threads();
    char *text[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        ml_levels_study_opts o = {0};
        o.dev = &d;
        o.k = 3;
        o.frac = 0.9;
        ml_scheme_defaults(&o.scheme, ml_scheme_feedforward);
        o.P = o.P_max = 64;
        o.devices = 24;
        o.seed = 5;
        o.dir = 0; /* auto */
        ml_levels_result *r = NULL;
        assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
        assert_int_equal(ml_levels_result_json(r, &text[k], NULL), ML_OK);
        ml_levels_result_free(r);
    }
    omp_set_num_threads(saved);
    assert_string_equal(text[0], text[1]);
    free(text[0]);
    free(text[1]);
}

/* Verify reaches its targets in either polarity and identical and ramp plan no targets: none
 * has a check run to compare polarities by, so potentiation is calibrated alone (the same
 * cost as --direction up, no second calibration booked or drawn). */
static void auto_is_potentiation_where_nothing_is_gained(void **state)
{
    (void)state;
    ml_device d;
    coarse_device(&d, 1);
    ml_cost c = {0}, c_up = {0};
    ml_program_plan *pv = plan(&d, ml_scheme_verify, 0, &c), *pvu = plan(&d, ml_scheme_verify, 1, &c_up);
    assert_int_equal(ml_program_plan_direction(pv), 1);
    assert_true(c_up.pulses > 0);
    assert_true(c.pulses == c_up.pulses && c.reads == c_up.reads);
    ml_program_plan_free(pv); ml_program_plan_free(pvu);
    c = c_up = (ml_cost){0};
    ml_program_plan *pi = plan(&d, ml_scheme_identical, 0, &c), *pu = plan(&d, ml_scheme_identical, 1, &c_up);
    assert_int_equal(ml_program_plan_direction(pi), 1);
    assert_true(c.pulses == c_up.pulses); /* the same calibration, alone */
    ml_program_plan_free(pi); ml_program_plan_free(pu);
}

int main(void)
{
    const char *only = getenv("ML_TEST_FILTER");
    if (only && *only) cmocka_set_test_filter(only);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feedforward_auto_takes_the_polarity_with_the_finer_staircase),
        cmocka_unit_test(auto_is_potentiation_where_nothing_is_gained),
        cmocka_unit_test(auto_does_not_depend_on_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
