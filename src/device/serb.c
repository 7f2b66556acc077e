/* Messaritaki/Serb data-driven model (ArC ParameterFit / VirtualArC), in resistance:
 * dR/dt = -s(V) (R - r(V))^2 while R is on the far side of the bound r(V),
 * s(V) = A (exp(|V|/t0) - 1), exact for a pulse of width t: x+ = x / (1 + s t x), x = |R - r|.
 * Here V > 0 potentiates (R falls toward r_p = a0p - a1p |V|); V < 0 depresses (R rises
 * toward r_n = a0n + a1n |V|). */
#include <math.h>
#include "memlev/device.h"
#include "device/internal.h"

double ml__serb_step(const ml_device *d, double g, double v, double width)
{
    double av = fabs(v);
    if (av < d->v_th || g <= 0)
        return g;
    double r = 1.0 / g, bound, s;
    if (v > 0) {
        bound = d->serb_a0p - d->serb_a1p * av;
        if (bound <= 0) bound = 1e-3;
        if (r <= bound) return g;
        s = d->serb_ap * expm1(av / d->serb_tp);
    } else {
        bound = d->serb_a0n + d->serb_a1n * av;
        if (r >= bound) return g;
        s = d->serb_an * expm1(av / d->serb_tn);
    }
    double x = fabs(r - bound);
    double xn = x / (1.0 + s * width * x);
    double rn = v > 0 ? bound + xn : bound - xn;
    return 1.0 / rn;
}

double ml_serb_step_public(const ml_device *d, double g, double v, double width)
{
    return ml__serb_step(d, g, v, width);
}
