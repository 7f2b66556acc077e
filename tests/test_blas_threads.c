/* The thread rule of docs/architecture.md ("Thread safety"): inference logits and a training
 * step's gradients of an mlp and of convolutional nets are bit-identical at one and at two
 * OpenMP threads, and at one and at two OpenBLAS threads (the caller's process-wide setting:
 * the engine's products run on oneDNN's sgemm, one thread per fixed block of rows; with
 * Debian's pthread OpenBLAS 0.3.21 doing them, 453 of 640 mlp logits and 283 of 320 lenet5
 * logits changed at two BLAS threads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/nn.h"
#include "memlev/rng.h"

static size_t numel(const ml_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->dims[d];
    return n;
}

typedef struct run_out { float *logits, *grad; size_t nl, ng; } run_out;

/* Logits of a batch and the gradient of every parameter after one loss_grad, on a fresh
 * copy of the net (same weights). */
static void run(const ml_net *proto, const float *x, const uint8_t *lab, int batch, int classes, run_out *o)
{
    ml_net *net = ml_net_clone(proto);
    assert_non_null(net);
    ml_error err = {0};
    o->nl = (size_t)batch * classes;
    o->logits = malloc(o->nl * sizeof(float));
    assert_int_equal(ml_net_forward(net, x, batch, o->logits, &err), ML_OK);
    assert_int_equal(ml_net_loss_grad(net, x, lab, batch, 0, NULL, NULL, &err), ML_OK);
    o->ng = 0;
    for (int t = 0; t < net->ntensors; t++)
        if (net->tensors[t].grad) o->ng += numel(&net->tensors[t]);
    o->grad = malloc((o->ng ? o->ng : 1) * sizeof(float));
    size_t at = 0;
    for (int t = 0; t < net->ntensors; t++)
        if (net->tensors[t].grad) {
            size_t n = numel(&net->tensors[t]);
            memcpy(o->grad + at, net->tensors[t].grad, n * sizeof(float));
            at += n;
        }
    ml_net_free(net);
}

/* Entries of logits (which 0) or gradients (1) whose bits differ between a and b. */
static size_t differ(const run_out *a, const run_out *b, int which)
{
    const float *x = which ? a->grad : a->logits, *y = which ? b->grad : b->logits;
    size_t n = which ? a->ng : a->nl, d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&x[i], &y[i], sizeof(float)) != 0;
    return d;
}

static void check_arch(const char *arch, int hw, int width, int batch)
{
    enum { CLASSES = 10 };
    ml_net *net = NULL;
    assert_int_equal(ml_arch_build(arch, 1, hw, CLASSES, width, 3, &net, NULL), ML_OK);
    size_t nx = (size_t)batch * hw * hw;
    float *x = malloc(nx * sizeof *x);
    uint8_t *lab = malloc((size_t)batch);
    for (size_t i = 0; i < nx; i++) x[i] = (float)ml_uniform(21, i, 0, 3);
    for (int i = 0; i < batch; i++) lab[i] = (uint8_t)(i % CLASSES);
    int saved_blas = openblas_get_num_threads(), saved_omp = omp_get_max_threads();
    run_out ref, omp2, blas2;
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    run(net, x, lab, batch, CLASSES, &ref);
    omp_set_num_threads(2);
    run(net, x, lab, batch, CLASSES, &omp2);
    /* the caller's OpenBLAS at two threads per call must not change a bit */
    omp_set_num_threads(1);
    openblas_set_num_threads(2);
    run(net, x, lab, batch, CLASSES, &blas2);
    print_message("%s (batch %d): OpenMP 2 vs 1 thread (BLAS 1): %zu of %zu logits, %zu of %zu gradients differ; "
                  "BLAS 2 vs 1 thread: %zu logits, %zu gradients differ\n", arch, batch, differ(&ref, &omp2, 0),
                  ref.nl, differ(&ref, &omp2, 1), ref.ng, differ(&ref, &blas2, 0), differ(&ref, &blas2, 1));
    assert_int_equal(ref.ng, omp2.ng);
    assert_int_equal(differ(&ref, &omp2, 0), 0);
    assert_int_equal(differ(&ref, &omp2, 1), 0);
    assert_int_equal(differ(&ref, &blas2, 0), 0);
    assert_int_equal(differ(&ref, &blas2, 1), 0);
    free(ref.logits); free(ref.grad); free(omp2.logits); free(omp2.grad); free(blas2.logits); free(blas2.grad);
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
    free(x);
    free(lab);
    ml_net_free(net);
}

/* Products above OpenBLAS's threading threshold (m n k > 262,144): the mlp's 784 x 256
 * layers on 64 images, forward in row blocks and backward over the whole batch. */
static void mlp_is_independent_of_openmp_and_blas_threads(void **state)
{
    (void)state;
    check_arch("mlp", 28, 256, 64);
}

/* Convolutions (oneDNN's own, and im2col/Winograd products through ml__sgemm). */
static void conv_nets_are_independent_of_openmp_and_blas_threads(void **state)
{
    (void)state;
    check_arch("lenet5", 28, 0, 32);
    check_arch("resnet20", 16, 8, 8);
    /* ResNet-18/34 shapes (narrow) through inference chunk by chunk (dnnl/infer.c): two
     * chunks at batch 40, three uneven ones at 70 */
    check_arch("resnet18", 16, 8, 40);
    check_arch("resnet34", 12, 8, 70);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mlp_is_independent_of_openmp_and_blas_threads),
        cmocka_unit_test(conv_nets_are_independent_of_openmp_and_blas_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
