/* Progress bars on stderr for the command-line tool (and the benchmarks): the drawing,
 * the --quiet flag, and the ml_progress_fn callback the CLI hands to library calls. */
#ifndef ML_CLI_PROGRESS_H
#define ML_CLI_PROGRESS_H

/* One bar with rate and ETA; silent when stderr is not a terminal or --quiet was given. */
typedef struct cli_progress {
    const char *label;
    double total;
    double start_s, last_s;
    int enabled, begun;
} cli_progress;

void cli_progress_begin(cli_progress *p, const char *label, double total);
void cli_progress_update(cli_progress *p, double done);
/* Finish the bar (a no-op for a bar that never began or is disabled). */
void cli_progress_end(cli_progress *p);

/* ml_progress_fn for library calls: ctx is a zero-initialised cli_progress; the bar
 * begins on the first report (label and total from the library) and is redrawn on each;
 * the caller ends it with cli_progress_end. */
void cli_progress_cb(void *ctx, const char *label, double done, double total);

/* --quiet: no bars at all. Process-wide by design: only the CLI sets it. */
void cli_set_quiet(int quiet);
int cli_quiet(void);

#endif
