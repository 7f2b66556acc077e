/* Element-wise unary ops (Tanh ... Shrink) with ONNX's definitions; one loop per op, so
 * no dispatch inside the loop. alpha/beta/gamma as ml_attrs holds them. */
#include <math.h>
#include "nn/nd/nd.h"

#define MAP(expr)                                       \
    do {                                                \
        _Pragma("omp parallel for schedule(static)")    \
        for (size_t i = 0; i < n; i++) {                \
            const float v = x[i];                       \
            y[i] = (expr);                              \
        }                                               \
    } while (0)

static float softplus(float v) { return v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v)); }
static float sign(float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : v; }
static float hardsig(float v, float al, float be)
{
    float t = al * v + be;
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

void ml__nd_unary_forward(ml_op op, const ml_attrs *a, const float *x, size_t n, float *y)
{
    const float al = a->alpha, be = a->beta, ga = a->gamma;
    switch (op) {
    case ML_OP_TANH: MAP(tanhf(v)); break;
    case ML_OP_EXP: MAP(expf(v)); break;
    case ML_OP_LOG: MAP(logf(v)); break;
    case ML_OP_SQRT: MAP(sqrtf(v)); break;
    case ML_OP_NEG: MAP(-v); break;
    case ML_OP_ABS: MAP(fabsf(v)); break;
    case ML_OP_RECIPROCAL: MAP(1.0f / v); break;
    case ML_OP_ERF: MAP(erff(v)); break;
    case ML_OP_FLOOR: MAP(floorf(v)); break;
    case ML_OP_CEIL: MAP(ceilf(v)); break;
    case ML_OP_ROUND: MAP(v - floorf(v) == 0.5f ? 2.0f * roundf(0.5f * v) : roundf(v)); break; /* half to even */
    case ML_OP_SIGN: MAP(sign(v)); break;
    case ML_OP_SIN: MAP(sinf(v)); break;
    case ML_OP_COS: MAP(cosf(v)); break;
    case ML_OP_TAN: MAP(tanf(v)); break;
    case ML_OP_ASIN: MAP(asinf(v)); break;
    case ML_OP_ACOS: MAP(acosf(v)); break;
    case ML_OP_ATAN: MAP(atanf(v)); break;
    case ML_OP_SINH: MAP(sinhf(v)); break;
    case ML_OP_COSH: MAP(coshf(v)); break;
    case ML_OP_ASINH: MAP(asinhf(v)); break;
    case ML_OP_ACOSH: MAP(acoshf(v)); break;
    case ML_OP_ATANH: MAP(atanhf(v)); break;
    case ML_OP_SOFTPLUS: MAP(softplus(v)); break;
    case ML_OP_SOFTSIGN: MAP(v / (1.0f + fabsf(v))); break;
    case ML_OP_ELU: MAP(v < 0 ? al * expm1f(v) : v); break;
    case ML_OP_SELU: MAP(v <= 0 ? ga * (al * expf(v) - al) : ga * v); break;
    case ML_OP_CELU: MAP((v > 0 ? v : 0) + fminf(0.0f, al * expm1f(v / al))); break;
    case ML_OP_HARDSIGMOID: MAP(hardsig(v, al, be)); break;
    case ML_OP_HARDSWISH: MAP(v * hardsig(v, 1.0f / 6.0f, 0.5f)); break;
    case ML_OP_THRESHOLDEDRELU: MAP(v > al ? v : 0.0f); break;
    case ML_OP_SHRINK: MAP(v < -al ? v + be : v > al ? v - be : 0.0f); break; /* alpha = lambd, beta = bias */
    default: break;
    }
}
