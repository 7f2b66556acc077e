/* Batch normalisation (Ioffe & Szegedy 2015): folded per-channel affine at inference,
 * batch statistics with running averages in training, and its backward pass. */
#include <math.h>
#include <string.h>
#include "nn/internal.h"

void ml_bn_fold(const float *scale, const float *bias, const float *mean, const float *var,
                float eps, int c, float *s, float *sh)
{
    for (int i = 0; i < c; i++) {
        float k = scale[i] / sqrtf(var[i] + eps);
        s[i] = k;
        sh[i] = bias[i] - mean[i] * k;
    }
}

void ml_bn_infer(const float *x, const float *s, const float *sh, int batch, int c, int hw,
                 int relu, float *y)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < c; ch++) {
            const float *restrict a = x + ((size_t)n * c + ch) * hw;
            float *restrict b = y + ((size_t)n * c + ch) * hw;
            const float k = s[ch], t = sh[ch];
            for (int i = 0; i < hw; i++) {
                float v = a[i] * k + t;
                b[i] = relu && v < 0.0f ? 0.0f : v;
            }
        }
}

/* Per-channel sums in double, in a fixed order (n, then pixels): thread-count independent. */
void ml_bn_train_forward(const float *x, const float *gamma, const float *beta, float *rmean,
                         float *rvar, float eps, float momentum, int update, int batch, int c,
                         int hw, float *mean, float *istd, float *y)
{
    const double cnt = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, s2 = 0.0;
        for (int n = 0; n < batch; n++) {
            const float *a = x + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++)
                s += a[i];
        }
        const double mu = s / cnt;
        for (int n = 0; n < batch; n++) {
            const float *a = x + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++) {
                double d = a[i] - mu;
                s2 += d * d;
            }
        }
        const double var = s2 / cnt;
        const float is = (float)(1.0 / sqrt(var + eps));
        mean[ch] = (float)mu;
        istd[ch] = is;
        if (update) {
            /* ONNX/PyTorch convention: the running variance is the unbiased estimate */
            double uvar = cnt > 1 ? s2 / (cnt - 1) : var;
            rmean[ch] = (float)(momentum * rmean[ch] + (1.0 - momentum) * mu);
            rvar[ch] = (float)(momentum * rvar[ch] + (1.0 - momentum) * uvar);
        }
        const float k = gamma[ch] * is, t = beta[ch] - (float)mu * k;
        for (int n = 0; n < batch; n++) {
            const float *restrict a = x + ((size_t)n * c + ch) * hw;
            float *restrict b = y + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++)
                b[i] = a[i] * k + t;
        }
    }
}

void ml_bn_backward(const float *x, const float *gamma, const float *mean, const float *istd,
                    const float *dy, int batch, int c, int hw, float *dx, float *dgamma,
                    float *dbeta)
{
    const double cnt = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float mu = mean[ch], is = istd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < batch; n++) {
            const float *a = x + ((size_t)n * c + ch) * hw;
            const float *g = dy + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++) {
                sdy += g[i];
                sdyx += (double)g[i] * ((a[i] - mu) * is);
            }
        }
        if (dgamma) dgamma[ch] = (float)sdyx;
        if (dbeta) dbeta[ch] = (float)sdy;
        if (!dx)
            continue;
        /* dx = gamma*istd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        const float k = gamma[ch] * is, mdy = (float)(sdy / cnt), mdyx = (float)(sdyx / cnt);
        for (int n = 0; n < batch; n++) {
            const float *restrict a = x + ((size_t)n * c + ch) * hw;
            const float *restrict g = dy + ((size_t)n * c + ch) * hw;
            float *restrict d = dx + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++)
                d[i] += k * (g[i] - mdy - (a[i] - mu) * is * mdyx);
        }
    }
}
