/* ONNX import of Pad: zeros on H and W of a 4-D activation merge into the consuming
 * Conv/AveragePool (a padded value), every other pad runs as the engine's Pad node. */
#include <string.h>
#include "nn/onnx/priv.h"

/* A Pad node memlev runs: output value name, input tensor ti, pads (begins then ends). */
static ml_status add_pad(mlx_loader *L, const char *name, int ti, const int64_t *pads, int npads, int mode, float cval,
                         int *vo)
{
    ml_attrs at;
    ml_attrs_default(&at);
    at.npadnd = npads;
    memcpy(at.padnd, pads, (size_t)npads * sizeof *pads);
    at.pad_mode = mode;
    at.pad_value = cval;
    int out = ml_net_add_tensor(L->net, name, 0, NULL, NULL, 0, L->err);
    if (out < 0)
        return mlx_prefix(L, L->err->code);
    if (ml_net_add_node(L->net, ML_OP_PAD, name, &ti, 1, out, &at, L->err) < 0)
        return mlx_prefix(L, L->err->code);
    if (*vo < 0 && (*vo = mlx_new_value(L, name, MLX_V_TENSOR)) < 0)
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    L->vals[*vo].kind = MLX_V_TENSOR;
    L->vals[*vo].ti = out;
    return ML_OK;
}

/* A zero Pad kept for merging whose consumer is not a Conv or AveragePool: run it. */
ml_status mlx_unpad(mlx_loader *L, int vi, const char *name)
{
    const int *p = L->vals[vi].pad;
    int64_t pads[8] = {0, 0, p[0], p[1], 0, 0, p[2], p[3]};
    return add_pad(L, name, L->vals[vi].ti, pads, 8, 0, 0, &vi);
}

/* Pad: zeros on H and W of a 4-D activation become an alias when it pads nothing, else a
 * padded value that the consuming Conv/AveragePool absorbs; other pads run as a Pad node. */
ml_status mlx_pad_node(mlx_loader *L, const Onnx__NodeProto *n, const char *who)
{
    int64_t pads[2 * ML_MAX_DIMS] = {0};
    int npads = 0, mode = 0;
    float cval = 0;
    const char *ms = "constant";
    size_t mlen = 8;
    if (mlx_attr_string(n, "mode", &ms, &mlen) < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: mode must be a string", who);
    if (mlen == 7 && !memcmp(ms, "reflect", 7))
        mode = 1;
    else if (mlen == 4 && !memcmp(ms, "edge", 4))
        mode = 2;
    else if (mlen != 8 || memcmp(ms, "constant", 8))
        return mlx_fail(L, ML_EUNSUPP, "%s: mode '%.*s' is not supported (constant, reflect, edge are)", who,
                        (int)(mlen > 20 ? 20 : mlen), ms);
    if (n->n_input < 1 || !n->input[0] || !*n->input[0])
        return mlx_fail(L, ML_EFORMAT, "%s: no data input", who);
    int vx = mlx_names_get(&L->names, n->input[0]);
    if (vx < 0)
        return mlx_fail(L, ML_EFORMAT, "%s: input '%s' is not defined before the node", who, n->input[0]);
    if (L->vals[vx].kind == MLX_V_PADDED)
        TRY(mlx_unpad(L, vx, n->input[0]));
    if (L->vals[vx].kind != MLX_V_TENSOR)
        return mlx_fail(L, ML_EUNSUPP, "%s: Pad is supported only on computed activations", who);
    if (L->opset < 11) {
        if (mlx_attr_ints(n, "pads", pads, 2 * ML_MAX_DIMS, &npads) != 1 || mlx_attr_float(n, "value", &cval) < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: bad pads or value attribute", who);
    } else {
        if (n->n_input > 3 || n->n_input < 2)
            return mlx_fail(L, n->n_input > 3 ? ML_EUNSUPP : ML_EFORMAT, "%s: %zu inputs (2 or 3 supported)", who, n->n_input);
        for (size_t i = 1; i < n->n_input; i++) {
            int v = n->input[i] && *n->input[i] ? mlx_names_get(&L->names, n->input[i]) : -1;
            if (v < 0 && i == 2)
                continue;
            if (v < 0 || L->vals[v].kind != MLX_V_CONST)
                return mlx_fail(L, ML_EUNSUPP, "%s: pads and constant_value must be constants", who);
            const mlx_const *c = &L->consts[L->vals[v].ci];
            if (i == 1) {
                if (!c->ints || c->n > 2 * ML_MAX_DIMS)
                    return mlx_fail(L, ML_EFORMAT, "%s: pads must be at most %d integers", who, 2 * ML_MAX_DIMS);
                npads = (int)c->n;
                memcpy(pads, c->ints, (size_t)npads * sizeof *pads);
            } else {
                if (c->n != 1)
                    return mlx_fail(L, ML_EFORMAT, "%s: constant_value must be a scalar", who);
                cval = c->data[0];
            }
        }
    }
    int merge = npads == 8 && mode == 0 && cval == 0 && !pads[0] && !pads[1] && !pads[4] && !pads[5];
    for (int k = 0; k < npads; k++)
        merge &= pads[k] >= 0 && pads[k] <= (1 << 16);
    int vo = mlx_new_value(L, n->output[0], MLX_V_TENSOR);
    if (vo < 0)
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    if (!merge)
        return add_pad(L, n->output[0], L->vals[vx].ti, pads, npads, mode, cval, &vo);
    L->vals[vo] = L->vals[vx];
    int idx[4] = {2, 3, 6, 7}, any = 0;
    for (int k = 0; k < 4; k++) {
        L->vals[vo].pad[k] = (int)pads[idx[k]];
        any |= pads[idx[k]] != 0;
    }
    if (any)
        L->vals[vo].kind = MLX_V_PADDED;
    return ML_OK;
}
