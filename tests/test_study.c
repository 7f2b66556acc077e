/* Scheme types, program plans and the studies: lookup by name, a plan's shared calibration,
 * the levels study against the staircase it reports, the transfer study's resumption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/rng.h"
#include "memlev/study.h"
#include "memlev/transfer.h"

static void schemes_are_looked_up_by_name(void **state)
{
    (void)state;
    const ml_scheme_type *const all[] = {ml_scheme_identical, ml_scheme_ramp, ml_scheme_verify, ml_scheme_feedforward};
    const char *names[] = {"identical", "ramp", "verify", "feedforward"};
    for (int k = 0; k < 4; k++) {
        assert_ptr_equal(ml_scheme_lookup(names[k]), all[k]);
        assert_string_equal(ml_scheme_name(all[k]), names[k]);
    }
    const ml_scheme_type *t = NULL;
    ml_error e = {0};
    assert_null(ml_scheme_lookup("staircase"));
    assert_int_equal(ml_scheme_parse("staircase", &t, &e), ML_EINVAL);
    assert_non_null(strstr(e.msg, "staircase"));
    ml_scheme s;
    ml_scheme_defaults(&s, ml_scheme_verify);
    assert_true(ml_scheme_closed_loop(&s));
    assert_false(ml_scheme_shares_schedule(&s));
    ml_scheme_defaults(&s, ml_scheme_feedforward);
    s.calib_per_device = 0;
    assert_true(ml_scheme_shares_schedule(&s));
    s.verify_every = 4; /* reads: no longer one sequence for all */
    assert_false(ml_scheme_shares_schedule(&s));
}

/* One model for the population: a plan for other devices reuses it and costs nothing;
 * per-device calibration calibrates the new devices. */
static void plan_for_shares_a_population_calibration(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_population *a, *b;
    assert_int_equal(ml_population_new(&d, 16, 1, &a, NULL), ML_OK);
    assert_int_equal(ml_population_new_at(&d, 24, 1000, 1, &b, NULL), ML_OK);
    ml_target ta, tb;
    ml_target_population(&ta, a);
    ml_target_population(&tb, b);
    for (int per = 0; per < 2; per++) {
        ml_scheme s;
        ml_scheme_defaults(&s, ml_scheme_verify);
        s.calib_per_device = per;
        ml_program_plan *pa = NULL, *pb = NULL;
        ml_cost ca = {0}, cb = {0};
        assert_int_equal(ml_program_plan_new(&ta, &s, 16, 1, &ca, &pa, NULL), ML_OK);
        assert_int_equal(ml_program_plan_for(pa, &tb, &cb, &pb, NULL), ML_OK);
        assert_true(ca.pulses > 0);
        if (per) assert_true(cb.pulses > 0);
        else {
            assert_true(cb.pulses == 0);
            for (size_t i = 0; i < 24; i++) {
                assert_memory_equal(ml_program_plan_fit(pb, i), ml_program_plan_fit(pa, 0), sizeof(ml_fit));
                assert_memory_equal(ml_program_plan_fit_other(pb, i), ml_program_plan_fit_other(pa, 0), sizeof(ml_fit));
            }
        }
        /* the plan runs on its own kind of target only */
        int lev[24] = {0};
        ml_cost c = {0};
        assert_int_equal(ml_program_plan_run(pb, &ta, lev, &c, NULL), ML_EINVAL);
        lev[3] = 17;
        assert_int_equal(ml_program_plan_run(pb, &tb, lev, &c, NULL), ML_EINVAL);
        lev[3] = 16;
        assert_int_equal(ml_program_plan_run(pb, &tb, lev, &c, NULL), ML_OK);
        assert_true(c.converged >= 1);
        ml_program_plan_free(pa);
        ml_program_plan_free(pb);
    }
    ml_population_free(a);
    ml_population_free(b);
}

/* Options of a levels study of scheme type on device d: budget P raised up to P_max (0: the
 * library's cap), on `devices` devices drawn from seed; upward, states at k = 3, frac = 0.9. */
static ml_levels_study_opts study_opts(const ml_device *d, const ml_scheme_type *type, int P, int P_max, int devices,
                                       uint64_t seed)
{
    ml_levels_study_opts o = {0};
    o.dev = d;
    ml_scheme_defaults(&o.scheme, type);
    o.P = P; o.P_max = P_max; o.dir = 1; o.devices = devices; o.seed = seed; o.k = 3; o.frac = 0.9;
    return o;
}

/* The study's figures are those of the staircase it programs (same population, same seed). */
static void levels_study_reports_its_staircase(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 32, 32, 12, 7);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    ml_population *p;
    ml_staircase *st;
    assert_int_equal(ml_population_new(&d, 12, 7, &p, NULL), ML_OK);
    assert_int_equal(ml_program_staircase(p, &o.scheme, 32, 1, &st, NULL), ML_OK);
    assert_int_equal(r->npts, 33);
    assert_int_equal(r->pulses, 32);
    for (size_t k = 0; k < 33; k++) {
        double m = 0;
        for (size_t i = 0; i < 12; i++) m += st->g_mean[i * 33 + k];
        assert_true(fabs(r->g_mean[k] - m / 12) <= 1e-12 * fabs(m));
        assert_true(r->g_p05[k] <= r->g_mean[k] && r->g_mean[k] <= r->g_p95[k]);
    }
    assert_true(isnan(r->v_fixed));
    assert_true(isnan(r->pulses_per_level_from_reset));
    assert_int_equal(r->nsweep, 0);
    assert_true(r->states >= 2 && r->states <= 33);
    assert_true(r->calibration_pulses_per_device == st->calib_cost.pulses / 12);
    ml_staircase_free(st);
    ml_population_free(p);
    ml_levels_result_free(r);
    /* identical without an amplitude sweeps one and reports it */
    ml_scheme_defaults(&o.scheme, ml_scheme_identical);
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_true(r->nsweep >= 2);
    assert_false(isnan(r->v_fixed));
    ml_levels_result_free(r);
}

/* Feedforward on tio2x fills every level of a 64-pulse staircase (65 states, the metric's
 * ceiling): the study raises P until the states are a count below the ceiling, and says so;
 * at the cap it stops and reports the ceiling as saturated. */
static void levels_study_raises_p_while_states_saturate(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 64, 4096, 8, 5);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    int final = r->pulses;
    print_message("raised P 64 -> %d: %d states\n", final, r->states);
    assert_int_equal(r->pulses_requested, 64);
    assert_true(final > 64 && final <= 4096);
    assert_int_equal(r->npts, (size_t)final + 1);
    assert_false(r->states_saturated);
    assert_true(r->states >= 65 && r->states < final + 1);
    ml_levels_result_free(r);
    /* the budget below the final one saturated (that is why it was raised) */
    o.P = final / 2; o.P_max = final / 2;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_int_equal(r->pulses, final / 2);
    assert_true(r->states_saturated);
    assert_int_equal(r->states, final / 2 + 1);
    ml_levels_result_free(r);
    /* a cap below that: stops at the cap, still saturated */
    o.P = 64; o.P_max = 100;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_int_equal(r->pulses, 100);
    assert_int_equal(r->pulses_requested, 64);
    assert_true(r->states_saturated && r->states == 101);
    ml_levels_result_free(r);
}

/* Issue 13 item 3's figure: every one of 513 levels (>= 512 states) with at most 1,100 pulses
 * and 200 reads of calibration per device. */
static void assert_states_within_default_budget(const ml_levels_result *r)
{
    assert_true(r->states >= 512);
    assert_true(r->calibration_pulses_per_device <= 1100);
    assert_true(r->calibration_reads_per_device <= 200);
}

/* Default feedforward on tio2x: every one of 513 levels, with at most 1,100 pulses and 200
 * reads of calibration per device; a larger --calib-budget buys refinement runs within it. */
static void feedforward_calibration_is_cheap_on_tio2x(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 512, 512, 16, 3);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_states_within_default_budget(r);
    double base = r->calibration_pulses_per_device;
    ml_levels_result_free(r);
    o.scheme.calib_budget = 2000;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_true(r->calibration_pulses_per_device > base + 2 * 512);
    assert_true(r->calibration_pulses_per_device <= 2000);
    ml_levels_result_free(r);
}

/* Issue 13 item 3 as a user runs it (`memlev levels --device tio2x --scheme feedforward`, every
 * option at its default, so P may be raised): >= 512 states within the default calibration
 * budget (<= 1,100 pulses and <= 200 reads per device); P = 1024 would need more and is not
 * kept, and the result says so. An explicit budget that affords P = 1024 takes it. */
static void feedforward_default_levels_run_stays_within_budget(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    /* the default run's 100 devices, also under ML_TEST_SHORT: states need 90 % of the devices
     * within the metric, so 16 devices give ~300 (the 90 % point is then the 15th of 16) */
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 512, 0, 100, 1);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_states_within_default_budget(r);
    assert_int_equal(r->pulses, 512);
    assert_int_equal(r->raise_stop, ML_RAISE_BUDGET);
    assert_true(r->calib_budget == ML_LEVELS_CALIB_BUDGET);
    assert_int_equal(r->refused_pulses, 1024);
    assert_true(r->refused_calibration_pulses > 1100);
    char *text = NULL;
    assert_int_equal(ml_levels_result_json(r, &text, NULL), ML_OK);
    assert_non_null(strstr(text, "\"calib_budget\""));
    free(text);
    ml_levels_result_free(r);
    o.scheme.calib_budget = 2000;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_int_equal(r->pulses, 1024);
    assert_true(r->states > 513);
    assert_true(r->calibration_pulses_per_device <= 2000);
    ml_levels_result_free(r);
    /* no limit: raised as before */
    o.scheme.calib_budget = 0;
    o.calib_budget = -1;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_int_equal(r->pulses, 1024);
    assert_true(isinf(r->calib_budget));
    ml_levels_result_free(r);
}

/* Issue 13 item 1, the fallback's stages: on a family with stuck devices and a large
 * device-to-device spread, some devices' own fits fail; those the population's model still
 * cannot program open loop within a spacing go to write-verify (devices_verify); stuck devices
 * count as failed and yield excludes them; nothing is fatal, in levels or in a level set. */
static void feedforward_fallback_ends_in_write_verify(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    snprintf(d.name, sizeof d.name, "spread");
    d.stuck_fraction = 0.1;
    d.s_c2c = 0.05;
    d.s_read_abs = 3e-8;
    d.d2d_a_p = d.d2d_a_d = d.d2d_v0_p = d.d2d_v0_d = 0.9;
    d.d2d_g_min = d.d2d_g_max = 0.03;
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 64, 64, 100, 1);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    /* the stuck devices of that population: no pulse moves them */
    ml_population *pop;
    assert_int_equal(ml_population_new(&d, o.devices, o.seed, &pop, NULL), ML_OK);
    size_t stuck = 0;
    for (size_t i = 0; i < pop->n; i++) {
        double g0 = pop->g[i];
        ml_pulse1(pop, i, d.v_max, d.width_max);
        double g1 = pop->g[i];
        ml_pulse1(pop, i, -d.v_max, d.width_max);
        stuck += g1 == g0 && pop->g[i] == g0;
    }
    ml_population_free(pop);
    print_message("stuck %zu failed %zu fallback %zu verify %zu yield %.2f\n", stuck, r->devices_failed,
                  r->devices_fallback, r->devices_verify, r->yield);
    assert_true(stuck > 0);
    assert_true(r->devices_failed >= stuck);
    assert_true(r->devices_verify > 0);
    assert_true(fabs(r->yield - (double)(r->devices - r->devices_failed) / r->devices) < 1e-12);
    assert_true(r->reads_per_state > 0); /* the verify devices read as they program */
    char *text = NULL;
    assert_int_equal(ml_levels_result_json(r, &text, NULL), ML_OK);
    assert_non_null(strstr(text, "\"devices_verify\""));
    free(text);
    ml_levels_result_free(r);
    /* a level set (what transfer samples) counts them too; one-shot as well */
    o.scheme.ff_max_pulses = 8;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_true(r->devices_verify > 0 && r->devices_failed >= stuck);
    ml_levels_result_free(r);
    ml_levelset *ls = NULL;
    assert_int_equal(ml_levelset_build(&d, &o.scheme, 16, 100, 1, &ls, NULL), ML_OK);
    assert_true(ls->devices_verify > 0 && ls->devices_failed > 0);
    assert_true(ls->yield < 1);
    ml_levelset_free(ls);
}

/* Issue 13 item 6: on its own grid every tio2x device holds 513 levels, but the same level
 * index spreads over several spacings across devices (the reset levels alone do), so one
 * absolute grid holds few; --grid common plans every device from its own reset level to shared
 * absolute targets and the population holds >= 400. */
static void common_grid_gives_levels_a_network_can_use(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 512, 0, 16, 3);
    ml_levels_result *r = NULL;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_true(r->states >= 512);
    assert_true(r->states_population < 200);
    ml_levels_result_free(r);
    o.scheme.grid_common = 1;
    assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
    assert_true(r->states_population >= 400);
    assert_true(r->states >= 400);
    char *text = NULL;
    assert_int_equal(ml_levels_result_json(r, &text, NULL), ML_OK);
    assert_non_null(strstr(text, "\"states_population\""));
    free(text);
    ml_levels_result_free(r);

    /* the plan: step 0 is each device's own reset level, steps 1..P the same for all; a plan
     * for other devices keeps the source's absolute targets */
    ml_population *a, *b;
    assert_int_equal(ml_population_new(&d, 12, 5, &a, NULL), ML_OK);
    assert_int_equal(ml_population_new_at(&d, 12, 500, 5, &b, NULL), ML_OK);
    ml_target ta, tb;
    ml_target_population(&ta, a);
    ml_target_population(&tb, b);
    ml_program_plan *pa = NULL, *pb = NULL;
    assert_int_equal(ml_program_plan_new(&ta, &o.scheme, 32, 1, NULL, &pa, NULL), ML_OK);
    assert_int_equal(ml_program_plan_for(pa, &tb, NULL, &pb, NULL), ML_OK);
    ml_staircase *sa = NULL, *sb = NULL;
    assert_int_equal(ml_program_plan_staircase(pa, &ta, &sa, NULL), ML_OK);
    assert_int_equal(ml_program_plan_staircase(pb, &tb, &sb, NULL), ML_OK);
    assert_true(sa->grid_common);
    double top_start = 0;
    for (size_t i = 0; i < 12; i++) {
        assert_true(sa->g_pred[i * 33] == ml_program_plan_fit(pa, i)->g_start);
        top_start = fmax(top_start, sa->g_pred[i * 33]);
        for (size_t k = 1; k <= 32; k++) {
            assert_true(sa->g_pred[i * 33 + k] == sa->g_pred[k]);
            assert_true(sb->g_pred[i * 33 + k] == sa->g_pred[k]);
        }
    }
    double h = (sa->g_pred[32] - sa->g_pred[1]) / 31;
    assert_true(fabs(sa->g_pred[1] - h - top_start) < 1e-6 * h); /* a step above the highest reset */
    ml_staircase_free(sa); ml_staircase_free(sb);
    ml_program_plan_free(pa); ml_program_plan_free(pb);
    /* schemes that do not target levels cannot share a grid; 0 and 1 are the only values */
    ml_scheme s;
    ml_error e = {0};
    ml_scheme_defaults(&s, ml_scheme_identical);
    s.grid_common = 1;
    assert_int_equal(ml_program_plan_new(&ta, &s, 32, 1, NULL, &pa, &e), ML_EINVAL);
    assert_non_null(strstr(e.msg, "grid"));
    ml_scheme_defaults(&s, ml_scheme_feedforward);
    s.grid_common = 2;
    assert_int_equal(ml_program_plan_new(&ta, &s, 32, 1, NULL, &pa, &e), ML_EINVAL);
    assert_non_null(strstr(e.msg, "grid"));
    ml_population_free(a); ml_population_free(b);
}

/* Issue 13 item 5: one-shot feedforward programs every level from reset in at most K pulses
 * and no reads; more pulses per level (smaller steps, less cycle-to-cycle noise) reach more
 * states. Bad values are errors naming the option. */
static void one_shot_feedforward_uses_at_most_k_pulses_and_no_reads(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_levels_study_opts o = study_opts(&d, ml_scheme_feedforward, 64, 0, 16, 3);
    o.scheme.grid_common = 1;
    const int ks[] = {1, 8};
    int states[2];
    for (int q = 0; q < 2; q++) {
        o.scheme.ff_max_pulses = ks[q];
        ml_levels_result *r = NULL;
        assert_int_equal(ml_levels_study(&o, &r, NULL), ML_OK);
        states[q] = r->states_population;
        assert_true(r->reads_per_state == 0);
        assert_true(r->pulses_per_level_from_reset > 0.5 && r->pulses_per_level_from_reset <= ks[q]);
        for (size_t k = 1; k < r->npts; k++) assert_true(r->pulses_mean[k] <= ks[q]);
        ml_levels_result_free(r);
    }
    print_message("one-shot states on one grid: K = 1: %d, K = 8: %d\n", states[0], states[1]);
    assert_true(states[1] > states[0]);

    /* transfer: every device at most a reset and K pulses, read once (the weight's read-back) */
    ml_levelset *ls = NULL;
    o.scheme.ff_max_pulses = 8;
    assert_int_equal(ml_levelset_build(&d, &o.scheme, 16, 32, 2, &ls, NULL), ML_OK);
    enum { M = 200 };
    float w[M], out[M];
    for (int i = 0; i < M; i++) w[i] = (float)(ml_uniform(9, (uint64_t)i, 0, 1) - 0.5);
    ml_transfer_opts to = {ML_TRANSFER_PULSE, 0, 0, 3};
    ml_transfer_stats ts = {0};
    assert_int_equal(ml_transfer_array(w, 1, M, ls, &to, 0, out, NULL, NULL, &ts, NULL), ML_OK);
    assert_true(ts.reads == 2.0 * M);
    assert_true(ts.pulses <= 2.0 * M * 9 && ts.pulses > 2.0 * M);
    double e = 0;
    for (int i = 0; i < M; i++) e = fmax(e, fabs(out[i] - w[i]));
    assert_true(e < 0.1); /* 16 levels over [-0.5, 0.5]: within about a level */
    ml_levelset_free(ls);

    ml_population *pop;
    assert_int_equal(ml_population_new(&d, 4, 1, &pop, NULL), ML_OK);
    ml_target t;
    ml_target_population(&t, pop);
    ml_program_plan *pl = NULL;
    ml_error e2 = {0};
    ml_scheme s = o.scheme;
    s.ff_max_pulses = 257;
    assert_int_equal(ml_program_plan_new(&t, &s, 16, 1, NULL, &pl, &e2), ML_EINVAL);
    assert_non_null(strstr(e2.msg, "ff_max_pulses"));
    s.ff_max_pulses = 4; s.verify_every = 2;
    assert_int_equal(ml_program_plan_new(&t, &s, 16, 1, NULL, &pl, &e2), ML_EINVAL);
    assert_non_null(strstr(e2.msg, "ff_max_pulses"));
    ml_scheme_defaults(&s, ml_scheme_verify);
    s.ff_max_pulses = 4;
    assert_int_equal(ml_program_plan_new(&t, &s, 16, 1, NULL, &pl, &e2), ML_EINVAL);
    assert_non_null(strstr(e2.msg, "ff_max_pulses"));
    ml_population_free(pop);
}

/* Member t of the generated soft-bounds family of issue 13: window ratio 1.02-100, C2C 0-10 %,
 * D2D 0-20 % (on g_min/g_max at most a quarter of the window, so every device has one), a_p over
 * three decades, v0 0.2-1.5 V, 0-5 % stuck devices. Drawn from counter-based uniforms. */
static void family_member(int t, ml_device *d)
{
    double u[8];
    for (int k = 0; k < 8; k++) u[k] = ml_uniform(1313, (uint64_t)t, (uint32_t)k, 11);
    ml_device_defaults(d, ML_MODEL_SOFTBOUNDS);
    snprintf(d->name, sizeof d->name, "family-%d", t);
    d->g_min = 1e-6 * (1 + 99 * u[0]);
    d->g_max = d->g_min * 1.02 * pow(100 / 1.02, u[1]);
    d->s_c2c = 0.10 * u[2];
    double dd = 0.20 * u[3];
    d->d2d_a_p = d->d2d_a_d = d->d2d_v0_p = d->d2d_v0_d = dd;
    d->d2d_g_min = d->d2d_g_max = fmin(dd, 0.25 * (d->g_max / d->g_min - 1));
    d->a_p = d->a_d = pow(10, -6 + 3 * u[4]);
    d->v0_p = d->v0_d = 0.2 + 1.3 * u[5];
    d->stuck_fraction = 0.05 * u[6];
    d->s_read_abs = 1e-3 * (d->g_max - d->g_min) * u[7];
    d->g_inf_p = d->g_max;
    d->g_inf_d = d->g_min;
    /* reset is one pulse at v_max and width_max: long enough to reset the slowest member */
    d->width_max = 10;
}

/* The family runs through the levels study for every scheme without an abort; wherever
 * verify gets >= 64 states, feedforward (at its default calibration budget) gets
 * |NL| <= 0.5, >= 64 states and spans at least half the nominal window. ML_TEST_SHORT (sanitizer builds) samples every 5th member. */
static void levels_study_never_aborts_on_a_device_family(void **state)
{
    (void)state;
    const ml_scheme_type *types[] = {ml_scheme_identical, ml_scheme_ramp, ml_scheme_verify, ml_scheme_feedforward};
    int stride = getenv("ML_TEST_SHORT") ? 5 : 1, compared = 0;
    for (int t = 0; t < 50; t += stride) {
        ml_device d;
        family_member(t, &d);
        int verify_states = 0;
        for (int q = 0; q < 4; q++) {
            /* feedforward at the default budget (its open-loop C2C walk needs P >= ~430 for 64
             * states at 10 % C2C); verify needs only P >= 63 to reach 64; identical and
             * ramp (no claim but no abort) small, since identical sweeps its amplitude; the
             * claims are at these budgets: not raised */
            const int P = q == 3 ? 512 : q == 2 ? 128 : 64;
            ml_levels_study_opts o = study_opts(&d, types[q], P, P, q < 2 ? 8 : 20, (uint64_t)t + 1);
            ml_levels_result *r = NULL;
            ml_error err = {0};
            ml_status rc = ml_levels_study(&o, &r, &err);
            if (rc) print_message("family %d %s: %s\n", t, ml_scheme_name(types[q]), err.msg);
            assert_int_equal(rc, ML_OK);
            assert_true(r->yield >= 0 && r->yield <= 1);
            assert_true(r->devices_failed + r->devices_fallback <= r->devices);
            if (types[q] == ml_scheme_verify) verify_states = r->states;
            if (types[q] == ml_scheme_feedforward && verify_states >= 64) {
                double span = r->g_mean[r->npts - 1] - r->g_mean[0];
                int ok = fabs(r->nonlin.label) <= 0.5 && r->states >= 64 && span >= 0.5 * (d.g_max - d.g_min);
                if (!ok)
                    print_message("family %d: feedforward NL %.2f states %d span %.0f%% (verify %d)\n", t,
                                  r->nonlin.label, r->states, 100 * span / (d.g_max - d.g_min), verify_states);
                assert_true(ok);
                compared++;
            }
            ml_levels_result_free(r);
        }
    }
    assert_true(compared > 0);
}

typedef struct stopper { int stop_after, seen; } stopper;

static ml_status stop_at(void *ctx, const ml_transfer_result *r, int point)
{
    stopper *s = ctx;
    (void)r;
    if (point >= 0) s->seen++;
    return point >= 0 && point == s->stop_after ? ML_EIO : ML_OK;
}

/* A study stopped after its first point and resumed from it gives the results of one run
 * straight through. */
static void transfer_study_resumes_to_the_same_results(void **state)
{
    (void)state;
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    ml_net *net = NULL;
    ml_dataset *ds = NULL;
    assert_int_equal(ml_arch_build("mlp", 1, 8, 10, 16, 3, &net, NULL), ML_OK);
    assert_int_equal(ml_dataset_new(40, 1, 8, 8, &ds, NULL), ML_OK);
    for (size_t i = 0; i < 40 * 64; i++) ds->images[i] = (float)ml_uniform(9, i, 0, 1);
    for (size_t i = 0; i < 40; i++) ds->labels[i] = (uint8_t)(i % 10);
    static const int lv[] = {4, 16};
    ml_transfer_study_opts o = {0};
    o.dev = &d;
    o.schemes[0] = ml_scheme_feedforward;
    o.schemes[1] = ml_scheme_identical;
    o.nschemes = 2;
    o.levels = lv;
    o.nlevels = 2;
    o.trials = 2;
    o.mode = ML_TRANSFER_STATISTICAL;
    o.seed = 5;
    o.sample_devices = 64;
    o.batch = 20;
    o.calib_per_device = 0;
    o.baseline_accuracy = -1;
    ml_transfer_result *full = NULL, *rest = NULL;
    assert_int_equal(ml_transfer_study(net, ds, &o, &full, NULL), ML_OK);
    assert_int_equal(full->npoints, 4);
    for (size_t q = 0; q < 4; q++) {
        const ml_transfer_point *p = &full->points[q];
        assert_int_equal(p->trials, 2);
        assert_true(p->ci95 >= 0 && p->accuracy_mean >= 0 && p->accuracy_mean <= 1);
        assert_true(p->devices > 0);
    }
    assert_string_equal(full->points[0].scheme, "feedforward");
    assert_int_equal(full->points[3].levels, 16);
    stopper s = {1, 0};
    o.on_point = stop_at;
    o.ctx = &s;
    assert_int_equal(ml_transfer_study(net, ds, &o, &rest, NULL), ML_EIO);
    assert_int_equal(s.seen, 2);
    /* resume: the first two points as finished, the baseline as measured */
    o.on_point = NULL;
    o.done = full->points;
    o.ndone = 2;
    o.baseline_accuracy = full->baseline_accuracy;
    assert_int_equal(ml_transfer_study(net, ds, &o, &rest, NULL), ML_OK);
    assert_int_equal(rest->npoints, 4);
    for (size_t q = 0; q < 4; q++) {
        const ml_transfer_point *a = &full->points[q], *b = &rest->points[q];
        assert_string_equal(a->scheme, b->scheme);
        assert_int_equal(a->levels, b->levels);
        assert_int_equal(a->trials, b->trials);
        assert_int_equal(a->distinguishable, b->distinguishable);
        const double x[] = {a->accuracy_mean, a->accuracy_std, a->ci95, a->quantized_accuracy, a->states,
                            a->pulses_per_device, a->calibration_pulses_per_device, a->devices, a->program_seconds,
                            a->energy_j};
        const double y[] = {b->accuracy_mean, b->accuracy_std, b->ci95, b->quantized_accuracy, b->states,
                            b->pulses_per_device, b->calibration_pulses_per_device, b->devices, b->program_seconds,
                            b->energy_j};
        assert_memory_equal(x, y, sizeof x); /* bit for bit */
    }
    ml_transfer_result_free(full);
    ml_transfer_result_free(rest);
    ml_net_free(net);
    ml_dataset_free(ds);
}

int main(void)
{
    /* ML_TEST_FILTER=PATTERN runs only the tests whose names match (cmocka's glob) */
    const char *only = getenv("ML_TEST_FILTER");
    if (only && *only) cmocka_set_test_filter(only);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schemes_are_looked_up_by_name),
        cmocka_unit_test(plan_for_shares_a_population_calibration),
        cmocka_unit_test(levels_study_reports_its_staircase),
        cmocka_unit_test(levels_study_raises_p_while_states_saturate),
        cmocka_unit_test(feedforward_calibration_is_cheap_on_tio2x),
        cmocka_unit_test(feedforward_default_levels_run_stays_within_budget),
        cmocka_unit_test(feedforward_fallback_ends_in_write_verify),
        cmocka_unit_test(common_grid_gives_levels_a_network_can_use),
        cmocka_unit_test(one_shot_feedforward_uses_at_most_k_pulses_and_no_reads),
        cmocka_unit_test(levels_study_never_aborts_on_a_device_family),
        cmocka_unit_test(transfer_study_resumes_to_the_same_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
