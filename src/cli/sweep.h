/* memlev sweep: a grid of transfer (or levels) studies run serially or under MPI. Types and
 * functions shared by the sweep files: config (sweep_config.c), grid (sweep_grid.c), journal
 * (sweep_journal.c), scheduling (sweep_mpi.c), the one point adapter (sweep_point.c) and
 * output (sweep_output.c). CLI-only code: errors are one-line messages, exit status 2. */
#ifndef ML_CLI_SWEEP_H
#define ML_CLI_SWEEP_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "memlev/device.h"
#include "memlev/error.h"

#define SWEEP_MAX_AXES 32
#define SWEEP_MAX_POINTS 1000000

typedef enum { SW_STR, SW_INT, SW_NUM, SW_BOOL } sweep_kind;

/* One config key: its values (always a non-empty array after loading). */
typedef struct sweep_axis {
    const char *key;    /* config key, e.g. "devices" */
    const char *out;    /* key in an output point, e.g. "device" */
    sweep_kind kind;
    const cJSON *values; /* array inside sweep_config.echo */
    int n;
    int seeded;         /* 1: the value enters the point's seed hash */
} sweep_axis;

typedef struct sweep_config {
    cJSON *echo;        /* every key with its values as arrays (defaults filled in) */
    int levels_only;
    sweep_axis axes[SWEEP_MAX_AXES];
    int naxes;
    ml_device *devs;    /* one loaded device per value of "devices" */
    int ndevs;
    size_t npoints;
} sweep_config;

/* Write a one-line message into msg (n bytes) and return 2, the CLI's status for bad input. */
int sweep_fail(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Load and validate a config file. On failure msg holds one line naming the file and key
 * and the function returns 2; c is then empty. */
int sweep_config_load(const char *path, sweep_config *c, char *msg, size_t msgsize);
void sweep_config_free(sweep_config *c);
/* The axis for a key, or NULL when the key does not apply to this sweep. */
const sweep_axis *sweep_axis_find(const sweep_config *c, const char *key);

/* One point of the grid. */
typedef struct sweep_point {
    size_t index;             /* position in grid order */
    cJSON *coords;            /* output key -> value, in axis order (owned) */
    uint64_t seed;            /* derived from the base seed and the coordinates */
    const sweep_config *cfg;
    const ml_device *dev;
} sweep_point;

/* Fill p with point `index` (0 <= index < c->npoints); free with sweep_point_clear. */
int sweep_point_make(const sweep_config *c, size_t index, sweep_point *p);
void sweep_point_clear(sweep_point *p);
/* Coordinate value of point p for an output key (NULL when absent). */
const cJSON *sweep_coord(const sweep_point *p, const char *out_key);

/* Run one point: the only place where a sweep calls the study code. On success *result
 * holds the output point (coordinates, "point_seed" and the study's keys; caller deletes). */
int sweep_point_run(const sweep_point *p, cJSON **result, ml_error *err);
/* Free the model and data set the point adapter keeps loaded between points. */
void sweep_point_cache_free(void);

/* Journal of finished points, "<json>.journal": a header line with the config, then one
 * JSON line per finished point, each fsync'd. */
typedef struct sweep_journal {
    char path[4096];
    int fd;
} sweep_journal;
/* Open for a new sweep (fails if a journal exists: message says to --resume) or, with resume,
 * read finished points back into done[] (npoints entries, owned by the caller, NULL =
 * not finished). A torn last line is dropped. Returns 0 or 2 with msg set. */
int sweep_journal_open(sweep_journal *j, const char *json_path, const sweep_config *c, int resume, cJSON **done,
                       char *msg, size_t msgsize);
/* Append one finished point (index and output object) durably; 0 or 2 with msg set. */
int sweep_journal_append(sweep_journal *j, size_t index, const cJSON *point, char *msg, size_t msgsize);
/* Close; with remove set the journal file is deleted (the sweep's outputs are written). */
void sweep_journal_close(sweep_journal *j, int remove_file);

/* Scheduling: called on rank 0 for every finished point, in finishing order. Returns 0 to
 * go on, non-zero to stop handing out points. */
typedef int (*sweep_done_fn)(void *ctx, size_t index, cJSON *point, int rank, double wall_s);
typedef struct sweep_comm {
    int rank, size, mpi; /* mpi: 1 when MPI_Init was called */
} sweep_comm;
/* Start MPI when built with it and launched by mpirun/srun; else rank 0 of 1. Returns 0, or
 * 2 after printing why (e.g. launched as many ranks by a build without MPI). */
int sweep_comm_init(sweep_comm *m, int *argc, char ***argv);
void sweep_comm_finalize(sweep_comm *m);
/* Combine a status over ranks (the largest wins) so that every rank exits alike. */
int sweep_comm_agree(const sweep_comm *m, int rc);
/* Run every point with todo[i] set: serially on a single rank, else rank 0 hands points out
 * to ranks 1..size-1 one at a time. Returns 0, or 2 when a point failed or done() stopped. */
int sweep_execute(const sweep_comm *m, const sweep_config *c, const unsigned char *todo, sweep_done_fn done,
                  void *ctx);

/* Outputs, written atomically: {"config", "points", "complete"} and optionally a CSV. */
int sweep_write_outputs(const sweep_config *c, cJSON *const *points, const char *json_path, const char *csv_path,
                        char *msg, size_t msgsize);
#endif
