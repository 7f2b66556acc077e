/* Device models: exact equations, NeuroSim table, JSON form, population reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/device.h"
#include "memlev/rng.h"
#include "memlev/util.h"

static void rng_is_a_pure_function_of_its_counter(void **state)
{
    ml_u32x4 a = ml_philox(7, 3, 11, 1), b = ml_philox(7, 3, 11, 1), c = ml_philox(7, 3, 12, 1);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_not_equal(&a, &c, sizeof a);
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = ml_normal(1, (uint64_t)i, 0, 1);
        s += z; s2 += z * z;
    }
    assert_true(fabs(s / n) < 0.01);
    assert_true(fabs(s2 / n - 1) < 0.02);
}

/* getParamA's table (MLP_NeuroSim V3.0 formula.cpp) at the presets' labels and both ends. */
static void neurosim_param_a_matches_table(void **state)
{
    const double nl[] = {1, 2, 2.4, 4.88, 6, 0.01, 0.04, 0.61, 0.63, 1.94, 3.68, 6.76, 9},
                 a[] = {1.251653, 0.609035, 0.499181, 0.200303, 0.135619, 126.268958, 31.566827, 2.063266,
                        1.997332, 0.629249, 0.300644, 0.100251, 0.022810};
    for (int i = 0; i < (int)(sizeof nl / sizeof nl[0]); i++) {
        assert_true(fabs(ml_neurosim_param_a(nl[i]) / a[i] - 1) < 3e-5); /* the table's 6 decimals */
        assert_true(fabs(ml_neurosim_nl_from_a(a[i]) - nl[i]) < 2e-3);
    }
    assert_true(ml_neurosim_param_a(-4.88) < 0);
}

static void softbounds_step_is_the_design_equation(void **state)
{
    ml_device d;
    assert_int_equal(ml_device_preset("tio2x", &d, NULL), ML_OK);
    ml_devparams p = {d.g_min, d.g_max, d.a_p, d.a_d, d.v0_p, d.v0_d, d.g_max, d.g_min};
    double g = 90e-6, v = 1.2, t = 20e-6;
    double a = d.a_p * (exp(v / d.v0_p) - 1) * (t / d.t_ref);
    assert_true(fabs(ml_model_step(&d, &p, g, v, t) - (g + a * (d.g_max - g))) < 1e-18);
    double ad = d.a_d * (exp(1.1 / d.v0_d) - 1) * (t / d.t_ref);
    assert_true(fabs(ml_model_step(&d, &p, g, -1.1, t) - (g + ad * (d.g_min - g))) < 1e-18);
    assert_true(ml_model_step(&d, &p, g, 0.2, t) == g); /* below threshold */
    /* noiseless population follows the same equation */
    d.s_c2c = d.s_read_abs = 0;
    d.d2d_a_p = d.d2d_a_d = d.d2d_g_min = d.d2d_g_max = d.d2d_v0_p = d.d2d_v0_d = 0;
    ml_population *pop;
    assert_int_equal(ml_population_new(&d, 3, 1, &pop, NULL), ML_OK);
    double ge = d.g_min;
    for (int k = 0; k < 10; k++) {
        ge = ge + d.a_p * expm1(1.0 / d.v0_p) * (d.width / d.t_ref) * (d.g_max - ge);
        ml_pulse_all(pop, NULL, NULL, 1.0, d.width);
    }
    for (int i = 0; i < 3; i++) assert_true(fabs(pop->g[i] - ge) < 1e-18);
    assert_true(fabs(ml_read1(pop, 0) - ge) == 0);
    ml_population_free(pop);
}

static void neurosim_device_reproduces_gp_curve(void **state)
{
    ml_device d;
    assert_int_equal(ml_device_preset("agsi", &d, NULL), ML_OK);
    ml_devparams p = {d.g_min, d.g_max, d.a_p, d.a_d, d.v0_p, d.v0_d, d.g_inf_p, d.g_inf_d};
    double A = ml_neurosim_param_a(2.4) * 97, B = (d.g_max - d.g_min) / (1 - exp(-97 / A));
    double g = d.g_min;
    for (int P = 1; P <= 97; P++) {
        g = ml_model_step(&d, &p, g, d.v_pulse_p, d.width);
        double want = B * (1 - exp(-P / A)) + d.g_min;
        if (want > d.g_max) want = d.g_max;
        assert_true(fabs(g - want) < 1e-6 * d.g_max);
    }
}

/* NeuroSim's D2D as RealDevice draws it (Cell.cpp:312-315): device i's labels are
 * NL + sigma z with z from its D2D stream (counter 1: z_LTP, z_LTD; counter 0: the window's),
 * looked up in getParamA's table at index (int)(|NL| 100) - 1 clamped to 0..899; a label on the
 * wrong side of zero takes the 0.01 curve (memlev's rule, docs/devices.md). */
static double ns_label_used(double nl, int sign)
{
    if (nl * sign <= 0) return 0.01 * sign;
    int index = (int)(fabs(nl) * 100) - 1;
    index = index < 0 ? 0 : index > 899 ? 899 : index;
    return sign * (index + 1) / 100.0;
}

static void ns_draw(const ml_device *d, uint64_t seed, size_t i, double *nlp, double *nld, double *gmin, double *gmax)
{
    double z[4];
    ml_normal2(seed, i, 0, ML_RNG_D2D, &z[0], &z[1]);
    ml_normal2(seed, i, 1, ML_RNG_D2D, &z[2], &z[3]);
    *nlp = d->nl_ltp + d->d2d_nl * z[2];
    *nld = d->nl_ltd + d->d2d_nl * z[3];
    *gmin = d->g_min * fmax(0.2, 1 + d->d2d_g_min * z[0]);
    *gmax = d->g_max * fmax(0.2, 1 + d->d2d_g_max * z[1]);
}

/* Every device of a population with label and window spread follows NeuroSim's G(P) for its
 * own drawn labels, potentiation from G_min over Pmax_LTP pulses, then depression back over
 * Pmax_LTD, to 1e-6 of its window; most devices are more than 1e-3 of the window off the nominal
 * curve, so the test sees the draws. taox-hfox (NL_LTP 0.04, sigma 0.3) sends ~45 % of its
 * LTP labels across zero. */
static void neurosim_devices_follow_realdevice_for_their_own_labels(void **state)
{
    const char *presets[] = {"agsi", "taox-hfox"};
    const double sigma[] = {0.8, 0.3};
    for (int t = 0; t < 2; t++) {
        ml_device d;
        assert_int_equal(ml_device_preset(presets[t], &d, NULL), ML_OK);
        d.s_abs = d.s_c2c = d.s_read_rel = d.s_read_abs = 0;
        d.d2d_nl = sigma[t];
        d.d2d_g_min = d.d2d_g_max = 0.05;
        enum { N = 96 };
        const uint64_t seed = 31;
        const int P = (int)d.pmax_ltp, Q = (int)d.pmax_ltd;
        ml_population *p;
        assert_int_equal(ml_population_new(&d, N, seed, &p, NULL), ML_OK);
        double Ap[N], Bp[N], Ad[N], Bd[N], lo[N], hi[N], dev[N] = {0}, worst = 0, lab_lo = 99, lab_hi = -99;
        int crossed = 0;
        const double An_p = ml_neurosim_param_a(d.nl_ltp) * P, An_d = ml_neurosim_param_a(d.nl_ltd) * Q;
        for (size_t i = 0; i < N; i++) {
            double nlp, nld;
            ns_draw(&d, seed, i, &nlp, &nld, &lo[i], &hi[i]);
            crossed += nlp <= 0;
            lab_lo = fmin(lab_lo, nlp);
            lab_hi = fmax(lab_hi, nlp);
            Ap[i] = ml_neurosim_param_a(ns_label_used(nlp, 1)) * P;
            Ad[i] = ml_neurosim_param_a(ns_label_used(nld, -1)) * Q;
            Bp[i] = (hi[i] - lo[i]) / (1 - exp(-P / Ap[i]));
            Bd[i] = (hi[i] - lo[i]) / (1 - exp(-Q / Ad[i]));
            assert_true(p->g[i] == lo[i]);
        }
        for (int k = 1; k <= P; k++) {
            ml_pulse_range(p, 0, N, d.v_pulse_p, d.width);
            for (size_t i = 0; i < N; i++) {
                double w = hi[i] - lo[i], want = fmin(Bp[i] * (1 - exp(-k / Ap[i])) + lo[i], hi[i]);
                double nominal = (1 - exp(-k / An_p)) / (1 - exp(-P / An_p)) * w + lo[i];
                worst = fmax(worst, fabs(p->g[i] - want) / w);
                dev[i] = fmax(dev[i], fabs(p->g[i] - nominal) / w);
            }
        }
        for (int k = 1; k <= Q; k++) {
            ml_pulse_range(p, 0, N, d.v_pulse_d, d.width);
            for (size_t i = 0; i < N; i++) {
                double w = hi[i] - lo[i], want = fmax(Bd[i] * (1 - exp(-(Q - k) / Ad[i])) + lo[i], lo[i]);
                double nominal = (1 - exp(-(Q - k) / An_d)) / (1 - exp(-Q / An_d)) * w + lo[i];
                worst = fmax(worst, fabs(p->g[i] - want) / w);
                dev[i] = fmax(dev[i], fabs(p->g[i] - nominal) / w);
            }
        }
        int off = 0;
        for (size_t i = 0; i < N; i++) off += dev[i] > 1e-3;
        print_message("%s, d2d.nl %.1f: labels %.2f..%.2f (%d of %d below 0), worst %.2g of the window off "
                      "RealDevice, %d devices > 1e-3 off the nominal curve\n",
                      presets[t], sigma[t], lab_lo, lab_hi, crossed, N, worst, off);
        assert_true(worst < 1e-6);
        assert_true(off > N * 3 / 4);
        assert_true(lab_hi - lab_lo > 3 * sigma[t]);
        if (t == 1) assert_true(crossed > N / 4);
        ml_population_free(p);
    }
}

/* Standard normal CDF. */
static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* NeuroSim's label for given |A|/Pmax solved from an observed one-pulse fraction f of the
 * window: f = (1 - exp(-1/A)) / (1 - exp(-Pmax/A)) falls as A grows. */
static double label_from_fraction(double f, double pmax)
{
    double lo = log(1e-3 * pmax), hi = log(1e4 * pmax);
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), A = exp(mid);
        if (-expm1(-1 / A) / -expm1(-pmax / A) > f) lo = mid; else hi = mid;
    }
    return ml_neurosim_nl_from_a(exp(0.5 * (lo + hi)) / pmax);
}

/* Summary statistics of labels drawn as NL + sigma z and floored to the 0.01 grid: sample
 * mean and sd against NL - 0.005 (floor's bias) and sqrt(sigma^2 + 0.01^2/12) within 4
 * standard errors, and Kolmogorov's D against the floored normal's CDF at the grid points,
 * F(x) = Phi((x + 0.01 - NL) / sigma), below the 1 % critical value 1.63 / sqrt(n). */
static void check_label_spread(const double *lab, int n, double nl, double sigma, const char *what)
{
    double m = 0, m2 = 0;
    int *cnt = calloc(1000, sizeof *cnt);
    for (int i = 0; i < n; i++) {
        double k = lab[i] * 100;
        assert_true(fabs(k - round(k)) < 1e-4); /* on getParamA's grid */
        cnt[(int)round(k)]++;
        m += lab[i];
        m2 += lab[i] * lab[i];
    }
    m /= n;
    double sd = sqrt(m2 / n - m * m), sd_want = sqrt(sigma * sigma + 1e-4 / 12), D = 0, cum = 0;
    for (int k = 1; k < 1000; k++) {
        cum += cnt[k];
        D = fmax(D, fabs(cum / n - phi((k / 100.0 + 0.01 - nl) / sigma)));
    }
    print_message("%s: mean %.4f (want %.4f), sd %.4f (want %.4f), KS D %.4f (1 %%: %.4f)\n", what, m, nl - 0.005, sd,
                  sd_want, D, 1.63 / sqrt(n));
    assert_true(fabs(m - (nl - 0.005)) < 4 * sd_want / sqrt(n));
    assert_true(fabs(sd / sd_want - 1) < 4 / sqrt(2.0 * n));
    assert_true(D < 1.63 / sqrt(n));
    free(cnt);
}

/* The labels a population draws, read back from each device's first pulse (LTP from G_min, LTD
 * from G_max), have NeuroSim's distribution: NL + sigmaDtoD z floored to the 0.01 grid; fixed
 * seed, 4,000 devices. */
static void neurosim_label_spread_matches_sigma(void **state)
{
    ml_device d;
    assert_int_equal(ml_device_preset("agsi", &d, NULL), ML_OK);
    d.s_abs = d.s_c2c = d.s_read_rel = d.s_read_abs = 0;
    d.d2d_nl = 0.3;
    const int n = 4000;
    ml_population *p;
    assert_int_equal(ml_population_new(&d, (size_t)n, 77, &p, NULL), ML_OK);
    double *lp = malloc(n * sizeof *lp), *ld = malloc(n * sizeof *ld), w = d.g_max - d.g_min;
    ml_pulse_range(p, 0, n, d.v_pulse_p, d.width);
    for (int i = 0; i < n; i++) lp[i] = label_from_fraction((p->g[i] - d.g_min) / w, d.pmax_ltp);
    for (int k = 0; k < 3 * (int)d.pmax_ltp; k++) ml_pulse_range(p, 0, n, d.v_pulse_p, d.width);
    for (int i = 0; i < n; i++) assert_true(p->g[i] == d.g_max);
    ml_pulse_range(p, 0, n, d.v_pulse_d, d.width);
    for (int i = 0; i < n; i++) ld[i] = label_from_fraction((d.g_max - p->g[i]) / w, d.pmax_ltd);
    check_label_spread(lp, n, d.nl_ltp, d.d2d_nl, "NL_LTP 2.4");
    check_label_spread(ld, n, -d.nl_ltd, d.d2d_nl, "|NL_LTD| 4.88");
    free(lp);
    free(ld);
    ml_population_free(p);
}

static void serb_closed_form_matches_euler(void **state)
{
    ml_device d;
    assert_int_equal(ml_device_preset("serb-virtualarc", &d, NULL), ML_OK);
    double g = 1.0 / 8000, v = 1.2, t = 1e-6;
    double gc = ml_serb_step_public(&d, g, v, t);
    /* Euler in R with 1 ns steps: dR/dt = -s (R - r)^2 */
    double r = 1 / g, bound = d.serb_a0p - d.serb_a1p * v, s = d.serb_ap * expm1(v / d.serb_tp);
    for (int k = 0; k < 1000; k++) r -= 1e-9 * s * (r - bound) * (r - bound);
    assert_true(fabs(1 / r - gc) / gc < 1e-4);
}

static void table_interpolates_linearly(void **state)
{
    double g0[] = {1e-5, 1e-5, 3e-5, 3e-5}, v[] = {1, 1, 1, 1}, w[] = {1e-6, 1e-6, 1e-6, 1e-6};
    double g1[] = {1.1e-5, 1.1e-5, 3.05e-5, 3.05e-5};
    ml_dev_table *t;
    assert_int_equal(ml_table_from_pairs(g0, v, w, g1, 4, 1e-5, 3e-5, &t, NULL), ML_OK);
    ml_device d;
    ml_device_defaults(&d, ML_MODEL_TABLE);
    d.table = t;
    ml_devparams p = {1e-6, 1e-4, 0, 0, 1, 1, 1e-4, 1e-6};
    double lo = ml_model_step(&d, &p, t->g[0], 1, 1e-6) - t->g[0];
    double hi = ml_model_step(&d, &p, t->g[t->ng - 1], 1, 1e-6) - t->g[t->ng - 1];
    assert_true(fabs(lo - 1e-6) < 1e-12);
    assert_true(fabs(hi - 0.5e-6) < 1e-12);
    ml_device_clear(&d);
}

/* NeuroSim's RealDevice, depression: x runs down from Pmax_LTD, G(x) = B(1 - exp(-x/A)) + Gmin
 * with A = getParamA(NL_LTD) Pmax_LTD (< 0 for NeuroSim's negative, saturating NL_LTD) and
 * B = (Gmax - Gmin) / (1 - exp(-Pmax/A)); memlev's nominal depression pulse follows it. */
static void neurosim_depression_follows_realdevice_equations(void **state)
{
    ml_device d;
    assert_int_equal(ml_device_preset("agsi", &d, NULL), ML_OK);
    ml_devparams p = {d.g_min, d.g_max, d.a_p, d.a_d, d.v0_p, d.v0_d, d.g_inf_p, d.g_inf_d};
    double P = d.pmax_ltd, A = ml_neurosim_param_a(d.nl_ltd) * P, B = (d.g_max - d.g_min) / (1 - exp(-P / A));
    assert_true(d.nl_ltd < 0 && A < 0);
    double g = d.g_max;
    for (int k = 1; k <= (int)P; k++) {
        g = ml_model_step(&d, &p, g, d.v_pulse_d, d.width);
        double want = B * (1 - exp(-(P - k) / A)) + d.g_min;
        assert_true(fabs(g - want) < 1e-6 * (d.g_max - d.g_min));
    }
}

/* NeuroSim flips the curvature for NL_LTP < 0 or NL_LTD > 0; memlev does not model that and
 * says so instead of ignoring the sign (it used |NL|). */
static void neurosim_label_sign_is_not_ignored(void **state)
{
    ml_device d;
    ml_error e = {0};
    assert_int_equal(ml_device_preset("agsi", &d, NULL), ML_OK);
    d.nl_ltd = 4.88;
    assert_int_not_equal(ml_device_validate(&d, "x.json", &e), ML_OK);
    assert_non_null(strstr(e.msg, "nl_ltd"));
    d.nl_ltd = -4.88;
    d.nl_ltp = -2.4;
    assert_int_not_equal(ml_device_validate(&d, "x.json", &e), ML_OK);
    assert_non_null(strstr(e.msg, "nl_ltp"));
}

/* Beyond its measured amplitudes a table scales its edge step by the soft-bounds drive (it
 * held the edge step: a half-amplitude pulse moved as much as the measured one), and a
 * polarity without data moves nothing. */
static void table_extrapolates_by_the_drive_law(void **state)
{
    double g0[] = {1e-5, 1e-5, 3e-5, 3e-5}, v[] = {1, 1, 1, 1}, w[] = {1e-6, 1e-6, 1e-6, 1e-6};
    double g1[] = {1.1e-5, 1.1e-5, 3.05e-5, 3.05e-5};
    ml_device d;
    ml_device_defaults(&d, ML_MODEL_TABLE);
    assert_int_equal(ml_table_from_pairs(g0, v, w, g1, 4, 1e-5, 3e-5, &d.table, NULL), ML_OK);
    d.v_th = 0.1;
    d.t_ref = 1e-6;
    d.v0_p = 0.25;
    ml_devparams p = {1e-6, 1e-4, 0, 0, 1, 1, 1e-4, 1e-6};
    double g = d.table->g[0];
    double full = ml_model_step(&d, &p, g, 1, 1e-6) - g, half = ml_model_step(&d, &p, g, 0.5, 1e-6) - g;
    assert_true(fabs(half / full - expm1(0.5 / 0.25) / expm1(1 / 0.25)) < 1e-9);
    double wide = ml_model_step(&d, &p, g, 1, 2e-6) - g;
    assert_true(fabs(wide / full - 2) < 1e-9);
    assert_true(ml_model_step(&d, &p, g, -1, 1e-6) == g);
    ml_device_clear(&d);
}

static void json_accepts_design_form_and_rejects_unknown_keys(void **state)
{
    const char *ok = "{\"model\":\"softbounds\",\"g_min\":8.4e-5,\"g_max\":1.0e-4,\"a_p\":1e-4,\"v0_p\":0.25,"
                     "\"a_d\":1e-4,\"v0_d\":0.25,\"t_ref\":1e-4,\"v_th\":0.3,\"s_c2c\":0.01,\"s_abs\":0,"
                     "\"s_read_rel\":0,\"s_read_abs\":3e-9,\"d2d\":{\"a_p\":0.1,\"g_min\":0.01}}";
    ml_device d;
    ml_error e = {0};
    assert_int_equal(ml_device_from_json_text(ok, "x.json", &d, &e), ML_OK);
    assert_true(d.d2d_a_p == 0.1 && d.g_max == 1e-4 && d.t_ref == 1e-4);
    char *txt = ml_device_to_json(&d);
    ml_device d2;
    assert_int_equal(ml_device_from_json_text(txt, "rt", &d2, &e), ML_OK);
    assert_true(d2.a_p == d.a_p && d2.d2d_g_min == d.d2d_g_min);
    free(txt);
    assert_int_not_equal(ml_device_from_json_text("{\"model\":\"softbounds\",\"g_mn\":1}", "y.json", &d, &e), ML_OK);
    assert_non_null(strstr(e.msg, "g_mn"));
    assert_int_not_equal(ml_device_from_json_text("{\"model\":\"softbounds\",\"g_min\":1e-4,\"g_max\":8e-5}", "z.json", &d, &e), ML_OK);
    assert_non_null(strstr(e.msg, "g_max"));
    assert_int_not_equal(ml_device_from_json_text("{\"model\":\"softbounds\",\"width\":-1}", "w.json", &d, &e), ML_OK);
    assert_non_null(strstr(e.msg, "width"));
    assert_int_not_equal(ml_device_from_json_text("{\"model\":", "t.json", &d, &e), ML_OK);
    assert_int_not_equal(ml_device_from_json_text("{\"model\":\"softbounds\",\"a_p\":\"x\"}", "s.json", &d, &e), ML_OK);
}

/* The JSON form: "d2d": {"nl": sigma} for neurosim, written back only with the spreads the
 * model draws; a spread the model does not draw is an error naming it, for every model. */
static void neurosim_d2d_json_takes_labels_and_rejects_step_spreads(void **state)
{
    ml_device d, d2;
    ml_error e = {0};
    assert_int_equal(ml_device_from_json_text("{\"model\":\"neurosim\",\"d2d\":{\"nl\":0.25,\"g_max\":0.01}}", "n.json",
                                              &d, &e), ML_OK);
    assert_true(d.d2d_nl == 0.25 && d.d2d_g_max == 0.01);
    char *txt = ml_device_to_json(&d);
    const char *dd = strstr(txt, "\"d2d\""); /* the last object: only the spreads neurosim draws */
    assert_non_null(dd);
    assert_non_null(strstr(dd, "\"nl\""));
    assert_null(strstr(dd, "\"a_p\""));
    assert_null(strstr(dd, "\"v0_p\""));
    assert_int_equal(ml_device_from_json_text(txt, "rt", &d2, &e), ML_OK);
    assert_true(d2.d2d_nl == 0.25 && d2.a_p == d.a_p && d2.g_inf_p == d.g_inf_p);
    free(txt);
    const char *bad[][2] = {
        {"{\"model\":\"neurosim\",\"d2d\":{\"a_p\":0.1}}", "d2d.a_p"},
        {"{\"model\":\"neurosim\",\"d2d\":{\"v0_d\":0.02}}", "d2d.v0_d"},
        {"{\"model\":\"softbounds\",\"d2d\":{\"nl\":0.1}}", "d2d.nl"},
        {"{\"model\":\"serb\",\"d2d\":{\"a_p\":0.1}}", "d2d.a_p"},
        {"{\"model\":\"neurosim\",\"d2d\":{\"nl\":-0.1}}", "d2d.nl"},
        {"{\"model\":\"neurosim\",\"d2d\":{\"nl\":12}}", "d2d.nl"},
        {"{\"model\":\"neurosim\",\"d2d\":{\"nl\":\"x\"}}", "d2d.nl"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(ml_device_from_json_text(bad[k][0], "b.json", &d, &e), ML_EFORMAT);
        assert_non_null(strstr(e.msg, bad[k][1]));
        assert_non_null(strstr(e.msg, "b.json"));
        assert_null(strchr(e.msg, '\n'));
    }
    /* a step spread set through the API is refused where populations are made, too */
    assert_int_equal(ml_device_preset("agsi", &d, NULL), ML_OK);
    d.d2d_a_p = 0.05;
    ml_population *p = NULL;
    assert_int_not_equal(ml_population_new(&d, 4, 1, &p, &e), ML_OK);
    assert_null(p);
    assert_non_null(strstr(e.msg, "d2d.a_p"));
}

/* The same draws, parameters and states with 1 and 3 threads: tio2x, and agsi with its
 * per-device labels (drawn, and their curves solved, in parallel). */
static void population_results_do_not_depend_on_threads(void **state)
{
    const size_t n = 10007;
    for (int dv = 0; dv < 2; dv++) {
        ml_device d;
        ml_device_preset(dv ? "agsi" : "tio2x", &d, NULL);
        if (dv) d.d2d_nl = 0.5;
        double *g[2], *par[2];
        for (int t = 0; t < 2; t++) {
            omp_set_num_threads(t ? 3 : 1);
            ml_population *p;
            assert_int_equal(ml_population_new(&d, n, 42, &p, NULL), ML_OK);
            par[t] = malloc(4 * n * sizeof(double));
            memcpy(par[t], p->a_p, n * sizeof(double));
            memcpy(par[t] + n, p->a_d, n * sizeof(double));
            memcpy(par[t] + 2 * n, p->g_inf_p, n * sizeof(double));
            memcpy(par[t] + 3 * n, p->g_inf_d, n * sizeof(double));
            for (int k = 0; k < 20; k++) ml_pulse_all(p, NULL, NULL, dv ? d.v_pulse_p : 1.1, d.width);
            g[t] = malloc(p->n * sizeof(double));
            ml_read_all(p, g[t]);
            ml_population_free(p);
        }
        assert_memory_equal(par[0], par[1], 4 * n * sizeof(double));
        assert_memory_equal(g[0], g[1], n * sizeof(double));
        free(g[0]); free(g[1]); free(par[0]); free(par[1]);
    }
    omp_set_num_threads(2);
}

static void conductance_never_leaves_the_window(void **state)
{
    ml_device d;
    ml_device_preset("tio2x", &d, NULL);
    d.s_c2c = 0.9;
    d.s_abs = 1e-6;
    ml_population *p;
    assert_int_equal(ml_population_new(&d, 1000, 3, &p, NULL), ML_OK);
    for (int k = 0; k < 50; k++) {
        ml_pulse_all(p, NULL, NULL, (k % 3) ? 2.0 : -2.0, d.width);
        for (size_t i = 0; i < p->n; i++) assert_true(p->g[i] >= p->g_min[i] && p->g[i] <= p->g_max[i]);
    }
    ml_population_free(p);
}

/* Heap devices for bindings: a preset, its JSON text back, and errors naming the source. */
static void heap_devices_round_trip_through_json(void **state)
{
    ml_device *a = NULL, *b = NULL, *c = NULL;
    ml_error err = {0};
    assert_int_equal(ml_device_new("tio2x", &a, NULL), ML_OK);
    char *text = ml_device_to_json(a);
    assert_non_null(text);
    assert_int_equal(ml_device_new_json(text, "dict", &b, NULL), ML_OK);
    assert_true(a->g_min == b->g_min && a->g_max == b->g_max && a->a_p == b->a_p && a->d2d_a_p == b->d2d_a_p);
    ml_free(text);
    assert_int_equal(ml_device_new_json("{\"model\": \"softbounds\", \"bogus\": 1}", "dict", &c, &err), ML_EFORMAT);
    assert_null(c);
    assert_non_null(strstr(err.msg, "dict: unknown key 'bogus'"));
    assert_int_not_equal(ml_device_new("nosuch", &c, &err), ML_OK);
    assert_null(c);
    ml_device_free(a);
    ml_device_free(b);
    ml_device_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_is_a_pure_function_of_its_counter),
        cmocka_unit_test(neurosim_param_a_matches_table),
        cmocka_unit_test(softbounds_step_is_the_design_equation),
        cmocka_unit_test(neurosim_device_reproduces_gp_curve),
        cmocka_unit_test(neurosim_devices_follow_realdevice_for_their_own_labels),
        cmocka_unit_test(neurosim_label_spread_matches_sigma),
        cmocka_unit_test(neurosim_d2d_json_takes_labels_and_rejects_step_spreads),
        cmocka_unit_test(serb_closed_form_matches_euler),
        cmocka_unit_test(table_interpolates_linearly),
        cmocka_unit_test(table_extrapolates_by_the_drive_law),
        cmocka_unit_test(neurosim_depression_follows_realdevice_equations),
        cmocka_unit_test(neurosim_label_sign_is_not_ignored),
        cmocka_unit_test(json_accepts_design_form_and_rejects_unknown_keys),
        cmocka_unit_test(population_results_do_not_depend_on_threads),
        cmocka_unit_test(conductance_never_leaves_the_window),
        cmocka_unit_test(heap_devices_round_trip_through_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
