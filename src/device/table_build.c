/* Build a table model from measured one-pulse responses: unique amplitudes and widths
 * (at most 64 each, otherwise quantile bins), 16 conductance bins; mean and standard
 * deviation of dG per cell; empty cells borrow the nearest filled cell along G, then V. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "memlev/device.h"

#define NG 16
#define MAXAX 64

/* sorted unique values (relative tolerance 1e-6), reduced to MAXAX quantiles */
static int axis(const double *x, size_t n, double *out)
{
    double *s = ml__malloc(n * sizeof *s);
    if (!s) return -1;
    memcpy(s, x, n * sizeof *s);
    ml_sort_doubles(s, n);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || fabs(s[i] - s[u - 1]) > 1e-6 * fabs(s[i])) s[u++] = s[i];
    int m = u > MAXAX ? MAXAX : (int)u;
    for (int i = 0; i < m; i++) out[i] = s[u > MAXAX ? (size_t)((double)i * (u - 1) / (MAXAX - 1)) : (size_t)i];
    ml__free(s);
    return m;
}

static int nearest(const double *ax, int n, double x)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (fabs(ax[i] - x) < fabs(ax[b] - x)) b = i;
    return b;
}

ml_status ml_table_from_pairs(const double *g0, const double *v, const double *w, const double *g1, size_t n,
                              double gmin, double gmax, ml_dev_table **out, ml_error *err)
{
    ml_dev_table *t = ml__calloc(1, sizeof *t);
    if (!t) return ml_error_set(err, ML_ENOMEM, "out of memory");
    double av[MAXAX], aw[MAXAX];
    t->nv = axis(v, n, av);
    t->nw = axis(w, n, aw);
    t->ng = NG;
    size_t cells = (size_t)t->nv * t->nw * NG;
    double *cnt = ml__calloc(cells, sizeof *cnt);
    t->v = ml__malloc(t->nv * sizeof(double));
    t->w = ml__malloc(t->nw * sizeof(double));
    t->g = ml__malloc(NG * sizeof(double));
    t->dg_mean = ml__calloc(cells, sizeof(double));
    t->dg_std = ml__calloc(cells, sizeof(double));
    if (t->nv < 1 || t->nw < 1 || !cnt || !t->v || !t->w || !t->g || !t->dg_mean || !t->dg_std) {
        ml__free(cnt); ml__free(t->v); ml__free(t->w); ml__free(t->g); ml__free(t->dg_mean); ml__free(t->dg_std); ml__free(t);
        return ml_error_set(err, ML_ENOMEM, "table: out of memory");
    }
    memcpy(t->v, av, t->nv * sizeof(double));
    memcpy(t->w, aw, t->nw * sizeof(double));
    for (int k = 0; k < NG; k++) t->g[k] = gmin + (gmax - gmin) * (k + 0.5) / NG;
    for (size_t i = 0; i < n; i++) {
        int iv = nearest(t->v, t->nv, v[i]), iw = nearest(t->w, t->nw, w[i]);
        int ig = (int)floor((g0[i] - gmin) / (gmax - gmin) * NG);
        ig = ig < 0 ? 0 : ig >= NG ? NG - 1 : ig;
        size_t c = ((size_t)iv * t->nw + iw) * NG + ig;
        double d = g1[i] - g0[i];
        cnt[c] += 1; t->dg_mean[c] += d; t->dg_std[c] += d * d;
    }
    for (size_t c = 0; c < cells; c++)
        if (cnt[c] > 0) {
            double m = t->dg_mean[c] / cnt[c];
            t->dg_mean[c] = m;
            t->dg_std[c] = cnt[c] > 1 ? sqrt(fmax(0, (t->dg_std[c] - cnt[c] * m * m) / (cnt[c] - 1))) : 0;
        }
    /* fill empty cells from the nearest filled G bin of the same (V, width) */
    for (int iv = 0; iv < t->nv; iv++)
        for (int iw = 0; iw < t->nw; iw++) {
            size_t base = ((size_t)iv * t->nw + iw) * NG;
            for (int ig = 0; ig < NG; ig++) {
                if (cnt[base + ig] > 0) continue;
                for (int d = 1; d < NG; d++) {
                    int a = ig - d, b = ig + d;
                    if (a >= 0 && cnt[base + a] > 0) { t->dg_mean[base + ig] = t->dg_mean[base + a]; t->dg_std[base + ig] = t->dg_std[base + a]; break; }
                    if (b < NG && cnt[base + b] > 0) { t->dg_mean[base + ig] = t->dg_mean[base + b]; t->dg_std[base + ig] = t->dg_std[base + b]; break; }
                }
            }
        }
    ml__free(cnt);
    *out = t;
    return ML_OK;
}
