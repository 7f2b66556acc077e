/* Shared command-line plumbing: declarative options (also read from --config JSON),
 * generated --help, and the error convention (one line on stderr, exit status 2). */
#ifndef ML_CLI_H
#define ML_CLI_H

#include <stdio.h>
#include "memlev/error.h"

#define ML_VERSION_STRING "0.1.0"

typedef enum { OPT_STR, OPT_INT, OPT_DBL, OPT_FLAG } cli_opt_type;

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

/* Print "memlev CMD: message" and return 2. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print an ml_error and return 2. */
int cli_fail_err(const char *cmd, const ml_error *err);

/* OpenBLAS kernel set name (benchmark output); blas_env.c. */
const char *ml_cli_blas_core(void);

#endif
