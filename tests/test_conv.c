/* Convolution kernels: every back-end table against im2col, the engine chosen per layer,
 * Winograd forward and input gradient against direct convolutions in double, ml__sgemm in
 * both back ends, outputs handed between oneDNN convolutions, and the per-layer caches of
 * transformed weights refreshed when the weights change. */
#include <cblas.h>
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
#include "nn/backend.h"
#include "nn_fill.h"

/* Chunk by chunk vs layer by layer: bit for bit on AVX-512 (the sum post-op adds the
 * shortcut after the convolution, as the Add did); with oneDNN's AVX2 kernels
 * (ONEDNN_MAX_CPU_ISA=AVX2) the fused sum differs in the last bits. */
static void same_or_last_bits(const float *a, const float *b, int n)
{
    if (strstr(ml__dnnl_isa_label(), "avx512")) {
        assert_memory_equal(a, b, (size_t)n * sizeof *a);
        return;
    }
    for (int i = 0; i < n; i++)
        assert_true(fabs((double)a[i] - b[i]) <= 1e-5 * (1.0 + fabs((double)a[i])));
}

/* Layer by layer, from the second batch on, a convolution read only by the next one leaves
 * its output in oneDNN's layout: the logits must not change, also when the batch size
 * changes between calls (the buffers are remade). Chunk by chunk (dnnl/infer.c, the
 * default) the outputs are handed on from the first batch, and the logits must equal the
 * layer-by-layer ones (same_or_last_bits; B = 70 gives three uneven chunks), and stay close to
 * memlev's own kernels. */
static void carried_outputs_change_nothing(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("resnet20", 1, 12, 10, 16, 4, &net, &err), ML_OK);
    enum { B = 70 };
    float *x = malloc(B * 144 * sizeof *x), l1[B * 10], l2[B * 10], l3[B * 10], l4[B * 10], l33[33 * 10];
    for (int i = 0; i < B * 144; i++)
        x[i] = (float)ml_uniform(5, (uint64_t)i, 0, ML_RNG_DATA);
    net->priv->chunked_off = 1;
    assert_int_equal(ml_net_forward(net, x, B, l1, &err), ML_OK);
    assert_int_equal(ml__dnnl_carried(net), 0); /* first batch: the reader's plans are new */
    assert_int_equal(ml_net_forward(net, x, B, l2, &err), ML_OK);
    assert_true(ml__dnnl_carried(net) > 0);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_int_equal(ml_net_forward(net, x, 33, l33, &err), ML_OK);
    assert_int_equal(ml_net_forward(net, x, 33, l33, &err), ML_OK);
    assert_int_equal(ml_net_forward(net, x, B, l3, &err), ML_OK);
    assert_memory_equal(l1, l3, sizeof l1);
    net->priv->chunked_off = 0;
    const long before = ml__dnnl_carried(net);
    assert_int_equal(ml_net_forward(net, x, B, l2, &err), ML_OK);
    assert_true(ml__dnnl_carried(net) > before);
    same_or_last_bits(l1, l2, B * 10);
    ml_net *fresh = ml_net_clone(net); /* chunk by chunk on its first batch, batch 33 */
    assert_non_null(fresh);
    assert_int_equal(ml_net_finalize(fresh, &err), ML_OK);
    assert_int_equal(ml_net_forward(fresh, x, 33, l4, &err), ML_OK);
    assert_true(ml__dnnl_carried(fresh) > 0);
    same_or_last_bits(l33, l4, 33 * 10);
    ml_net_free(fresh);
    assert_int_equal(ml_net_set_conv(net, ML_CONV_BUILTIN, &err), ML_OK);
    assert_int_equal(ml_net_forward(net, x, B, l4, &err), ML_OK);
    double worst = 0;
    for (int i = 0; i < B * 10; i++)
        worst = fmax(worst, fabs((double)l1[i] - l4[i]));
    print_message("oneDNN vs builtin kernels: max |logit difference| %.3g\n", worst);
    assert_true(worst < 1e-3);
    free(x);
    ml_net_free(net);
}

/* Logits of net on x (B images of 1x12x12) and, when clone_out, of a fresh clone of it
 * (no caches). */
static void logits_of(ml_net *net, const float *x, int B, float *out, float *clone_out)
{
    ml_error err = {0};
    assert_int_equal(ml_net_forward(net, x, B, out, &err), ML_OK);
    if (!clone_out)
        return;
    ml_net *c = ml_net_clone(net);
    assert_non_null(c);
    assert_int_equal(ml_net_finalize(c, &err), ML_OK);
    assert_int_equal(ml_net_set_conv(c, net->conv, &err), ML_OK);
    assert_int_equal(ml_net_forward(c, x, B, clone_out, &err), ML_OK);
    ml_net_free(c);
}

/* Inference keeps each layer's transformed weights between batches (the built-in Winograd's
 * G w G^T, oneDNN's blocked copy); writing new weights (as a weight transfer does) must
 * remake exactly the changed layer's and give the logits of a net that never had a cache,
 * and writing the old weights back must give the first logits again. */
static void changed_weights_refresh_cached_transforms(void **state)
{
    enum { B = 9 };
    const ml_conv_choice engines[2] = {ML_CONV_BUILTIN, ML_CONV_AUTO};
    for (int e = 0; e < 2; e++) {
        ml_net *net = NULL;
        ml_error err = {0};
        assert_int_equal(ml_arch_build("resnet20", 1, 12, 10, 16, 4, &net, &err), ML_OK);
        assert_int_equal(ml_net_set_conv(net, engines[e], &err), ML_OK);
        float *x = malloc(B * 144 * sizeof *x), l1[B * 10], l2[B * 10], l3[B * 10], l4[B * 10];
        fill_normal(x, B * 144, 31, 1.0);
        int node = -1; /* the last 3x3 stride-1 convolution */
        for (int i = 0; i < net->nnodes; i++)
            if (net->nodes[i].op == ML_OP_CONV && ml__conv_wino_ok(&net->priv->plan[i].g))
                node = i;
        assert_true(node >= 0);
        if (e == 0)
            assert_ptr_equal(net->priv->plan[node].conv, &ml__conv_winograd);
        logits_of(net, x, B, l1, NULL);
        const long made = ml__wcache_rebuilds(net->priv->wino_u);
        if (e == 0)
            assert_true(made > 0);
        logits_of(net, x, B, l2, NULL);
        assert_memory_equal(l1, l2, sizeof l1);
        assert_int_equal(ml__wcache_rebuilds(net->priv->wino_u), made); /* all from the cache */
        ml_tensor *w = &net->tensors[net->nodes[node].inputs[1]];
        const size_t n = ml_tensor_numel(w);
        float *old = malloc(n * sizeof *old);
        memcpy(old, w->data, n * sizeof *old);
        for (size_t i = 0; i < n; i++)
            w->data[i] = -w->data[i] * 1.5f;
        logits_of(net, x, B, l3, l4);
        assert_memory_not_equal(l1, l3, sizeof l1);
        assert_memory_equal(l3, l4, sizeof l3);
        if (e == 0)
            assert_int_equal(ml__wcache_rebuilds(net->priv->wino_u), made + 1);
        memcpy(w->data, old, n * sizeof *old);
        logits_of(net, x, B, l3, NULL);
        assert_memory_equal(l1, l3, sizeof l1);
        free(old);
        free(x);
        ml_net_free(net);
    }
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
    assert_true(ml__conv_wino_ok(&g));
    float *x = malloc(sizeof(float) * B * C * H * W), *w = malloc(sizeof(float) * M * C * 9);
    float *y = malloc(sizeof(float) * B * M * H * W);
    float *ws = malloc(sizeof(float) * ml__conv_wino_floats(&g, B, omp_get_max_threads()));
    float bias[M], sc[M], sh[M];
    fill_normal(x, (size_t)B * C * H * W, 11, 1.0);
    fill_normal(w, (size_t)M * C * 9, 12, 0.1);
    fill_normal(bias, M, 13, 0.1);
    fill_normal(sc, M, 14, 1.0);
    fill_normal(sh, M, 15, 0.1);
    ml__conv_wino_forward(&g, x, w, bias, sc, sh, 1, B, ws, y);
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
    assert_true(ml__conv_wino_ok(&g));
    const size_t nx = (size_t)B * C * H * W, ny = (size_t)B * M * H * W;
    float *dy = malloc(sizeof(float) * ny), *w = malloc(sizeof(float) * M * C * 9);
    float *dx = malloc(sizeof(float) * nx), *dx0 = malloc(sizeof(float) * nx);
    float *ws = malloc(sizeof(float) * ml__conv_wino_bwd_floats(&g, B, omp_get_max_threads()));
    fill_normal(dy, ny, 21, 1.0);
    fill_normal(w, (size_t)M * C * 9, 22, 0.1);
    fill_normal(dx0, nx, 23, 1.0);
    memcpy(dx, dx0, nx * sizeof *dx);
    ml__conv_wino_backward_data(&g, dy, w, B, ws, dx);
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

/* ml__sgemm is row-major for both of its back ends (OpenBLAS below, oneDNN above its size
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
            ml__sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c, n);
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

/* largest |a - b| relative to the largest |b| */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / m;
}

/* A net of one convolution (bias included) on c x hw x hw images, weights from seed. */
static ml_net *conv_net(int c, int m, int hw, int k, int stride, int pad, int group, uint64_t seed)
{
    ml_net *net = ml_net_new();
    const int64_t dx[4] = {1, c, hw, hw}, dw[4] = {m, c / group, k, k}, db[1] = {m};
    const size_t nw = (size_t)m * (c / group) * k * k;
    float *w = malloc(nw * sizeof *w), b[64];
    fill_normal(w, nw, seed, 0.3);
    fill_normal(b, (size_t)m, seed + 1, 0.2);
    ml_attrs a;
    ml_attrs_default(&a);
    a.strides[0] = a.strides[1] = stride;
    a.pads[0] = a.pads[1] = a.pads[2] = a.pads[3] = pad;
    a.group = group;
    const int in[3] = {ml_net_add_tensor(net, "x", 4, dx, NULL, ML_TENSOR_INPUT, NULL),
                       ml_net_add_tensor(net, "w", 4, dw, w, ML_TENSOR_PARAM | ML_TENSOR_WEIGHT, NULL),
                       ml_net_add_tensor(net, "b", 1, db, b, ML_TENSOR_PARAM, NULL)};
    const int y = ml_net_add_tensor(net, "y", 0, NULL, NULL, 0, NULL);
    assert_true(ml_net_add_node(net, ML_OP_CONV, "conv", in, 3, y, &a, NULL) >= 0);
    ml_net_set_io(net, in[0], y);
    free(w);
    ml_error err = {0};
    if (ml_net_finalize(net, &err))
        fail_msg("%s", err.msg);
    return net;
}

/* Every table, on every geometry it supports, computes what the im2col table does: the
 * inference convolution with a folded BN and ReLU, the training forward, and the input,
 * weight and bias gradients (oneDNN and Winograd round differently: 1e-4 of the range). */
static void every_engine_matches_im2col(void **state)
{
    static const struct { int c, m, hw, k, stride, pad, group; } geo[] = {
        {16, 24, 11, 3, 1, 1, 1}, /* Winograd's shape, partial edge tiles */
        {8, 16, 10, 3, 2, 1, 1},  /* strided */
        {12, 8, 7, 1, 1, 0, 1},   /* pointwise */
        {3, 8, 12, 5, 1, 2, 1},   /* 5x5, few channels */
        {16, 16, 8, 3, 1, 1, 4},  /* grouped: im2col only */
    };
    enum { B = 10 };
    int runs = 0;
    for (size_t q = 0; q < sizeof geo / sizeof geo[0]; q++) {
        ml_net *net = conv_net(geo[q].c, geo[q].m, geo[q].hw, geo[q].k, geo[q].stride, geo[q].pad,
                               geo[q].group, 40 + q);
        ml_error err = {0};
        assert_int_equal(ml__ws_reserve(net, B, 1, &err), ML_OK);
        const ml_geom *g = &net->priv->plan[0].g;
        const size_t nx = (size_t)B * g->c * g->h * g->w, ny = (size_t)B * g->m * g->oh * g->ow;
        const size_t nw = (size_t)g->m * (g->c / g->group) * g->kh * g->kw;
        float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy), sc[64], sh[64];
        fill_normal(x, nx, 60 + q, 1.0);
        fill_normal(dy, ny, 70 + q, 1.0);
        fill_normal(sc, (size_t)g->m, 80 + q, 0.5);
        fill_normal(sh, (size_t)g->m, 90 + q, 0.5);
        float *out[2][6]; /* [reference, engine][infer, forward, dx, dw, db, -] */
        for (int r = 0; r < 2; r++) {
            out[r][0] = malloc(ny * sizeof(float));
            out[r][1] = malloc(ny * sizeof(float));
            out[r][2] = malloc(nx * sizeof(float));
            out[r][3] = malloc(nw * sizeof(float));
            out[r][4] = malloc((size_t)g->m * sizeof(float));
        }
        for (const ml_conv_backend *const *b = ml__conv_backends; *b; b++) {
            const ml_conv_backend *be[2] = {&ml__conv_im2col, *b};
            if (!(*b)->supports(g) || *b == &ml__conv_im2col)
                continue;
            for (int r = 0; r < 2; r++) {
                ml_conv_args a = {.node = 0, .g = g, .x = x, .w = net->tensors[1].data,
                                  .bias = net->tensors[2].data, .scale = sc, .shift = sh, .relu = 1, .batch = B};
                if (be[r]->begin_pass)
                    be[r]->begin_pass(net);
                be[r]->infer(net, &a, out[r][0]);
                a.scale = a.shift = NULL;
                a.relu = 0;
                be[r]->forward(net, &a, out[r][1]);
                for (size_t i = 0; i < nx; i++)
                    out[r][2][i] = 0.25f; /* the backward adds to dx */
                assert_int_equal(be[r]->backward(net, &a, dy, out[r][2], out[r][3], out[r][4], &err), ML_OK);
            }
            const double d[5] = {rel_diff(out[1][0], out[0][0], ny), rel_diff(out[1][1], out[0][1], ny),
                                 rel_diff(out[1][2], out[0][2], nx), rel_diff(out[1][3], out[0][3], nw),
                                 rel_diff(out[1][4], out[0][4], (size_t)g->m)};
            print_message("%-8s c%d m%d %dx%d k%d s%d g%d: infer %.1e forward %.1e dx %.1e dw %.1e db %.1e\n",
                          (*b)->name, g->c, g->m, g->h, g->w, g->kh, g->sh, g->group, d[0], d[1], d[2], d[3], d[4]);
            for (int k = 0; k < 5; k++)
                assert_true(d[k] < 1e-4);
            runs++;
        }
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 5; k++)
                free(out[r][k]);
        free(x);
        free(dy);
        ml_net_free(net);
    }
    assert_int_equal(runs, 5); /* oneDNN on the four ungrouped shapes, Winograd on the first */
}

/* The engine is chosen once per layer at finalize from the net's choice: oneDNN for every
 * ungrouped convolution by default; with ML_CONV_BUILTIN, Winograd for 3x3 stride-1 layers
 * and im2col for the rest. Clones and re-finalized nets keep the choice. */
static void engine_is_chosen_per_layer_from_the_net_option(void **state)
{
    ml_net *net = NULL, *mlp = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("resnet20", 1, 12, 10, 16, 4, &net, &err), ML_OK);
    assert_int_equal(net->conv, ML_CONV_AUTO);
    assert_memory_equal(ml_net_conv_engine(net), "oneDNN", 6);
    int nconv = 0, nwino = 0;
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].op == ML_OP_CONV) {
            assert_ptr_equal(net->priv->plan[i].conv, &ml__conv_onednn);
            nconv++;
        }
    assert_int_equal(ml_net_set_conv(net, ML_CONV_BUILTIN, &err), ML_OK);
    assert_string_equal(ml_net_conv_engine(net), "builtin");
    ml_net *c = ml_net_clone(net);
    assert_non_null(c);
    assert_int_equal(ml_net_finalize(c, &err), ML_OK);
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].op == ML_OP_CONV) {
            const ml_geom *g = &net->priv->plan[i].g;
            const ml_conv_backend *want = ml__conv_wino_ok(g) ? &ml__conv_winograd : &ml__conv_im2col;
            assert_ptr_equal(net->priv->plan[i].conv, want);
            assert_ptr_equal(c->priv->plan[i].conv, want);
            nwino += want == &ml__conv_winograd;
        }
    assert_true(nconv >= 19 && nwino > 0 && nwino < nconv);
    assert_int_equal(ml_net_set_conv(net, (ml_conv_choice)7, &err), ML_EINVAL);
    assert_string_equal(ml_net_conv_engine(net), "builtin");
    assert_int_equal(ml_arch_build("mlp", 1, 8, 2, 16, 4, &mlp, &err), ML_OK);
    assert_string_equal(ml_net_conv_engine(mlp), "none");
    ml_net_free(mlp);
    ml_net_free(c);
    ml_net_free(net);
}

int main(void)
{
    openblas_set_num_threads(1); /* one BLAS thread per call: the layer kernels split batches across OpenMP threads */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_engine_matches_im2col),
        cmocka_unit_test(engine_is_chosen_per_layer_from_the_net_option),
        cmocka_unit_test(carried_outputs_change_nothing),
        cmocka_unit_test(changed_weights_refresh_cached_transforms),
        cmocka_unit_test(winograd_conv_matches_direct_convolution),
        cmocka_unit_test(winograd_input_gradient_matches_direct),
        cmocka_unit_test(sgemm_is_row_major_in_both_back_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
