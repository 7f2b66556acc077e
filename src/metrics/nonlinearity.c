/* Nonlinearity of a programmed curve: NeuroSim label from the fitted normalised A of
 * G(P) = B(1 - exp(-P/A)) + G0, maximum normalised deviation from the straight line between
 * the end points, and R^2 of a least-squares line. The label carries NeuroSim's sign: a
 * falling (depression) curve's label is negated, so saturating depression is negative. */
#include <math.h>
#include "memlev/metrics.h"

/* normalised NeuroSim curve with b = 1/A_norm (b = 0: straight line) */
static double curve(double x, double b)
{
    if (fabs(b) < 1e-9) return x;
    return expm1(-x * b) / expm1(-b);
}

static double sse(const double *y, size_t n, double b)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)i / (double)(n - 1), e = y[i] - curve(x, b);
        s += e * e;
    }
    return s;
}

ml_nonlin ml_nonlinearity(const double *g, size_t n)
{
    ml_nonlin r = {0, INFINITY, 0, 1};
    if (n < 3 || g[n - 1] == g[0]) return r;
    double y[n];
    double span = g[n - 1] - g[0];
    for (size_t i = 0; i < n; i++) {
        y[i] = (g[i] - g[0]) / span;
        double x = (double)i / (double)(n - 1);
        if (fabs(y[i] - x) > r.max_dev) r.max_dev = fabs(y[i] - x);
    }
    /* golden-section on b = 1/A_norm in [-120, 120] (NeuroSim labels reach |NL| = 9 at A = 0.0228) */
    double lo = -120, hi = 120;
    const double gr = 0.6180339887498949;
    double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo), f1 = sse(y, n, x1), f2 = sse(y, n, x2);
    for (int it = 0; it < 200; it++) {
        if (f1 < f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - gr * (hi - lo); f1 = sse(y, n, x1); }
        else { lo = x1; x1 = x2; f1 = f2; x2 = lo + gr * (hi - lo); f2 = sse(y, n, x2); }
    }
    double b = 0.5 * (lo + hi);
    r.a_norm = fabs(b) < 1e-12 ? INFINITY : 1.0 / b;
    r.label = ml_neurosim_nl_from_a(r.a_norm);
    /* NeuroSim's sign: a saturating depression curve is labelled negative (NL_LTD < 0) */
    if (span < 0) r.label = -r.label;
    /* R^2 of G against pulse number */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)i;
        sx += x; sy += g[i]; sxx += x * x; sxy += x * g[i]; syy += g[i] * g[i];
    }
    double cxx = sxx - sx * sx / n, cxy = sxy - sx * sy / n, cyy = syy - sy * sy / n;
    r.r2 = cyy > 0 ? cxy * cxy / (cxx * cyy) : 1;
    return r;
}
