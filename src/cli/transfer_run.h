/* The transfer sweep (schemes x levels x trials) shared by `memlev transfer` and demo. */
#ifndef ML_CLI_TRANSFER_RUN_H
#define ML_CLI_TRANSFER_RUN_H
#include <cjson/cJSON.h>
#include "memlev/study.h"

/* A `memlev transfer` request: the library's study options plus what only the CLI knows
 * (files, names, resumption). study.levels points into levels; transfer_run fills in the
 * study's resumption fields and callbacks. */
typedef struct transfer_req {
    ml_transfer_study_opts study;
    int levels[64];          /* study.levels == levels */
    const char *model_path, *data;
    const char *device_name;
    const char *json_path;   /* results are rewritten after every point (resumable) */
    const char *csv_path;
    int resume;

} transfer_req;

/* Load, run and write results; returns 0 or 2 after printing the error. */
int transfer_run(const char *cmd, const transfer_req *r);
/* Parse "2,4,8" into levels (2..65536); returns count or -1. */
int parse_int_list(const char *s, int *out, int max);
#endif
