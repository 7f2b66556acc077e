/* Figures from levels results: staircases with device bands, step sizes, the most crowded
 * levels against k sigma_read, states per scheme, the identical amplitude sweep, cost. */
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "report/internal.h"

#define MAXF 16

/* Line style per result: 1 for the first of a colour, dashed for repeats. */
static void styles(const ml_report *r, int *col, int *sty, const char **txt)
{
    size_t n = r->nlv < MAXF ? r->nlv : MAXF;
    for (size_t i = 0; i < n; i++) {
        col[i] = rep_scheme_colour(r->lv[i].scheme);
        sty[i] = 1;
        for (size_t q = 0; q < i; q++)
            if (col[q] == col[i]) sty[i]++;
        if (sty[i] > 8) sty[i] = 8;
        txt[i] = r->lv[i].label;
    }
}

static size_t nshown(const ml_report *r) { return r->nlv < MAXF ? r->nlv : MAXF; }

void rep_fig_staircase(const ml_report *r, const void *arg)
{
    int col[MAXF], sty[MAXF];
    const char *txt[MAXF];
    size_t n = nshown(r);
    styles(r, col, sty, txt);
    double xmax = 1, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        xmax = fmax(xmax, (double)(l->npts - 1));
        for (size_t k = 0; k < l->npts; k++) {
            ymin = fmin(ymin, fmin(l->p05[k], l->g_mean[k]));
            ymax = fmax(ymax, fmax(l->p95[k], l->g_mean[k]));
        }
    }
    double pad = 0.04 * (ymax - ymin);
    pladv(0);
    rep_axes(0.1, 0.97, 0.11, 0.91, 0, xmax, ymin - pad, ymax + pad, "bcnst", 0, "bcnstv");
    pllab("pulse number", "conductance (µS)", "Conductance vs pulse number (line: mean; band: 5-95 % of devices)");
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        size_t m = l->npts;
        double *x = ml__malloc(2 * m * sizeof *x), *y = ml__malloc(2 * m * sizeof *y);
        if (!x || !y) { ml__free(x); ml__free(y); continue; }
        for (size_t k = 0; k < m; k++) {
            x[k] = (double)k; y[k] = l->p95[k];
            x[2 * m - 1 - k] = (double)k; y[2 * m - 1 - k] = l->p05[k];
        }
        plcol0(rep_band_colour(col[i]));
        plfill((PLINT)(2 * m), x, y);
        ml__free(x); ml__free(y);
    }
    for (size_t j = n; j-- > 0;) {
        size_t i = j;
        const rep_levels *l = &r->lv[i];
        double *x = ml__malloc(l->npts * sizeof *x);
        if (!x) continue;
        for (size_t k = 0; k < l->npts; k++) x[k] = (double)k;
        plcol0(col[i]); pllsty(sty[i]); plwidth(2.2);
        plline((PLINT)l->npts, x, l->g_mean);
        ml__free(x);
    }
    plwidth(1.0); pllsty(1);
    rep_legend((int)n, txt, col, sty, 1);
}

void rep_fig_steps(const ml_report *r, const void *arg)
{
    int col[MAXF], sty[MAXF];
    const char *txt[MAXF];
    size_t n = nshown(r);
    styles(r, col, sty, txt);
    double xmax = 1, ymin = 0, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        xmax = fmax(xmax, (double)(l->npts - 1));
        for (size_t k = 1; k < l->npts; k++) {
            ymin = fmin(ymin, l->step[k] * 1e3);
            ymax = fmax(ymax, l->step[k] * 1e3);
        }
    }
    pladv(0);
    rep_axes(0.1, 0.97, 0.11, 0.91, 0, xmax, ymin, ymax * 1.06, "bcnst", 0, "bcnstv");
    pllab("pulse number", "mean step (nS)", "Conductance step per pulse (mean over devices)");
    /* last first: in the demo's order the noisy verify steps then lie under feedforward's */
    for (size_t j = n; j-- > 0;) {
        size_t i = j;
        const rep_levels *l = &r->lv[i];
        size_t m = l->npts - 1;
        double *x = ml__malloc(m * sizeof *x), *y = ml__malloc(m * sizeof *y);
        if (!x || !y) { ml__free(x); ml__free(y); continue; }
        for (size_t k = 0; k < m; k++) { x[k] = (double)(k + 1); y[k] = l->step[k + 1] * 1e3; }
        plcol0(col[i]); pllsty(sty[i]); plwidth(1.8);
        plline((PLINT)m, x, y);
        ml__free(x); ml__free(y);
    }
    plwidth(1.0); pllsty(1);
    rep_legend((int)n, txt, col, sty, 0);
}

/* Window of w steps where the staircase is most crowded (smallest total rise). */
static size_t crowded(const rep_levels *l, size_t w)
{
    size_t best = 0;
    double bd = INFINITY;
    for (size_t k = 0; k + w < l->npts; k++) {
        double d = fabs(l->g_mean[k + w] - l->g_mean[k]);
        if (d < bd) { bd = d; best = k; }
    }
    return best;
}

void rep_fig_levels(const ml_report *r, const void *arg)
{
    size_t n = nshown(r);
    pladv(0);
    double top = 0.95, bottom = 0.06, hgt = (top - bottom) / (double)n;
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        int c = rep_scheme_colour(l->scheme);
        size_t w = l->npts - 1 < 12 ? l->npts - 1 : 12, k0 = crowded(l, w);
        double ks = l->k * l->sigma_uS, ymin = INFINITY, ymax = -INFINITY;
        for (size_t k = k0; k <= k0 + w; k++) {
            ymin = fmin(ymin, l->g_mean[k] - ks / 2);
            ymax = fmax(ymax, l->g_mean[k] + ks / 2);
        }
        double pad = 0.05 * (ymax - ymin);
        /* gaps for the titles and tick labels; smaller with many panels, where the fixed
         * ones would leave a panel no height (PLplot then refuses to draw) */
        double gap = fmin(0.075, 0.4 * hgt), head = fmin(0.03, 0.15 * hgt);
        double vy1 = top - hgt * (double)i, vy0 = vy1 - hgt + gap;
        rep_axes(0.12, 0.97, vy0, vy1 - head, (double)k0 - 0.6, (double)(k0 + w) + 0.6, ymin - pad, ymax + pad, "bcnst", 0,
                 "bcnstv");
        char t[320];
        snprintf(t, sizeof t, "%s: pulses %zu-%zu, k·σ(read) = %.3g nS", l->label, k0, k0 + w, ks * 1e3);
        plmtex("t", 0.8, 0.0, 0.0, t);
        plmtex("l", 5.0, 0.5, 0.5, "G (µS)");
        if (i == n - 1) plmtex("b", 2.6, 0.5, 0.5, "pulse number (programmed level)");
        for (size_t k = k0; k <= k0 + w; k++) {
            double x[4] = {k - 0.45, k + 0.45, k + 0.45, k - 0.45};
            double y[4] = {l->g_mean[k] - ks / 2, l->g_mean[k] - ks / 2, l->g_mean[k] + ks / 2, l->g_mean[k] + ks / 2};
            plcol0(rep_band_colour(c));
            plfill(4, x, y);
            plcol0(c);
            plline(4, x, y);
        }
        plcol0(c);
        for (size_t k = k0; k <= k0 + w; k++) {
            double x = (double)k, m = l->g_mean[k];
            plpoin(1, &x, &m, 17);
        }
    }
    plcol0(REP_FG);
}

static void bar(double x0, double x1, double y0, double y1, int colour)
{
    double x[4] = {x0, x1, x1, x0}, y[4] = {y0, y0, y1, y1};
    plcol0(colour);
    plfill(4, x, y);
    plcol0(REP_FG);
    plline(4, x, y);
    plline(2, (double[]){x0, x0}, (double[]){y0, y1});
}

static void group_labels(const ml_report *r, size_t n)
{
    plschr(0, 0.85);
    for (size_t i = 0; i < n; i++)
        plmtex("b", 1.4, ((double)i + 0.5) / (double)n, 0.5, r->lv[i].label);
    plschr(0, 0.95);
}

void rep_fig_states(const ml_report *r, const void *arg)
{
    size_t n = nshown(r);
    double ymax = 2, budget = 0;
    for (size_t i = 0; i < n; i++) {
        ymax = fmax(ymax, fmax(r->lv[i].states, r->lv[i].staircase_states));
        budget = fmax(budget, (double)r->lv[i].npts);
    }
    ymax = fmax(ymax, budget) * 1.15;
    pladv(0);
    rep_axes(0.1, 0.97, 0.17, 0.9, 0, (double)n, 0, ymax, "bc", 0, "bcnstv");
    char v[64];
    snprintf(v, sizeof v, "Distinguishable states (budget P + 1 = %.0f, dashed)", budget);
    pllab("", "states", v);
    group_labels(r, n);
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        int c = rep_scheme_colour(l->scheme);
        bar(i + 0.12, i + 0.5, 0, l->states, c);
        bar(i + 0.5, i + 0.88, 0, l->staircase_states, rep_band_colour(c));
        snprintf(v, sizeof v, "%.0f", l->states);
        plptex(i + 0.31, l->states + ymax * 0.03, 1, 0, 0.5, v);
        snprintf(v, sizeof v, "%.0f", l->staircase_states);
        plptex(i + 0.69, l->staircase_states + ymax * 0.03, 1, 0, 0.5, v);
    }
    plcol0(REP_GREY);
    pllsty(2);
    plline(2, (double[]){0, (double)n}, (double[]){budget, budget});
    pllsty(1);
    plcol0(REP_FG);
    plschr(0, 0.85);
    plmtex("b", 3.4, 0.5, 0.5, "solid: uniform levels (states)    light: staircase states (ArC rule)");
    plschr(0, 0.95);
}

void rep_fig_sweep(const ml_report *r, const void *arg)
{
    double vmin = INFINITY, vmax = -INFINITY, smax = 1;
    int col[MAXF], sty[MAXF], lc[MAXF], ls[MAXF];
    const char *txt[MAXF], *lt[MAXF];
    size_t n = nshown(r);
    int nl = 0;
    styles(r, col, sty, txt);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->lv[i].nsweep; k++) {
            vmin = fmin(vmin, r->lv[i].sw_v[k]);
            vmax = fmax(vmax, r->lv[i].sw_v[k]);
            smax = fmax(smax, r->lv[i].sw_states[k]);
        }
    pladv(0);
    rep_axes(0.1, 0.90, 0.11, 0.91, vmin, vmax, 0, smax * 1.1, "bnst", 0, "bnstv");
    pllab("pulse amplitude (V)", "states", "Fixed-amplitude sweep: states (solid) and window coverage (dashed)");
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        if (!l->nsweep) continue;
        plcol0(col[i]); plwidth(2.0); pllsty(1);
        plline((PLINT)l->nsweep, l->sw_v, l->sw_states);
        plpoin((PLINT)l->nsweep, l->sw_v, l->sw_states, 17);
        lc[nl] = col[i]; ls[nl] = 1; lt[nl++] = l->label;
    }
    plwind(vmin, vmax, 0, 105);
    plcol0(REP_FG); plwidth(1.0);
    plbox("", 0, 0, "cmstv", 0, 0);
    plmtex("r", 3.5, 0.5, 0.5, "coverage of the window (%)");
    for (size_t i = 0; i < n; i++) {
        const rep_levels *l = &r->lv[i];
        if (!l->nsweep) continue;
        double *y = ml__malloc(l->nsweep * sizeof *y);
        if (!y) continue;
        for (size_t k = 0; k < l->nsweep; k++) y[k] = 100 * l->sw_cov[k];
        plcol0(col[i]); pllsty(2); plwidth(1.5);
        plline((PLINT)l->nsweep, l->sw_v, y);
        ml__free(y);
    }
    pllsty(1); plwidth(1.0);
    rep_legend(nl, lt, lc, ls, 0);
}

void rep_fig_cost(const ml_report *r, const void *arg)
{
    size_t n = nshown(r);
    double emax = 0;
    for (size_t i = 0; i < n; i++) emax = fmax(emax, r->lv[i].eps);
    double escale = emax < 1e-9 ? 1e12 : emax < 1e-6 ? 1e9 : 1e6;
    const char *eunit = emax < 1e-9 ? "energy per state (pJ)" : emax < 1e-6 ? "energy per state (nJ)" : "energy per state (µJ)";
    const char *titles[3] = {"pulses per state", "verify reads per state", eunit};
    pladv(0);
    for (int p = 0; p < 3; p++) {
        double vmax = 0;
        for (size_t i = 0; i < n; i++) {
            const rep_levels *l = &r->lv[i];
            double v = p == 0 ? l->pps : p == 1 ? l->rps : l->eps * escale;
            vmax = fmax(vmax, v);
        }
        if (vmax <= 0) vmax = 1;
        double x0 = 0.07 + p * 0.325;
        rep_axes(x0, x0 + 0.25, 0.16, 0.86, 0, (double)n, 0, vmax * 1.18, "bc", 0, "bcnstv");
        plmtex("t", 1.0, 0.5, 0.5, titles[p]);
        plschr(0, 0.8);
        for (size_t i = 0; i < n; i++) {
            const rep_levels *l = &r->lv[i];
            double v = p == 0 ? l->pps : p == 1 ? l->rps : l->eps * escale;
            bar(i + 0.15, i + 0.85, 0, v, rep_scheme_colour(l->scheme));
            char s[32];
            snprintf(s, sizeof s, "%.3g", v);
            plptex(i + 0.5, v + vmax * 0.045, 1, 0, 0.5, s);
            plmtex("b", 1.2 + 1.1 * (double)(i % 2), ((double)i + 0.5) / (double)n, 0.5, l->label);
        }
        plschr(0, 0.95);
    }
}
