/* The OpenBLAS kernel set the process loaded, for benchmark output. The network engine no
 * longer calls OpenBLAS (its products run on oneDNN's sgemm, see src/nn/kernels/gemm.c), so
 * the CLI neither reads nor sets OPENBLAS_CORETYPE. */
#include <cblas.h>
#include "cli/cli.h"

const char *ml_cli_blas_core(void)
{
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
