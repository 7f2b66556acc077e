/* Soft-bounds pulse response with amplitude and width dependence (DESIGN.md):
 * a = a0 (exp(|V|/v0) - 1) (t/t_ref), clamped to [0,1], zero below v_th;
 * potentiation G += a (G_inf_p - G), depression G += a (G_inf_d - G); G kept in [G_min, G_max].
 * Also the per-model dispatch of the noise-free step. */
#include <math.h>
#include "memlev/device.h"
#include "device/internal.h"

double ml_softbounds_alpha(double a, double v0, double v_th, double t_ref, double v, double width)
{
    double av = fabs(v);
    if (av < v_th || width <= 0)
        return 0;
    double al = a * expm1(av / v0) * (width / t_ref);
    return al > 1 ? 1 : al;
}

double ml_model_step(const ml_device *d, const ml_devparams *p, double g, double v, double width)
{
    double gn = g;
    switch (d->model) {
    case ML_MODEL_SOFTBOUNDS:
    case ML_MODEL_NEUROSIM:
        if (v > 0)
            gn = g + ml_softbounds_alpha(p->a_p, p->v0_p, d->v_th, d->t_ref, v, width) * (p->g_inf_p - g);
        else if (v < 0)
            gn = g + ml_softbounds_alpha(p->a_d, p->v0_d, d->v_th, d->t_ref, v, width) * (p->g_inf_d - g);
        break;
    case ML_MODEL_SERB:
        gn = ml__serb_step(d, g, v, width);
        break;
    case ML_MODEL_TABLE: {
        double m, s;
        ml__table_eval(d, g, v, width, &m, &s);
        gn = g + m;
        break;
    }
    }
    return ml_clamp(gn, p->g_min, p->g_max);
}
