/* Inference-only ops added for ONNX coverage (Sigmoid, LeakyRelu, Clip, Softmax), auto_pad
 * SAME_* on windows, inputs of fewer than 4 dims, and the TensorProto reader, each against
 * values computed here from the ONNX definitions. Nets are built with the graph API. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "memlev/nn.h"
#include "memlev/onnx.h"

/* input [N, d1, d2] (rank 3) -> one node of op -> output; returns the finalize status */
static ml_status one_node(ml_op op, const ml_attrs *at, int rank, const int64_t *dims, ml_net **out)
{
    ml_error err = {0};
    ml_net *net = ml_net_new();
    int x = ml_net_add_tensor(net, "x", rank, dims, NULL, ML_TENSOR_INPUT, &err);
    int y = ml_net_add_tensor(net, "y", 0, NULL, NULL, 0, &err);
    assert_true(x >= 0 && y >= 0);
    assert_true(ml_net_add_node(net, op, "n", &x, 1, y, at, &err) >= 0);
    ml_net_set_io(net, x, y);
    ml_status st = ml_net_finalize(net, &err);
    *out = net;
    return st;
}

static const float xs[12] = {-3.5f, -1, -0.25f, 0, 0.5f, 1, 2, 6.5f, -7, 3, 0.125f, 40};

static void run(ml_net *net, int batch, float *y)
{
    ml_error err = {0};
    assert_int_equal(ml_net_forward(net, xs, batch, y, &err), ML_OK);
}

static void sigmoid_leakyrelu_and_clip_follow_onnx(void **state)
{
    (void)state;
    const int64_t d[3] = {2, 3, 2};
    float y[12];
    ml_net *net;
    assert_int_equal(one_node(ML_OP_SIGMOID, NULL, 3, d, &net), ML_OK);
    run(net, 2, y);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], 1 / (1 + exp(-xs[i])), 1e-6);
    ml_net_free(net);

    ml_attrs at;
    ml_attrs_default(&at);
    at.alpha = 0.2f;
    assert_int_equal(one_node(ML_OP_LEAKYRELU, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], xs[i] >= 0 ? xs[i] : 0.2f * xs[i], 1e-7);
    ml_net_free(net);

    ml_attrs_default(&at); /* defaults: no bound */
    assert_int_equal(one_node(ML_OP_CLIP, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    assert_memory_equal(y, xs, sizeof xs);
    ml_net_free(net);
    at.clip_min = 0, at.clip_max = 6; /* ReLU6 */
    assert_int_equal(one_node(ML_OP_CLIP, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], fminf(fmaxf(xs[i], 0), 6), 0);
    ml_net_free(net);
    at.clip_min = 2, at.clip_max = 1; /* min > max: ONNX's min(max(x, lo), hi) gives hi */
    assert_int_equal(one_node(ML_OP_CLIP, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], 1, 0);
    ml_net_free(net);
}

/* softmax of x[n][a][b] over axis 1 (len 3, stride 2) or over axes 1.. flattened (len 6) */
static void softmax_ref(int flat, float *r)
{
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < (flat ? 1 : 2); j++) {
            int len = flat ? 6 : 3, step = flat ? 1 : 2;
            const float *x = xs + n * 6 + j;
            double mx = -INFINITY, s = 0;
            for (int k = 0; k < len; k++) mx = fmax(mx, x[k * step]);
            for (int k = 0; k < len; k++) s += exp(x[k * step] - mx);
            for (int k = 0; k < len; k++) r[n * 6 + j + k * step] = (float)(exp(x[k * step] - mx) / s);
        }
}

static void softmax_axes_and_opset_semantics(void **state)
{
    (void)state;
    const int64_t d[3] = {2, 3, 2};
    float y[12], r[12];
    ml_net *net;
    ml_attrs at;
    ml_attrs_default(&at);
    at.axis = 1; /* opset 13: one axis */
    assert_int_equal(one_node(ML_OP_SOFTMAX, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    softmax_ref(0, r);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], r[i], 1e-6);
    ml_net_free(net);
    at.softmax_flat = 1; /* opset < 13: axes 1.. as one */
    assert_int_equal(one_node(ML_OP_SOFTMAX, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    softmax_ref(1, r);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], r[i], 1e-6);
    ml_net_free(net);
    at.softmax_flat = 0;
    at.axis = -1; /* the last axis: pairs */
    assert_int_equal(one_node(ML_OP_SOFTMAX, &at, 3, d, &net), ML_OK);
    run(net, 2, y);
    for (int i = 0; i < 12; i += 2) {
        double e = exp(xs[i] - fmax(xs[i], xs[i + 1])), f = exp(xs[i + 1] - fmax(xs[i], xs[i + 1]));
        assert_float_equal(y[i], e / (e + f), 1e-6);
    }
    ml_net_free(net);
    at.axis = 0; /* the batch axis mixes images: refused */
    assert_int_equal(one_node(ML_OP_SOFTMAX, &at, 3, d, &net), ML_EUNSUPP);
    ml_net_free(net);
    at.axis = 3;
    assert_int_equal(one_node(ML_OP_SOFTMAX, &at, 3, d, &net), ML_EFORMAT);
    ml_net_free(net);
}

static void auto_pad_same_puts_the_odd_pad_where_onnx_says(void **state)
{
    (void)state;
    const int64_t d[4] = {1, 1, 3, 4};
    float y[12];
    ml_net *net;
    ml_attrs at;
    for (int mode = 1; mode <= 2; mode++) {
        ml_attrs_default(&at);
        at.kernel[0] = at.kernel[1] = 2;
        at.auto_pad = mode;
        assert_int_equal(one_node(ML_OP_MAXPOOL, &at, 4, d, &net), ML_OK);
        const int *p = net->nodes[0].attrs.pads;
        /* 3x4 input, 2x2 window, stride 1: output 3x4, one pad row and column in all */
        assert_int_equal(p[0] + p[2], 1);
        assert_int_equal(p[1] + p[3], 1);
        assert_int_equal(p[0], mode == 2);
        assert_int_equal(p[1], mode == 2);
        run(net, 1, y);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                float m = -INFINITY;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int r = i + a - p[0], c = j + b - p[1];
                        if (r >= 0 && r < 3 && c >= 0 && c < 4) m = fmaxf(m, xs[r * 4 + c]);
                    }
                assert_float_equal(y[i * 4 + j], m, 0);
            }
        ml_net_free(net);
    }
    /* stride 2 on 3 rows: output 2, total pad (2-1)*2+2-3 = 1 */
    ml_attrs_default(&at);
    at.kernel[0] = at.kernel[1] = 2;
    at.strides[0] = at.strides[1] = 2;
    at.auto_pad = 1;
    assert_int_equal(one_node(ML_OP_AVGPOOL, &at, 4, d, &net), ML_OK);
    assert_int_equal(net->tensors[net->output].dims[2], 2);
    assert_int_equal(net->tensors[net->output].dims[3], 2);
    ml_net_free(net);
}

static void inputs_of_one_to_four_dims(void **state)
{
    (void)state;
    float y[12];
    ml_net *net;
    const int64_t d1[1] = {12}, d2[2] = {4, 3};
    assert_int_equal(one_node(ML_OP_RELU, NULL, 1, d1, &net), ML_OK);
    assert_int_equal(net->classes, 1);
    run(net, 12, y);
    for (int i = 0; i < 12; i++) assert_float_equal(y[i], fmaxf(xs[i], 0), 0);
    ml_net_free(net);
    assert_int_equal(one_node(ML_OP_RELU, NULL, 2, d2, &net), ML_OK);
    assert_int_equal(net->input_shape[1], 3);
    assert_int_equal(net->input_shape[2], 1);
    ml_net_free(net);
    const int64_t d5[4] = {1, 0, 2, 2}; /* an empty dim is refused */
    assert_int_equal(one_node(ML_OP_RELU, NULL, 4, d5, &net), ML_EFORMAT);
    ml_net_free(net);
}

/* x * GlobalAveragePool(x): two activations of different shapes broadcast (a squeeze-and-
 * excitation block); the kernel once treated any two activations as equal shapes. */
static void activations_of_different_shapes_broadcast(void **state)
{
    (void)state;
    ml_error err = {0};
    ml_net *net = ml_net_new();
    const int64_t d[4] = {1, 3, 2, 2};
    int x = ml_net_add_tensor(net, "x", 4, d, NULL, ML_TENSOR_INPUT, &err);
    int g = ml_net_add_tensor(net, "g", 0, NULL, NULL, 0, &err);
    int y = ml_net_add_tensor(net, "y", 0, NULL, NULL, 0, &err);
    assert_true(ml_net_add_node(net, ML_OP_GLOBALAVGPOOL, "gap", &x, 1, g, NULL, &err) >= 0);
    int in[2] = {x, g};
    assert_true(ml_net_add_node(net, ML_OP_MUL, "se", in, 2, y, NULL, &err) >= 0);
    ml_net_set_io(net, x, y);
    assert_int_equal(ml_net_finalize(net, &err), ML_OK);
    float out[24], xx[24];
    for (int i = 0; i < 24; i++) xx[i] = (float)(i % 7) - 2.5f;
    assert_int_equal(ml_net_forward(net, xx, 2, out, &err), ML_OK);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++) {
            const float *v = xx + n * 12 + c * 4;
            float m = (v[0] + v[1] + v[2] + v[3]) / 4;
            for (int k = 0; k < 4; k++) assert_float_equal(out[n * 12 + c * 4 + k], v[k] * m, 1e-6);
        }
    ml_net_free(net);
}

/* x[2,3] + c[2,3] with c constant: c holds one row per batch item (an ONNX graph whose
 * shapes fix the batch at 2); another batch is refused, c[2,1] broadcasts per item. */
static void constants_holding_batch_items(void **state)
{
    (void)state;
    ml_error err = {0};
    for (int bc = 0; bc < 2; bc++) {
        ml_net *net = ml_net_new();
        const int64_t d[2] = {2, 3}, dc[2] = {2, bc ? 1 : 3};
        const float cv[6] = {10, 20, 30, 40, 50, 60};
        int x = ml_net_add_tensor(net, "x", 2, d, NULL, ML_TENSOR_INPUT, &err);
        int c = ml_net_add_tensor(net, "c", 2, dc, cv, ML_TENSOR_PARAM | ML_TENSOR_CONST, &err);
        int y = ml_net_add_tensor(net, "y", 0, NULL, NULL, 0, &err);
        int in[2] = {c, x};
        assert_true(ml_net_add_node(net, ML_OP_SUB, "sub", in, 2, y, NULL, &err) >= 0);
        ml_net_set_io(net, x, y);
        assert_int_equal(ml_net_finalize(net, &err), ML_OK);
        float out[6];
        assert_int_equal(ml_net_forward(net, xs, 2, out, &err), ML_OK);
        for (int i = 0; i < 6; i++) assert_float_equal(out[i], (bc ? cv[i / 3] : cv[i]) - xs[i], 1e-6);
        assert_int_equal(ml_net_forward(net, xs, 1, out, &err), ML_EINVAL);
        assert_non_null(strstr(err.msg, "batch"));
        ml_net_free(net);
    }
}

static void tensor_files_are_read_or_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/memlev_tpXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    /* TensorProto: dims 2, 3 (field 1), data_type 1 (field 2), float_data 6 floats packed
     * (field 4), name "t" (field 8) */
    const unsigned char hdr[] = {0x08, 2, 0x08, 3, 0x10, 1, 0x22, 24};
    fwrite(hdr, 1, sizeof hdr, f);
    for (int i = 0; i < 6; i++) {
        float v = (float)i - 2.5f;
        unsigned char b[4];
        memcpy(b, &v, 4);
        fwrite(b, 1, 4, f);
    }
    const unsigned char nm[] = {0x42, 1, 't'};
    fwrite(nm, 1, sizeof nm, f);
    fclose(f);
    ml_onnx_tensor t;
    ml_error err = {0};
    assert_int_equal(ml_onnx_tensor_load(path, &t, &err), ML_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.dims[1], 3);
    assert_int_equal(t.n, 6);
    assert_string_equal(t.name, "t");
    assert_float_equal(t.data[5], 2.5f, 0);
    assert_null(t.ints);
    ml_onnx_tensor_clear(&t);
    ml_onnx_tensor_clear(&t); /* twice: harmless */
    /* 5 values where the dims need 6 */
    f = fopen(path, "wb");
    const unsigned char bad[] = {0x08, 2, 0x08, 3, 0x10, 1, 0x22, 20};
    fwrite(bad, 1, sizeof bad, f);
    for (int i = 0; i < 20; i++) fputc(0, f);
    fclose(f);
    assert_int_equal(ml_onnx_tensor_load(path, &t, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_null(t.data);
    /* truncated protobuf */
    f = fopen(path, "wb");
    fwrite(hdr, 1, sizeof hdr, f);
    fclose(f);
    assert_int_equal(ml_onnx_tensor_load(path, &t, &err), ML_EFORMAT);
    remove(path);
    assert_int_equal(ml_onnx_tensor_load(path, &t, &err), ML_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigmoid_leakyrelu_and_clip_follow_onnx),
        cmocka_unit_test(softmax_axes_and_opset_semantics),
        cmocka_unit_test(auto_pad_same_puts_the_odd_pad_where_onnx_says),
        cmocka_unit_test(inputs_of_one_to_four_dims),
        cmocka_unit_test(activations_of_different_shapes_broadcast),
        cmocka_unit_test(constants_holding_batch_items),
        cmocka_unit_test(tensor_files_are_read_or_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
