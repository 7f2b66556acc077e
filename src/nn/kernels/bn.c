/* Batch normalisation (Ioffe & Szegedy 2015): folded per-channel affine at inference,
 * batch statistics with running averages in training, and its backward pass. */
#include <math.h>
#include <string.h>
#include "nn/internal.h"

void ml__bn_fold(const float *scale, const float *bias, const float *mean, const float *var,
                float eps, int c, float *s, float *sh)
{
    for (int i = 0; i < c; i++) {
        float k = scale[i] / sqrtf(var[i] + eps);
        s[i] = k;
        sh[i] = bias[i] - mean[i] * k;
    }
}

void ml__bn_infer(const float *x, const float *s, const float *sh, int batch, int c, int hw,
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

/* Row sums in ML_LANES float lanes (vectorisable), combined in double: a fixed order, so
 * per-channel statistics are independent of the thread count. */
#define ML_LANES 16

static double row_sum(const float *restrict a, int n)
{
    float acc[ML_LANES] = {0};
    int i = 0;
    for (; i + ML_LANES <= n; i += ML_LANES)
        for (int k = 0; k < ML_LANES; k++)
            acc[k] += a[i + k];
    double s = 0.0;
    for (int k = 0; k < ML_LANES; k++)
        s += acc[k];
    for (; i < n; i++)
        s += a[i];
    return s;
}

/* sum of (a - mu)^2 */
static double row_sqdev(const float *restrict a, float mu, int n)
{
    float acc[ML_LANES] = {0};
    int i = 0;
    for (; i + ML_LANES <= n; i += ML_LANES)
        for (int k = 0; k < ML_LANES; k++) {
            const float d = a[i + k] - mu;
            acc[k] += d * d;
        }
    double s = 0.0;
    for (int k = 0; k < ML_LANES; k++)
        s += acc[k];
    for (; i < n; i++)
        s += (double)(a[i] - mu) * (a[i] - mu);
    return s;
}

/* g masked by a fused ReLU's output y (when y is given) */
static inline float masked(const float *restrict g, const float *restrict y, int i)
{
    const float v = g[i];
    return y && !(y[i] > 0.0f) ? 0.0f : v;
}

/* sum of g and of g * (a - mu), g masked by y */
static void row_dot(const float *restrict g, const float *restrict y, const float *restrict a,
                    float mu, int n, double *sg, double *sga)
{
    float acc[ML_LANES] = {0}, acc2[ML_LANES] = {0};
    int i = 0;
    for (; i + ML_LANES <= n; i += ML_LANES)
        for (int k = 0; k < ML_LANES; k++) {
            const float gv = masked(g, y, i + k);
            acc[k] += gv;
            acc2[k] += gv * (a[i + k] - mu);
        }
    double s = 0.0, s2 = 0.0;
    for (int k = 0; k < ML_LANES; k++) {
        s += acc[k];
        s2 += acc2[k];
    }
    for (; i < n; i++) {
        const float gv = masked(g, y, i);
        s += gv;
        s2 += (double)gv * (a[i] - mu);
    }
    *sg += s;
    *sga += s2;
}

void ml__bn_train_forward(const float *x, const float *gamma, const float *beta, float *rmean,
                         float *rvar, float eps, float momentum, int update, int batch, int c,
                         int hw, int relu, float *mean, float *istd, float *y)
{
    const double cnt = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, s2 = 0.0;
        for (int n = 0; n < batch; n++)
            s += row_sum(x + ((size_t)n * c + ch) * hw, hw);
        const double mu = s / cnt;
        for (int n = 0; n < batch; n++)
            s2 += row_sqdev(x + ((size_t)n * c + ch) * hw, (float)mu, hw);
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
            if (relu)
                for (int i = 0; i < hw; i++) {
                    const float v = a[i] * k + t;
                    b[i] = v > 0.0f ? v : 0.0f;
                }
            else
                for (int i = 0; i < hw; i++)
                    b[i] = a[i] * k + t;
        }
    }
}

void ml__bn_backward(const float *x, const float *gamma, const float *mean, const float *istd,
                    const float *dy, const float *mask, int batch, int c, int hw, float *dx,
                    float *dgamma, float *dbeta)
{
    const double cnt = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float mu = mean[ch], is = istd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < batch; n++)
            row_dot(dy + ((size_t)n * c + ch) * hw, mask ? mask + ((size_t)n * c + ch) * hw : NULL,
                    x + ((size_t)n * c + ch) * hw, mu, hw, &sdy, &sdyx);
        sdyx *= is;
        if (dgamma) dgamma[ch] = (float)sdyx;
        if (dbeta) dbeta[ch] = (float)sdy;
        if (!dx)
            continue;
        /* dx = gamma*istd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        const float k = gamma[ch] * is, mdy = (float)(sdy / cnt), mdyx = (float)(sdyx / cnt);
        for (int n = 0; n < batch; n++) {
            const float *restrict a = x + ((size_t)n * c + ch) * hw;
            const float *restrict g = dy + ((size_t)n * c + ch) * hw;
            const float *restrict y = mask ? mask + ((size_t)n * c + ch) * hw : NULL;
            float *restrict d = dx + ((size_t)n * c + ch) * hw;
            for (int i = 0; i < hw; i++)
                d[i] += k * (masked(g, y, i) - mdy - (a[i] - mu) * is * mdyx);
        }
    }
}
