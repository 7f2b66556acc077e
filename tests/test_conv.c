/* Convolution kernels: Winograd forward and input gradient against direct convolutions in
 * double, ml_sgemm in both back ends, and outputs handed between oneDNN convolutions. */
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
#include "memlev/rng.h"
#include "nn/internal.h"
#include "nn_fill.h"

/* From the second batch on, a convolution read only by the next one leaves its output in
 * oneDNN's layout: the logits must not change, also when the batch size changes between
 * calls (the buffers are remade) and against memlev's own kernels. */
static void carried_outputs_change_nothing(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("resnet20", 1, 12, 10, 16, 4, &net, &err), ML_OK);
    enum { B = 70 };
    float *x = malloc(B * 144 * sizeof *x), l1[B * 10], l2[B * 10], l3[B * 10], l4[B * 10];
    for (int i = 0; i < B * 144; i++)
        x[i] = (float)ml_uniform(5, (uint64_t)i, 0, ML_RNG_DATA);
    assert_int_equal(ml_net_forward(net, x, B, l1, &err), ML_OK);
    assert_int_equal(ml_dnnl_carried(net), 0); /* first batch: the reader's plans are new */
    assert_int_equal(ml_net_forward(net, x, B, l2, &err), ML_OK);
    assert_true(ml_dnnl_carried(net) > 0);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_int_equal(ml_net_forward(net, x, 33, l3, &err), ML_OK);
    assert_int_equal(ml_net_forward(net, x, 33, l3, &err), ML_OK);
    assert_int_equal(ml_net_forward(net, x, B, l3, &err), ML_OK);
    assert_memory_equal(l1, l3, sizeof l1);
    ml_dnnl_conv_enable(0);
    assert_int_equal(ml_net_forward(net, x, B, l4, &err), ML_OK);
    ml_dnnl_conv_enable(1);
    double worst = 0;
    for (int i = 0; i < B * 10; i++)
        worst = fmax(worst, fabs((double)l1[i] - l4[i]));
    print_message("oneDNN vs builtin kernels: max |logit difference| %.3g\n", worst);
    assert_true(worst < 1e-3);
    free(x);
    ml_net_free(net);
}

/* A 3x3, stride-1, pad-1 convolution in double at output (n, co, i, j) of an input with cin
 * channels: weights w[co][cin][3][3]; transposed (the input gradient): in is dy, the taps
 * are mirrored and the weights are w[cin][cout][3][3]. */
static double direct3x3(const float *in, int cin, int cout, int H, int W, const float *w, int n, int co,
                        int i, int j, int transposed)
{
    double acc = 0.0;
    for (int ci = 0; ci < cin; ci++)
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                const int yy = transposed ? i - ki + 1 : i + ki - 1, xx = transposed ? j - kj + 1 : j + kj - 1;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                    continue;
                const size_t wi = (size_t)(transposed ? ci * cout + co : co * cin + ci) * 9 + ki * 3 + kj;
                acc += (double)in[((size_t)(n * cin + ci) * H + yy) * W + xx] * w[wi];
            }
    return acc;
}

/* Winograd F(4,3) inference conv (partial edge tiles, two chunks) against a direct
 * convolution in double, with bias, folded BN and ReLU. */
static void winograd_conv_matches_direct_convolution(void **state)
{
    enum { B = 40, C = 16, M = 24, H = 11, W = 9 };
    const ml_geom g = {.c = C, .h = H, .w = W, .m = M, .oh = H, .ow = W, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .group = 1};
    assert_true(ml_conv_wino_ok(&g));
    float *x = malloc(sizeof(float) * B * C * H * W), *w = malloc(sizeof(float) * M * C * 9);
    float *y = malloc(sizeof(float) * B * M * H * W);
    float *ws = malloc(sizeof(float) * ml_conv_wino_floats(&g, B, omp_get_max_threads()));
    float bias[M], sc[M], sh[M];
    fill_normal(x, (size_t)B * C * H * W, 11, 1.0);
    fill_normal(w, (size_t)M * C * 9, 12, 0.1);
    fill_normal(bias, M, 13, 0.1);
    fill_normal(sc, M, 14, 1.0);
    fill_normal(sh, M, 15, 0.1);
    ml_conv_wino_forward(&g, x, w, bias, sc, sh, 1, B, ws, y);
    double worst = 0.0;
    for (int n = 0; n < B; n++)
        for (int m = 0; m < M; m++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    double ref = (direct3x3(x, C, M, H, W, w, n, m, i, j, 0) + bias[m]) * sc[m] + sh[m];
                    if (ref < 0) ref = 0;
                    double d = fabs(ref - y[((size_t)(n * M + m) * H + i) * W + j]);
                    if (d > worst) worst = d;
                }
    /* outputs are O(1); F(4,3) in float32 keeps ~1e-5 of them (im2col: ~1e-6) */
    print_message("winograd: max |y - direct| = %.3g\n", worst);
    assert_true(worst < 1e-4);
    free(x);
    free(w);
    free(y);
    free(ws);
}

/* Winograd input gradient of a 3x3/stride-1/pad-1 conv (training) against the transposed
 * direct convolution in double; it adds to what dx holds. */
static void winograd_input_gradient_matches_direct(void **state)
{
    enum { B = 6, C = 12, M = 20, H = 10, W = 7 };
    const ml_geom g = {.c = C, .h = H, .w = W, .m = M, .oh = H, .ow = W, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .group = 1};
    assert_true(ml_conv_wino_ok(&g));
    const size_t nx = (size_t)B * C * H * W, ny = (size_t)B * M * H * W;
    float *dy = malloc(sizeof(float) * ny), *w = malloc(sizeof(float) * M * C * 9);
    float *dx = malloc(sizeof(float) * nx), *dx0 = malloc(sizeof(float) * nx);
    float *ws = malloc(sizeof(float) * ml_conv_wino_bwd_floats(&g, B, omp_get_max_threads()));
    fill_normal(dy, ny, 21, 1.0);
    fill_normal(w, (size_t)M * C * 9, 22, 0.1);
    fill_normal(dx0, nx, 23, 1.0);
    memcpy(dx, dx0, nx * sizeof *dx);
    ml_conv_wino_backward_data(&g, dy, w, B, ws, dx);
    double worst = 0.0;
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    const size_t o = ((size_t)(n * C + c) * H + i) * W + j;
                    double d = fabs(dx0[o] + direct3x3(dy, M, C, H, W, w, n, c, i, j, 1) - dx[o]);
                    if (d > worst) worst = d;
                }
    print_message("winograd input gradient: max |dx - direct| = %.3g\n", worst);
    assert_true(worst < 1e-4);
    free(dy);
    free(w);
    free(dx);
    free(dx0);
    free(ws);
}

/* ml_sgemm is row-major for both of its back ends (OpenBLAS below, oneDNN above its size
 * threshold) and every transpose combination, with alpha and beta. */
static void sgemm_is_row_major_in_both_back_ends(void **state)
{
    const int shapes[2][3] = {{5, 7, 3}, {96, 200, 160}}; /* 105 and 3.1 M multiply-adds */
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 4; t++) {
            const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = t & 1, tb = t >> 1;
            float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
            float *c = malloc(sizeof(float) * m * n), *c0 = malloc(sizeof(float) * m * n);
            fill_normal(a, (size_t)m * k, 31, 1.0);
            fill_normal(b, (size_t)k * n, 32, 1.0);
            fill_normal(c0, (size_t)m * n, 33, 1.0);
            memcpy(c, c0, sizeof(float) * m * n);
            const int lda = ta ? m : k, ldb = tb ? k : n;
            ml_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c, n);
            double worst = 0.0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0.0;
                    for (int l = 0; l < k; l++)
                        acc += (double)(ta ? a[l * lda + i] : a[i * lda + l]) * (tb ? b[j * ldb + l] : b[l * ldb + j]);
                    const double d = fabs(0.5 * acc + 2.0 * c0[i * n + j] - c[i * n + j]);
                    if (d > worst) worst = d;
                }
            assert_true(worst < 1e-3);
            free(a);
            free(b);
            free(c);
            free(c0);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(carried_outputs_change_nothing),
        cmocka_unit_test(winograd_conv_matches_direct_convolution),
        cmocka_unit_test(winograd_input_gradient_matches_direct),
        cmocka_unit_test(sgemm_is_row_major_in_both_back_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
