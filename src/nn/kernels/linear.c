/* Gemm and MatMul on [batch, k] activations with an initializer weight (sgemm). Products
 * go through ml__sgemm_rows: fixed row blocks, one thread per block, so the bits depend on
 * neither the OpenMP nor the caller's BLAS thread count. */
#include <string.h>
#include "nn/internal.h"

static void params(const ml_node *nd, int *tb, float *alpha, float *beta)
{
    int gemm = nd->op == ML_OP_GEMM;
    *tb = gemm && nd->attrs.transB;
    *alpha = gemm ? nd->attrs.alpha : 1.0f;
    *beta = gemm ? nd->attrs.beta : 0.0f;
}

void ml__gemm_forward(const ml_node *nd, const ml_tensor *B, const ml_tensor *C, const float *a,
                     int batch, int k, int m, float *y)
{
    int tb;
    float alpha, beta;
    params(nd, &tb, &alpha, &beta);
    const size_t cn = C ? ml_tensor_numel(C) : 0;
    ml__sgemm_rows(0, tb, batch, m, k, alpha, a, k, B->data, tb ? k : m, 0.0f, y, m);
    if (C && beta != 0.0f)
        for (int r = 0; r < batch; r++)
            for (int j = 0; j < m; j++)
                y[(size_t)r * m + j] += beta * C->data[cn == 1 ? 0 : j];
}

void ml__gemm_backward(const ml_node *nd, const ml_tensor *B, const ml_tensor *C, const float *a,
                      const float *dy, int batch, int k, int m, float *da, float *dB, float *dC)
{
    int tb;
    float alpha, beta;
    params(nd, &tb, &alpha, &beta);
    if (da) ml__sgemm_rows(0, !tb, batch, k, m, alpha, dy, m, B->data, tb ? k : m, 1.0f, da, k);
    if (dB) { /* sums over the batch inside each call: rows of dB split, never the batch */
        if (tb)
            ml__sgemm_rows(1, 0, m, k, batch, alpha, dy, m, a, k, 0.0f, dB, k);
        else
            ml__sgemm_rows(1, 0, k, m, batch, alpha, a, k, dy, m, 0.0f, dB, m);
    }
    if (dC && C) {
        size_t cn = ml_tensor_numel(C);
        memset(dC, 0, cn * sizeof *dC);
        for (int r = 0; r < batch; r++)
            for (int j = 0; j < m; j++)
                dC[cn == 1 ? 0 : j] += beta * dy[(size_t)r * m + j];
    }
}
