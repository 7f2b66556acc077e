/* Table model from measured data: mean and spread of dG per pulse on a grid of
 * (V, width, G); linear interpolation within each polarity's measured amplitudes, widths and
 * G; beyond the measured amplitudes and widths the soft-bounds drive scales the edge step. */
#include <math.h>
#include "memlev/device.h"
#include "device/internal.h"

/* Index i and weight f so that x lies between ax[i] and ax[i+1]. */
static void locate(const double *ax, int n, double x, int *i, double *f)
{
    if (n == 1 || x <= ax[0]) { *i = 0; *f = 0; return; }
    if (x >= ax[n - 1]) { *i = n - 2; *f = 1; return; }
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (ax[mid] <= x) lo = mid; else hi = mid;
    }
    *i = lo;
    *f = (x - ax[lo]) / (ax[lo + 1] - ax[lo]);
}

/* Soft-bounds drive (exp(|V|/v0) - 1) (width / t_ref), the law the table follows outside
 * its measured amplitudes and widths. */
static double drive(double v0, double t_ref, double v, double w)
{
    return expm1(fabs(v) / v0) * (w / t_ref);
}

void ml__table_eval(const ml_device *d, double g, double v, double width, double *mean, double *std)
{
    const ml_dev_table *t = d->table;
    *mean = *std = 0;
    if (v == 0 || fabs(v) < d->v_th || width <= 0) return;
    /* the amplitudes of this polarity only: a pulse never borrows the other polarity's steps */
    int v_lo = 0, v_n = 0;
    for (int k = 0; k < t->nv; k++)
        if ((t->v[k] > 0) == (v > 0) && t->v[k] != 0) { if (!v_n) v_lo = k; v_n++; }
    if (!v_n) return; /* a polarity the data lack moves nothing */
    const double *av = t->v + v_lo;
    double vc = v < av[0] ? av[0] : v > av[v_n - 1] ? av[v_n - 1] : v;
    double wc = width < t->w[0] ? t->w[0] : width > t->w[t->nw - 1] ? t->w[t->nw - 1] : width;
    int iv, iw, ig;
    double fv, fw, fg;
    locate(av, v_n, vc, &iv, &fv);
    locate(t->w, t->nw, wc, &iw, &fw);
    locate(t->g, t->ng, g, &ig, &fg);
    double m = 0, s = 0;
    for (int a = 0; a < 2; a++) {
        int jv = iv + a;
        double wv = a ? fv : 1 - fv;
        if (wv == 0 || jv >= v_n) continue;
        for (int b = 0; b < 2; b++) {
            int jw = iw + b;
            double ww = b ? fw : 1 - fw;
            if (ww == 0 || jw >= t->nw) continue;
            for (int c = 0; c < 2; c++) {
                int jg = ig + c;
                double wg = c ? fg : 1 - fg;
                if (wg == 0 || jg >= t->ng) continue;
                size_t k = ((size_t)(v_lo + jv) * t->nw + jw) * t->ng + jg;
                m += wv * ww * wg * t->dg_mean[k];
                s += wv * ww * wg * t->dg_std[k];
            }
        }
    }
    /* outside the measured amplitudes and widths: scale by the soft-bounds drive (v0 of this
     * polarity, width linear), instead of holding the edge cell's step */
    if (vc != v || wc != width) {
        double v0 = v > 0 ? d->v0_p : d->v0_d;
        double r = drive(v0, d->t_ref, v, width) / drive(v0, d->t_ref, vc, wc);
        if (isfinite(r) && r > 0) { m *= r; s *= r; }
    }
    *mean = m;
    *std = s;
}
