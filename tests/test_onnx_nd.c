/* The N-D inference-only ops (nn/nd): channel shuffle through 5-D Reshape/Transpose,
 * Concat, Slice, Pad, Resize, reductions and unaries against values computed here, the same
 * bits for any thread count, refused attributes and training. Nets are built with the graph
 * API; ONNX's own cases for these ops run in tests/onnx_suite.sh. */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "memlev/nn.h"

typedef struct chain {
    ml_net *net;
    int last;
    ml_error err;
} chain;

static void chain_start(chain *c, int rank, const int64_t *dims)
{
    memset(c, 0, sizeof *c);
    c->net = ml_net_new();
    assert_non_null(c->net);
    c->last = ml_net_add_tensor(c->net, "x", rank, dims, NULL, ML_TENSOR_INPUT, &c->err);
    assert_true(c->last >= 0);
}

/* append op (second input in2 if >= 0) reading the last tensor */
static void chain_add(chain *c, ml_op op, const ml_attrs *at, int in2)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", c->net->ntensors);
    int y = ml_net_add_tensor(c->net, name, 0, NULL, NULL, 0, &c->err);
    int in[2] = {c->last, in2};
    assert_true(y >= 0);
    assert_true(ml_net_add_node(c->net, op, name, in, in2 >= 0 ? 2 : 1, y, at, &c->err) >= 0);
    c->last = y;
}

static ml_status chain_finish(chain *c)
{
    ml_net_set_io(c->net, 0, c->last);
    return ml_net_finalize(c->net, &c->err);
}

static void reshape_attrs(ml_attrs *a, int n, const int64_t *shape)
{
    ml_attrs_default(a);
    a->nshape = n;
    memcpy(a->shape, shape, (size_t)n * sizeof *shape);
}

/* shufflenet's channel shuffle: [N,C,H,W] -> [N,g,C/g,H,W] -> swap 1,2 -> [N,C,H,W] */
static void channel_shuffle_through_five_dims(void **state)
{
    (void)state;
    const int N = 3, C = 6, H = 2, W = 5, G = 2;
    const int64_t d[4] = {1, C, H, W}, s5[5] = {1, G, C / G, H, W}, s4[4] = {1, C, H, W};
    chain c;
    chain_start(&c, 4, d);
    ml_attrs a;
    reshape_attrs(&a, 5, s5);
    chain_add(&c, ML_OP_RESHAPE, &a, -1);
    ml_attrs_default(&a);
    a.nperm = 5;
    const int perm[5] = {0, 2, 1, 3, 4};
    memcpy(a.perm, perm, sizeof perm);
    chain_add(&c, ML_OP_TRANSPOSE, &a, -1);
    int t5 = c.last;
    reshape_attrs(&a, 4, s4);
    chain_add(&c, ML_OP_RESHAPE, &a, -1);
    assert_int_equal(chain_finish(&c), ML_OK);
    assert_int_equal(c.net->tensors[t5].ndim, 5);
    assert_int_equal(c.net->tensors[t5].dims[1], C / G);
    float x[N * C * H * W], y[N * C * H * W], y1[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++)
        x[i] = (float)i;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(ml_net_forward(c.net, x, N, y1, &c.err), ML_OK);
    omp_set_num_threads(3);
    assert_int_equal(ml_net_forward(c.net, x, N, y, &c.err), ML_OK);
    omp_set_num_threads(threads);
    assert_memory_equal(y, y1, sizeof y);
    /* output channel k = j * G + g holds input channel g * C/G + j */
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            int src = (k % G) * (C / G) + k / G;
            for (int p = 0; p < H * W; p++)
                assert_float_equal(y[(n * C + k) * H * W + p], x[(n * C + src) * H * W + p], 0);
        }
    ml_net_free(c.net);
}

/* Concat(x, Tanh(x)) on axis 2, Slice of every other column backwards, Pad reflect */
static void concat_slice_pad_follow_onnx(void **state)
{
    (void)state;
    const int64_t d[3] = {1, 2, 3};
    chain c;
    chain_start(&c, 3, d);
    chain_add(&c, ML_OP_TANH, NULL, -1);
    int th = c.last;
    c.last = 0;
    ml_attrs a;
    ml_attrs_default(&a);
    a.axis = -1;
    chain_add(&c, ML_OP_CONCAT, &a, th); /* [N, 2, 6]: x row, then tanh(x) row */
    ml_attrs_default(&a);
    a.nslice = 1;
    a.slice_axes[0] = 2;
    a.starts[0] = -1;
    a.ends[0] = -100;
    a.steps[0] = -2; /* columns 5, 3, 1 */
    chain_add(&c, ML_OP_SLICE, &a, -1);
    ml_attrs_default(&a);
    a.npadnd = 6;
    const int64_t pads[6] = {0, 0, 2, 0, 1, 0}; /* 1 row after, 2 columns before */
    memcpy(a.padnd, pads, sizeof pads);
    a.pad_mode = 1;
    chain_add(&c, ML_OP_PAD, &a, -1);
    assert_int_equal(chain_finish(&c), ML_OK);
    assert_int_equal(c.net->tensors[c.last].dims[1], 3);
    assert_int_equal(c.net->tensors[c.last].dims[2], 5);
    const float x[12] = {1, -2, 3, 0.5f, 4, -6, /* item 2 */ 7, 8, -9, 10, 11, 12};
    float y[30];
    assert_int_equal(ml_net_forward(c.net, x, 2, y, &c.err), ML_OK);
    for (int n = 0; n < 2; n++) {
        const float *X = x + 6 * n;
        float cat[2][6], sl[2][3];
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 6; k++)
                cat[r][k] = k < 3 ? X[3 * r + k] : tanhf(X[3 * r + k - 3]);
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 3; k++)
                sl[r][k] = cat[r][5 - 2 * k];
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 5; k++) {
                int rr = r < 2 ? r : 0, kk = k - 2 < 0 ? 2 - k : k - 2; /* reflect */
                assert_float_equal(y[15 * n + 5 * r + k], sl[rr][kk], 1e-7);
            }
    }
    ml_net_free(c.net);
}

/* Resize nearest x2 (asymmetric, floor) and linear (align_corners), then ReduceMean/Max */
static void resize_and_reduce_follow_onnx(void **state)
{
    (void)state;
    const int64_t d[4] = {1, 1, 2, 3};
    const float x[6] = {1, 2, 4, 8, 16, 32};
    for (int mode = 0; mode < 2; mode++) {
        chain c;
        chain_start(&c, 4, d);
        ml_attrs a;
        ml_attrs_default(&a);
        a.resize_mode = mode;
        a.resize_coord = mode ? 2 : 1;
        a.resize_nearest = 2;
        a.nsizes = 4;
        const int64_t sz[4] = {1, 1, 4, 5};
        memcpy(a.sizes, sz, sizeof sz);
        chain_add(&c, ML_OP_RESIZE, &a, -1);
        assert_int_equal(chain_finish(&c), ML_OK);
        float y[20];
        assert_int_equal(ml_net_forward(c.net, x, 1, y, &c.err), ML_OK);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) {
                double want;
                if (mode == 0) {
                    want = x[3 * (int)floor(i * 2.0 / 4) + (int)floor(j * 3.0 / 5)];
                } else {
                    double fi = i * 1.0 / 3, fj = j * 2.0 / 4;
                    int i0 = (int)fi, j0 = (int)fj, i1 = i0 < 1 ? i0 + 1 : i0, j1 = j0 < 2 ? j0 + 1 : j0;
                    double wi = fi - i0, wj = fj - j0;
                    want = (1 - wi) * ((1 - wj) * x[3 * i0 + j0] + wj * x[3 * i0 + j1]) +
                           wi * ((1 - wj) * x[3 * i1 + j0] + wj * x[3 * i1 + j1]);
                }
                assert_float_equal(y[5 * i + j], want, 1e-5);
            }
        ml_net_free(c.net);
    }
    for (int op = 0; op < 2; op++) {
        chain c;
        chain_start(&c, 4, d);
        ml_attrs a;
        ml_attrs_default(&a);
        a.naxes = 2;
        a.axes[0] = -1;
        a.axes[1] = 1;
        a.keepdims = 0;
        chain_add(&c, op ? ML_OP_REDUCEMAX : ML_OP_REDUCEMEAN, &a, -1);
        assert_int_equal(chain_finish(&c), ML_OK);
        assert_int_equal(c.net->tensors[c.last].ndim, 2);
        float y[2];
        assert_int_equal(ml_net_forward(c.net, x, 1, y, &c.err), ML_OK);
        assert_float_equal(y[0], op ? 4 : 7 / 3.0, 1e-6);
        assert_float_equal(y[1], op ? 32 : 56 / 3.0, 1e-5);
        ml_net_free(c.net);
    }
}

static void bad_attributes_are_refused(void **state)
{
    (void)state;
    const int64_t d[4] = {1, 2, 3, 4};
    struct { ml_op op; int what; ml_status want; } cases[] = {
        {ML_OP_TRANSPOSE, 0, ML_EFORMAT},  /* perm not a permutation */
        {ML_OP_TRANSPOSE, 1, ML_EUNSUPP},  /* moves the batch axis */
        {ML_OP_SLICE, 0, ML_EFORMAT},      /* step 0 */
        {ML_OP_SLICE, 1, ML_EUNSUPP},      /* empty result */
        {ML_OP_REDUCESUM, 0, ML_EFORMAT},  /* axis out of range */
        {ML_OP_REDUCESUM, 1, ML_EUNSUPP},  /* every axis: the batch too */
        {ML_OP_RESIZE, 0, ML_EFORMAT},     /* scale 0 */
        {ML_OP_PAD, 0, ML_EUNSUPP},        /* negative pad */
        {ML_OP_PAD, 1, ML_EFORMAT},        /* pads for another rank */
        {ML_OP_CONCAT, 0, ML_EUNSUPP},     /* the batch axis */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chain c;
        chain_start(&c, 4, d);
        ml_attrs a;
        ml_attrs_default(&a);
        int w = cases[i].what;
        switch (cases[i].op) {
        case ML_OP_TRANSPOSE:
            a.nperm = 4;
            a.perm[0] = w ? 1 : 0, a.perm[1] = w ? 0 : 2, a.perm[2] = 2, a.perm[3] = 3;
            break;
        case ML_OP_SLICE:
            a.nslice = 1, a.slice_axes[0] = 2, a.starts[0] = w ? 2 : 0, a.ends[0] = w ? 1 : 3, a.steps[0] = w;
            break;
        case ML_OP_REDUCESUM:
            a.naxes = w ? 0 : 1, a.axes[0] = 4;
            break;
        case ML_OP_RESIZE:
            a.nscales = 4, a.scales[0] = a.scales[1] = a.scales[3] = 1;
            break;
        case ML_OP_PAD:
            a.npadnd = w ? 6 : 8, a.padnd[2] = -1;
            break;
        default:
            a.axis = 0;
        }
        chain_add(&c, cases[i].op, &a, -1);
        ml_status st = chain_finish(&c);
        if (st != cases[i].want)
            fail_msg("case %zu (%s): status %d, want %d (%s)", i, ml_op_name(cases[i].op), st, cases[i].want, c.err.msg);
        assert_non_null(strstr(c.err.msg, ml_op_name(cases[i].op)));
        ml_net_free(c.net);
    }
}

static void training_refuses_inference_only_ops(void **state)
{
    (void)state;
    const int64_t d[2] = {1, 3};
    chain c;
    chain_start(&c, 2, d);
    chain_add(&c, ML_OP_HARDSWISH, NULL, -1);
    assert_int_equal(chain_finish(&c), ML_OK);
    const float x[6] = {-4, -1, 0.5f, 2, 3, 9};
    const uint8_t labels[2] = {0, 2};
    double loss;
    assert_int_equal(ml_net_loss_grad(c.net, x, labels, 2, 0, &loss, NULL, &c.err), ML_EUNSUPP);
    assert_non_null(strstr(c.err.msg, "HardSwish"));
    assert_non_null(strstr(c.err.msg, "inference only"));
    float y[6];
    assert_int_equal(ml_net_forward(c.net, x, 2, y, &c.err), ML_OK);
    for (int i = 0; i < 6; i++)
        assert_float_equal(y[i], x[i] * fminf(1, fmaxf(0, x[i] / 6 + 0.5f)), 1e-6);
    ml_net_free(c.net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_shuffle_through_five_dims),
        cmocka_unit_test(concat_slice_pad_follow_onnx),
        cmocka_unit_test(resize_and_reduce_follow_onnx),
        cmocka_unit_test(bad_attributes_are_refused),
        cmocka_unit_test(training_refuses_inference_only_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
