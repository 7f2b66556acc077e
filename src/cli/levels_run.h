/* The levels study's JSON for `memlev levels` and `memlev demo`. */
#ifndef ML_CLI_LEVELS_RUN_H
#define ML_CLI_LEVELS_RUN_H
#include <cjson/cJSON.h>
#include "memlev/study.h"

/* Run ml_levels_study with a progress bar; on success *json holds the result object
 * (caller deletes). */
ml_status levels_run(const ml_levels_study_opts *r, cJSON **json, ml_error *err);
/* Print a one-line human summary of a result object. */
void levels_print(const cJSON *j);
#endif
