/* Figures from transfer results: accuracy vs levels with 95 % CI per scheme against the
 * float baseline, and pulses per device vs levels. */
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "report/internal.h"

#define MAXS 8

/* Distinct schemes in order of appearance. */
static int schemes(const rep_transfer *t, const char **names)
{
    int ns = 0;
    for (size_t i = 0; i < t->n; i++) {
        int found = 0;
        for (int q = 0; q < ns; q++)
            if (!strcmp(names[q], t->pts[i].scheme)) found = 1;
        if (!found && ns < MAXS) names[ns++] = t->pts[i].scheme;
    }
    return ns;
}

/* Points of one scheme sorted by levels (insertion sort; a few dozen points). */
static size_t collect(const rep_transfer *t, const char *s, const rep_point **out)
{
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->pts[i].scheme, s)) continue;
        size_t j = m++;
        while (j > 0 && out[j - 1]->levels > t->pts[i].levels) { out[j] = out[j - 1]; j--; }
        out[j] = &t->pts[i];
    }
    return m;
}

static void pow2_label(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    snprintf(label, (size_t)length, "%.0f", pow(2, value));
}

static void level_axis(const rep_transfer *t, double *x0, double *x1)
{
    *x0 = INFINITY; *x1 = -INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        *x0 = fmin(*x0, log2(t->pts[i].levels));
        *x1 = fmax(*x1, log2(t->pts[i].levels));
    }
    *x0 -= 0.4; *x1 += 0.4;
}

void rep_fig_accuracy(const ml_report *r, const void *arg)
{
    const rep_transfer *t = arg;
    const char *names[MAXS + 2];
    int ns = schemes(t, names);
    const rep_point **pts = ml__malloc((t->n ? t->n : 1) * sizeof *pts);
    double *x = ml__malloc((t->n ? t->n : 1) * sizeof *x), *y = ml__malloc((t->n ? t->n : 1) * sizeof *y);
    double *lo = ml__malloc((t->n ? t->n : 1) * sizeof *lo), *hi = ml__malloc((t->n ? t->n : 1) * sizeof *hi);
    if (!pts || !x || !y || !lo || !hi) goto out;
    double x0, x1, ymin = t->baseline * 100, ymax = t->baseline * 100;
    level_axis(t, &x0, &x1);
    for (size_t i = 0; i < t->n; i++) {
        const rep_point *p = &t->pts[i];
        ymin = fmin(ymin, fmin(100 * (p->acc - p->ci95), 100 * p->qacc));
        ymax = fmax(ymax, fmax(100 * (p->acc + p->ci95), 100 * p->qacc));
    }
    double pad = 0.06 * (ymax - ymin) + 0.5;
    ymin = fmax(0, ymin - pad); ymax = fmin(100, ymax + pad);
    pladv(0);
    plslabelfunc(pow2_label, NULL);
    rep_axes(0.1, 0.97, 0.11, 0.91, x0, x1, ymin, ymax, "bcnsto", 1.0, "bcnstv");
    plslabelfunc(NULL, NULL);
    pllab("levels per device (log scale)", "test accuracy (%)",
          "Accuracy vs levels: mean ± 95 % CI over trials (dotted: quantised, no device noise)");
    int lc[MAXS + 2], lsty[MAXS + 2];
    const char *lt[MAXS + 2];
    for (int s = 0; s < ns; s++) {
        size_t m = collect(t, names[s], pts);
        double off = ((double)s - (ns - 1) / 2.0) * 0.06;
        for (size_t i = 0; i < m; i++) {
            x[i] = log2(pts[i]->levels) + off;
            y[i] = 100 * pts[i]->acc;
            lo[i] = 100 * (pts[i]->acc - pts[i]->ci95);
            hi[i] = 100 * (pts[i]->acc + pts[i]->ci95);
        }
        int c = rep_scheme_colour(names[s]);
        plcol0(c);
        plwidth(2.0);
        plline((PLINT)m, x, y);
        plerry((PLINT)m, x, lo, hi);
        plpoin((PLINT)m, x, y, 17);
        for (size_t i = 0; i < m; i++) y[i] = 100 * pts[i]->qacc;
        plwidth(1.2);
        pllsty(3);
        plline((PLINT)m, x, y);
        pllsty(1);
        lc[s] = c; lsty[s] = 1; lt[s] = names[s];
    }
    plcol0(REP_GREY);
    plwidth(1.5);
    pllsty(2);
    plline(2, (double[]){x0, x1}, (double[]){t->baseline * 100, t->baseline * 100});
    pllsty(1);
    plwidth(1.0);
    lc[ns] = REP_GREY; lsty[ns] = 2; lt[ns] = "float baseline";
    rep_legend(ns + 1, lt, lc, lsty, 1);
out:
    ml__free(pts); ml__free(x); ml__free(y); ml__free(lo); ml__free(hi);
}

void rep_fig_transfer_cost(const ml_report *r, const void *arg)
{
    const rep_transfer *t = arg;
    const char *names[MAXS];
    int ns = schemes(t, names);
    const rep_point **pts = ml__malloc((t->n ? t->n : 1) * sizeof *pts);
    double *x = ml__malloc((t->n ? t->n : 1) * sizeof *x), *y = ml__malloc((t->n ? t->n : 1) * sizeof *y);
    if (!pts || !x || !y) goto out;
    double x0, x1, ymax = 1;
    level_axis(t, &x0, &x1);
    for (size_t i = 0; i < t->n; i++) ymax = fmax(ymax, t->pts[i].ppd);
    pladv(0);
    plslabelfunc(pow2_label, NULL);
    rep_axes(0.1, 0.97, 0.14, 0.9, x0, x1, 0, ymax * 1.1, "bcnsto", 1.0, "bcnstv");
    plslabelfunc(NULL, NULL);
    pllab("levels per device (log scale)", "pulses per device", "Programming cost of a network: pulses per device");
    int lc[MAXS], lsty[MAXS];
    const char *lt[MAXS];
    for (int s = 0; s < ns; s++) {
        size_t m = collect(t, names[s], pts);
        for (size_t i = 0; i < m; i++) { x[i] = log2(pts[i]->levels); y[i] = pts[i]->ppd; }
        int c = rep_scheme_colour(names[s]);
        plcol0(c); plwidth(2.0);
        plline((PLINT)m, x, y);
        plpoin((PLINT)m, x, y, 17);
        lc[s] = c; lsty[s] = 1; lt[s] = names[s];
    }
    plwidth(1.0);
    rep_legend(ns, lt, lc, lsty, 0);
out:
    ml__free(pts); ml__free(x); ml__free(y);
}
