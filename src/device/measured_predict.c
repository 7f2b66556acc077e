/* The fitted model's prediction of a measured train: the noise-free response to the
 * measured pulses, started from the measured read wherever the fit does not model the step
 * (a device's first row, reads, resets, a change of polarity). */
#include <math.h>
#include "memlev/measured.h"

ml_status ml_measured_predict(const ml_measured *m, const ml_device *d, double *pred, ml_error *err)
{
    if (!m || !d || !pred) return ml_error_set(err, ML_EINVAL, "ml_measured_predict: NULL argument");
    const ml_devparams p = {d->g_min, d->g_max, d->a_p, d->a_d, d->v0_p, d->v0_d,
                            d->model == ML_MODEL_NEUROSIM ? d->g_inf_p : d->g_max,
                            d->model == ML_MODEL_NEUROSIM ? d->g_inf_d : d->g_min};
    double g = 0;
    int pol = 0;
    for (size_t i = 0; i < m->n; i++) {
        int sign = m->v[i] > 0 ? 1 : -1;
        int anchor = i == 0 || m->device[i] != m->device[i - 1] || m->kind[i] != ML_ROW_PULSE || sign != pol;
        if (anchor && m->kind[i] == ML_ROW_PULSE && i > 0 && m->device[i] == m->device[i - 1])
            g = ml_model_step(d, &p, m->g[i - 1], m->v[i], m->width[i]); /* from the read before */
        else if (anchor) g = m->g[i];
        else g = ml_model_step(d, &p, g, m->v[i], m->width[i]);
        if (m->kind[i] == ML_ROW_PULSE) pol = sign;
        else pol = 0;
        pred[i] = g;
    }
    return ML_OK;
}
