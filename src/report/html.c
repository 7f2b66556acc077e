/* The HTML page: self-contained (inline style, images beside it, no scripts or network),
 * a summary table per scheme, the figures by section and the transfer tables. */
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "report/internal.h"

void rep_buf_printf(rep_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0) { b->oom = 1; return; }
        if (b->s && (size_t)w < room) { b->n += (size_t)w; return; }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + (size_t)w + 1) cap *= 2;
        char *s = ml__realloc(b->s, cap);
        if (!s) { b->oom = 1; return; }
        b->s = s;
        b->cap = cap;
    }
}

void rep_buf_escape(rep_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': rep_buf_printf(b, "&lt;"); break;
        case '>': rep_buf_printf(b, "&gt;"); break;
        case '&': rep_buf_printf(b, "&amp;"); break;
        case '"': rep_buf_printf(b, "&quot;"); break;
        case '\'': rep_buf_printf(b, "&#39;"); break;
        default: rep_buf_printf(b, "%c", *s);
        }
    }
}

static const char *style =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}"
    "h1{font-size:1.7em;margin-bottom:0.2em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:1.8em}"
    ".wide{max-width:100%;overflow-x:auto}code{overflow-wrap:anywhere}"
    "table{border-collapse:collapse;margin:12px 0;font-size:0.92em}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f2f2f2}"
    "td:first-child,th:first-child{text-align:left}"
    "figure{margin:16px 0}figure img{max-width:100%;border:1px solid #ddd}"
    "figcaption{font-size:0.9em;color:#444;margin-top:4px}.note{color:#555;font-size:0.9em}"
    ".no{color:#b00}";

/* a conductance in uS, written in the unit that fits it (nS below 1 uS) */
static void siemens(rep_buf *b, double uS)
{
    if (fabs(uS) < 1) rep_buf_printf(b, "%.2f&nbsp;nS", uS * 1e3);
    else rep_buf_printf(b, "%.2f&nbsp;&micro;S", uS);
}

/* a count that may be absent (-1) */
static void count(rep_buf *b, double v, const char *fmt)
{
    if (v < 0) rep_buf_printf(b, "<td>n/a</td>");
    else { rep_buf_printf(b, "<td>"); rep_buf_printf(b, fmt, v); rep_buf_printf(b, "</td>"); }
}

static void summary(rep_buf *b, const ml_report *r)
{
    rep_buf_printf(b, "<h2 id=\"summary\">Summary per scheme</h2>\n<div class=\"wide\"><table>\n<tr><th>scheme</th><th>device</th>"
                      "<th>states</th><th>staircase states</th><th>nonlinearity (NL)</th><th>max deviation</th>"
                      "<th>R&sup2;</th><th>window</th><th>&sigma;<sub>read</sub> (nS)</th>"
                      "<th>pulses / state</th><th>reads / state</th><th>energy / state (nJ)</th>"
                      "<th>calibration pulses / device</th><th>yield</th><th>fallback devices</th>"
                      "<th>devices by verify</th><th>failed devices</th><th>unconverged</th></tr>\n");
    for (size_t i = 0; i < r->nlv; i++) {
        const rep_levels *l = &r->lv[i];
        rep_buf_printf(b, "<tr><td>");
        rep_buf_escape(b, l->label);
        rep_buf_printf(b, "</td><td>");
        rep_buf_escape(b, l->device);
        rep_buf_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>%+.2f</td>", l->states, l->staircase_states, l->nl);
        /* above 1 the staircase is no line at all: flagged, not printed as a deviation */
        if (l->max_dev > 1) rep_buf_printf(b, "<td class=\"no\">&gt;1 (not monotone)</td>");
        else rep_buf_printf(b, "<td>%.4f</td>", l->max_dev);
        rep_buf_printf(b, "<td>%.5f</td><td>", l->r2);
        siemens(b, l->g_min_uS);
        rep_buf_printf(b, "&ndash;");
        siemens(b, l->g_max_uS);
        rep_buf_printf(b, "</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.3g</td><td>%.0f</td>",
                       l->sigma_uS * 1e3, l->pps, l->rps, l->eps * 1e9, l->calib_pulses);
        count(b, l->yield, "%.3f");
        count(b, l->fallback, "%.0f");
        count(b, l->verify, "%.0f");
        count(b, l->failed, "%.0f");
        count(b, l->unconverged, "%.0f");
        rep_buf_printf(b, "</tr>\n");
    }
    rep_buf_printf(b, "</table></div>\n<p class=\"note\">states: largest evenly spaced grid of levels that programs within "
                      "&plusmn;&frac12; spacing on 90&nbsp;%% of devices with spacing &ge; k&middot;&sigma;<sub>read</sub>; "
                      "staircase states: steps of the staircase at least k&middot;&sigma;<sub>read</sub> apart "
                      "(ArC's rule). Costs are per staircase step, calibration and resets excluded; yield: fraction "
                      "of devices calibration could program; fallback: devices programmed with the population's "
                      "model; devices by verify: feedforward devices whose open-loop check missed, programmed "
                      "by write-verify instead; unconverged: verify targets that did not converge.</p>\n");
}

static void transfer_table(rep_buf *b, const rep_transfer *t)
{
    rep_buf_printf(b, "<p>Float baseline accuracy <b>%.2f&nbsp;%%</b>", 100 * t->baseline);
    if (t->images >= 0) rep_buf_printf(b, " on %.0f test images", t->images);
    if (t->device) {
        rep_buf_printf(b, "; device ");
        rep_buf_escape(b, t->device);
    }
    if (t->complete == 0) rep_buf_printf(b, " <span class=\"no\">(incomplete run)</span>");
    rep_buf_printf(b, ". Source: <code>");
    rep_buf_escape(b, t->file);
    rep_buf_printf(b, "</code></p>\n<div class=\"wide\"><table>\n<tr><th>scheme</th><th>levels</th><th>accuracy (%%)</th>"
                      "<th>95&nbsp;%% CI (&plusmn;%%)</th><th>std (%%)</th><th>quantised (%%)</th>"
                      "<th>distinguishable</th><th>pulses / device</th><th>devices</th><th>programming (s)</th>"
                      "<th>yield</th><th>fallback devices</th><th>devices by verify</th><th>failed devices</th></tr>\n");
    for (size_t i = 0; i < t->n; i++) {
        const rep_point *p = &t->pts[i];
        rep_buf_printf(b, "<tr><td>");
        rep_buf_escape(b, p->scheme);
        rep_buf_printf(b, "</td><td>%.0f</td><td>%.2f</td>", p->levels, 100 * p->acc);
        /* one trial has no spread: n/a, not 0 */
        if (p->trials == 1) rep_buf_printf(b, "<td>n/a</td><td>n/a</td>");
        else rep_buf_printf(b, "<td>%.2f</td><td>%.2f</td>", 100 * p->ci95, 100 * p->std);
        rep_buf_printf(b, "<td>%.2f</td><td%s>%s</td><td>%.2f</td><td>%.0f</td><td>%.2f</td>", 100 * p->qacc,
                       p->dist ? "" : " class=\"no\"", p->dist ? "yes" : "no", p->ppd, p->devices, p->seconds);
        count(b, p->yield, "%.3f");
        count(b, p->fallback, "%.0f");
        count(b, p->verify, "%.0f");
        count(b, p->failed, "%.0f");
        rep_buf_printf(b, "</tr>\n");
    }
    rep_buf_printf(b, "</table></div>\n");
}

static void figures(rep_buf *b, const rep_img *imgs, size_t n, const char *section, int svg)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(imgs[i].section, section)) continue;
        rep_buf_printf(b, "<figure><img src=\"%s.png\" alt=\"", imgs[i].stem);
        rep_buf_escape(b, imgs[i].caption);
        rep_buf_printf(b, "\"><figcaption>");
        rep_buf_escape(b, imgs[i].caption);
        if (svg) rep_buf_printf(b, " (<a href=\"%s.svg\">SVG</a>)", imgs[i].stem);
        rep_buf_printf(b, "</figcaption></figure>\n");
    }
}

ml_status rep_html_write(const ml_report *r, const char *path, const char *title, const rep_img *imgs, size_t nimgs,
                         int svg, ml_error *err)
{
    rep_buf b = {0};
    rep_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    rep_buf_escape(&b, title);
    rep_buf_printf(&b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    rep_buf_escape(&b, title);
    rep_buf_printf(&b, "</h1>\n<p class=\"note\">Written by memlev from %zu result file%s. Open the figures' SVG "
                       "versions for print.</p>\n",
                   r->nlv + r->ntr + r->nsw + r->nfit, r->nlv + r->ntr + r->nsw + r->nfit == 1 ? "" : "s");
    if (r->nlv) {
        summary(&b, r);
        rep_buf_printf(&b, "<h2 id=\"staircases\">Staircases</h2>\n");
        figures(&b, imgs, nimgs, "staircases", svg);
        rep_buf_printf(&b, "<h2 id=\"levels\">Distinguishable levels</h2>\n");
        figures(&b, imgs, nimgs, "levels", svg);
        rep_buf_printf(&b, "<h2 id=\"cost\">Programming cost</h2>\n");
        figures(&b, imgs, nimgs, "cost", svg);
    }
    if (r->ntr) {
        rep_buf_printf(&b, "<h2 id=\"transfer\">Weight transfer: accuracy vs levels</h2>\n");
        figures(&b, imgs, nimgs, "transfer", svg);
        for (size_t i = 0; i < r->ntr; i++) transfer_table(&b, &r->tr[i]);
    }
    if (r->nsw) {
        rep_buf_printf(&b, "<h2 id=\"sweeps\">Sweeps</h2>\n");
        figures(&b, imgs, nimgs, "sweeps", svg);
    }
    if (r->nfit) {
        rep_buf_printf(&b, "<h2 id=\"fit\">Calibration: measured vs fitted</h2>\n");
        figures(&b, imgs, nimgs, "fit", svg);
    }
    rep_buf_printf(&b, "<h2 id=\"inputs\">Inputs</h2>\n<ul>\n");
    for (size_t i = 0; i < r->nlv; i++) {
        rep_buf_printf(&b, "<li><code>");
        rep_buf_escape(&b, r->lv[i].file);
        rep_buf_printf(&b, "</code>: levels, scheme ");
        rep_buf_escape(&b, r->lv[i].scheme);
        rep_buf_printf(&b, ", %zu pulses</li>\n", r->lv[i].npts - 1);
    }
    for (size_t i = 0; i < r->ntr; i++) {
        rep_buf_printf(&b, "<li><code>");
        rep_buf_escape(&b, r->tr[i].file);
        rep_buf_printf(&b, "</code>: transfer, %zu points</li>\n", r->tr[i].n);
    }
    for (size_t i = 0; i < r->nsw; i++) {
        rep_buf_printf(&b, "<li><code>");
        rep_buf_escape(&b, r->sw[i].file);
        rep_buf_printf(&b, "</code>: sweep%s, %zu points</li>\n", r->sw[i].levels_only ? " (levels only)" : "", r->sw[i].n);
    }
    for (size_t i = 0; i < r->nfit; i++) {
        rep_buf_printf(&b, "<li><code>");
        rep_buf_escape(&b, r->fit[i].file);
        rep_buf_printf(&b, "</code>: fit report, law %s, %zu trains</li>\n", r->fit[i].law, r->fit[i].n);
    }
    rep_buf_printf(&b, "</ul>\n</body>\n</html>\n");
    ml_status st;
    if (b.oom) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    else st = ml_write_text_atomic(path, b.s, err);
    ml__free(b.s);
    return st;
}
