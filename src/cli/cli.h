/* Shared command-line plumbing: declarative options (also read from --config JSON),
 * generated --help, and the error convention (one line on stderr, exit status 2). */
#ifndef ML_CLI_H
#define ML_CLI_H

#include <stdio.h>
#include "memlev/error.h"

#define ML_VERSION_STRING "0.1.0"

/* OPT_OUT / OPT_OUTDIR: a file / folder the command writes (a const char *, like OPT_STR);
 * cli_parse checks it can be written (cli_check_output) before the command computes anything. */
typedef enum { OPT_STR, OPT_INT, OPT_DBL, OPT_FLAG, OPT_OUT, OPT_OUTDIR } cli_opt_type;

typedef struct cli_opt {
    const char *name;   /* long name without dashes, e.g. "devices" */
    cli_opt_type type;
    void *dst;          /* const char **, long *, double *, int * */
    const char *help;   /* what it is, with units and default */
    int seen;           /* set by the parser */
} cli_opt;

typedef struct cli_spec {
    const char *cmd;       /* "levels" */
    const char *synopsis;  /* one-line usage after "memlev levels" */
    const char *about;     /* one-line description */
    cli_opt *opts;         /* terminated by name == NULL */
    int max_positional;    /* 0: none allowed */
} cli_spec;

/* Parse argv (argv[0] is the command name). Positional arguments go to pos[] (up to
 * max_positional). Returns 0 to proceed, 1 when --help was printed (exit 0), 2 on error
 * (message already printed). Handles --quiet and --config FILE.json. */
int cli_parse(cli_spec *s, int argc, char **argv, char **pos, int *npos);
void cli_print_help(const cli_spec *s, FILE *f);

typedef enum { CLI_OUT_FILE, CLI_OUT_DIR, CLI_OUT_ANY } cli_out_kind;
/* Check that an output (the value of --opt) can be written before a long computation: its
 * folder exists and is writable, and the path is not a folder (CLI_OUT_FILE), is a folder or
 * can be made one (CLI_OUT_DIR), or either (CLI_OUT_ANY). Writes nothing. 0, or 2 after
 * printing "memlev CMD: --opt PATH: reason" (common.c). */
int cli_check_output(const char *cmd, const char *opt, const char *path, cli_out_kind kind);

/* Print "memlev CMD: message" and return 2. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print an ml_error and return 2. */
int cli_fail_err(const char *cmd, const ml_error *err);

/* OpenBLAS kernel set name (benchmark output); blas_env.c. */
const char *ml_cli_blas_core(void);

#endif
