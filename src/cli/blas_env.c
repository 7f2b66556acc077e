/* OpenBLAS kernel choice.  Debian's OpenBLAS 0.3.21 does not know CPUs newer than it
 * (AMD Zen 5, for one) and falls back to its generic SSE3 "Prescott" kernels, which run
 * sgemm 2-3x slower than the AVX2 "Haswell" ones those CPUs execute fine.  The kernel
 * set is chosen when the library loads, from OPENBLAS_CORETYPE, so the only way to
 * change it is to set the variable and start again: done once, before any work, and
 * only when the user has not set the variable.  MEMLEV_NO_BLAS_REEXEC=1 turns it off. */
#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include "cli/cli.h"

void ml_cli_blas_setup(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("MEMLEV_NO_BLAS_REEXEC"))
        return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott"))
        return;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return;
    if (setenv("OPENBLAS_CORETYPE", "Haswell", 1))
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the generic kernels */
}

const char *ml_cli_blas_core(void)
{
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
