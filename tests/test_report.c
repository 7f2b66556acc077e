/* Report module: result kinds detected by their keys, malformed files rejected with the
 * file and field named (never a crash, whatever the truncation), plots and page written
 * atomically with the listed files present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "memlev/report.h"
#include "memlev/util.h"

#ifdef __SANITIZE_ADDRESS__
/* fontconfig (loaded by PLplot's cairo driver) keeps its font cache for the life of the
 * process; not a leak of ours (the CLI test uses tests/lsan-fontconfig.supp for the same). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
#endif

/* A levels result of n + 1 points in the shape `memlev levels --json` writes. */
static char *levels_json(const char *scheme, int n)
{
    size_t cap = 4096 + (size_t)n * 6 * 32;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap,
        "{\"device\":\"tio2x\",\"scheme\":\"%s\",\"states\":%d,\"staircase_states\":%d,\"nonlinearity\":0.01,"
        "\"max_deviation\":0.001,\"r2\":0.9999,\"g_min_uS\":84,\"g_max_uS\":100,\"pulses_per_state\":1,"
        "\"reads_per_state\":0,\"energy_per_state_J\":2e-9,\"sigma_read_uS\":0.003,"
        "\"calibration_pulses_per_device\":100,\"sweep\":[{\"v\":1,\"coverage\":0.9,\"states\":50},"
        "{\"v\":1.1,\"coverage\":0.97,\"states\":60}],\"staircase\":{", scheme, n + 1, n + 1);
    const char *keys[] = {"g_mean_uS", "g_p05_uS", "g_p95_uS", "step_uS", "v_mean", "pulses_mean"};
    for (int q = 0; q < 6; q++) {
        k += (size_t)snprintf(s + k, cap - k, "%s\"%s\":[", q ? "," : "", keys[q]);
        for (int i = 0; i <= n; i++) {
            double g = 84 + 16.0 * i / n, v = q == 0 ? g : q == 1 ? g - 0.05 : q == 2 ? g + 0.05 : q == 3 ? (i ? 16.0 / n : 0) : 1;
            k += (size_t)snprintf(s + k, cap - k, "%s%.6g", i ? "," : "", v);
        }
        k += (size_t)snprintf(s + k, cap - k, "]");
    }
    snprintf(s + k, cap - k, "}}");
    return s;
}

static const char *transfer_json =
    "{\"config\":{\"device\":\"tio2x\"},\"baseline_accuracy\":0.9,\"images\":100,\"complete\":true,\"points\":["
    "{\"scheme\":\"feedforward\",\"levels\":2,\"accuracy_mean\":0.5,\"accuracy_std\":0.01,\"ci95\":0.012,"
    "\"quantized_accuracy\":0.5,\"pulses_per_device\":1,\"devices\":10,\"program_seconds\":0.1,\"distinguishable\":true},"
    "{\"scheme\":\"feedforward\",\"levels\":8,\"accuracy_mean\":0.85,\"accuracy_std\":0.01,\"ci95\":0.012,"
    "\"quantized_accuracy\":0.86,\"pulses_per_device\":2,\"devices\":10,\"program_seconds\":0.1,\"distinguishable\":true},"
    "{\"scheme\":\"identical\",\"levels\":8,\"accuracy_mean\":0.7,\"accuracy_std\":0.02,\"ci95\":0.03,"
    "\"quantized_accuracy\":0.72,\"pulses_per_device\":2,\"devices\":10,\"program_seconds\":0.1,\"distinguishable\":false}]}";

static void kinds_are_detected_by_their_keys(void **state)
{
    ml_report *r = NULL;
    ml_error err = {0};
    ml_result_kind kind = 0;
    assert_int_equal(ml_report_new(&r, &err), ML_OK);
    char *l = levels_json("feedforward", 16);
    assert_int_equal(ml_report_add_json(r, l, "ff.json", &kind, &err), ML_OK);
    assert_int_equal(kind, ML_RESULT_LEVELS);
    assert_int_equal(ml_report_add_json(r, transfer_json, "t.json", &kind, &err), ML_OK);
    assert_int_equal(kind, ML_RESULT_TRANSFER);
    assert_int_equal(ml_report_add_json(r, "{\"points\":[]}", "x.json", &kind, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, "x.json: not a memlev result"));
    free(l);
    ml_report_free(r);
    ml_report_free(NULL);
}

static void bad_fields_are_named(void **state)
{
    static const struct { const char *from, *to, *word; } cases[] = {
        {"\"r2\":0.9999", "\"r2\":\"high\"", "'r2' must be a finite number"},
        {"\"nonlinearity\":0.01,", "", "missing number 'nonlinearity'"},
        {"\"states\":17", "\"states\":-1", "must not be negative"},
        {"\"g_p95_uS\":[", "\"g_p95_uS\":[1,", "'g_p95_uS' has 18 entries, expected 17"},
        {"\"scheme\":\"feedforward\"", "\"scheme\":\"\"", "'scheme' must be a non-empty string"},
        {"{\"v\":1,", "{\"V\":1,", "sweep[0]: missing number 'v'"},
    };
    char *l = levels_json("feedforward", 16);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *p = strstr(l, cases[c].from);
        assert_non_null(p);
        size_t n = strlen(l) + strlen(cases[c].to) + 1;
        char *b = malloc(n);
        snprintf(b, n, "%.*s%s%s", (int)(p - l), l, cases[c].to, p + strlen(cases[c].from));
        ml_report *r = NULL;
        ml_error err = {0};
        ml_report_new(&r, &err);
        assert_int_equal(ml_report_add_json(r, b, "bad.json", NULL, &err), ML_EFORMAT);
        if (!strstr(err.msg, "bad.json") || !strstr(err.msg, cases[c].word)) fail_msg("case %zu: %s", c, err.msg);
        ml_report_free(r);
        free(b);
    }
    free(l);
}

static void every_truncation_is_an_error_not_a_crash(void **state)
{
    char *l = levels_json("verify", 4);
    size_t n = strlen(l);
    const char *texts[2] = {l, transfer_json};
    for (int t = 0; t < 2; t++) {
        size_t len = strlen(texts[t]);
        for (size_t cut = 0; cut < len; cut++) {
            char *b = malloc(cut + 1);
            memcpy(b, texts[t], cut);
            b[cut] = 0;
            ml_report *r = NULL;
            ml_error err = {0};
            ml_report_new(&r, &err);
            assert_int_not_equal(ml_report_add_json(r, b, "cut.json", NULL, &err), ML_OK);
            assert_non_null(strstr(err.msg, "cut.json"));
            ml_report_free(r);
            free(b);
        }
    }
    (void)n;
    free(l);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

static void write_lists_every_file_and_leaves_no_temporaries(void **state)
{
    char dir[] = "/tmp/ml_report_XXXXXX";
    assert_non_null(mkdtemp(dir));
    ml_report *r = NULL;
    ml_error err = {0};
    ml_report_new(&r, &err);
    char *a = levels_json("identical", 32), *b = levels_json("identical", 32);
    assert_int_equal(ml_report_add_json(r, a, "a/id.json", NULL, &err), ML_OK);
    assert_int_equal(ml_report_add_json(r, b, "b/id.json", NULL, &err), ML_OK);
    assert_int_equal(ml_report_add_json(r, transfer_json, "t.json", NULL, &err), ML_OK);
    ml_report_opts o;
    ml_report_opts_defaults(&o);
    o.svg = 0;
    o.title = "A & B <test>";
    char out[64];
    snprintf(out, sizeof out, "%s/rep", dir);
    assert_int_equal(ml_report_write(r, out, &o, &err), ML_OK);
    size_t n = ml_report_nfiles(r);
    assert_true(n >= 9); /* 6 levels figures + 2 transfer figures + index.html */
    for (size_t i = 0; i < n; i++) assert_true(exists(ml_report_file(r, i)));
    assert_non_null(strstr(ml_report_file(r, n - 1), "index.html"));
    assert_null(ml_report_file(r, n));
    char *html = NULL;
    size_t len;
    assert_int_equal(ml_read_file(ml_report_file(r, n - 1), &html, &len, 1 << 20, &err), ML_OK);
    assert_non_null(strstr(html, "<h1>A &amp; B &lt;test&gt;</h1>"));
    assert_non_null(strstr(html, "identical (id.json)")); /* repeated scheme: labelled by file */
    assert_null(strstr(html, "http"));
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls %s/rep | grep -q tmp", dir);
    assert_int_not_equal(system(cmd), 0);
    free(html);
    /* bad sizes and an empty report are errors */
    o.width_px = 10;
    assert_int_equal(ml_report_write(r, out, &o, &err), ML_EINVAL);
    ml_report *e = NULL;
    ml_report_new(&e, &err);
    assert_int_equal(ml_report_write(e, out, NULL, &err), ML_EINVAL);
    ml_report_free(e);
    ml_report_free(r);
    free(a);
    free(b);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void degenerate_results_still_render(void **state)
{
    char dir[] = "/tmp/ml_report_XXXXXX";
    assert_non_null(mkdtemp(dir));
    ml_report *r = NULL;
    ml_error err = {0};
    ml_report_new(&r, &err);
    char *l = levels_json("ramp", 1); /* two points, one step */
    assert_int_equal(ml_report_add_json(r, l, "two.json", NULL, &err), ML_OK);
    assert_int_equal(ml_report_add_json(r, "{\"baseline_accuracy\":0.5,\"points\":[],\"complete\":false}", "none.json",
                                        NULL, &err), ML_OK);
    ml_report_opts o;
    ml_report_opts_defaults(&o);
    o.svg = 0;
    if (ml_report_write(r, dir, &o, &err)) fail_msg("%s", err.msg);
    assert_true(ml_report_nfiles(r) >= 6);
    ml_report_free(r);
    free(l);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* s with its first "old" replaced by "new" (the caller frees it). */
static char *replaced(const char *s, const char *old, const char *new)
{
    const char *at = strstr(s, old);
    assert_non_null(at);
    size_t n = strlen(s) + strlen(new) + 1;
    char *o = malloc(n);
    snprintf(o, n, "%.*s%s%s", (int)(at - s), s, new, at + strlen(old));
    return o;
}

static size_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) ? 0 : (size_t)sb.st_size;
}

static void budget_figure_needs_two_calibration_costs(void **state)
{
    char dir[] = "/tmp/ml_report_XXXXXX", path[96];
    assert_non_null(mkdtemp(dir));
    char *l = levels_json("feedforward", 16);
    char *a = replaced(l, "\"states\":17", "\"pulses\":16,\"verify_every\":0,\"states_population\":12,\"states\":17");
    char *b = replaced(a, "\"calibration_pulses_per_device\":100", "\"calibration_pulses_per_device\":650");
    char *c = replaced(a, "\"verify_every\":0", "\"verify_every\":16");
    char *bad = replaced(a, "\"verify_every\":0", "\"verify_every\":1.5");
    ml_report_opts o;
    ml_report_opts_defaults(&o);
    o.svg = 0;
    ml_error err = {0};
    /* two results of one calibration cost: no budget figure, and no error */
    ml_report *r = NULL;
    ml_report_new(&r, &err);
    assert_int_equal(ml_report_add_json(r, a, "a.json", NULL, &err), ML_OK);
    assert_int_equal(ml_report_add_json(r, c, "c.json", NULL, &err), ML_OK); /* same cost, another K */
    if (ml_report_write(r, dir, &o, &err)) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/budget.png", dir);
    assert_false(exists(path));
    /* a second calibration cost of the same scheme and device: drawn, and on the page; with
     * twelve results (the levels figure's panels once came out with no height at 9) */
    assert_int_equal(ml_report_add_json(r, b, "b.json", NULL, &err), ML_OK);
    for (int i = 0; i < 9; i++) {
        char name[32];
        snprintf(name, sizeof name, "copy%d.json", i);
        assert_int_equal(ml_report_add_json(r, a, name, NULL, &err), ML_OK);
    }
    if (ml_report_write(r, dir, &o, &err)) fail_msg("%s", err.msg);
    assert_true(file_size(path) > 1000);
    char *html = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/index.html", dir);
    assert_int_equal(ml_read_file(path, &html, &len, 1 << 20, &err), ML_OK);
    assert_non_null(strstr(html, "budget.png"));
    free(html);
    ml_report_free(r);
    /* verify_every is a whole number when given */
    char *neg = replaced(a, "\"verify_every\":0", "\"verify_every\":-1");
    ml_report_new(&r, &err);
    assert_int_equal(ml_report_add_json(r, neg, "neg.json", NULL, &err), ML_EFORMAT);
    assert_int_equal(ml_report_add_json(r, bad, "bad.json", NULL, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, "bad.json: 'verify_every'"));
    ml_report_free(r);
    free(l); free(a); free(b); free(c); free(bad); free(neg);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds_are_detected_by_their_keys),
        cmocka_unit_test(bad_fields_are_named),
        cmocka_unit_test(every_truncation_is_an_error_not_a_crash),
        cmocka_unit_test(write_lists_every_file_and_leaves_no_temporaries),
        cmocka_unit_test(degenerate_results_still_render),
        cmocka_unit_test(budget_figure_needs_two_calibration_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
