/* NeuroSim nonlinearity label <-> normalised A (MLP_NeuroSim V3 formula.cpp getParamA: a table
 * over NL 0.01..9, step 0.01), its lookup grid, and conversion of the pulse-number model
 * G(P) = B(1-exp(-P/A)) + Gmin into an equivalent soft-bounds step toward G_inf = Gmin + B:
 * G(P+1) - G(P) = (1 - exp(-1/A)) (G_inf - G(P)). */
#include <math.h>
#include "memlev/device.h"
#include "device/internal.h"

/* max_x (g(x) - x) for the normalised NeuroSim curve g(x) = (1 - exp(-x/a)) / (1 - exp(-1/a)),
 * a > 0, and its derivative in ln a: g'(x) = 1 at xm = -a ln(a (1 - exp(-1/a))), which lies in
 * (0, 1) for every a > 0; by the envelope theorem d max/d ln a = a dg/da at xm, which with
 * exp(-xm/a) = a (1 - exp(-1/a)) reduces to -xm + u (1 - exp(-u xm)) exp(-u) / (1 - exp(-u))^2,
 * u = 1/a. */
static double maxdev_d(double a, double *dlna)
{
    double u = 1.0 / a, e1 = -expm1(-u);
    double x = -a * log(a * e1), ex = -expm1(-u * x);
    if (dlna) *dlna = -x + u * ex * exp(-u) / (e1 * e1);
    return ex / e1 - x;
}

double ml__neurosim_maxdev(double a) { return maxdev_d(a, NULL); }

/* Solve maxdev(A) = target (maxdev decreases with A, target > 0): Newton in ln A, kept inside a
 * bisection bracket; a Newton step below 1e-12 leaves A within rounding of the root (quadratic
 * convergence), where further steps would only chase rounding noise. */
static double a_for_dev(double target)
{
    /* start from the large-A limit maxdev = 1/(8A), within 30 % of A up to NL 5 */
    double lo = log(1e-3), hi = log(1e4), s = ml_clamp(-log(8 * target), lo, hi);
    for (int it = 0; it < 200; it++) {
        double slope, f = maxdev_d(exp(s), &slope) - target;
        if (f == 0) break;
        if (f > 0) lo = s; else hi = s;
        double sn = slope < 0 ? s - f / slope : 0.5 * (lo + hi);
        int newton = sn > lo && sn < hi;
        if (!newton) sn = 0.5 * (lo + hi);
        if ((newton && fabs(sn - s) < 1e-12) || hi - lo <= 1e-15) { s = sn; break; }
        s = sn;
    }
    return exp(s);
}

/* NeuroSim's label is proportional to the curve's maximum deviation from linear:
 * max dev = 0.0989950 * NL across its whole table (every one of its 900 entries within
 * 2.7e-5 of A, the table's own rounding; five checked in tests/test_device.c), so we solve
 * for A instead of storing it. */
#define ML_NL_PER_DEV (1.0 / 0.0989950)

double ml_neurosim_param_a(double nl)
{
    double m = fabs(nl);
    if (m < 0.01) m = 0.01;
    if (m > 9) m = 9;
    double a = a_for_dev(m / ML_NL_PER_DEV);
    return nl < 0 ? -a : a;
}

double ml_neurosim_nl_from_a(double a_norm)
{
    double m = fabs(a_norm);
    if (!isfinite(m) || m > 1e6) return 0;
    double nl = ml__neurosim_maxdev(m) * ML_NL_PER_DEV;
    return a_norm < 0 ? -nl : nl;
}

int ml__neurosim_grid(double nl, int sign)
{
    double m = sign > 0 ? nl : -nl;
    /* getParamA's index (int)(|NL| 100) - 1 clamped to 0..899 (formula.cpp:159, 312-316); the
     * 1e-9 lets a decimal label such as 0.29 (0.29 * 100 = 28.999999999999996) keep its entry */
    if (!(m >= 0.02)) return 1;
    if (m >= 9) return 900;
    int k = (int)(m * 100 + 1e-9);
    return k < 1 ? 1 : k > 900 ? 900 : k;
}

double ml__neurosim_a_grid(int k) { return a_for_dev(k / 100.0 / ML_NL_PER_DEV); }

void ml__neurosim_curve(const ml_device *d, double an_p, double an_d, double gmin, double gmax, double *a_p,
                        double *a_d, double *g_inf_p, double *g_inf_d)
{
    double w = gmax - gmin, ap = an_p * d->pmax_ltp, ad = an_d * d->pmax_ltd;
    /* B = (Gmax - Gmin) / (1 - exp(-Pmax/A)) (RealDevice::Write, Cell.cpp:370, 382) */
    *g_inf_p = gmin + w / -expm1(-d->pmax_ltp / ap);
    *g_inf_d = gmax - w / -expm1(-d->pmax_ltd / ad);
    /* the nominal pulse gives exactly NeuroSim's per-pulse fraction 1 - exp(-1/A) */
    *a_p = -expm1(-1.0 / ap) / (expm1(fabs(d->v_pulse_p) / d->v0_p) * (d->width / d->t_ref));
    *a_d = -expm1(-1.0 / ad) / (expm1(fabs(d->v_pulse_d) / d->v0_d) * (d->width / d->t_ref));
}

void ml__neurosim_to_softbounds(ml_device *d)
{
    double an_p = ml__neurosim_a_grid(ml__neurosim_grid(d->nl_ltp, 1));
    double an_d = ml__neurosim_a_grid(ml__neurosim_grid(d->nl_ltd, -1));
    ml__neurosim_curve(d, an_p, an_d, d->g_min, d->g_max, &d->a_p, &d->a_d, &d->g_inf_p, &d->g_inf_d);
}
