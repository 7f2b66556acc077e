/* Row-major sgemm for the engine, on oneDNN's sgemm.
 *
 * Every product runs on one thread per call: callers split rows in fixed blocks inside
 * their own OpenMP loops (ml__sgemm_rows does it for them), and oneDNN runs a call made
 * inside an active parallel region on the calling thread alone. A product's bits thus
 * depend on its shape only, never on the OpenMP thread count, and the engine never calls
 * OpenBLAS, whose thread count (process-wide, the caller's) changes the bits of its
 * products (Debian's pthread OpenBLAS 0.3.21: 453 of 640 mlp logits at 2 threads vs 1). */
#include <dnnl.h>
#include "nn/internal.h"

/* Reference loop for a product oneDNN refuses (it does not for valid shapes; kept so a
 * failure can never leave C unwritten). */
static void sgemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += (ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                     (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            float *cij = &c[(size_t)i * ldc + j];
            *cij = alpha * s + (beta == 0.0f ? 0.0f : beta * *cij);
        }
}

void ml__sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) !=
        dnnl_success)
        sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Rows of C per call: fixed, so the split (and the bits) never follow the thread count. */
#define ML_GEMM_ROWS 16

void ml__sgemm_rows(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc)
{
    const int nblk = (m + ML_GEMM_ROWS - 1) / ML_GEMM_ROWS;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int r0 = blk * ML_GEMM_ROWS, rn = m - r0 < ML_GEMM_ROWS ? m - r0 : ML_GEMM_ROWS;
        /* rows r0.. of op(A): A's rows (ta = 0) or A's columns (ta = 1) */
        const float *ar = ta ? a + r0 : a + (size_t)r0 * lda;
        ml__sgemm(ta, tb, rn, n, k, alpha, ar, lda, b, ldb, beta, c + (size_t)r0 * ldc, ldc);
    }
}
