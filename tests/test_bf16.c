/* bfloat16 training convolutions (ml_net_set_precision, src/nn/kernels/conv_bf16.c): a
 * training step's gradients are bit-identical at one and two OpenMP threads and from run to
 * run, they differ from float32's (the bf16 kernels ran) by bf16 rounding only, inference
 * stays float32, and a CPU without AVX-512 gets ML_EUNSUPP. ctest runs this file three
 * times: as found, with ONEDNN_MAX_CPU_ISA=AVX512_CORE (oneDNN emulates bf16) and with
 * ONEDNN_MAX_CPU_ISA=AVX2 (the refusal); on a CPU without AVX-512 all three test the
 * refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/nn.h"
#include "memlev/rng.h"
#include "nn/backend.h"

enum { CLASSES = 10 };

static size_t numel(const ml_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
    return n;
}

typedef struct grads { float *logits, *g; size_t nl, ng; double loss; } grads;

/* Logits (inference) and every parameter's gradient after one loss_grad on a fresh clone
 * of proto in format prec at the given thread count. */
static void step(const ml_net *proto, ml_train_precision prec, int threads, const float *x, const uint8_t *lab,
                 int batch, grads *o)
{
    ml_net *net = ml_net_clone(proto);
    assert_non_null(net);
    ml_error err = {0};
    assert_int_equal(ml_net_set_precision(net, prec, &err), ML_OK);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    o->nl = (size_t)batch * CLASSES;
    o->logits = malloc(o->nl * sizeof(float));
    assert_int_equal(ml_net_forward(net, x, batch, o->logits, &err), ML_OK);
    assert_int_equal(ml_net_loss_grad(net, x, lab, batch, 0, &o->loss, NULL, &err), ML_OK);
    omp_set_num_threads(saved);
    o->ng = 0;
    for (int t = 0; t < net->ntensors; t++)
        if (net->tensors[t].grad) o->ng += numel(&net->tensors[t]);
    o->g = malloc(o->ng * sizeof(float));
    size_t at = 0;
    for (int t = 0; t < net->ntensors; t++)
        if (net->tensors[t].grad) {
            memcpy(o->g + at, net->tensors[t].grad, numel(&net->tensors[t]) * sizeof(float));
            at += numel(&net->tensors[t]);
        }
    ml_net_free(net);
}

static void grads_free(grads *o)
{
    free(o->logits);
    free(o->g);
}

static size_t differ(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static void check_arch(const char *arch, int hw, int width, int batch)
{
    ml_net *net = NULL;
    assert_int_equal(ml_arch_build(arch, 1, hw, CLASSES, width, 5, &net, NULL), ML_OK);
    const size_t nx = (size_t)batch * hw * hw;
    float *x = malloc(nx * sizeof *x);
    uint8_t *lab = malloc((size_t)batch);
    for (size_t i = 0; i < nx; i++) x[i] = (float)ml_uniform(31, i, 0, 4);
    for (int i = 0; i < batch; i++) lab[i] = (uint8_t)(i % CLASSES);
    grads f32, b1, b2, b1again;
    step(net, ML_PRECISION_FP32, 1, x, lab, batch, &f32);
    step(net, ML_PRECISION_BF16, 1, x, lab, batch, &b1);
    step(net, ML_PRECISION_BF16, 2, x, lab, batch, &b2);
    step(net, ML_PRECISION_BF16, 1, x, lab, batch, &b1again);
    /* relative L2 distance of the bf16 gradients from float32's */
    double num = 0, den = 0;
    for (size_t i = 0; i < f32.ng; i++) {
        num += ((double)b1.g[i] - f32.g[i]) * ((double)b1.g[i] - f32.g[i]);
        den += (double)f32.g[i] * f32.g[i];
    }
    const double rel = sqrt(num / den);
    print_message("%s (batch %d, %s): bf16 vs fp32: %zu of %zu gradients differ, relative L2 %.2e, loss %.6f vs "
                  "%.6f; 2 vs 1 thread: %zu differ\n", arch, batch, ml_net_conv_engine(net), differ(b1.g, f32.g, f32.ng),
                  f32.ng, rel, b1.loss, f32.loss, differ(b1.g, b2.g, b1.ng));
    assert_int_equal(b1.ng, f32.ng);
    assert_int_equal(differ(b1.g, b2.g, b1.ng), 0);      /* thread count */
    assert_int_equal(differ(b1.g, b1again.g, b1.ng), 0); /* run to run */
    assert_true(differ(b1.g, f32.g, f32.ng) > f32.ng / 2); /* the bf16 kernels ran */
    /* bf16 keeps 8 bits of mantissa; at initialisation the gradients are that sensitive anyway:
     * scaling resnet20's float32 weights by 1 +- 0.4 % (bf16's rounding) moves them by 27 % */
    assert_true(rel < 0.3);
    assert_true(fabs(b1.loss - f32.loss) < 0.02 * fabs(f32.loss) + 1e-3);
    assert_int_equal(differ(b1.logits, f32.logits, f32.nl), 0); /* inference stays float32 */
    grads_free(&f32); grads_free(&b1); grads_free(&b2); grads_free(&b1again);
    free(x);
    free(lab);
    ml_net_free(net);
}

/* Where oneDNN runs bf16 (AVX-512), the step is thread-independent and close to float32;
 * elsewhere the choice is refused with the instruction set named and the net unchanged. */
static void bf16_step_is_thread_independent_and_close_to_fp32(void **state)
{
    (void)state;
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("lenet5", 1, 28, CLASSES, 0, 5, &net, NULL), ML_OK);
    const char *isa = NULL;
    const int ok = ml__bf16_supported(&isa);
    const ml_status st = ml_net_set_precision(net, ML_PRECISION_BF16, &err);
    print_message("oneDNN: %s; bf16 %s\n", ml__dnnl_isa_label(), ok ? "supported" : err.msg);
    if (!ok) {
        assert_int_equal(st, ML_EUNSUPP);
        assert_non_null(strstr(err.msg, "bf16 training needs AVX-512"));
        assert_int_equal(net->precision, ML_PRECISION_FP32);
        ml_net_free(net);
        return;
    }
    assert_int_equal(st, ML_OK);
    assert_int_equal(net->precision, ML_PRECISION_BF16);
    ml_net_free(net);
    check_arch("lenet5", 28, 0, 16);
    check_arch("resnet20", 16, 8, 12);
}

static void set_precision_rejects_unknown_values(void **state)
{
    (void)state;
    ml_net *net = NULL;
    ml_error err = {0};
    assert_int_equal(ml_arch_build("mlp", 1, 8, CLASSES, 16, 5, &net, NULL), ML_OK);
    assert_int_equal(ml_net_set_precision(net, (ml_train_precision)7, &err), ML_EINVAL);
    assert_non_null(strstr(err.msg, "precision 7"));
    assert_int_equal(net->precision, ML_PRECISION_FP32);
    ml_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bf16_step_is_thread_independent_and_close_to_fp32),
        cmocka_unit_test(set_precision_rejects_unknown_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
