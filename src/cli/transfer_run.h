/* The transfer sweep (schemes x levels x trials) shared by `memlev transfer` and demo. */
#ifndef ML_CLI_TRANSFER_RUN_H
#define ML_CLI_TRANSFER_RUN_H
#include <cjson/cJSON.h>
#include "memlev/study.h"

typedef struct transfer_req {
    const char *model_path, *data;
    const ml_device *dev;
    const char *device_name;
    const ml_scheme_type *schemes[4];
    int nschemes;
    int levels[64];
    int nlevels;
    int trials;
    int reprogram_cycles;   /* calibration amortised over this many programmings */
    ml_transfer_mode mode;
    int per_channel;
    size_t limit;
    uint64_t seed;
    size_t sample_devices;
    double relax_time;
    int batch;
    const char *json_path;   /* results are rewritten after every point (resumable) */
    const char *csv_path;
    int resume;
    int calib_per_device;    /* 1: every device calibrates itself; 0: one model */
    int verify_every;        /* feedforward hybrid */
} transfer_req;

/* Load, run and write results; returns 0 or 2 after printing the error. */
int transfer_run(const char *cmd, const transfer_req *r);
/* Parse "2,4,8" into levels (2..65536); returns count or -1. */
int parse_int_list(const char *s, int *out, int max);
#endif
