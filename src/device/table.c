/* Table model from measured data: mean and spread of dG per pulse on a grid of
 * (V, width, G); linear interpolation in every axis, clamped at the grid's ends. */
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

void ml__table_eval(const ml_dev_table *t, double g, double v, double width, double *mean, double *std)
{
    int iv, iw, ig;
    double fv, fw, fg;
    locate(t->v, t->nv, v, &iv, &fv);
    locate(t->w, t->nw, width, &iw, &fw);
    locate(t->g, t->ng, g, &ig, &fg);
    double m = 0, s = 0;
    for (int a = 0; a < 2; a++) {
        int jv = iv + a;
        double wv = a ? fv : 1 - fv;
        if (wv == 0 || jv >= t->nv) continue;
        for (int b = 0; b < 2; b++) {
            int jw = iw + b;
            double ww = b ? fw : 1 - fw;
            if (ww == 0 || jw >= t->nw) continue;
            for (int c = 0; c < 2; c++) {
                int jg = ig + c;
                double wg = c ? fg : 1 - fg;
                if (wg == 0 || jg >= t->ng) continue;
                size_t k = ((size_t)jv * t->nw + jw) * t->ng + jg;
                m += wv * ww * wg * t->dg_mean[k];
                s += wv * ww * wg * t->dg_std[k];
            }
        }
    }
    /* a pulse of opposite sign or below threshold moves nothing */
    if ((v > 0 && t->v[t->nv - 1] < 0) || (v < 0 && t->v[0] > 0)) m = s = 0;
    *mean = m;
    *std = s;
}
