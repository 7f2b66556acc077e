/* Progress bar with rate and ETA on stderr, only for interactive terminals. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "memlev/util.h"

static int g_quiet;

void ml_set_quiet(int quiet) { g_quiet = quiet; }
int ml_get_quiet(void) { return g_quiet; }

double ml_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ml_progress_begin(ml_progress *p, const char *label, double total, int quiet)
{
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->start_s = p->last_s = ml_now();
    p->enabled = !quiet && !g_quiet && isatty(2);
}

void ml_progress_update(ml_progress *p, double done)
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

void ml_progress_end(ml_progress *p)
{
    if (!p->enabled)
        return;
    ml_progress_update(p, p->total);
    fprintf(stderr, " %.1fs\n", ml_now() - p->start_s);
}
