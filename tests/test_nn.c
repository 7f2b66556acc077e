/* Network engine: gradients against central finite differences, thread-count
 * independence, built-in architecture sizes, graph validation errors, cloning and a
 * short training run. Nets are tiny so the whole file runs in seconds. */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <cmocka.h>
#include "memlev/nn.h"
#include "memlev/rng.h"
#include "nn/internal.h"
#include "nn_fill.h"


static int param(ml_net *net, const char *name, int ndim, const int64_t *d, uint64_t seed, double scale,
                 double offset, unsigned flags)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)d[i];
    float *v = malloc(n * sizeof *v);
    fill_normal(v, n, seed, scale);
    for (size_t i = 0; i < n; i++)
        v[i] += (float)offset;
    int t = ml_net_add_tensor(net, name, ndim, d, v, flags | ML_TENSOR_PARAM, NULL);
    free(v);
    assert_true(t >= 0);
    return t;
}

static int node(ml_net *net, ml_op op, const char *name, const int *in, int nin, const ml_attrs *a)
{
    char out[64];
    snprintf(out, sizeof out, "%s_y", name);
    int y = ml_net_add_tensor(net, out, 0, NULL, NULL, 0, NULL);
    assert_true(y >= 0);
    assert_true(ml_net_add_node(net, op, name, in, nin, y, a, NULL) >= 0);
    return y;
}

/* Every op with a backward pass: Sub (constant), Conv (+bias, pads, stride), BN, Relu,
 * Mul (broadcast constant), Add (residual), MaxPool, AveragePool, Flatten, Gemm, MatMul. */
static ml_net *mixed_net(void)
{
    ml_net *net = ml_net_new();
    int64_t din[4] = {1, 2, 6, 6};
    int x = ml_net_add_tensor(net, "x", 4, din, NULL, ML_TENSOR_INPUT, NULL);
    int64_t d1[1] = {1}, dc[1] = {3}, dm[4] = {1, 3, 1, 1};
    int half = param(net, "half", 1, d1, 1, 0.0, 0.5, ML_TENSOR_CONST);
    int in2[2] = {x, half};
    int y = node(net, ML_OP_SUB, "sub", in2, 2, NULL);
    int64_t dw1[4] = {3, 2, 3, 3}, dw2[4] = {3, 3, 3, 3};
    ml_attrs a;
    ml_attrs_default(&a);
    a.pads[0] = a.pads[1] = a.pads[2] = a.pads[3] = 1;
    int c1[3] = {y, param(net, "w1", 4, dw1, 2, 0.4, 0, ML_TENSOR_WEIGHT), param(net, "b1", 1, dc, 3, 0.1, 0, 0)};
    y = node(net, ML_OP_CONV, "conv1", c1, 3, &a);
    int bn1[5] = {y, param(net, "g1", 1, dc, 4, 0.2, 1, 0), param(net, "be1", 1, dc, 5, 0.1, 0, 0),
                  param(net, "m1", 1, dc, 6, 0.1, 0, ML_TENSOR_STAT), param(net, "v1", 1, dc, 7, 0.0, 1, ML_TENSOR_STAT)};
    y = node(net, ML_OP_BATCHNORM, "bn1", bn1, 5, NULL);
    int r1 = node(net, ML_OP_RELU, "relu1", &y, 1, NULL);
    int c2[2] = {r1, param(net, "w2", 4, dw2, 8, 0.3, 0, ML_TENSOR_WEIGHT)};
    y = node(net, ML_OP_CONV, "conv2", c2, 2, &a);
    int bn2[5] = {y, param(net, "g2", 1, dc, 9, 0.2, 1, 0), param(net, "be2", 1, dc, 10, 0.1, 0, 0),
                  param(net, "m2", 1, dc, 11, 0.1, 0, ML_TENSOR_STAT), param(net, "v2", 1, dc, 12, 0.0, 1, ML_TENSOR_STAT)};
    y = node(net, ML_OP_BATCHNORM, "bn2", bn2, 5, NULL);
    int mu[2] = {y, param(net, "scale", 4, dm, 13, 0.3, 1, ML_TENSOR_CONST)};
    y = node(net, ML_OP_MUL, "mul", mu, 2, NULL);
    int ad[2] = {y, r1};
    y = node(net, ML_OP_ADD, "add", ad, 2, NULL);
    y = node(net, ML_OP_RELU, "relu2", &y, 1, NULL);
    ml_attrs p;
    ml_attrs_default(&p);
    p.kernel[0] = p.kernel[1] = 2;
    p.strides[0] = p.strides[1] = 2;
    y = node(net, ML_OP_MAXPOOL, "maxpool", &y, 1, &p); /* 3x3 */
    p.strides[0] = p.strides[1] = 1;
    y = node(net, ML_OP_AVGPOOL, "avgpool", &y, 1, &p); /* 2x2 */
    y = node(net, ML_OP_FLATTEN, "flatten", &y, 1, NULL);
    int64_t dg[2] = {5, 12}, dgb[1] = {5}, dmm[2] = {5, 4};
    ml_attrs g;
    ml_attrs_default(&g);
    g.transB = 1;
    int ge[3] = {y, param(net, "fcw", 2, dg, 14, 0.4, 0, ML_TENSOR_WEIGHT), param(net, "fcb", 1, dgb, 15, 0.1, 0, 0)};
    y = node(net, ML_OP_GEMM, "fc", ge, 3, &g);
    y = node(net, ML_OP_RELU, "relu3", &y, 1, NULL);
    int mm[2] = {y, param(net, "mmw", 2, dmm, 16, 0.5, 0, ML_TENSOR_WEIGHT)};
    y = node(net, ML_OP_MATMUL, "matmul", mm, 2, NULL);
    ml_net_set_io(net, x, y);
    ml_error err = {0};
    assert_int_equal(ml_net_finalize(net, &err), ML_OK);
    return net;
}

static double loss_of(ml_net *net, const float *x, const uint8_t *lab, int batch)
{
    double l;
    assert_int_equal(ml_net_loss_grad(net, x, lab, batch, 0, &l, NULL, NULL), ML_OK);
    return l;
}

/* Compare analytic gradients with central differences on up to `per` entries of every
 * trainable tensor; returns the number of entries outside tolerance and, in *rel, the
 * relative L2 error ||analytic - numeric|| / ||numeric|| over all checked entries. */
static int grad_check(ml_net *net, int batch, int per, float h, int *checked, double *rel)
{
    size_t in = (size_t)(net->input_shape[1] * net->input_shape[2] * net->input_shape[3]);
    float *x = malloc((size_t)batch * in * sizeof *x);
    uint8_t *lab = malloc((size_t)batch);
    for (size_t i = 0; i < (size_t)batch * in; i++)
        x[i] = (float)ml_uniform(77, i, 0, ML_RNG_DATA);
    for (int n = 0; n < batch; n++)
        lab[n] = (uint8_t)(n % net->classes);
    /* zero-initialised biases put dead units exactly on the ReLU kink, where a central
     * difference sees half a slope: move every non-weight parameter off zero */
    for (int t = 0; t < net->ntensors; t++) {
        ml_tensor *T = &net->tensors[t];
        if (!T->data || !(T->flags & ML_TENSOR_PARAM) || (T->flags & (ML_TENSOR_WEIGHT | ML_TENSOR_STAT | ML_TENSOR_CONST)))
            continue;
        size_t n = 1;
        for (int d = 0; d < T->ndim; d++)
            n *= (size_t)T->dims[d];
        for (size_t i = 0; i < n; i++)
            T->data[i] += (float)(0.1 * ml_normal(99, (uint64_t)t, (uint32_t)i, ML_RNG_DATA));
    }
    loss_of(net, x, lab, batch);
    int bad = 0;
    double e2 = 0, n2 = 0;
    *checked = 0;
    for (int t = 0; t < net->ntensors; t++) {
        ml_tensor *T = &net->tensors[t];
        if (!T->data || !(T->flags & ML_TENSOR_PARAM) || (T->flags & (ML_TENSOR_STAT | ML_TENSOR_CONST)))
            continue;
        size_t n = 1;
        for (int d = 0; d < T->ndim; d++)
            n *= (size_t)T->dims[d];
        float *an = malloc(n * sizeof *an);
        memcpy(an, T->grad, n * sizeof *an);
        size_t step = n > (size_t)per ? n / (size_t)per : 1;
        for (size_t i = 0; i < n; i += step) {
            const float v = T->data[i];
            T->data[i] = v + h;
            double lp = loss_of(net, x, lab, batch);
            T->data[i] = v - h;
            double lm = loss_of(net, x, lab, batch);
            T->data[i] = v;
            double num = (lp - lm) / (2.0 * h);
            (*checked)++;
            e2 += (num - an[i]) * (num - an[i]);
            n2 += num * num;
            if (fabs(num - an[i]) > 1e-3 + 5e-2 * fabs(num)) {
                bad++;
                print_message("%s[%zu]: analytic %.6g numeric %.6g\n", T->name, i, an[i], num);
            }
        }
        free(an);
    }
    free(x);
    free(lab);
    *rel = sqrt(e2 / (n2 > 0 ? n2 : 1));
    print_message("%d of %d entries off, relative L2 error %.4f\n", bad, *checked, *rel);
    return bad;
}

/* the same checks with the oneDNN convolutions off: im2col + Winograd, the path grouped
 * convolutions take */
static void gradients_of_every_op_match_finite_differences(void **state);
static void resnet20_gradient_matches_directional_difference(void **state);
static void gradients_match_without_onednn_convolutions(void **state)
{
    static const ml_conv_choice builtin = ML_CONV_BUILTIN;
    *state = (void *)&builtin;
    gradients_of_every_op_match_finite_differences(state);
    resnet20_gradient_matches_directional_difference(state);
    *state = NULL;
}

/* the convolution engines a test's state asks for (none: the default) */
static void use_engine(ml_net *net, void **state)
{
    if (*state)
        assert_int_equal(ml_net_set_conv(net, *(const ml_conv_choice *)*state, NULL), ML_OK);
}

static void gradients_of_every_op_match_finite_differences(void **state)
{
    ml_net *net = mixed_net();
    use_engine(net, state);
    double rel;
    int checked, bad = grad_check(net, 4, 12, 1e-3f, &checked, &rel);
    assert_true(checked > 60);
    /* a step across a ReLU kink or a max-pool switch can spoil a single entry */
    assert_true(bad <= checked / 20);
    assert_true(rel < 0.03);
    ml_net_free(net);
}

/* Move every trainable parameter by step * direction (direction = saved gradient copy). */
static void move(ml_net *net, float **dir, double step)
{
    for (int t = 0; t < net->ntensors; t++)
        if (dir[t]) {
            ml_tensor *T = &net->tensors[t];
            size_t n = 1;
            for (int d = 0; d < T->ndim; d++)
                n *= (size_t)T->dims[d];
            for (size_t i = 0; i < n; i++)
                T->data[i] += (float)(step * dir[t][i]);
        }
}

/* In a 20-layer float32 net single-entry differences drown in rounding noise and ReLU
 * kinks, so check the directional derivative along the gradient itself:
 * (L(p + h g/|g|) - L(p - h g/|g|)) / 2h must equal |g|. */
static void resnet20_gradient_matches_directional_difference(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("resnet20", 1, 8, 3, 4, 5, &net, &err), ML_OK);
    use_engine(net, state);
    enum { B = 8 };
    float x[B * 64];
    uint8_t lab[B];
    for (int i = 0; i < B * 64; i++)
        x[i] = (float)ml_uniform(77, (uint64_t)i, 0, ML_RNG_DATA);
    for (int n = 0; n < B; n++)
        lab[n] = (uint8_t)(n % 3);
    loss_of(net, x, lab, B);
    float **dir = calloc((size_t)net->ntensors, sizeof *dir);
    double g2 = 0;
    for (int t = 0; t < net->ntensors; t++) {
        ml_tensor *T = &net->tensors[t];
        if (!T->grad || !T->data)
            continue;
        size_t n = 1;
        for (int d = 0; d < T->ndim; d++)
            n *= (size_t)T->dims[d];
        dir[t] = malloc(n * sizeof(float));
        memcpy(dir[t], T->grad, n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            g2 += (double)T->grad[i] * T->grad[i];
    }
    double gn = sqrt(g2);
    assert_true(gn > 1e-3);
    /* |g| ~ 9 here: a step of 1e-2 along g crosses many ReLU kinks; the difference
     * converges to |g| as the step shrinks (7.99, 8.45, 8.75, 8.96 for 1e-2 .. 3e-4) */
    for (int k = 0; k < 2; k++) {
        const double h = k ? 1e-4 : 3e-4;
        move(net, dir, h / gn);
        double lp = loss_of(net, x, lab, B);
        move(net, dir, -2 * h / gn);
        double lm = loss_of(net, x, lab, B);
        move(net, dir, h / gn);
        double num = (lp - lm) / (2 * h);
        print_message("h %.0e: |g| %.6f, directional difference %.6f\n", h, gn, num);
        assert_true(fabs(num - gn) < 0.02 * gn);
    }
    for (int t = 0; t < net->ntensors; t++)
        free(dir[t]);
    free(dir);
    ml_net_free(net);
}

static void results_do_not_depend_on_thread_count(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    /* width 8: the 3x3 layers take the Winograd inference path */
    assert_int_equal(ml_arch_build("resnet20", 1, 12, 10, 8, 3, &net, &err), ML_OK);
    enum { B = 9 };
    float *x = malloc(B * 144 * sizeof *x), l1[B * 10], l2[B * 10];
    uint8_t lab[B];
    for (int i = 0; i < B * 144; i++)
        x[i] = (float)ml_uniform(3, (uint64_t)i, 0, ML_RNG_DATA);
    for (int i = 0; i < B; i++)
        lab[i] = (uint8_t)i;
    int wi[64];
    int nw = ml_net_weights(net, wi, 64);
    assert_true(nw > 0 && nw <= 64);
    const ml_tensor *w0 = &net->tensors[wi[0]];
    size_t n0 = (size_t)(w0->dims[0] * w0->dims[1] * w0->dims[2] * w0->dims[3]);
    float *g1 = malloc(n0 * sizeof *g1);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(ml_net_forward(net, x, B, l1, &err), ML_OK);
    assert_int_equal(ml_net_loss_grad(net, x, lab, B, 0, NULL, NULL, &err), ML_OK);
    memcpy(g1, w0->grad, n0 * sizeof *g1);
    omp_set_num_threads(3);
    assert_int_equal(ml_net_forward(net, x, B, l2, &err), ML_OK);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_int_equal(ml_net_loss_grad(net, x, lab, B, 0, NULL, NULL, &err), ML_OK);
    assert_memory_equal(g1, w0->grad, n0 * sizeof *g1);
    omp_set_num_threads(saved);
    free(g1);
    free(x);
    ml_net_free(net);
}

/* The library leaves OpenBLAS's thread count to the program (the CLI, benches and tests
 * set one thread per call): running a net must not change it. (With several BLAS threads
 * per call the mlp's products are split differently and the bits change; measured.) */
static void library_leaves_blas_threads_alone(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("mlp", 1, 8, 10, 16, 5, &net, &err), ML_OK);
    enum { B = 4 };
    float x[B * 64] = {0}, l[B * 10];
    uint8_t lab[B] = {0, 1, 2, 3};
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(2);
    assert_int_equal(ml_net_forward(net, x, B, l, &err), ML_OK);
    assert_int_equal(ml_net_loss_grad(net, x, lab, B, 0, NULL, NULL, &err), ML_OK);
    assert_int_equal(openblas_get_num_threads(), 2);
    openblas_set_num_threads(saved);
    ml_net_free(net);
}

static void builtin_architectures_have_torchvision_sizes(void **state)
{
    ml_net *net = NULL;
    ml_error err = {0};
    /* torchvision resnet34 (21,797,672) with a 3x3x1 stem and a 10-class head */
    assert_int_equal(ml_arch_build("resnet34", 1, 28, 10, 0, 1, &net, &err), ML_OK);
    assert_int_equal(ml_net_num_params(net), 21797672 - 9408 - 513000 + 576 + 5130);
    assert_int_equal(ml_net_weights(net, NULL, 0), 1 + 32 + 3 + 1); /* stem, 16 blocks x 2, 3 downsamples, fc */
    double macs_s1 = ml_net_macs(net);
    ml_net_free(net);
    /* stride-2 stem: same parameters, stages at half the resolution (about a quarter of the MACs) */
    assert_int_equal(ml_arch_build("resnet34-s2", 1, 28, 10, 0, 1, &net, &err), ML_OK);
    assert_int_equal(ml_net_num_params(net), 21797672 - 9408 - 513000 + 576 + 5130);
    assert_true(ml_net_macs(net) > 0.2 * macs_s1 && ml_net_macs(net) < 0.35 * macs_s1);
    ml_net_free(net);
    assert_int_equal(ml_arch_build("resnet18", 1, 28, 10, 0, 1, &net, &err), ML_OK);
    assert_int_equal(ml_net_num_params(net), 11689512 - 9408 - 513000 + 576 + 5130);
    ml_net_free(net);
    assert_int_equal(ml_arch_build("resnet20", 1, 28, 10, 0, 1, &net, &err), ML_OK);
    assert_true(ml_net_num_params(net) > 260000 && ml_net_num_params(net) < 280000);
    assert_int_equal(net->classes, 10);
    ml_net_free(net);
    assert_int_equal(ml_arch_build("lenet5", 1, 28, 10, 0, 1, &net, &err), ML_OK);
    assert_int_equal(ml_net_num_params(net), 61706 - 6 - 16); /* LeNet-5, padded 28x28 input, convs without bias */
    ml_net_free(net);
    assert_int_equal(ml_arch_build("resnet18", 3, 32, 10, 8, 1, &net, &err), ML_OK);
    ml_net_free(net);
    assert_int_equal(ml_arch_build("vgg16", 1, 28, 10, 0, 1, &net, &err), ML_EINVAL);
    assert_non_null(strstr(err.msg, "vgg16"));
}

static void init_is_seeded(void **state)
{
    ml_net *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(ml_arch_build("lenet5", 1, 28, 10, 0, 11, &a, NULL), ML_OK);
    assert_int_equal(ml_arch_build("lenet5", 1, 28, 10, 0, 11, &b, NULL), ML_OK);
    assert_int_equal(ml_arch_build("lenet5", 1, 28, 10, 0, 12, &c, NULL), ML_OK);
    int wi[8];
    assert_int_equal(ml_net_weights(a, wi, 8), 5);
    int w = wi[0];
    assert_true(w >= 0);
    assert_memory_equal(a->tensors[w].data, b->tensors[w].data, 150 * sizeof(float));
    assert_true(memcmp(a->tensors[w].data, c->tensors[w].data, 150 * sizeof(float)) != 0);
    ml_net_free(a);
    ml_net_free(b);
    ml_net_free(c);
}

static void bad_graphs_fail_with_the_node_name(void **state)
{
    ml_net *net = ml_net_new();
    int64_t din[4] = {1, 2, 5, 5}, dw[4] = {4, 3, 3, 3};
    int x = ml_net_add_tensor(net, "x", 4, din, NULL, ML_TENSOR_INPUT, NULL);
    int w = param(net, "w", 4, dw, 1, 1, 0, ML_TENSOR_WEIGHT);
    int in[2] = {x, w};
    int y = node(net, ML_OP_CONV, "conv_bad", in, 2, NULL);
    ml_net_set_io(net, x, y);
    ml_error err = {0};
    assert_int_equal(ml_net_finalize(net, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, "conv_bad"));
    assert_null(strchr(err.msg, '\n'));
    /* duplicate tensor names and out-of-range inputs are refused at insertion */
    assert_int_equal(ml_net_add_tensor(net, "w", 1, dw, NULL, 0, &err), -1);
    int bogus[1] = {99};
    assert_int_equal(ml_net_add_node(net, ML_OP_RELU, "r", bogus, 1, y, NULL, &err), -1);
    ml_net_free(net);

    /* a node reading a tensor that nothing computed */
    net = ml_net_new();
    x = ml_net_add_tensor(net, "x", 4, din, NULL, ML_TENSOR_INPUT, NULL);
    int ghost = ml_net_add_tensor(net, "ghost", 0, NULL, NULL, 0, NULL);
    y = node(net, ML_OP_RELU, "relu_ghost", &ghost, 1, NULL);
    ml_net_set_io(net, x, y);
    assert_int_equal(ml_net_finalize(net, &err), ML_EFORMAT);
    assert_non_null(strstr(err.msg, "relu_ghost"));
    float logits[4];
    assert_int_equal(ml_net_forward(net, (float[50]){0}, 1, logits, &err), ML_EINVAL);
    ml_net_free(net);
    ml_net_free(NULL);
}

static void clone_is_deep(void **state)
{
    ml_net *a = NULL;
    assert_int_equal(ml_arch_build("resnet20", 1, 8, 4, 2, 9, &a, NULL), ML_OK);
    ml_net *b = ml_net_clone(a);
    assert_non_null(b);
    float x[2 * 64], la[8], lb[8];
    for (int i = 0; i < 128; i++)
        x[i] = (float)(i % 13) / 13.0f;
    assert_int_equal(ml_net_forward(a, x, 2, la, NULL), ML_OK);
    assert_int_equal(ml_net_forward(b, x, 2, lb, NULL), ML_OK);
    assert_memory_equal(la, lb, sizeof la);
    int wi[32];
    int nw = ml_net_weights(b, wi, 32);
    for (int k = 0; k < nw; k++)
        b->tensors[wi[k]].data[0] += 1.0f; /* perturb the copy only */
    assert_int_equal(ml_net_forward(b, x, 2, lb, NULL), ML_OK);
    assert_true(memcmp(la, lb, sizeof la) != 0);
    assert_int_equal(ml_net_forward(a, x, 2, lb, NULL), ML_OK);
    assert_memory_equal(la, lb, sizeof la);
    ml_net_free(a);
    ml_net_free(b);
}

/* Two classes: bright left half vs bright right half, with noise. */
static ml_dataset *halves(size_t n, uint64_t seed)
{
    ml_dataset *ds = NULL;
    assert_int_equal(ml_dataset_new(n, 1, 8, 8, &ds, NULL), ML_OK);
    ds->classes = 2;
    for (size_t i = 0; i < n; i++) {
        int cls = (int)(i % 2);
        ds->labels[i] = (uint8_t)cls;
        for (int k = 0; k < 64; k++) {
            int right = k % 8 >= 4;
            double v = (right == cls ? 0.7 : 0.3) + 0.2 * ml_normal(seed, i, (uint32_t)k, ML_RNG_DATA);
            ds->images[i * 64 + (size_t)k] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
    }
    return ds;
}

static int epochs_seen, progress_calls;
static double progress_done, progress_total;
static void count_progress(void *ctx, const char *label, double done, double total)
{
    assert_string_equal(label, "training");
    assert_ptr_equal(ctx, &progress_calls);
    assert_true(done > progress_done);
    progress_calls++;
    progress_done = done;
    progress_total = total;
}
static int count_epochs(ml_net *net, int epoch, double loss, double acc, void *user)
{
    epochs_seen++;
    return 0;
}

static void training_learns_a_separable_task_reproducibly(void **state)
{
    ml_dataset *tr = halves(256, 1), *te = halves(100, 2);
    float *w[2];
    for (int run = 0; run < 2; run++) {
        ml_net *net = NULL;
        assert_int_equal(ml_arch_build("mlp", 1, 8, 2, 16, 4, &net, NULL), ML_OK);
        ml_train_opts o;
        ml_train_opts_default(&o);
        o.epochs = 4;
        o.batch = 32;
        o.lr = 0.05;
        o.augment_pad = 1;
        o.augment_flip = 0; /* a flip swaps the classes here */
        o.val = te;
        o.on_epoch = count_epochs;
        o.progress = count_progress;
        o.progress_ctx = &progress_calls;
        epochs_seen = progress_calls = 0;
        progress_done = 0;
        double acc = 0;
        ml_error err = {0};
        assert_int_equal(ml_net_train(net, tr, &o, &acc, &err), ML_OK);
        assert_int_equal(epochs_seen, 4);
        assert_int_equal(progress_calls, 4 * (256 / 32)); /* one report per step */
        assert_true(progress_done == progress_total && progress_total == 4 * (256 / 32));
        assert_true(acc >= 0.95);
        int wi[4];
        assert_int_equal(ml_net_weights(net, wi, 4), 3);
        w[run] = malloc(64 * 16 * sizeof(float));
        memcpy(w[run], net->tensors[wi[0]].data, 64 * 16 * sizeof(float));
        ml_net_free(net);
    }
    assert_memory_equal(w[0], w[1], 64 * 16 * sizeof(float));
    free(w[0]);
    free(w[1]);
    ml_dataset_free(tr);
    ml_dataset_free(te);
}

int main(void)
{
    openblas_set_num_threads(1); /* the layer kernels split batches across OpenMP threads */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_of_every_op_match_finite_differences),
        cmocka_unit_test(resnet20_gradient_matches_directional_difference),
        cmocka_unit_test(gradients_match_without_onednn_convolutions),
        cmocka_unit_test(results_do_not_depend_on_thread_count),
        cmocka_unit_test(library_leaves_blas_threads_alone),
        cmocka_unit_test(builtin_architectures_have_torchvision_sizes),
        cmocka_unit_test(init_is_seeded),
        cmocka_unit_test(bad_graphs_fail_with_the_node_name),
        cmocka_unit_test(clone_is_deep),
        cmocka_unit_test(training_learns_a_separable_task_reproducibly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
