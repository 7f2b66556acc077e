/* Monotonic wall clock for throughput figures. */
#include <time.h>
#include "memlev/util.h"

double ml_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
