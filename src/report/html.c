/* The HTML page: self-contained (inline style, images beside it, no scripts or network),
 * a summary table per scheme, the figures by section and the transfer tables. */
#include <stdarg.h>
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

static void summary(rep_buf *b, const ml_report *r)
{
    rep_buf_printf(b, "<h2 id=\"summary\">Summary per scheme</h2>\n<div class=\"wide\"><table>\n<tr><th>scheme</th><th>device</th>"
                      "<th>states</th><th>staircase states</th><th>nonlinearity (NL)</th><th>max deviation</th>"
                      "<th>R&sup2;</th><th>window (&micro;S)</th><th>&sigma;<sub>read</sub> (nS)</th>"
                      "<th>pulses / state</th><th>reads / state</th><th>energy / state (nJ)</th>"
                      "<th>calibration pulses / device</th></tr>\n");
    for (size_t i = 0; i < r->nlv; i++) {
        const rep_levels *l = &r->lv[i];
        rep_buf_printf(b, "<tr><td>");
        rep_buf_escape(b, l->label);
        rep_buf_printf(b, "</td><td>");
        rep_buf_escape(b, l->device);
        rep_buf_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>%+.2f</td><td>%.4f</td><td>%.5f</td><td>%.2f&ndash;%.2f</td>"
                          "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.3g</td><td>%.0f</td></tr>\n",
                       l->states, l->staircase_states, l->nl, l->max_dev, l->r2, l->g_min_uS, l->g_max_uS,
                       l->sigma_uS * 1e3, l->pps, l->rps, l->eps * 1e9, l->calib_pulses);
    }
    rep_buf_printf(b, "</table></div>\n<p class=\"note\">states: largest evenly spaced grid of levels that programs within "
                      "&plusmn;&frac12; spacing on 90&nbsp;%% of devices with spacing &ge; k&middot;&sigma;<sub>read</sub>; "
                      "staircase states: steps of the staircase at least k&middot;&sigma;<sub>read</sub> apart "
                      "(ArC's rule). Costs are per staircase step, calibration excluded.</p>\n");
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
                      "<th>distinguishable</th><th>pulses / device</th><th>devices</th><th>programming (s)</th></tr>\n");
    for (size_t i = 0; i < t->n; i++) {
        const rep_point *p = &t->pts[i];
        rep_buf_printf(b, "<tr><td>");
        rep_buf_escape(b, p->scheme);
        rep_buf_printf(b, "</td><td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td%s>%s</td>"
                          "<td>%.2f</td><td>%.0f</td><td>%.2f</td></tr>\n",
                       p->levels, 100 * p->acc, 100 * p->ci95, 100 * p->std, 100 * p->qacc,
                       p->dist ? "" : " class=\"no\"", p->dist ? "yes" : "no", p->ppd, p->devices, p->seconds);
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
                   r->nlv + r->ntr + r->nsw, r->nlv + r->ntr + r->nsw == 1 ? "" : "s");
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
    rep_buf_printf(&b, "</ul>\n</body>\n</html>\n");
    ml_status st;
    if (b.oom) st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
    else st = ml_write_text_atomic(path, b.s, err);
    ml__free(b.s);
    return st;
}
