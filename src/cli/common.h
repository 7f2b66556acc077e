/* Options and helpers shared by the device-programming subcommands. */
#ifndef ML_CLI_COMMON_H
#define ML_CLI_COMMON_H
#include <cjson/cJSON.h>
#include "cli/cli.h"
#include "memlev/nn.h"
#include "memlev/program.h"
#include "memlev/util.h"
#include "cli/progress.h"

typedef struct prog_opts {
    const char *device, *scheme, *direction, *calibrate, *grid;
    long devices, pulses, seed, verify_every, max_pulses, threads, ff_max_pulses;
    double v, width, tol, v_start, v_stop, coverage, target_uS, calib_budget;
    int modulate_width;
    const char *reset;   /* the reset procedure: once | settle | verify */
    long reset_max;
    double reset_tol;
} prog_opts;

void prog_opts_defaults(prog_opts *o);
/* Validate and turn options into a device and scheme (message names the option). */
int prog_opts_resolve(const char *cmd, const prog_opts *o, const char *scheme_name, ml_device *dev, ml_scheme *s,
                      int *dir);
/* Write a cJSON object atomically to path; returns 0 or 2 after printing the error. */
int cli_write_json(const char *cmd, const char *path, cJSON *root);
/* Apply --threads (0 = leave OpenMP's default). */
void cli_set_threads(long t);
/* Give a net just loaded or built the convolution engines MEMLEV_CONV asks for (read from
 * the environment once: "builtin" = memlev's own kernels, unset, empty or "auto" = oneDNN
 * where it applies); 0, or 2 after printing the error. */
int cli_net_conv(const char *cmd, ml_net *net);
/* cmd_check_model.c: print the unsupported ops of an ONNX model as one line on stderr;
 * returns their count, or -1 when the file is not a readable model (error printed). */
int cli_report_unsupported(const char *cmd, const char *model);

#define PROG_OPT_ENTRIES(o)                                                                                   \
    {"device", OPT_STR, &(o).device, "device preset (tio2x, agsi, taox-hfox, pcmo, alox-hfo2, serb-virtualarc) or JSON file [tio2x]", 0}, \
    {"scheme", OPT_STR, &(o).scheme, "identical | ramp | verify | feedforward [feedforward]", 0},              \
    {"devices", OPT_INT, &(o).devices, "number of simulated devices [100]", 0},                                \
    {"seed", OPT_INT, &(o).seed, "random seed [1]", 0},                                                       \
    {"direction", OPT_STR, &(o).direction, "up (potentiation) | down (depression) | auto (feedforward: both calibrated, the one a check run expects more states from kept; other schemes: up) [up]", 0},                 \
    {"v", OPT_DBL, &(o).v, "identical: pulse amplitude in V [0 = sweep/traverse the window]", 0},            \
    {"width", OPT_DBL, &(o).width, "pulse width in s [device default]", 0},                                   \
    {"modulate-width", OPT_FLAG, &(o).modulate_width, "ramp/feedforward: modulate width instead of amplitude", 0}, \
    {"v-start", OPT_DBL, &(o).v_start, "ramp: first amplitude in V (or width in s) [from calibration]", 0},   \
    {"v-stop", OPT_DBL, &(o).v_stop, "ramp: last amplitude in V (or width in s) [from calibration]", 0},     \
    {"tol", OPT_DBL, &(o).tol, "verify: tolerance as a fraction of the level spacing [0.25]", 0},             \
    {"max-pulses", OPT_INT, &(o).max_pulses, "verify: pulse cap per target [200]", 0},                        \
    {"verify-every", OPT_INT, &(o).verify_every, "feedforward: read and correct every K pulses [0 = never]", 0}, \
    {"calibrate", OPT_STR, &(o).calibrate, "device (each device calibrated) | population (one model) [device]", 0}, \
    {"calib-budget", OPT_DBL, &(o).calib_budget, "feedforward: calibration pulses per device; refinement runs of the schedule fill what characterisation leaves [0 = one run]; levels raises P only within it [0: 1100]", 0}, \
    {"ff-max-pulses", OPT_INT, &(o).ff_max_pulses, "feedforward: one-shot: every level from reset in at most K (1..256) pulses from the device's model, no reads [0 = walk the staircase]", 0}, \
    {"grid", OPT_STR, &(o).grid, "feedforward/verify: own (each device from its reset to its own top) | common (one absolute grid inside the window every device reaches) [own]", 0}, \
    {"coverage", OPT_DBL, &(o).coverage, "fraction of the calibrated window a staircase spans [0.95]", 0},   \
    {"target-uS", OPT_DBL, &(o).target_uS, "last level of the staircase in uS, inside the device window [from --coverage]", 0}, \
    {"reset", OPT_STR, &(o).reset, "reset procedure: once (one pulse) | settle (pulse until the reads stop moving) | verify (pulse until within --reset-tol of the bound) [once]", 0}, \
    {"reset-max", OPT_INT, &(o).reset_max, "reset: pulse cap [16]", 0},                                        \
    {"reset-tol", OPT_DBL, &(o).reset_tol, "reset: settle/verify tolerance as a fraction of the device window [0.01]", 0}, \
    {"threads", OPT_INT, &(o).threads, "OpenMP threads [all cores]; results do not depend on it", 0}

#endif
