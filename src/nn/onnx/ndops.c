/* ONNX import of the N-D inference-only ops (nn/nd/nd.h): which nodes become engine nodes
 * (shape ops on computed values, Upsample, Squeeze/Unsqueeze/Flatten as Reshape), their
 * attributes, and their constant inputs (Slice starts, Resize scales, Reduce axes, Pad
 * pads) read into ml_attrs. */
#include <string.h>
#include "core/alloc.h"
#include "nn/onnx/priv.h"


static const mlx_const *const_of(mlx_loader *L, int vi)
{
    return vi >= 0 && L->vals[vi].kind == MLX_V_CONST ? &L->consts[L->vals[vi].ci] : NULL;
}

int mlx_nd_route(mlx_loader *L, const Onnx__NodeProto *n, const char *s, ml_op *op)
{
    int computed = 0;
    for (size_t i = 0; i < n->n_input && i < 1024; i++) {
        int vi = n->input[i] && *n->input[i] ? mlx_names_get(&L->names, n->input[i]) : -1;
        if (vi >= 0 && L->vals[vi].kind != MLX_V_CONST && (i == 0 || !strcmp(s, "Concat")))
            computed = 1;
    }
    if (!computed)
        return 0;
    if (!strcmp(s, "Squeeze") || !strcmp(s, "Unsqueeze")) {
        *op = ML_OP_RESHAPE;
        return 1;
    }
    return (!strcmp(s, "Concat") || !strcmp(s, "Transpose") || !strcmp(s, "Slice")) && !ml_op_from_name(s, op);
}

void mlx_nd_nin(const char *s, ml_op op, int64_t opset, int *lo, int *hi)
{
    *lo = *hi = 1;
    if (op == ML_OP_RESHAPE) { /* Squeeze / Unsqueeze: axes as an input from opset 13 */
        *hi = 2;
    } else if (op == ML_OP_CONCAT) {
        *hi = ML_MAX_INPUTS;
    } else if (op == ML_OP_SLICE) {
        *lo = opset < 10 ? 1 : 3;
        *hi = opset < 10 ? 1 : 5;
    } else if (op == ML_OP_RESIZE) {
        *hi = !strcmp(s, "Upsample") || opset < 11 ? 2 : 4;
    } else if (op >= ML_OP_REDUCESUM && op <= ML_OP_REDUCESUMSQUARE) {
        *hi = 2;
    } else if (op == ML_OP_MAX || op == ML_OP_MIN) {
        *hi = ML_MAX_INPUTS; /* more than 2: refused when the inputs are read */
    } else if (op >= ML_OP_POW && op <= ML_OP_PRELU) {
        *lo = *hi = 2;
    }
}

static ml_status str_attr(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name,
                          const char *const *names, int count, int *out)
{
    const char *s = NULL;
    size_t len = 0;
    int r = mlx_attr_string(n, name, &s, &len);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be a string", who, name);
    if (r == 0)
        return ML_OK;
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == len && !memcmp(s, names[i], len)) {
            *out = i;
            return ML_OK;
        }
    return mlx_fail(L, ML_EUNSUPP, "%s: %s '%.*s' is not supported", who, name, (int)(len > 40 ? 40 : len), s);
}

static ml_status float_attr(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name, float *v)
{
    if (mlx_attr_float(n, name, v) < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be a float", who, name);
    return ML_OK;
}

/* An ints attribute of at most ML_MAX_DIMS entries, each within +-ML_MAX_DIMS, into out. */
static ml_status axes_attr(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *name, int *out,
                           int *count)
{
    int64_t v[ML_MAX_DIMS];
    int c = 0, r = mlx_attr_ints(n, name, v, ML_MAX_DIMS, &c);
    if (r < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: attribute %s must be at most %d integers", who, name, ML_MAX_DIMS);
    for (int i = 0; i < c; i++) {
        if (v[i] < -ML_MAX_DIMS || v[i] >= ML_MAX_DIMS)
            return mlx_fail(L, ML_EFORMAT, "%s: %s[%d] = %lld out of range", who, name, i, (long long)v[i]);
        out[i] = (int)v[i];
    }
    if (r > 0)
        *count = c;
    return ML_OK;
}

ml_status mlx_nd_attrs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, ml_op op, const char *s,
                       ml_attrs *a)
{
    int v = 0;
    switch (op) {
    case ML_OP_TRANSPOSE:
        return axes_attr(L, n, who, "perm", a->perm, &a->nperm);
    case ML_OP_CONCAT:
        if (!mlx_attr(n, "axis"))
            return mlx_fail(L, ML_EFORMAT, "%s: attribute axis is required", who);
        return mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS - 1, &a->axis);
    case ML_OP_LOGSOFTMAX:
        a->softmax_flat = L->opset < 13;
        a->axis = L->opset < 13 ? 1 : -1;
        return mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS - 1, &a->axis);
    case ML_OP_RESIZE: {
        static const char *const modes[] = {"nearest", "linear", "cubic"};
        static const char *const coords[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                                             "tf_crop_and_resize", "tf_half_pixel_for_nn"};
        static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        int upsample = !strcmp(s, "Upsample");
        if (upsample || L->opset < 11) { /* Upsample and Resize-10: asymmetric, floor for nearest */
            a->resize_coord = 1;
            a->resize_nearest = upsample ? 2 : 0;
        }
        TRY(str_attr(L, n, who, "mode", modes, upsample || L->opset < 11 ? 2 : 3, &a->resize_mode));
        if (upsample || L->opset < 11) {
            if (upsample && L->opset < 9) { /* Upsample-7: scales as an attribute */
                float sc[ML_MAX_DIMS];
                int c = 0;
                if (mlx_attr_floats(n, "scales", sc, ML_MAX_DIMS, &c) != 1)
                    return mlx_fail(L, ML_EFORMAT, "%s: attribute scales (at most %d floats) is required", who,
                                    ML_MAX_DIMS);
                memcpy(a->scales, sc, sizeof sc);
                a->nscales = c;
            }
            return ML_OK;
        }
        TRY(str_attr(L, n, who, "coordinate_transformation_mode", coords, 6, &a->resize_coord));
        TRY(str_attr(L, n, who, "nearest_mode", nearest, 4, &a->resize_nearest));
        TRY(float_attr(L, n, who, "cubic_coeff_a", &a->cubic_a));
        TRY(float_attr(L, n, who, "extrapolation_value", &a->extrapolation));
        TRY(mlx_attr_int_in(L, n, who, "antialias", 0, 0, &v));
        if (mlx_attr(n, "axes") || mlx_attr(n, "keep_aspect_ratio_policy"))
            return mlx_fail(L, ML_EUNSUPP, "%s: attributes axes and keep_aspect_ratio_policy are not supported", who);
        return mlx_attr_int_in(L, n, who, "exclude_outside", 0, 1, &a->exclude_outside);
    }
    case ML_OP_SLICE:
        if (L->opset < 10) {
            int64_t st[ML_MAX_DIMS], en[ML_MAX_DIMS];
            int cs = 0, ce = 0;
            if (mlx_attr_ints(n, "starts", st, ML_MAX_DIMS, &cs) != 1 || mlx_attr_ints(n, "ends", en, ML_MAX_DIMS, &ce) != 1 ||
                cs != ce)
                return mlx_fail(L, ML_EFORMAT, "%s: starts and ends must be lists of equal length", who);
            a->nslice = cs;
            for (int i = 0; i < cs; i++) {
                a->slice_axes[i] = i;
                a->starts[i] = st[i];
                a->ends[i] = en[i];
                a->steps[i] = 1;
            }
            int c = -1;
            TRY(axes_attr(L, n, who, "axes", a->slice_axes, &c));
            if (c >= 0 && c != cs)
                return mlx_fail(L, ML_EFORMAT, "%s: %d axes for %d starts", who, c, cs);
        }
        return ML_OK;
    case ML_OP_ELU: case ML_OP_CELU: case ML_OP_THRESHOLDEDRELU:
        a->alpha = 1;
        return float_attr(L, n, who, "alpha", &a->alpha);
    case ML_OP_SELU:
        a->alpha = 1.67326319217681884765625f;
        a->gamma = 1.05070102214813232421875f;
        TRY(float_attr(L, n, who, "alpha", &a->alpha));
        return float_attr(L, n, who, "gamma", &a->gamma);
    case ML_OP_HARDSIGMOID:
        a->alpha = 0.2f;
        a->beta = 0.5f;
        TRY(float_attr(L, n, who, "alpha", &a->alpha));
        return float_attr(L, n, who, "beta", &a->beta);
    case ML_OP_SHRINK:
        a->alpha = 0.5f;
        a->beta = 0;
        TRY(float_attr(L, n, who, "lambd", &a->alpha));
        return float_attr(L, n, who, "bias", &a->beta);
    default:
        if (op == ML_OP_ARGMAX || op == ML_OP_ARGMIN) {
            a->naxes = 1;
            a->axes[0] = 0; /* ONNX's default: the batch axis, refused at finalize */
            TRY(mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS - 1, &a->axes[0]));
            TRY(mlx_attr_int_in(L, n, who, "keepdims", 0, 1, &a->keepdims));
            return mlx_attr_int_in(L, n, who, "select_last_index", 0, 1, &a->select_last);
        }
        if (op >= ML_OP_REDUCESUM && op <= ML_OP_REDUCESUMSQUARE) {
            TRY(axes_attr(L, n, who, "axes", a->axes, &a->naxes));
            TRY(mlx_attr_int_in(L, n, who, "keepdims", 0, 1, &a->keepdims));
            return mlx_attr_int_in(L, n, who, "noop_with_empty_axes", 0, 1, &v);
        }
        return ML_OK;
    }
}

/* Integers of a constant input into out (at most max), or an error naming it. */
static ml_status const_ints(mlx_loader *L, const char *who, const char *what, int vi, int64_t *out, int max, int *count)
{
    const mlx_const *c = const_of(L, vi);
    if (!c)
        return mlx_fail(L, ML_EUNSUPP, "%s: %s must be a constant", who, what);
    if (!c->ints || c->rank > 1 || c->n > max)
        return mlx_fail(L, ML_EFORMAT, "%s: %s must be at most %d integers", who, what, max);
    memcpy(out, c->ints, (size_t)c->n * sizeof *out);
    *count = (int)c->n;
    return ML_OK;
}

/* Squeeze / Unsqueeze / Flatten (axis != 1) as a Reshape to the dims they give at batch 1. */
static ml_status as_reshape(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *s, const int *vin,
                            size_t nin, ml_attrs *a)
{
    int64_t dims[MLX_MAX_RANK], od[MLX_MAX_RANK + ML_MAX_DIMS], ax[ML_MAX_DIMS];
    int rank = 0, nax = 0, k = 0;
    TRY(mlx_activation_dims(L, vin[0], dims, &rank));
    int flatten = !strcmp(s, "Flatten"), unsq = !strcmp(s, "Unsqueeze");
    if (flatten) {
        int f = a->axis < 0 ? a->axis + rank : a->axis;
        if (f < 1 || f > rank)
            return mlx_fail(L, f == 0 ? ML_EUNSUPP : ML_EFORMAT, "%s: axis %d (axis 0 folds in the batch: not supported)",
                            who, a->axis);
        od[0] = mlx_numel(dims, (size_t)f);
        od[1] = mlx_numel(dims + f, (size_t)(rank - f));
        if (od[0] != 1)
            return mlx_fail(L, ML_EUNSUPP, "%s: axis %d folds %lld values per image into the batch axis", who, a->axis,
                            (long long)od[0]);
        k = 2;
    } else {
        if (nin > 1 && vin[1] >= 0) {
            TRY(const_ints(L, who, "axes", vin[1], ax, ML_MAX_DIMS, &nax));
        } else {
            int64_t v[ML_MAX_DIMS];
            int r = mlx_attr_ints(n, "axes", v, ML_MAX_DIMS, &nax);
            if (r < 0)
                return mlx_fail(L, ML_EFORMAT, "%s: attribute axes must be at most %d integers", who, ML_MAX_DIMS);
            memcpy(ax, v, sizeof v);
        }
        int orank = unsq ? rank + nax : rank;
        unsigned mask = 0;
        for (int i = 0; i < nax; i++) {
            int64_t q = ax[i] < 0 ? ax[i] + orank : ax[i];
            if (q < 0 || q >= orank || (mask >> q & 1))
                return mlx_fail(L, ML_EFORMAT, "%s: axis %lld out of range or repeated", who, (long long)ax[i]);
            if (q == 0)
                return mlx_fail(L, ML_EUNSUPP, "%s: axis 0 (the batch axis) is not supported", who);
            mask |= 1u << q;
        }
        if (unsq) {
            for (int i = 0, j = 0; i < orank; i++)
                od[k++] = mask >> i & 1 ? 1 : dims[j++];
        } else {
            for (int i = 0; i < rank; i++) {
                if ((nax == 0 && i > 0 && dims[i] == 1) || (mask >> i & 1)) {
                    if (dims[i] != 1)
                        return mlx_fail(L, ML_EFORMAT, "%s: axis %d has %lld entries, not 1", who, i, (long long)dims[i]);
                    continue;
                }
                od[k++] = dims[i];
            }
        }
    }
    if (k > ML_MAX_DIMS)
        return mlx_fail(L, ML_EUNSUPP, "%s: result has %d dims (at most %d)", who, k, ML_MAX_DIMS);
    a->nshape = k;
    memcpy(a->shape, od, (size_t)k * sizeof *od);
    return ML_OK;
}

ml_status mlx_nd_inputs(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *s, ml_op *op,
                        const int *vin, size_t *nin, ml_attrs *a)
{
    int64_t v[ML_MAX_DIMS];
    int c = 0;
    if ((*op == ML_OP_RESHAPE && strcmp(s, "Reshape")) || (*op == ML_OP_FLATTEN && a->axis != 1)) {
        TRY(as_reshape(L, n, who, s, vin, *nin, a));
        *op = ML_OP_RESHAPE;
        *nin = 1;
    } else if (*op == ML_OP_SLICE && L->opset >= 10) {
        int64_t ax[ML_MAX_DIMS];
        int cs, ce, ca = -1, cp = -1;
        TRY(const_ints(L, who, "starts", vin[1], a->starts, ML_MAX_DIMS, &cs));
        TRY(const_ints(L, who, "ends", vin[2], a->ends, ML_MAX_DIMS, &ce));
        if (*nin > 3 && vin[3] >= 0)
            TRY(const_ints(L, who, "axes", vin[3], ax, ML_MAX_DIMS, &ca));
        if (*nin > 4 && vin[4] >= 0)
            TRY(const_ints(L, who, "steps", vin[4], a->steps, ML_MAX_DIMS, &cp));
        if (ce != cs || (ca >= 0 && ca != cs) || (cp >= 0 && cp != cs))
            return mlx_fail(L, ML_EFORMAT, "%s: starts, ends, axes and steps differ in length", who);
        a->nslice = cs;
        for (int i = 0; i < cs; i++) {
            if (ca >= 0 && (ax[i] < -ML_MAX_DIMS || ax[i] >= ML_MAX_DIMS))
                return mlx_fail(L, ML_EFORMAT, "%s: axis %lld out of range", who, (long long)ax[i]);
            a->slice_axes[i] = ca >= 0 ? (int)ax[i] : i;
            if (cp < 0)
                a->steps[i] = 1;
        }
        *nin = 1;
    } else if (*op == ML_OP_RESIZE) {
        int upsample = !strcmp(s, "Upsample"), si = upsample || L->opset < 11 ? 1 : 2;
        if (*nin > 1 && !upsample && L->opset >= 11 && vin[1] >= 0 && a->resize_coord == 4) {
            const mlx_const *r = const_of(L, vin[1]);
            if (!r || r->n > 2 * ML_MAX_DIMS)
                return mlx_fail(L, ML_EUNSUPP, "%s: roi must be a constant of at most %d values", who, 2 * ML_MAX_DIMS);
            for (int64_t i = 0; i < r->n; i++)
                a->roi[i] = r->data[i];
        }
        const mlx_const *sc = (int)*nin > si && vin[si] >= 0 ? const_of(L, vin[si]) : NULL;
        const mlx_const *sz = (int)*nin > si + 1 && vin[si + 1] >= 0 ? const_of(L, vin[si + 1]) : NULL;
        if (((int)*nin > si && vin[si] >= 0 && !sc) || ((int)*nin > si + 1 && vin[si + 1] >= 0 && !sz))
            return mlx_fail(L, ML_EUNSUPP, "%s: scales and sizes must be constants", who);
        if (sc && sc->n > 0) {
            if (sc->n > ML_MAX_DIMS)
                return mlx_fail(L, ML_EFORMAT, "%s: %lld scales", who, (long long)sc->n);
            a->nscales = (int)sc->n;
            memcpy(a->scales, sc->data, (size_t)sc->n * sizeof(float));
        }
        if (sz && sz->n > 0) {
            if (a->nscales)
                return mlx_fail(L, ML_EFORMAT, "%s: both scales and sizes are given", who);
            TRY(const_ints(L, who, "sizes", vin[si + 1], a->sizes, ML_MAX_DIMS, &a->nsizes));
        }
        if (!a->nscales && !a->nsizes)
            return mlx_fail(L, ML_EFORMAT, "%s: neither scales nor sizes is given", who);
        *nin = 1;
    } else if (*op >= ML_OP_REDUCESUM && *op <= ML_OP_REDUCESUMSQUARE) {
        int noop = 0;
        TRY(mlx_attr_int_in(L, n, who, "noop_with_empty_axes", 0, 1, &noop));
        if (*nin > 1 && vin[1] >= 0) {
            TRY(const_ints(L, who, "axes", vin[1], v, ML_MAX_DIMS, &c));
            for (int i = 0; i < c; i++) {
                if (v[i] < -ML_MAX_DIMS || v[i] >= ML_MAX_DIMS)
                    return mlx_fail(L, ML_EFORMAT, "%s: axis %lld out of range", who, (long long)v[i]);
                a->axes[i] = (int)v[i];
            }
            a->naxes = c;
        }
        if (noop && a->naxes == 0)
            *op = ML_OP_IDENTITY;
        *nin = 1;
    } else if (*op == ML_OP_MAX || *op == ML_OP_MIN) {
        if (*nin > 2)
            return mlx_fail(L, ML_EUNSUPP, "%s: %zu inputs (at most 2 supported)", who, *nin);
        if (*nin == 1)
            *op = ML_OP_IDENTITY;
    }
    return ML_OK;
}

ml_status mlx_nd_split(mlx_loader *L, const Onnx__NodeProto *n, const char *who)
{
    int64_t dims[MLX_MAX_RANK], parts[64];
    int rank = 0, np = 0, axis = 0;
    if (n->n_input < 1 || n->n_input > 2 || !n->input[0] || !*n->input[0])
        return mlx_fail(L, ML_EFORMAT, "%s: %zu inputs (1 or 2 expected)", who, n->n_input);
    int vx = mlx_names_get(&L->names, n->input[0]);
    if (vx < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: input '%s' is not defined before the node", who, n->input[0]);
    if (L->vals[vx].kind != MLX_V_TENSOR)
        return mlx_fail(L, ML_EUNSUPP, "%s: Split is supported only on computed activations", who);
    if (n->n_output < 1 || n->n_output > 64)
        return mlx_fail(L, ML_EUNSUPP, "%s: %zu outputs (1..64 supported)", who, n->n_output);
    TRY(mlx_attr_int_in(L, n, who, "axis", -ML_MAX_DIMS, ML_MAX_DIMS - 1, &axis));
    TRY(mlx_activation_dims(L, vx, dims, &rank));
    int ax = axis < 0 ? axis + rank : axis;
    if (ax < 0 || ax >= rank)
        return mlx_fail(L, ML_EFORMAT, "%s: axis %d out of range for %d dims", who, axis, rank);
    if (ax == 0)
        return mlx_fail(L, ML_EUNSUPP, "%s: splitting axis 0 (the batch axis) is not supported", who);
    if (n->n_input > 1 && n->input[1] && *n->input[1]) {
        int vs = mlx_names_get(&L->names, n->input[1]);
        if (vs < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: input '%s' is not defined before the node", who, n->input[1]);
        TRY(const_ints(L, who, "split", vs, parts, 64, &np));
    } else {
        int r = mlx_attr_ints(n, "split", parts, 64, &np);
        if (r < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: attribute split must be at most 64 integers", who);
    }
    int64_t k = (int64_t)n->n_output;
    if (np == 0) {
        if (dims[ax] % k)
            return mlx_fail(L, ML_EUNSUPP, "%s: %lld entries do not split into %lld equal parts", who, (long long)dims[ax],
                            (long long)k);
        for (int64_t i = 0; i < k; i++)
            parts[i] = dims[ax] / k;
        np = (int)k;
    }
    int64_t sum = 0;
    for (int i = 0; i < np; i++)
        sum += parts[i] > 0 ? parts[i] : -((int64_t)1 << 40);
    if (np != k || sum != dims[ax])
        return mlx_fail(L, ML_EFORMAT, "%s: split sizes do not add up to %lld over %lld outputs", who, (long long)dims[ax],
                        (long long)k);
    int ti = L->vals[vx].ti;
    for (int i = 0, off = 0; i < np; off += (int)parts[i], i++) {
        const char *name = n->output[i];
        if (!name || !*name)
            continue;
        ml_attrs at;
        ml_attrs_default(&at);
        at.nslice = 1;
        at.slice_axes[0] = ax;
        at.starts[0] = off;
        at.ends[0] = off + parts[i];
        at.steps[0] = 1;
        int out = ml_net_add_tensor(L->net, name, 0, NULL, NULL, 0, L->err);
        if (out < 0)
            return mlx_prefix(L, L->err->code);
        int vo = mlx_new_value(L, name, MLX_V_TENSOR);
        if (vo < 0)
            return mlx_fail(L, ML_ENOMEM, "out of memory");
        L->vals[vo].ti = out;
        if (ml_net_add_node(L->net, ML_OP_SLICE, n->name ? n->name : "", &ti, 1, out, &at, L->err) < 0)
            return mlx_prefix(L, L->err->code);
    }
    return ML_OK;
}
