/* Sweep results (`memlev sweep --json`): reading them, accuracy (or states) against levels
 * with one line per series (device x scheme x every other axis that varies), and a heatmap
 * of devices against levels per scheme when the sweep has several devices. */
#include <cjson/cJSON.h>
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "report/internal.h"

#define MAX_SWEEP_POINTS 1000000

void rep_sweep_clear(rep_sweep *s)
{
    for (size_t i = 0; i < s->nseries; i++) ml__free(s->series[i]);
    for (size_t i = 0; i < s->ndev; i++) ml__free(s->devices[i]);
    for (size_t i = 0; i < s->nsch; i++) ml__free(s->schemes[i]);
    ml__free(s->series); ml__free(s->series_scheme); ml__free(s->devices); ml__free(s->schemes);
    ml__free(s->file); ml__free(s->pts);
    memset(s, 0, sizeof *s);
}

/* index of name in a growing list of strings, added when new; -1 when out of memory */
static int intern(char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name)) return (int)i;
    char **l = ml__realloc(*list, (*n + 1) * sizeof *l);
    if (!l) return -1;
    *list = l;
    size_t len = strlen(name) + 1;
    if (!(l[*n] = ml__malloc(len))) return -1;
    memcpy(l[*n], name, len);
    return (int)(*n)++;
}

/* a point's label: its values on every axis with more than one value, levels excepted */
static void series_label(const cJSON *cfg, const cJSON *pt, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (const cJSON *ax = cfg->child; ax && off < n; ax = ax->next) {
        if (!cJSON_IsArray(ax) || cJSON_GetArraySize(ax) < 2 || !strcmp(ax->string, "levels")) continue;
        const char *key = !strcmp(ax->string, "devices") ? "device" : !strcmp(ax->string, "schemes") ? "scheme" : ax->string;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pt, key);
        const char *sep = off ? " " : "";
        if (cJSON_IsString(v)) {
            const char *base = strrchr(v->valuestring, '/');
            off += (size_t)snprintf(buf + off, n - off, "%s%s", sep, base ? base + 1 : v->valuestring);
        } else if (cJSON_IsNumber(v)) off += (size_t)snprintf(buf + off, n - off, "%s%s=%g", sep, key, v->valuedouble);
        else if (cJSON_IsBool(v)) off += (size_t)snprintf(buf + off, n - off, "%s%s=%s", sep, key, cJSON_IsTrue(v) ? "yes" : "no");
    }
    if (!buf[0]) snprintf(buf, n, "all points");
}

ml_status rep_load_sweep(const cJSON *j, const char *src, rep_sweep *s, ml_error *err)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    s->levels_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "levels_only"));
    size_t len = strlen(src) + 1;
    if (!(s->file = ml__malloc(len))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    memcpy(s->file, src, len);
    if (!cJSON_IsArray(pts)) return ml_error_set(err, ML_EFORMAT, "%s: 'points' must be an array", src);
    size_t n = (size_t)cJSON_GetArraySize(pts), i = 0;
    if (n > MAX_SWEEP_POINTS) return ml_error_set(err, ML_EFORMAT, "%s: 'points' is too long", src);
    if (n && !(s->pts = ml__calloc(n, sizeof *s->pts))) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
    const char *vkey = s->levels_only ? "states" : "accuracy_mean";
    for (const cJSON *e = pts->child; e; e = e->next, i++) {
        rep_sweep_pt *p = &s->pts[i];
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(e, "device"), *sc = cJSON_GetObjectItemCaseSensitive(e, "scheme");
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(e, "levels"), *v = cJSON_GetObjectItemCaseSensitive(e, vkey);
        const cJSON *ci = cJSON_GetObjectItemCaseSensitive(e, "ci95");
        if (!cJSON_IsString(dv) || !cJSON_IsString(sc) || strlen(dv->valuestring) > 200 || strlen(sc->valuestring) > 200)
            return ml_error_set(err, ML_EFORMAT, "%s: points[%zu]: 'device' and 'scheme' must be short strings", src, i);
        if (!cJSON_IsNumber(lv) || !(lv->valuedouble >= 2 && lv->valuedouble <= 1e9))
            return ml_error_set(err, ML_EFORMAT, "%s: points[%zu]: 'levels' must be a number >= 2", src, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
            return ml_error_set(err, ML_EFORMAT, "%s: points[%zu]: '%s' must be a finite number >= 0", src, i, vkey);
        if (!s->levels_only && v->valuedouble > 1)
            return ml_error_set(err, ML_EFORMAT, "%s: points[%zu]: 'accuracy_mean' must be a fraction in [0, 1]", src, i);
        char label[512];
        series_label(cfg, e, label, sizeof label);
        p->levels = lv->valuedouble;
        p->value = s->levels_only ? v->valuedouble : 100 * v->valuedouble;
        p->ci95 = cJSON_IsNumber(ci) && !s->levels_only ? 100 * ci->valuedouble : 0;
        size_t before = s->nseries;
        p->series = intern(&s->series, &s->nseries, label);
        if (p->series >= 0 && s->nseries > before) {
            int *ss = ml__realloc(s->series_scheme, s->nseries * sizeof *ss);
            if (!ss) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
            s->series_scheme = ss;
        }
        p->device = intern(&s->devices, &s->ndev, dv->valuestring);
        p->scheme = intern(&s->schemes, &s->nsch, sc->valuestring);
        if (p->series < 0 || p->device < 0 || p->scheme < 0) return ml_error_set(err, ML_ENOMEM, "%s: out of memory", src);
        s->series_scheme[p->series] = p->scheme;
    }
    s->n = n;
    return ML_OK;
}

static void pow2_label(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    snprintf(label, (size_t)length, "%.0f", pow(2, value));
}

/* distinct level counts, sorted; returns their number */
static size_t level_list(const rep_sweep *s, double *lv)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        int seen = 0;
        for (size_t q = 0; q < m; q++) seen |= lv[q] == s->pts[i].levels;
        if (seen) continue;
        size_t j = m++;
        while (j > 0 && lv[j - 1] > s->pts[i].levels) { lv[j] = lv[j - 1]; j--; }
        lv[j] = s->pts[i].levels;
    }
    return m;
}

void rep_fig_sweep_lines(const ml_report *r, const void *arg)
{
    const rep_sweep *s = arg;
    size_t n = s->n ? s->n : 1;
    double *x = ml__malloc(n * sizeof *x), *y = ml__malloc(n * sizeof *y), *lo = ml__malloc(n * sizeof *lo), *hi = ml__malloc(n * sizeof *hi);
    if (!x || !y || !lo || !hi) goto out;
    double x0 = INFINITY, x1 = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        x0 = fmin(x0, log2(s->pts[i].levels)); x1 = fmax(x1, log2(s->pts[i].levels));
        ymin = fmin(ymin, s->pts[i].value - s->pts[i].ci95); ymax = fmax(ymax, s->pts[i].value + s->pts[i].ci95);
    }
    double pad = 0.06 * (ymax - ymin) + 0.5;
    ymin = fmax(0, ymin - pad); ymax += pad;
    if (!s->levels_only) ymax = fmin(100, ymax);
    pladv(0);
    plslabelfunc(pow2_label, NULL);
    rep_axes(0.1, 0.97, 0.11, 0.91, x0 - 0.4, x1 + 0.4, ymin, ymax, "bcnsto", 1.0, "bcnstv");
    plslabelfunc(NULL, NULL);
    pllab(s->levels_only ? "pulse budget (log scale)" : "levels per device (log scale)",
          s->levels_only ? "distinguishable states" : "test accuracy (%)",
          s->levels_only ? "Sweep: states per device and scheme" : "Sweep: accuracy vs levels per device and scheme (± 95 % CI)");
    enum { MAXL = 16 };
    int lc[MAXL], lsty[MAXL];
    const char *lt[MAXL];
    int nl = 0;
    for (size_t q = 0; q < s->nseries; q++) {
        size_t m = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->pts[i].series != (int)q) continue;
            size_t j = m++;
            double xi = log2(s->pts[i].levels);
            while (j > 0 && x[j - 1] > xi) { x[j] = x[j - 1]; y[j] = y[j - 1]; lo[j] = lo[j - 1]; hi[j] = hi[j - 1]; j--; }
            x[j] = xi; y[j] = s->pts[i].value;
            lo[j] = s->pts[i].value - s->pts[i].ci95; hi[j] = s->pts[i].value + s->pts[i].ci95;
        }
        int c = rep_scheme_colour(s->schemes[s->series_scheme[q]]), style = 1;
        for (size_t p = 0; p < q; p++) style += s->series_scheme[p] == s->series_scheme[q];
        style = (style - 1) % 8 + 1;
        plcol0(c); plwidth(2.0); pllsty(style);
        plline((PLINT)m, x, y);
        pllsty(1);
        if (!s->levels_only) plerry((PLINT)m, x, lo, hi);
        plpoin((PLINT)m, x, y, 17);
        if (nl < MAXL) { lc[nl] = c; lsty[nl] = style; lt[nl] = s->series[q]; nl++; }
    }
    plwidth(1.0);
    rep_legend(nl, lt, lc, lsty, 1);
out:
    ml__free(x); ml__free(y); ml__free(lo); ml__free(hi);
}

void rep_fig_sweep_heatmap(const ml_report *r, const void *arg)
{
    const rep_sweep *s = arg;
    double *lv = ml__malloc((s->n ? s->n : 1) * sizeof *lv);
    size_t nd = s->ndev, ns = s->nsch;
    double *sum = ml__calloc(nd * (s->n ? s->n : 1), sizeof *sum), *cnt = ml__calloc(nd * (s->n ? s->n : 1), sizeof *cnt);
    if (!lv || !sum || !cnt) goto out;
    size_t nlv = level_list(s, lv);
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < s->n; i++) { vmin = fmin(vmin, s->pts[i].value); vmax = fmax(vmax, s->pts[i].value); }
    if (!(vmax > vmin)) vmax = vmin + 1;
    plscmap1n(256);
    plscmap1l(1, 2, (PLFLT[]){0, 1}, (PLFLT[]){0.97, 0.0}, (PLFLT[]){0.97, 0.45}, (PLFLT[]){0.97, 0.7}, NULL);
    pladv(0);
    for (size_t sc = 0; sc < ns; sc++) {
        memset(sum, 0, nd * nlv * sizeof *sum);
        memset(cnt, 0, nd * nlv * sizeof *cnt);
        for (size_t i = 0; i < s->n; i++) {
            if (s->pts[i].scheme != (int)sc) continue;
            size_t c = 0;
            while (lv[c] != s->pts[i].levels) c++;
            sum[(size_t)s->pts[i].device * nlv + c] += s->pts[i].value;
            cnt[(size_t)s->pts[i].device * nlv + c] += 1;
        }
        double top = 0.93 - sc * (0.86 / ns), bot = top - 0.86 / ns + 0.13;
        plvpor(0.22, 0.95, bot, top);
        plwind(0, (double)nlv, 0, (double)nd);
        for (size_t d = 0; d < nd; d++)
            for (size_t c = 0; c < nlv; c++) {
                double k = cnt[d * nlv + c];
                if (!k) continue;
                double v = sum[d * nlv + c] / k;
                plcol1((v - vmin) / (vmax - vmin));
                plfill(4, (double[]){c, c + 1.0, c + 1.0, c}, (double[]){d, d, d + 1.0, d + 1.0});
                char t[32];
                snprintf(t, sizeof t, s->levels_only ? "%.0f" : "%.1f", v);
                plcol0((v - vmin) / (vmax - vmin) > 0.55 ? REP_BG : REP_FG);
                plptex(c + 0.5, d + 0.5, 1, 0, 0.5, t);
            }
        plcol0(REP_FG);
        plbox("bc", 0, 0, "bc", 0, 0);
        for (size_t c = 0; c < nlv; c++) {
            char t[32];
            snprintf(t, sizeof t, "%.0f", lv[c]);
            plmtex("b", 1.4, (c + 0.5) / nlv, 0.5, t);
        }
        for (size_t d = 0; d < nd; d++) {
            const char *base = strrchr(s->devices[d], '/');
            plmtex("lv", 0.8, (d + 0.5) / nd, 1.0, base ? base + 1 : s->devices[d]);
        }
        char title[300];
        snprintf(title, sizeof title, "%s: %s by device and %s", s->schemes[sc],
                 s->levels_only ? "states" : "accuracy (%)", s->levels_only ? "pulse budget" : "levels");
        plmtex("t", 0.8, 0.5, 0.5, title);
    }
out:
    ml__free(lv); ml__free(sum); ml__free(cnt);
}
