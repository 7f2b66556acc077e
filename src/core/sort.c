/* Small numeric helpers shared by the modules. */
#include <stdlib.h>
#include "memlev/util.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void ml_sort_doubles(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
}
