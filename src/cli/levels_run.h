/* The levels study (staircase, states, nonlinearity, cost) as a reusable step for
 * `memlev levels` and `memlev demo`. */
#ifndef ML_CLI_LEVELS_RUN_H
#define ML_CLI_LEVELS_RUN_H
#include <cjson/cJSON.h>
#include "memlev/program.h"

typedef struct levels_req {
    const ml_device *dev;
    ml_scheme scheme;
    int P, dir;
    size_t devices;
    uint64_t seed;
    double k, frac;
} levels_req;

/* Run the study; on success *json holds the result object (caller deletes). */
ml_status levels_run(const levels_req *r, cJSON **json, ml_error *err);
/* Print a one-line human summary of a result object. */
void levels_print(const cJSON *j);
#endif
