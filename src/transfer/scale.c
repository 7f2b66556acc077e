/* The weight-to-conductance scale of a transfer: siemens per unit weight, per layer or per
 * output channel, as ml_transfer_array applies it (its read-back weight is (G+ - G-) / scale). */
#include <math.h>
#include "memlev/transfer.h"

ml_status ml_transfer_scales(const float *w, size_t rows, size_t cols, const ml_levelset *ls, int per_channel,
                             double *scale, ml_error *err)
{
    if (!w || !ls || !scale || rows == 0 || cols == 0 || ls->n < 2)
        return ml_error_set(err, ML_EINVAL, "ml_transfer_scales: no weights or no level set");
    /* the largest conductance difference the levels reach: mean[j] - mean[0], made monotone */
    double range = 0;
    for (int j = 0; j < ls->n; j++) range = fmax(ls->mean[j] - ls->mean[0], range);
    if (!(range > 0)) return ml_error_set(err, ML_EINVAL, "transfer: the level set has no range");
    size_t n = rows * cols, ns = per_channel ? rows : 1;
    for (size_t r = 0; r < ns; r++) {
        double m = 0;
        size_t a = per_channel ? r * cols : 0, b = per_channel ? a + cols : n;
        for (size_t q = a; q < b; q++) m = fmax(m, fabs(w[q]));
        scale[r] = m > 0 ? range / m : 1;
    }
    return ML_OK;
}
