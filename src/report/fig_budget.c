/* The calibration-budget figure: states against calibration pulses per device for levels
 * results of one scheme and device that differ in calibration cost, one line per pulse budget
 * P and verify stride (feedforward's --verify-every), points sorted by calibration cost. */
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <string.h>
#include "report/internal.h"

#define MAXS 16 /* series drawn */

static int same_group(const rep_levels *a, const rep_levels *b)
{
    return !strcmp(a->scheme, b->scheme) && !strcmp(a->device, b->device);
}

/* Whether result i has a partner of its scheme and device with another calibration cost. */
static int member(const ml_report *r, size_t i)
{
    for (size_t q = 0; q < r->nlv; q++)
        if (q != i && same_group(&r->lv[q], &r->lv[i]) && r->lv[q].calib_pulses != r->lv[i].calib_pulses) return 1;
    return 0;
}

int rep_budget_drawn(const ml_report *r)
{
    for (size_t i = 0; i < r->nlv; i++)
        if (member(r, i)) return 1;
    return 0;
}

static int same_series(const rep_levels *a, const rep_levels *b)
{
    return same_group(a, b) && a->pulses == b->pulses && a->verify_every == b->verify_every;
}

void rep_fig_budget(const ml_report *r, const void *arg)
{
    (void)arg;
    size_t first[MAXS], ns = 0, ngroups = 0;
    double xmin = INFINITY, xmax = -INFINITY, ymax = 1;
    for (size_t i = 0; i < r->nlv; i++) {
        if (!member(r, i)) continue;
        const rep_levels *l = &r->lv[i];
        int seen = 0, group_seen = 0;
        for (size_t s = 0; s < ns; s++) {
            seen |= same_series(&r->lv[first[s]], l);
            group_seen |= same_group(&r->lv[first[s]], l);
        }
        if (!group_seen) ngroups++;
        if (!seen) {
            if (ns == MAXS) continue;
            first[ns++] = i;
        }
        xmin = fmin(xmin, l->calib_pulses);
        xmax = fmax(xmax, l->calib_pulses);
        ymax = fmax(ymax, fmax(l->states, l->states_pop));
    }
    if (!ns) return;
    /* a linear cost axis (a log one labels only decades over the factor of ~30 budgets span);
     * headroom above the lines for the legend */
    double pad = 0.05 * (xmax - xmin);
    pladv(0);
    rep_axes(0.1, 0.97, 0.11, 0.91, fmax(0, xmin - pad), xmax + pad, 0, ymax * 1.45, "bcnst", 0, "bcnstv");
    pllab("calibration pulses per device", "states",
          "States against calibration budget (solid: states; dashed: states_population)");
    char text[MAXS][192];
    const char *txt[MAXS];
    int col[MAXS], sty[MAXS];
    for (size_t s = 0; s < ns; s++) {
        const rep_levels *f = &r->lv[first[s]];
        double x[64], ys[64], yp[64];
        size_t m = 0;
        int pop = 1;
        for (size_t i = 0; i < r->nlv && m < 64; i++) {
            const rep_levels *l = &r->lv[i];
            if (!member(r, i) || !same_series(f, l)) continue;
            size_t k = m++; /* insertion by calibration cost */
            while (k > 0 && x[k - 1] > l->calib_pulses) {
                x[k] = x[k - 1]; ys[k] = ys[k - 1]; yp[k] = yp[k - 1];
                k--;
            }
            x[k] = l->calib_pulses; ys[k] = l->states; yp[k] = l->states_pop;
            pop &= l->states_pop >= 0;
        }
        col[s] = s < 5 ? 3 + (int)s : REP_GREY;
        sty[s] = 1;
        plcol0(col[s]);
        plwidth(2.2); pllsty(1);
        plline((PLINT)m, x, ys);
        plssym(0, 1.4);
        plpoin((PLINT)m, x, ys, 17);
        if (pop) {
            plwidth(1.4); pllsty(2);
            plline((PLINT)m, x, yp);
            plssym(0, 1.0);
            plpoin((PLINT)m, x, yp, 17);
        }
        char pre[96] = "", p[24] = "P ?";
        if (ngroups > 1) snprintf(pre, sizeof pre, "%.44s %.44s, ", f->scheme, f->device);
        if (f->pulses >= 0 && f->pulses < 1e9) snprintf(p, sizeof p, "P %.0f", f->pulses);
        if (f->verify_every < 0) snprintf(text[s], sizeof text[s], "%s%s", pre, p);
        else if (f->verify_every == 0) snprintf(text[s], sizeof text[s], "%s%s, open loop", pre, p);
        else snprintf(text[s], sizeof text[s], "%s%s, --verify-every %d", pre, p,
                      f->verify_every < 1e9 ? (int)f->verify_every : 999999999);
        txt[s] = text[s];
    }
    plwidth(1.0); pllsty(1); plssym(0, 1.0);
    rep_legend((int)ns, txt, col, sty, 0);
}
