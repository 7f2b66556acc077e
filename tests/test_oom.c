/* Out-of-memory faults (SQLite style): a levels study and a transfer study of a tiny net run
 * again and again with allocation k of the library's hook failing, k = 0, 1, 2, ...,
 * until a run no longer reaches the fault. Every faulted run must report ML_ENOMEM, not
 * crash and not leak (live blocks of the hook counted here; ASan checks the rest). The one
 * exception is a cache the library can do without (oneDNN plans and weight copies: the
 * layer then runs on the built-in kernels): such a run may succeed, but only with results
 * bit-identical to the unfaulted run's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/data.h"
#include "memlev/metrics.h"
#include "memlev/onnx.h"
#include "memlev/rng.h"
#include "memlev/study.h"
#include "memlev/transfer.h"

/* A workload returns its status and a digest of its results (compared bit for bit). */
typedef ml_status (*workload_fn)(const void *arg, double *digest, ml_error *err);

/* Run w with allocation k failing for k = 0, 1, ... until w completes without meeting
 * the fault; returns the number of faulted runs. */
static long run_with_faults(const char *name, workload_fn w, const void *arg)
{
    ml_error err = {0};
    long live0 = ml__alloc_live();
    double want = 0, got;
    ml__alloc_fail_at(-1);
    assert_int_equal(w(arg, &want, &err), ML_OK);
    assert_int_equal(ml__alloc_live(), live0);
    long k = 0, benign = 0;
    for (;; k++) {
        memset(&err, 0, sizeof err);
        ml__alloc_fail_at(k);
        got = 0;
        ml_status st = w(arg, &got, &err);
        int hit = ml__alloc_fault_hit();
        ml__alloc_fail_at(-1);
        long leaked = ml__alloc_live() - live0;
        if (leaked)
            fail_msg("%s: allocation %ld failed: %ld block(s) leaked", name, k, leaked);
        if (st == ML_OK && memcmp(&got, &want, sizeof got))
            fail_msg("%s: allocation %ld failed: ML_OK but results differ (%.17g, want %.17g)", name, k, got, want);
        if (!hit) {
            assert_int_equal(st, ML_OK);
            break;
        }
        if (st != ML_ENOMEM && st != ML_OK)
            fail_msg("%s: allocation %ld failed: status %d (%s), want ML_ENOMEM", name, k, (int)st, err.msg);
        benign += st == ML_OK;
    }
    printf("%s: %ld allocations failed in turn: %ld ML_ENOMEM, %ld done without a cache, same results\n", name, k,
           k - benign, benign);
    return k;
}

static int short_run(void)
{
    const char *e = getenv("ML_TEST_SHORT");
    return e && *e;
}

/* ---- the levels study (ml_levels_study: calibration, staircase, states, costs) ---- */

typedef struct levels_arg { const ml_scheme_type *type; size_t devices; int pulses; } levels_arg;

static ml_status levels_workload(const void *arg, double *digest, ml_error *err)
{
    const levels_arg *a = arg;
    ml_device d;
    ml_status st = ml_device_preset("tio2x", &d, err);
    if (st) return st;
    ml_levels_study_opts o = {0};
    o.dev = &d;
    ml_scheme_defaults(&o.scheme, a->type);
    /* identical at a fixed amplitude: the amplitude sweep repeats the same allocations ~30
     * times, which would make the fault loop quadratic */
    if (a->type == ml_scheme_identical) o.scheme.v = d.v_pulse_p;
    o.P = a->pulses;
    o.P_max = 2 * a->pulses; /* a saturating scheme reruns once at twice the pulses */
    o.dir = +1;
    o.devices = a->devices;
    o.seed = 7;
    o.k = 3;
    o.frac = 0.9;
    ml_levels_result *r = NULL;
    if (!(st = ml_levels_study(&o, &r, err))) {
        *digest = r->states + r->sigma_read + r->precision_rms + r->nonlin.label + r->staircase_states +
                  r->pulses_per_state + r->nsweep;
        ml_levels_result_free(r);
    }
    ml_device_clear(&d);
    return st;
}

static void levels_study_reports_every_allocation_failure(void **state)
{
    const ml_scheme_type *types[] = {ml_scheme_feedforward, ml_scheme_verify, ml_scheme_ramp, ml_scheme_identical};
    int nk = short_run() ? 2 : 4;
    for (int i = 0; i < nk; i++) {
        levels_arg a = {types[i], 12, 10};
        char name[64];
        snprintf(name, sizeof name, "levels %s", ml_scheme_name(types[i]));
        assert_true(run_with_faults(name, levels_workload, &a) > 0);
    }
}

/* ---- the transfer study (ml_transfer_study: float baseline, level set, quantised
 * baseline, trials of programming and inference) on a tiny net, statistical and pulse mode ---- */

typedef struct transfer_arg {
    const ml_net *net;
    const ml_dataset *ds;
    const ml_scheme_type *kind;
    int levels;
    size_t sample;
} transfer_arg;

static ml_status transfer_workload(const void *arg, double *digest, ml_error *err)
{
    const transfer_arg *a = arg;
    ml_device d;
    ml_status st = ml_device_preset("tio2x", &d, err);
    if (st) return st;
    const int levels[] = {a->levels};
    ml_transfer_study_opts o = {0};
    o.dev = &d;
    o.schemes[0] = a->kind;
    o.nschemes = 1;
    o.levels = levels;
    o.nlevels = 1;
    o.trials = 1;
    o.seed = 3;
    o.sample_devices = a->sample;
    o.batch = 4; /* a full batch and a partial one over the 6 images */
    o.calib_per_device = 0;
    o.baseline_accuracy = -1;
    /* statistical, then pulse mode per channel (a shared schedule runs in lockstep on the
     * simulated devices; a closed-loop scheme programs device by device) */
    for (int pass = 0; pass < 2 && !st; pass++) {
        o.mode = pass ? ML_TRANSFER_PULSE : ML_TRANSFER_STATISTICAL;
        o.per_channel = pass;
        ml_transfer_result *r = NULL;
        if ((st = ml_transfer_study(a->net, a->ds, &o, &r, err))) break;
        const ml_transfer_point *p = &r->points[0];
        *digest += r->baseline_accuracy + p->accuracy_mean + p->quantized_accuracy + p->states + p->pulses_per_device +
                   p->energy_j;
        ml_transfer_result_free(r);
    }
    ml_device_clear(&d);
    return st;
}

/* n images of c x hw x hw for a net of 3 classes, drawn from counter-based uniforms (made
 * outside the faulted region). */
static ml_dataset *tiny_data(size_t n, int hw)
{
    ml_dataset *ds = NULL;
    assert_int_equal(ml_dataset_new(n, 1, hw, hw, &ds, NULL), ML_OK);
    for (size_t i = 0; i < n * (size_t)(hw * hw); i++) ds->images[i] = (float)ml_uniform(17, i, 0, 1);
    for (size_t i = 0; i < n; i++) ds->labels[i] = (uint8_t)(i % 3);
    ds->classes = 3;
    return ds;
}

static void transfer_study_reports_every_allocation_failure(void **state)
{
    ml_net *mlp = NULL, *lenet = NULL;
    /* 1x8x8 input, 3 classes, 6 hidden units: three Gemm layers */
    assert_int_equal(ml_arch_build("mlp", 1, 8, 3, 6, 2, &mlp, NULL), ML_OK);
    ml_dataset *d8 = tiny_data(6, 8), *d12 = tiny_data(6, 12);
    transfer_arg a = {mlp, d8, ml_scheme_feedforward, 8, short_run() ? 16 : 40};
    assert_true(run_with_faults("transfer study mlp feedforward", transfer_workload, &a) > 0);
    if (!short_run()) { /* the closed-loop level set: per-level programming instead of one schedule */
        a.kind = ml_scheme_verify;
        assert_true(run_with_faults("transfer study mlp verify", transfer_workload, &a) > 0);
    }
    /* convolutions (the oneDNN and workspace paths): LeNet-5 of width 2 on 1x12x12 */
    assert_int_equal(ml_arch_build("lenet5", 1, 12, 3, 2, 2, &lenet, NULL), ML_OK);
    transfer_arg c = {lenet, d12, ml_scheme_feedforward, 4, 16};
    assert_true(run_with_faults("transfer study lenet5 feedforward", transfer_workload, &c) > 0);
    ml_dataset_free(d8);
    ml_dataset_free(d12);
    ml_net_free(lenet);
    ml_net_free(mlp);
}

/* Building a net from nothing also fails cleanly (the transfer test above builds its net
 * and data outside the faulted region). */
typedef struct arch_arg { const char *arch; int hw; } arch_arg;

static ml_status arch_workload(const void *arg, double *digest, ml_error *err)
{
    const arch_arg *a = arg;
    ml_net *net = NULL;
    ml_status st = ml_arch_build(a->arch, 1, a->hw, 3, 4, 1, &net, err);
    if (!st) *digest = (double)ml_net_num_params(net) + net->ntensors;
    ml_net_free(net);
    return st;
}

static void net_building_reports_every_allocation_failure(void **state)
{
    arch_arg a = {"mlp", 8}, b = {"resnet20", 8};
    assert_true(run_with_faults("arch mlp", arch_workload, &a) > 0);
    if (!short_run()) /* batch norm, residual additions, 21 layers */
        assert_true(run_with_faults("arch resnet20", arch_workload, &b) > 0);
}

/* Importing and running a model of the N-D ops (Split, Concat, 5-D Transpose, Pad, Resize,
 * Slice, ReduceMean: tests/fixtures/nd_small.onnx) fails cleanly too. */
static ml_status nd_workload(const void *arg, double *digest, ml_error *err)
{
    ml_net *net = NULL;
    ml_status st = ml_onnx_load(arg, &net, err);
    if (st) return st;
    float x[2 * 144], y[8];
    for (int i = 0; i < 2 * 144; i++)
        x[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
    if (!(st = ml_net_forward(net, x, 2, y, err)))
        for (int i = 0; i < 8; i++)
            *digest += y[i] * (i + 1);
    ml_net_free(net);
    return st;
}

static void nd_ops_report_every_allocation_failure(void **state)
{
    const char *src = getenv("ML_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/nd_small.onnx", src ? src : ".");
    assert_true(run_with_faults("onnx nd_small", nd_workload, path) > 0);
}

int main(void)
{
    /* one thread: allocation k is then the same allocation in every run */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_study_reports_every_allocation_failure),
        cmocka_unit_test(transfer_study_reports_every_allocation_failure),
        cmocka_unit_test(net_building_reports_every_allocation_failure),
        cmocka_unit_test(nd_ops_report_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
