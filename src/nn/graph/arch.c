/* Built-in architectures: MLP, LeNet-5, ResNet-20 (CIFAR-style) and ResNet-18/34 (3x3
 * stride-1 stem, no max-pool, torchvision stage layout), with the input normalisation
 * inside the model (Sub/Div by per-channel constants) and Kaiming-normal initialisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/rng.h"
#include "nn/internal.h"

typedef struct builder {
    ml_net *net;
    uint64_t seed;
    int count;        /* names and random streams */
    ml_error *err;
    int failed;
} builder;

static int tensor(builder *b, const char *kind, int ndim, const int64_t *dims, const float *data, unsigned flags)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%d", kind, b->count++);
    int t = ml_net_add_tensor(b->net, name, ndim, dims, data, flags, b->err);
    if (t < 0) b->failed = 1;
    return t;
}

static int act(builder *b, const char *kind)
{
    int64_t d[4] = {1, 1, 1, 1};
    return tensor(b, kind, 4, d, NULL, 0);
}

static int node(builder *b, ml_op op, const int *in, int nin, const ml_attrs *at, const char *kind)
{
    if (b->failed) return -1;
    int y = act(b, kind);
    char name[64];
    snprintf(name, sizeof name, "%s_%d", kind, b->count++);
    if (y < 0 || ml_net_add_node(b->net, op, name, in, nin, y, at, b->err) < 0) b->failed = 1;
    return y;
}

/* parameter with values from fill(i) */
static int param(builder *b, const char *kind, int ndim, const int64_t *dims, double std, double constant, unsigned flags)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    float *v = ml__malloc(n * sizeof *v);
    if (!v) { b->failed = 1; ml_error_set(b->err, ML_ENOMEM, "arch: out of memory"); return -1; }
    uint64_t stream = (uint64_t)b->count << 32;
    for (size_t i = 0; i < n; i++)
        v[i] = std > 0 ? (float)(std * ml_normal(b->seed, stream + i, 0, ML_RNG_DATA)) : (float)constant;
    int t = tensor(b, kind, ndim, dims, v, ML_TENSOR_PARAM | flags);
    ml__free(v);
    return t;
}

static int conv(builder *b, int x, int cin, int cout, int k, int stride)
{
    int64_t wd[4] = {cout, cin, k, k};
    int w = param(b, "conv_w", 4, wd, sqrt(2.0 / (cout * k * k)), 0, 0); /* Kaiming normal, fan_out */
    ml_attrs a;
    ml_attrs_default(&a);
    a.kernel[0] = a.kernel[1] = k;
    a.strides[0] = a.strides[1] = stride;
    a.pads[0] = a.pads[1] = a.pads[2] = a.pads[3] = k / 2;
    int in[2] = {x, w};
    return node(b, ML_OP_CONV, in, 2, &a, "conv");
}

static int bn(builder *b, int x, int c)
{
    int64_t d[1] = {c};
    int in[5] = {x, param(b, "bn_scale", 1, d, 0, 1, 0), param(b, "bn_bias", 1, d, 0, 0, 0),
                 param(b, "bn_mean", 1, d, 0, 0, ML_TENSOR_STAT), param(b, "bn_var", 1, d, 0, 1, ML_TENSOR_STAT)};
    return node(b, ML_OP_BATCHNORM, in, 5, NULL, "bn");
}

static int relu(builder *b, int x) { return node(b, ML_OP_RELU, &x, 1, NULL, "relu"); }

static int add(builder *b, int x, int y)
{
    int in[2] = {x, y};
    return node(b, ML_OP_ADD, in, 2, NULL, "add");
}

static int gemm(builder *b, int x, int in, int out)
{
    int64_t wd[2] = {out, in}, cd[1] = {out};
    double bound = 1.0 / sqrt((double)in);
    int w = param(b, "fc_w", 2, wd, bound / sqrt(3.0), 0, 0); /* variance of U(-1/sqrt(in), 1/sqrt(in)) */
    int c = param(b, "fc_b", 1, cd, 0, 0, 0);
    ml_attrs a;
    ml_attrs_default(&a);
    a.transB = 1;
    int i3[3] = {x, w, c};
    return node(b, ML_OP_GEMM, i3, 3, &a, "fc");
}

static int flatten(builder *b, int x) { return node(b, ML_OP_FLATTEN, &x, 1, NULL, "flatten"); }

static int maxpool(builder *b, int x)
{
    ml_attrs a;
    ml_attrs_default(&a);
    a.kernel[0] = a.kernel[1] = 2;
    a.strides[0] = a.strides[1] = 2;
    return node(b, ML_OP_MAXPOOL, &x, 1, &a, "maxpool");
}

/* x -> (x - mean) / std per channel (Fashion-MNIST / CIFAR-10 statistics) */
static int normalise(builder *b, int x, int c)
{
    static const float fm[2] = {0.2860f, 0.3530f};
    static const float cm[3] = {0.4914f, 0.4822f, 0.4465f}, cs[3] = {0.2470f, 0.2435f, 0.2616f};
    float m[64], s[64];
    for (int i = 0; i < c && i < 64; i++) {
        m[i] = c == 3 ? cm[i] : fm[0];
        s[i] = c == 3 ? cs[i] : fm[1];
    }
    int64_t d[4] = {1, c, 1, 1};
    int tm = tensor(b, "norm_mean", 4, d, m, ML_TENSOR_PARAM | ML_TENSOR_CONST);
    int ts = tensor(b, "norm_std", 4, d, s, ML_TENSOR_PARAM | ML_TENSOR_CONST);
    int i1[2] = {x, tm};
    int y = node(b, ML_OP_SUB, i1, 2, NULL, "sub");
    int i2[2] = {y, ts};
    return node(b, ML_OP_DIV, i2, 2, NULL, "div");
}

static int basic_block(builder *b, int x, int cin, int cout, int stride)
{
    int y = relu(b, bn(b, conv(b, x, cin, cout, 3, stride), cout));
    y = bn(b, conv(b, y, cout, cout, 3, 1), cout);
    int sc = x;
    if (stride != 1 || cin != cout) sc = bn(b, conv(b, x, cin, cout, 1, stride), cout);
    return relu(b, add(b, y, sc));
}

static int resnet(builder *b, int x, int in_ch, int w, int stem_stride, int nstages, const int *blocks, int classes)
{
    x = relu(b, bn(b, conv(b, x, in_ch, w, 3, stem_stride), w));
    int cin = w;
    for (int s = 0; s < nstages; s++) {
        int cout = w << s;
        for (int k = 0; k < blocks[s]; k++) {
            x = basic_block(b, x, cin, cout, k == 0 && s > 0 ? 2 : 1);
            cin = cout;
        }
    }
    x = flatten(b, node(b, ML_OP_GLOBALAVGPOOL, &x, 1, NULL, "gap"));
    return gemm(b, x, cin, classes);
}

ml_status ml_arch_build(const char *arch, int in_ch, int in_hw, int classes, int width, uint64_t seed, ml_net **out,
                        ml_error *err)
{
    if (in_ch < 1 || in_ch > 64 || in_hw < 8 || in_hw > 1024 || classes < 2 || classes > 100000 || width > 4096)
        return ml_error_set(err, ML_EINVAL, "arch: bad sizes (channels %d, size %d, classes %d, width %d)", in_ch, in_hw,
                            classes, width);
    builder b = {ml_net_new(), seed, 0, err, 0};
    if (!b.net) return ml_error_set(err, ML_ENOMEM, "arch: out of memory");
    int64_t d[4] = {1, in_ch, in_hw, in_hw};
    int x = tensor(&b, "input", 4, d, NULL, ML_TENSOR_INPUT), y = -1;
    x = normalise(&b, x, in_ch);
    if (!strcmp(arch, "mlp")) {
        int h = width > 0 ? width : 256, n = in_ch * in_hw * in_hw;
        y = relu(&b, gemm(&b, flatten(&b, x), n, h));
        y = relu(&b, gemm(&b, y, h, h));
        y = gemm(&b, y, h, classes);
    } else if (!strcmp(arch, "lenet5")) {
        int c1 = width > 0 ? width : 6, c2 = c1 * 16 / 6;
        y = maxpool(&b, relu(&b, conv(&b, x, in_ch, c1, 5, 1)));
        ml_attrs a;
        ml_attrs_default(&a);
        int64_t wd[4] = {c2, c1, 5, 5};
        int w2 = param(&b, "conv_w", 4, wd, sqrt(2.0 / (c2 * 25)), 0, 0);
        int in2[2] = {y, w2};
        y = maxpool(&b, relu(&b, node(&b, ML_OP_CONV, in2, 2, &a, "conv"))); /* 5x5, no padding */
        int s = ((in_hw / 2) - 4) / 2;
        y = relu(&b, gemm(&b, flatten(&b, y), c2 * s * s, 120));
        y = relu(&b, gemm(&b, y, 120, 84));
        y = gemm(&b, y, 84, classes);
    } else if (!strcmp(arch, "resnet20")) {
        static const int blocks[3] = {3, 3, 3};
        y = resnet(&b, x, in_ch, width > 0 ? width : 16, 1, 3, blocks, classes);
    } else if (!strcmp(arch, "resnet18") || !strcmp(arch, "resnet34") || !strcmp(arch, "resnet18-s2") ||
               !strcmp(arch, "resnet34-s2")) {
        static const int b18[4] = {2, 2, 2, 2}, b34[4] = {3, 4, 6, 3};
        int stem = arch[8] == '-' ? 2 : 1; /* "-s2": stride-2 stem, a quarter of the compute */
        y = resnet(&b, x, in_ch, width > 0 ? width : 64, stem, 4, arch[6] == '1' ? b18 : b34, classes);
    } else {
        ml_net_free(b.net);
        return ml_error_set(err, ML_EINVAL, "arch '%s' is unknown (mlp, lenet5, resnet20, resnet18, resnet34, resnet18-s2, resnet34-s2)", arch);
    }
    if (b.failed || y < 0) { ml_net_free(b.net); return err && err->code ? err->code : ML_ENOMEM; }
    ml_net_set_io(b.net, 0, y);
    ml_status st = ml_net_finalize(b.net, err);
    if (st) { ml_net_free(b.net); return st; }
    if (!(b.net->name = ml__strdup(arch))) { ml_net_free(b.net); return ml_error_set(err, ML_ENOMEM, "arch: out of memory"); }
    *out = b.net;
    return ML_OK;
}
