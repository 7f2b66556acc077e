/* Normal-distributed test data from the project's counter-based generator. */
#ifndef ML_TESTS_NN_FILL_H
#define ML_TESTS_NN_FILL_H

#include <stddef.h>
#include <stdint.h>
#include "memlev/rng.h"

static inline void fill_normal(float *x, size_t n, uint64_t seed, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * ml_normal(seed, i, 0, ML_RNG_DATA));
}

#endif
