/* Noise figures from measured pulse-response data: read noise (relative and absolute parts)
 * and the read offset's drift from read-only rows; C2C from the one-step residual within
 * narrow conductance chunks, beyond the read noise (local linear fits absorb model misfit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "program/fit_noise.h"

/* Weighted least squares of y = x1 a + x2 b over k points with weights wt, both >= 0. */
static void nnls2(const double *y, const double *a, const double *b, const double *wt, size_t k, double *x1, double *x2)
{
    double saa = 0, sab = 0, sbb = 0, say = 0, sby = 0;
    for (size_t i = 0; i < k; i++) {
        saa += wt[i] * a[i] * a[i]; sab += wt[i] * a[i] * b[i]; sbb += wt[i] * b[i] * b[i];
        say += wt[i] * a[i] * y[i]; sby += wt[i] * b[i] * y[i];
    }
    double det = saa * sbb - sab * sab;
    double p = 0, q = 0;
    if (det > 1e-12 * saa * sbb) { p = (say * sbb - sby * sab) / det; q = (sby * saa - say * sab) / det; }
    if (!(det > 1e-12 * saa * sbb) || p < 0 || q < 0) {
        /* one of the two is zero: the better of the one-parameter fits */
        double pa = saa > 0 ? fmax(0, say / saa) : 0, qb = sbb > 0 ? fmax(0, sby / sbb) : 0;
        double ra = 0, rb = 0;
        for (size_t i = 0; i < k; i++) {
            ra += wt[i] * (y[i] - pa * a[i]) * (y[i] - pa * a[i]);
            rb += wt[i] * (y[i] - qb * b[i]) * (y[i] - qb * b[i]);
        }
        if (ra <= rb) { p = pa; q = 0; } else { p = 0; q = qb; }
    }
    *x1 = p;
    *x2 = q;
}

/* Variance model fit with weights dof / predicted^2 (a variance estimate's own spread),
 * iterated from equal weights: y = x1 a + x2 b. */
static void fit_variance(const double *y, const double *a, const double *b, const double *dof, double *wt, size_t k,
                         double *x1, double *x2)
{
    for (size_t i = 0; i < k; i++) wt[i] = dof[i];
    double mean = 0, sw = 0;
    for (size_t i = 0; i < k; i++) { mean += dof[i] * y[i]; sw += dof[i]; }
    mean = sw > 0 ? mean / sw : 0;
    for (size_t i = 0; i < k; i++) wt[i] = dof[i] / (mean * mean + 1e-300);
    for (int it = 0; it < 4; it++) {
        nnls2(y, a, b, wt, k, x1, x2);
        for (size_t i = 0; i < k; i++) {
            double pr = *x1 * a[i] + *x2 * b[i];
            if (!(pr > 0)) pr = mean > 0 ? mean : 1e-300;
            wt[i] = dof[i] / (pr * pr);
        }
    }
}

size_t ml__read_noise(const ml_measured *m, double *rel, double *abs_, double *drift, double *drift_se, size_t *npairs,
                      int *ok)
{
    size_t n = m->n, nb = 0, np = 0;
    double *y = ml__malloc(4 * n * sizeof *y + 1), *a = y + n, *b = y + 2 * n, *dof = y + 3 * n;
    double *wt = ml__malloc(n * sizeof *wt + 1);
    *rel = *abs_ = *drift = *drift_se = 0;
    *npairs = 0;
    *ok = 1;
    if (!y || !wt) { ml__free(y); ml__free(wt); *ok = 0; return 0; }
    double dsum = 0, dsq = 0;
    size_t i = 1;
    while (i < n) {
        if (m->kind[i] != ML_ROW_READ || m->device[i] != m->device[i - 1]) { i++; continue; }
        /* a block: rows i0-1 .. i1-1 read one unchanged state */
        size_t i0 = i;
        while (i < n && m->kind[i] == ML_ROW_READ && m->device[i] == m->device[i - 1]) i++;
        size_t k = i - i0;
        double md = 0, gm = 0, ss = 0;
        for (size_t j = i0; j < i; j++) {
            double dd = m->g[j] - m->g[j - 1];
            md += dd; dsq += dd * dd; gm += m->g[j];
        }
        dsum += md;
        np += k;
        md /= (double)k;
        gm = (gm + m->g[i0 - 1]) / (double)(k + 1);
        if (k < 3) continue;
        for (size_t j = i0; j < i; j++) ss += (m->g[j] - m->g[j - 1] - md) * (m->g[j] - m->g[j - 1] - md);
        /* successive differences of reads of one state: variance 2 sigma^2(G) */
        y[nb] = ss / (double)(k - 1) / 2;
        a[nb] = gm * gm;
        b[nb] = 1;
        dof[nb] = (double)(k - 1);
        nb++;
    }
    *npairs = np;
    if (np) *drift = dsum / (double)np;
    if (np > 1) *drift_se = sqrt(fmax(0, dsq / (double)np - *drift * *drift) / (double)(np - 1));
    if (nb) {
        double x1, x2;
        fit_variance(y, a, b, dof, wt, nb, &x1, &x2);
        *rel = sqrt(x1);
        *abs_ = sqrt(x2);
    }
    ml__free(y);
    ml__free(wt);
    return nb;
}

typedef struct { double g0, dg, s2; size_t grp; } pt;

static int cmp_pt(const void *x, const void *y)
{
    const pt *p = x, *q = y;
    if (p->grp != q->grp) return p->grp < q->grp ? -1 : 1;
    return (p->g0 > q->g0) - (p->g0 < q->g0);
}

int ml__c2c(const double *g0, const double *res, const double *step, const size_t *grp, size_t n, int read_known,
            double read_rel, double read_abs, double *c2c, double *read_abs_out)
{
    pt *p = ml__malloc(n * sizeof *p + 1);
    size_t nc = n / 4 + 1;
    double *y = ml__malloc(5 * nc * sizeof *y), *a = y + nc, *b = y + 2 * nc, *dof = y + 3 * nc, *wt = y + 4 * nc;
    if (!p || !y) { ml__free(p); ml__free(y); return -1; }
    for (size_t i = 0; i < n; i++) { p[i].g0 = g0[i]; p[i].dg = res[i]; p[i].s2 = step[i] * step[i]; p[i].grp = grp[i]; }
    qsort(p, n, sizeof *p, cmp_pt);
    const size_t chunk = 16;
    size_t k = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && p[e].grp == p[s].grp) e++;
        /* equal-count chunks of this group along G; the last absorbs the remainder */
        size_t cnt = e - s, nch = cnt / chunk;
        for (size_t c = 0; c < nch; c++) {
            size_t c0 = s + c * chunk, c1 = c + 1 == nch ? e : c0 + chunk, m = c1 - c0;
            double sx = 0, sy = 0, sxx = 0, sxy = 0;
            for (size_t j = c0; j < c1; j++) {
                double x = p[j].g0 - p[c0].g0;
                sx += x; sy += p[j].dg; sxx += x * x; sxy += x * p[j].dg;
            }
            double dx = sxx - sx * sx / (double)m;
            double beta = dx > 0 ? (sxy - sx * sy / (double)m) / dx : 0;
            double alpha = (sy - beta * sx) / (double)m, ss = 0, gm = 0, s2 = 0;
            for (size_t j = c0; j < c1; j++) {
                double x = p[j].g0 - p[c0].g0, r = p[j].dg - alpha - beta * x;
                ss += r * r;
                gm += p[j].g0;
                s2 += p[j].s2;
            }
            gm /= (double)m;
            /* residual = c2c step + e1 - (1 + beta) e0: read noise enters (1 + (1+beta)^2) times */
            double f = 1 + (1 + beta) * (1 + beta);
            y[k] = ss / (double)(m - 2);
            a[k] = s2 / (double)m;
            b[k] = f;
            if (read_known) {
                b[k] = f * ((read_rel * gm) * (read_rel * gm) + read_abs * read_abs);
                y[k] -= b[k];
            }
            dof[k] = (double)(m - 2);
            k++;
        }
        s = e;
    }
    *c2c = 0;
    if (read_abs_out) *read_abs_out = 0;
    int used = (int)k;
    if (k) {
        double x1 = 0, x2 = 0;
        if (read_known) {
            /* y = c2c^2 a (read noise b already removed); weights dof / total variance^2 */
            for (int it = 0; it < 4; it++) {
                double num = 0, den = 0;
                for (size_t i = 0; i < k; i++) {
                    double tot = x1 * a[i] + b[i] + 1e-300;
                    double w = dof[i] / (tot * tot);
                    num += w * a[i] * y[i];
                    den += w * a[i] * a[i];
                }
                x1 = den > 0 ? fmax(0, num / den) : 0;
            }
        } else {
            fit_variance(y, a, b, dof, wt, k, &x1, &x2);
        }
        *c2c = sqrt(x1);
        if (read_abs_out) *read_abs_out = sqrt(x2);
    }
    ml__free(p);
    ml__free(y);
    return used;
}
