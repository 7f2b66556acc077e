/* Gemm and MatMul on [batch, k] activations with an initializer weight (sgemm). */
#include <cblas.h>
#include <string.h>
#include "nn/internal.h"

/* Rows are split in fixed blocks so the result does not depend on the thread count. */
#define ROWS 16

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
    const int nblk = (batch + ROWS - 1) / ROWS;
    const size_t cn = C ? ml_tensor_numel(C) : 0;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nblk; b++) {
        int r0 = b * ROWS, rn = batch - r0 < ROWS ? batch - r0 : ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, rn, m, k, alpha,
                    a + (size_t)r0 * k, k, B->data, tb ? k : m, 0.0f, y + (size_t)r0 * m, m);
        if (C && beta != 0.0f)
            for (int r = r0; r < r0 + rn; r++)
                for (int j = 0; j < m; j++)
                    y[(size_t)r * m + j] += beta * C->data[cn == 1 ? 0 : j];
    }
}

void ml__gemm_backward(const ml_node *nd, const ml_tensor *B, const ml_tensor *C, const float *a,
                      const float *dy, int batch, int k, int m, float *da, float *dB, float *dC)
{
    int tb;
    float alpha, beta;
    params(nd, &tb, &alpha, &beta);
    if (da)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasNoTrans : CblasTrans, batch, k, m, alpha,
                    dy, m, B->data, tb ? k : m, 1.0f, da, k);
    if (dB) {
        if (tb)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, k, batch, alpha, dy, m, a, k,
                        0.0f, dB, k);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, batch, alpha, a, k, dy, m,
                        0.0f, dB, m);
    }
    if (dC && C) {
        size_t cn = ml_tensor_numel(C);
        memset(dC, 0, cn * sizeof *dC);
        for (int r = 0; r < batch; r++)
            for (int j = 0; j < m; j++)
                dC[cn == 1 ? 0 : j] += beta * dy[(size_t)r * m + j];
    }
}
