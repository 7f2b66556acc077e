/* Progress bar with rate and ETA on stderr, only for interactive terminals and without
 * --quiet; the library reports through ml_progress_fn and this file draws. */
#include <stdio.h>
#include <unistd.h>
#include "cli/progress.h"
#include "memlev/util.h"

static int g_quiet;

void cli_set_quiet(int quiet) { g_quiet = quiet; }
int cli_quiet(void) { return g_quiet; }

void cli_progress_begin(cli_progress *p, const char *label, double total)
{
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->start_s = p->last_s = ml_now();
    p->enabled = !g_quiet && isatty(2);
    p->begun = 1;
}

void cli_progress_update(cli_progress *p, double done)
{
    if (!p->enabled)
        return;
    double t = ml_now();
    if (t - p->last_s < 0.2 && done < p->total)
        return;
    p->last_s = t;
    double el = t - p->start_s, frac = done / p->total;
    if (frac > 1) frac = 1;
    double rate = el > 0 ? done / el : 0, eta = rate > 0 ? (p->total - done) / rate : 0;
    int w = 30, fill = (int)(frac * w);
    fprintf(stderr, "\r%-18s [", p->label);
    for (int i = 0; i < w; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %5.1f%% %9.3g/s ETA %5.0fs ", 100 * frac, rate, eta);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (!p->begun || !p->enabled)
        return;
    cli_progress_update(p, p->total);
    fprintf(stderr, " %.1fs\n", ml_now() - p->start_s);
    p->begun = 0;
}

void cli_progress_cb(void *ctx, const char *label, double done, double total)
{
    cli_progress *p = ctx;
    if (!p->begun)
        cli_progress_begin(p, label, total);
    cli_progress_update(p, done);
}
