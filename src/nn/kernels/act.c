/* Element-wise ops: Relu, the broadcasting binary ops Add, Sub, Mul, Div (and the
 * inference-only Pow, Max, Min, PRelu), and the inference-only Sigmoid, LeakyRelu, Clip,
 * Softmax and the log of LogSoftmax. */
#include <math.h>
#include "nn/internal.h"

void ml__log_forward(const float *x, size_t n, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = logf(x[i]);
}

void ml__relu_forward(const float *x, size_t n, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ml__relu_backward(const float *restrict y, const float *restrict dy, size_t n, float *restrict dx)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const float d = dy[i], v = y[i]; /* both loaded: a select, so the loop vectorises */
        dx[i] += v > 0.0f ? d : 0.0f;
    }
}

static inline float apply(ml_op op, float a, float b)
{
    switch (op) {
    case ML_OP_ADD: return a + b;
    case ML_OP_SUB: return a - b;
    case ML_OP_MUL: return a * b;
    case ML_OP_POW: return powf(a, b);
    case ML_OP_MAX: return a > b || a != a ? a : b;
    case ML_OP_MIN: return a < b || a != a ? a : b;
    case ML_OP_PRELU: return a < 0 ? a * b : a;
    default: return a / b;
    }
}

static size_t item_size(const ml_plan *p)
{
    return (size_t)p->odims[0] * p->odims[1] * p->odims[2] * p->odims[3];
}

/* Operand k's offset for output position (i0..i3) inside one item. */
static inline size_t off(const ml_plan *p, int k, int i0, int i1, int i2, int i3)
{
    const int *s = p->bcast[k];
    return (size_t)i0 * s[0] + (size_t)i1 * s[1] + (size_t)i2 * s[2] + (size_t)i3 * s[3];
}

void ml__binary_forward(ml_op op, const ml_plan *p, const float *a, const float *b, int batch,
                       int relu, float *y)
{
    const size_t item = item_size(p);
    const int *d = p->odims;
    /* residual: both operands advance per image and have the output's shape */
    const int same = p->batched[0] && p->batched[1] && p->opitem[0] == item && p->opitem[1] == item;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < batch; n++) {
        const float *A = a + (p->batched[0] ? (size_t)n * p->opitem[0] : 0);
        const float *B = b + (p->batched[1] ? (size_t)n * p->opitem[1] : 0);
        float *restrict Y = y + (size_t)n * item;
        if (same) {
            if (op == ML_OP_ADD && relu)
                for (size_t i = 0; i < item; i++) {
                    float v = A[i] + B[i];
                    Y[i] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t i = 0; i < item; i++) {
                    float v = apply(op, A[i], B[i]);
                    Y[i] = relu && v < 0.0f ? 0.0f : v;
                }
            continue;
        }
        size_t o = 0;
        for (int i0 = 0; i0 < d[0]; i0++)
            for (int i1 = 0; i1 < d[1]; i1++)
                for (int i2 = 0; i2 < d[2]; i2++)
                    for (int i3 = 0; i3 < d[3]; i3++, o++) {
                        float v = apply(op, A[off(p, 0, i0, i1, i2, i3)], B[off(p, 1, i0, i1, i2, i3)]);
                        Y[o] = relu && v < 0.0f ? 0.0f : v;
                    }
    }
}

/* Gradients flow only to activation operands (constants are never trained). */
/* residual Add: da += g, db += g over equal shapes, g masked by a fused ReLU's output */
static void add_backward(const float *restrict G, const float *restrict mask, size_t n,
                         float *restrict dA, float *restrict dB)
{
    for (size_t i = 0; i < n; i++) {
        const float g = G[i], m = mask ? mask[i] : 1.0f;
        const float v = m > 0.0f ? g : 0.0f;
        if (dA) dA[i] += v;
        if (dB) dB[i] += v;
    }
}

void ml__binary_backward(ml_op op, const ml_plan *p, const float *a, const float *b,
                        const float *dy, const float *mask, int batch, float *da, float *db,
                        int a_batched, int b_batched)
{
    const size_t item = item_size(p);
    const int *d = p->odims;
    const int same = p->batched[0] && p->batched[1] && p->opitem[0] == item && p->opitem[1] == item;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < batch; n++) {
        const float *A = a + (p->batched[0] ? (size_t)n * p->opitem[0] : 0);
        const float *B = b + (p->batched[1] ? (size_t)n * p->opitem[1] : 0);
        const float *G = dy + (size_t)n * item;
        const float *Mk = mask ? mask + (size_t)n * item : NULL;
        float *dA = da && a_batched ? da + (size_t)n * p->opitem[0] : NULL;
        float *dB = db && b_batched ? db + (size_t)n * p->opitem[1] : NULL;
        if (same && op == ML_OP_ADD) {
            add_backward(G, Mk, item, dA, dB);
            continue;
        }
        size_t o = 0;
        for (int i0 = 0; i0 < d[0]; i0++)
            for (int i1 = 0; i1 < d[1]; i1++)
                for (int i2 = 0; i2 < d[2]; i2++)
                    for (int i3 = 0; i3 < d[3]; i3++, o++) {
                        size_t ka = off(p, 0, i0, i1, i2, i3), kb = off(p, 1, i0, i1, i2, i3);
                        float g = Mk && !(Mk[o] > 0.0f) ? 0.0f : G[o], av = A[ka], bv = B[kb];
                        switch (op) {
                        case ML_OP_ADD:
                            if (dA) dA[ka] += g;
                            if (dB) dB[kb] += g;
                            break;
                        case ML_OP_SUB:
                            if (dA) dA[ka] += g;
                            if (dB) dB[kb] -= g;
                            break;
                        case ML_OP_MUL:
                            if (dA) dA[ka] += g * bv;
                            if (dB) dB[kb] += g * av;
                            break;
                        default:
                            if (dA) dA[ka] += g / bv;
                            if (dB) dB[kb] -= g * av / (bv * bv);
                            break;
                        }
                    }
    }
}

/* ---- inference-only activations ---- */

void ml__sigmoid_forward(const float *x, size_t n, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void ml__leakyrelu_forward(const float *x, size_t n, float alpha, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

void ml__clip_forward(const float *x, size_t n, float lo, float hi, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i]; /* ONNX: min(max(x, lo), hi), so hi wins when lo > hi */
        y[i] = v > hi ? hi : v;
    }
}

void ml__softmax_forward(const float *x, size_t outer, size_t len, size_t inner, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < outer * inner; r++) {
        const float *xr = x + (r / inner) * len * inner + r % inner;
        float *yr = y + (r / inner) * len * inner + r % inner;
        float mx = -INFINITY;
        for (size_t k = 0; k < len; k++)
            mx = xr[k * inner] > mx ? xr[k * inner] : mx;
        double sum = 0;
        for (size_t k = 0; k < len; k++)
            sum += yr[k * inner] = expf(xr[k * inner] - mx);
        const float inv = (float)(1.0 / sum);
        for (size_t k = 0; k < len; k++)
            yr[k * inner] *= inv;
    }
}
