/* Row-major sgemm for calls made inside the engine's own OpenMP loops (one call per
 * thread, so the library runs it on that thread alone).
 *
 * Debian's OpenBLAS 0.3.21 is pinned to its AVX2 "Haswell" kernels on the CPUs we run on
 * (see src/cli/blas_env.c); oneDNN's sgemm JIT-compiles for the CPU it finds (AVX-512 where
 * present) and is 1.6-2.7x faster on the products the convolutions make, but slower on
 * small ones, where its set-up dominates. The choice depends on the shape only, never on
 * the thread count, so results stay bitwise independent of it. */
#include <cblas.h>
#include <dnnl.h>
#include "nn/internal.h"

/* Below this many multiply-adds OpenBLAS wins (bench: 16x784x144 OpenBLAS 51, oneDNN
 * 31 GFLOP/s; 1024x64x64 OpenBLAS 48, oneDNN 77 GFLOP/s). */
#define ML_DNNL_MIN_MACS 3000000.0

void ml__sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    if ((double)m * n * k >= ML_DNNL_MIN_MACS &&
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) ==
            dnnl_success)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
