/* ONNX import: unpack a ModelProto with protobuf-c, check it and build an ml_net node by
 * node (constant folding is in fold.c). Every index, size and type from the file is
 * validated here; the engine's ml_net_finalize then checks shapes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/onnx.h"
#include "nn/onnx/priv.h"

ml_status mlx_fail(mlx_loader *L, ml_status code, const char *fmt, ...)
{
    char msg[sizeof L->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ml_error_set(L->err, code, "%s: %s", L->path, msg);
}

/* Prefix an error set by a helper (engine, tensor decoding) with the file name. */
ml_status mlx_prefix(mlx_loader *L, ml_status code)
{
    if (L->err) {
        char msg[sizeof L->err->msg];
        snprintf(msg, sizeof msg, "%s", L->err->msg);
        ml_error_set(L->err, code, "%s: %s", L->path, msg);
    }
    return code;
}

static const char *str_or(const char *s, const char *dflt) { return s && *s ? s : dflt; }

/* Node name for messages: the ONNX name, else "#index". */
static const char *node_label(const Onnx__NodeProto *n, int idx, char *buf, size_t len)
{
    if (n->name && *n->name)
        return n->name;
    snprintf(buf, len, "#%d", idx);
    return buf;
}

int mlx_new_value(mlx_loader *L, const char *name, int kind)
{
    if (L->nvals == L->capvals || mlx_names_put(&L->names, name, L->nvals))
        return -1;
    mlx_value *v = &L->vals[L->nvals];
    v->kind = kind;
    v->ci = v->ti = v->node = -1;
    return L->nvals++;
}

/* Take ownership of c as a new constant value called name. */
ml_status mlx_add_const(mlx_loader *L, const char *name, mlx_const *c)
{
    if (L->nconsts == L->capconsts) {
        mlx_const_clear(c);
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    }
    int vi = mlx_new_value(L, name, MLX_V_CONST);
    if (vi < 0) {
        mlx_const_clear(c);
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    }
    L->consts[L->nconsts] = *c;
    memset(c, 0, sizeof *c);
    L->vals[vi].ci = L->nconsts++;
    return ML_OK;
}

/* Net tensor for value vi, adding a constant to the net on first use. */
static int tensor_of(mlx_loader *L, int vi, const char *name, unsigned flags, const char *who)
{
    mlx_value *v = &L->vals[vi];
    if (v->kind == MLX_V_CONST && v->ti < 0) {
        const mlx_const *c = &L->consts[v->ci];
        if (c->ints) {
            mlx_fail(L, ML_EFORMAT, "%s: input '%s' is an integer tensor, float expected", who, name);
            return -1;
        }
        if (c->rank > ML_MAX_DIMS) {
            mlx_fail(L, ML_EUNSUPP, "%s: constant '%s' has rank %d (at most %d)", who, name, c->rank, ML_MAX_DIMS);
            return -1;
        }
        v->ti = ml_net_add_tensor(L->net, name, c->rank, c->dims, c->data, ML_TENSOR_PARAM | flags, L->err);
        if (v->ti < 0) {
            mlx_prefix(L, L->err->code);
            return -1;
        }
        return v->ti;
    }
    if (v->ti >= 0)
        L->net->tensors[v->ti].flags |= (v->kind == MLX_V_CONST ? flags : 0);
    return v->ti;
}


/* ---- constant folding ---- */

/* Shape arithmetic: every input must be a constant, except Shape's, which may be an
 * activation (its dims are known once the net so far is finalized). */
static ml_status shape_node(mlx_loader *L, const Onnx__NodeProto *n, const char *who, const char *label)
{
    if (n->n_input < 1 || n->n_input > 1024)
        return mlx_fail(L, ML_EFORMAT, "%s: %zu inputs", who, n->n_input);
    int *vin = ml__malloc(n->n_input * sizeof *vin);
    if (!vin)
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    int is_shape = !strcmp(n->op_type, "Shape");
    for (size_t i = 0; i < n->n_input; i++) {
        const char *in = n->input[i];
        vin[i] = in && *in ? mlx_names_get(&L->names, in) : -1;
        if (in && *in && vin[i] < 0) {
            ml__free(vin);
            return mlx_fail(L, ML_EFORMAT, "%s: input '%s' is not defined before the node", who, in);
        }
        if (vin[i] >= 0 && L->vals[vin[i]].kind != MLX_V_CONST && !(is_shape && L->vals[vin[i]].kind == MLX_V_TENSOR)) {
            ml__free(vin);
            return mlx_fail(L, ML_EUNSUPP, "node '%s': unsupported op '%s' (on computed values; only shape arithmetic on constants is folded)",
                            label, n->op_type);
        }
    }
    ml_status st = mlx_fold_shape_op(L, who, n, vin, (int)n->n_input);
    ml__free(vin);
    return st;
}

static ml_status load_node(mlx_loader *L, const Onnx__NodeProto *n, int idx)
{
    char buf[32], who[400];
    const char *label = node_label(n, idx, buf, sizeof buf);
    const char *opname = str_or(n->op_type, "");
    snprintf(who, sizeof who, "node '%.200s' (%.60s)", label, opname);
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
        return mlx_fail(L, ML_EUNSUPP, "node '%s': unsupported op '%s' (domain '%s')", label, opname, n->domain);
    int is_const = !strcmp(opname, "Constant");
    ml_op op = ML_OP_IDENTITY;
    int is_shape = mlx_is_shape_op(opname) && !mlx_nd_route(L, n, opname, &op);
    int upsample = !strcmp(opname, "Upsample");
    if (upsample)
        op = ML_OP_RESIZE;
    if (!is_const && !is_shape && !upsample && strcmp(opname, "Pad") && strcmp(opname, "Split") && !mlx_is_shape_op(opname) &&
        ml_op_from_name(opname, &op))
        return mlx_fail(L, ML_EUNSUPP, "node '%s': unsupported op '%s'", label, opname);
    if (n->n_output < 1 || !n->output[0] || !*n->output[0])
        return mlx_fail(L, ML_EFORMAT, "%s: no output", who);
    for (size_t i = 0; i < n->n_output; i++)
        if (n->output[i] && *n->output[i] && mlx_names_get(&L->names, n->output[i]) >= 0)
            return mlx_fail(L, ML_EFORMAT, "%s: output '%s' is defined twice", who, n->output[i]);
    if (is_shape)
        return shape_node(L, n, who, label);
    if (!strcmp(opname, "Pad"))
        return mlx_pad_node(L, n, who);
    if (!strcmp(opname, "Split"))
        return mlx_nd_split(L, n, who);

    /* Inputs: resolve names; "" marks an absent optional input. */
    int dropout = !strcmp(opname, "Dropout");
    size_t nin = n->n_input;
    if (dropout && nin > 1) {
        for (size_t i = 1; i < nin; i++) {
            int vi = n->input[i] && *n->input[i] ? mlx_names_get(&L->names, n->input[i]) : -1;
            if (i == 2 && vi >= 0 && L->vals[vi].kind == MLX_V_CONST && L->consts[L->vals[vi].ci].n == 1 &&
                L->consts[L->vals[vi].ci].data[0] != 0)
                return mlx_fail(L, ML_EUNSUPP, "%s: training_mode is set", who);
        }
        nin = 1;
    }
    static const int minin[ML_OP_SOFTMAX + 1] = {2, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 1, 1, 1, 1, 1};
    static const int maxin[ML_OP_SOFTMAX + 1] = {3, 5, 1, 1, 1, 1, 2, 2, 2, 2, 3, 2, 1, 2, 1, 1, 1, 3, 1};
    if (is_const) {
        if (nin)
            return mlx_fail(L, ML_EFORMAT, "%s: Constant takes no inputs", who);
        return mlx_constant_node(L, n, who);
    }
    int lo, hi;
    if (op <= ML_OP_SOFTMAX && strcmp(opname, "Squeeze") && strcmp(opname, "Unsqueeze")) {
        lo = minin[op];
        hi = maxin[op];
    } else {
        mlx_nd_nin(opname, op, L->opset, &lo, &hi);
    }
    if ((int)nin < lo || (int)nin > hi)
        return mlx_fail(L, (int)nin > hi && hi == ML_MAX_INPUTS ? ML_EUNSUPP : ML_EFORMAT,
                        "%s: %zu inputs (expected %d..%d)", who, nin, lo, hi);
    int vin[ML_MAX_INPUTS], all_const = 1;
    for (size_t i = 0; i < nin; i++) {
        const char *in = n->input[i];
        vin[i] = -1;
        if (!in || !*in) {
            if ((int)i < lo)
                return mlx_fail(L, ML_EFORMAT, "%s: required input %zu is empty", who, i);
            continue;
        }
        vin[i] = mlx_names_get(&L->names, in);
        if (vin[i] < 0)
            return mlx_fail(L, ML_EFORMAT, "%s: input '%s' is not defined before the node", who, in);
        if (L->vals[vin[i]].kind == MLX_V_UNAVAILABLE)
            return mlx_fail(L, ML_EUNSUPP, "%s: input '%s' is an extra output of node %d that memlev does not compute",
                        who, in, L->vals[vin[i]].node);
        if (L->vals[vin[i]].kind != MLX_V_CONST)
            all_const = 0;
        if (L->vals[vin[i]].kind == MLX_V_PADDED && !(i == 0 && (op == ML_OP_CONV || op == ML_OP_AVGPOOL)))
            TRY(mlx_unpad(L, vin[i], in));
    }
    /* Extra outputs (BN statistics, MaxPool indices, Dropout mask) are not computed. */
    for (size_t i = 1; i < n->n_output; i++) {
        if (!n->output[i] || !*n->output[i])
            continue;
        int vi = mlx_new_value(L, n->output[i], MLX_V_UNAVAILABLE);
        if (vi < 0)
            return mlx_fail(L, ML_ENOMEM, "out of memory");
        L->vals[vi].node = idx;
    }
    if (all_const)
        return mlx_fold_node(L, who, op, n, vin, (int)nin, n->output[0]);

    ml_attrs at;
    ml_attrs_default(&at);
    TRY(mlx_op_attrs(L, n, who, op, &at));
    TRY(mlx_nd_attrs(L, n, who, op, opname, &at));
    TRY(mlx_nd_inputs(L, n, who, opname, &op, vin, &nin, &at));
    if (L->opset < 7 && (op == ML_OP_ADD || op == ML_OP_SUB || op == ML_OP_MUL || op == ML_OP_DIV || op == ML_OP_GEMM)) {
        /* before opset 7: broadcast=1 with an axis aligns B at that axis, not at the end */
        if (mlx_attr(n, "axis"))
            return mlx_fail(L, ML_EUNSUPP, "%s: opset-%lld broadcasting with an axis attribute", who, (long long)L->opset);
    }
    if (L->vals[vin[0]].kind == MLX_V_PADDED) {
        const int *pad = L->vals[vin[0]].pad;
        int own = at.pads[0] || at.pads[1] || at.pads[2] || at.pads[3];
        if (at.auto_pad)
            return mlx_fail(L, ML_EUNSUPP, "%s: a Pad in front of a node with auto_pad SAME_*", who);
        if (op == ML_OP_AVGPOOL && own && !at.count_include_pad)
            return mlx_fail(L, ML_EUNSUPP, "%s: a Pad in front of an AveragePool that pads without counting the padding", who);
        if (op == ML_OP_AVGPOOL)
            at.count_include_pad = 1;
        for (int k = 0; k < 4; k++)
            at.pads[k] += pad[k];
    }
    if (op == ML_OP_CLIP) {
        /* opset 11+: min and max are optional scalar inputs, which memlev needs constant */
        for (size_t i = 1; i < nin; i++) {
            if (vin[i] < 0)
                continue;
            const mlx_const *c = L->vals[vin[i]].kind == MLX_V_CONST ? &L->consts[L->vals[vin[i]].ci] : NULL;
            if (!c)
                return mlx_fail(L, ML_EUNSUPP, "%s: %s must be a constant", who, i == 1 ? "min" : "max");
            if (c->n != 1)
                return mlx_fail(L, ML_EFORMAT, "%s: %s must be a scalar", who, i == 1 ? "min" : "max");
            *(i == 1 ? &at.clip_min : &at.clip_max) = c->data[0];
        }
        nin = 1;
    }
    if (op == ML_OP_RESHAPE && !strcmp(opname, "Reshape")) {
        mlx_value *sv = &L->vals[vin[1]];
        int64_t dims[MLX_MAX_RANK];
        int rank = 0, allowzero = 0;
        if (sv->kind != MLX_V_CONST)
            return mlx_fail(L, ML_EUNSUPP, "%s: shape must be a constant", who);
        TRY(mlx_attr_int_in(L, n, who, "allowzero", 0, 1, &allowzero));
        TRY(mlx_reshape_dims(L, who, NULL, 0, 0, &L->consts[sv->ci], dims, &rank));
        if (rank > ML_MAX_DIMS)
            return mlx_fail(L, ML_EUNSUPP, "%s: target rank %d exceeds %d", who, rank, ML_MAX_DIMS);
        at.nshape = rank;
        for (int i = 0; i < rank; i++) {
            at.shape[i] = L->consts[sv->ci].ints[i];
            if (allowzero && at.shape[i] == 0)
                return mlx_fail(L, ML_EUNSUPP, "%s: allowzero with a 0 entry is not supported", who);
        }
        nin = 1;
    }
    int tin[ML_MAX_INPUTS];
    int binary = op == ML_OP_ADD || op == ML_OP_SUB || op == ML_OP_MUL || op == ML_OP_DIV || op == ML_OP_CONCAT ||
                 (op >= ML_OP_POW && op <= ML_OP_PRELU);
    for (size_t i = 0; i < nin; i++) {
        tin[i] = -1;
        if (vin[i] < 0)
            continue;
        tin[i] = tensor_of(L, vin[i], n->input[i], binary ? ML_TENSOR_CONST : 0, who);
        if (tin[i] < 0)
            return L->err->code;
    }
    int out = ml_net_add_tensor(L->net, n->output[0], 0, NULL, NULL, 0, L->err);
    if (out < 0)
        return mlx_prefix(L, L->err->code);
    int vo = mlx_new_value(L, n->output[0], MLX_V_TENSOR);
    if (vo < 0)
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    L->vals[vo].ti = out;
    if (ml_net_add_node(L->net, op, n->name ? n->name : "", tin, (int)nin, out, &at, L->err) < 0)
        return mlx_prefix(L, L->err->code);
    return ML_OK;
}

/* ---- graph ---- */

static ml_status load_input(mlx_loader *L, const Onnx__ValueInfoProto *vi, int *ti)
{
    const char *name = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return mlx_fail(L, ML_EUNSUPP, "input '%s': not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type != MLX_DT_FLOAT)
        return mlx_fail(L, ML_EUNSUPP, "input '%s': element type %d, float expected", name, tt->has_elem_type ? tt->elem_type : 0);
    if (!tt->shape || tt->shape->n_dim < 1 || tt->shape->n_dim > ML_MAX_DIMS)
        return mlx_fail(L, ML_EUNSUPP, "input '%s': must have 1 to %d dims (N first; N,C,H,W for images), has %d", name,
                    ML_MAX_DIMS, tt->shape ? (int)tt->shape->n_dim : -1);
    int rank = (int)tt->shape->n_dim;
    int64_t dims[ML_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int i = 1; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (!d || d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            d->dim_value < 1 || d->dim_value > (1 << 20))
            return mlx_fail(L, ML_EFORMAT, "input '%s': dim %d must be a fixed size in 1..%d", name, i, 1 << 20);
        dims[i] = d->dim_value;
    }
    if (mlx_numel(dims + 1, ML_MAX_DIMS - 1) < 0 || mlx_numel(dims + 1, ML_MAX_DIMS - 1) > ((int64_t)1 << 28))
        return mlx_fail(L, ML_EFORMAT, "input '%s': %lldx%lldx%lld... is absurdly large", name,
                    (long long)dims[1], (long long)dims[2], (long long)dims[3]);
    *ti = ml_net_add_tensor(L->net, name, rank, dims, NULL, ML_TENSOR_INPUT, L->err);
    if (*ti < 0)
        return mlx_prefix(L, L->err->code);
    int v = mlx_new_value(L, name, MLX_V_TENSOR);
    if (v < 0)
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    L->vals[v].ti = *ti;
    return ML_OK;
}

/* A graph input bound to a constant value (ml_onnx_load_bound). */
static ml_status bind_input(mlx_loader *L, const char *name, const ml_onnx_tensor *t)
{
    if (t->ndim < 0 || t->ndim > MLX_MAX_RANK || mlx_numel(t->dims, (size_t)t->ndim) != (int64_t)t->n ||
        (t->n && !t->data))
        return mlx_fail(L, ML_EINVAL, "value for input '%s': bad dims or no data", name);
    mlx_const c;
    memset(&c, 0, sizeof c);
    TRY(mlx_const_alloc(L, &c, t->ndim, t->dims, t->ints != NULL));
    if (t->n)
        memcpy(c.data, t->data, t->n * sizeof *c.data);
    if (t->ints && t->n)
        memcpy(c.ints, t->ints, t->n * sizeof *c.ints);
    return mlx_add_const(L, name, &c);
}

static ml_status load_graph(mlx_loader *L, const Onnx__ModelProto *m)
{
    Onnx__GraphProto *g = m->graph;
    if (!g)
        return mlx_fail(L, ML_EFORMAT, "no graph");
    L->g = g;
    L->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (o && (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")))
            L->opset = o->has_version ? o->version : -1;
    }
    if (L->opset < 0)
        return mlx_fail(L, ML_EFORMAT, "no opset_import for the default domain");
    if (L->opset < 1 || L->opset > 18)
        return mlx_fail(L, ML_EUNSUPP, "opset %lld is not supported (1..18)", (long long)L->opset);
    if (g->n_sparse_initializer)
        return mlx_fail(L, ML_EUNSUPP, "sparse initializers are not supported");

    size_t nv = g->n_initializer + g->n_input + 1;
    for (size_t i = 0; i < g->n_node; i++)
        nv += g->node[i] ? g->node[i]->n_output : 0;
    if (nv > (size_t)1 << 28 || g->n_node > (size_t)1 << 24)
        return mlx_fail(L, ML_EFORMAT, "absurd number of nodes or tensors");
    L->capvals = (int)nv;
    L->capconsts = (int)(g->n_initializer + g->n_node + g->n_input);
    L->vals = ml__calloc(nv, sizeof *L->vals);
    L->consts = ml__calloc((size_t)L->capconsts + 1, sizeof *L->consts);
    if (!L->vals || !L->consts || mlx_names_init(&L->names, nv))
        return mlx_fail(L, ML_ENOMEM, "out of memory");
    L->net = ml_net_new();
    if (!L->net || (g->name && *g->name && !(L->net->name = ml__strdup(g->name))))
        return mlx_fail(L, ML_ENOMEM, "out of memory");

    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t || !t->name || !*t->name)
            return mlx_fail(L, ML_EFORMAT, "initializer %zu has no name", i);
        if (mlx_names_get(&L->names, t->name) >= 0)
            return mlx_fail(L, ML_EFORMAT, "initializer '%s' is defined twice", t->name);
        char what[400];
        snprintf(what, sizeof what, "initializer '%.300s'", t->name);
        mlx_const c;
        if (mlx_const_decode(t, what, &c, L->err))
            return mlx_prefix(L, L->err->code);
        TRY(mlx_add_const(L, t->name, &c));
    }
    /* The graph input is the one input that is not an initializer (old exporters list
     * initializers among the inputs). */
    int in_ti = -1, k = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi || !vi->name || !*vi->name)
            return mlx_fail(L, ML_EFORMAT, "graph input %zu has no name", i);
        if (mlx_names_get(&L->names, vi->name) >= 0) {
            if (L->vals[mlx_names_get(&L->names, vi->name)].kind != MLX_V_CONST)
                return mlx_fail(L, ML_EFORMAT, "graph input '%s' is listed twice", vi->name);
            continue;
        }
        if (L->nbind >= 0 && k != L->data_input) {
            if (k >= L->nbind)
                return mlx_fail(L, ML_EFORMAT, "graph input '%s' is not given a value (%d given)", vi->name, L->nbind);
            TRY(bind_input(L, vi->name, &L->bind[k]));
            k++;
            continue;
        }
        k++;
        if (in_ti >= 0)
            return mlx_fail(L, ML_EUNSUPP, "more than one graph input ('%s')", vi->name);
        TRY(load_input(L, vi, &in_ti));
        L->input = in_ti;
    }
    if (L->nbind >= 0 && k != L->nbind)
        return mlx_fail(L, ML_EFORMAT, "%d input values given, the graph has %d inputs", L->nbind, k);
    if (in_ti < 0)
        return mlx_fail(L, ML_EFORMAT, "no graph input");
    if (g->n_output != 1)
        return mlx_fail(L, g->n_output ? ML_EUNSUPP : ML_EFORMAT, "graph has %zu outputs (1 supported)", g->n_output);
    for (size_t i = 0; i < g->n_node; i++) {
        if (!g->node[i])
            return mlx_fail(L, ML_EFORMAT, "node %zu is empty", i);
        TRY(load_node(L, g->node[i], (int)i));
    }
    const char *oname = g->output[0] ? g->output[0]->name : NULL;
    int ov = oname ? mlx_names_get(&L->names, oname) : -1;
    if (ov < 0)
        return mlx_fail(L, ML_EFORMAT, "graph output '%s' is not computed by any node", str_or(oname, ""));
    if (L->vals[ov].kind != MLX_V_TENSOR || L->vals[ov].ti == in_ti)
        return mlx_fail(L, ML_EUNSUPP, "graph output '%s' is not computed from the input", oname);
    ml_net_set_io(L->net, in_ti, L->vals[ov].ti);
    if (ml_net_finalize(L->net, L->err))
        return mlx_prefix(L, L->err->code);
    return ML_OK;
}

static ml_status load_buffer(const void *data, size_t len, const char *name, const ml_onnx_tensor *bind,
                             int nbind, int data_input, ml_net **out, ml_error *err)
{
    if (!data || !name || !out)
        return ml_error_set(err, ML_EINVAL, "ml_onnx_load_buffer: NULL argument");
    if (len == 0)
        return ml_error_set(err, ML_EFORMAT, "%s: empty file", name);
    Onnx__ModelProto *m = NULL;
    if (mlx_wire_check(&onnx__model_proto__descriptor, data, len) == 0)
        m = onnx__model_proto__unpack(NULL, len, data);
    if (!m)
        return ml_error_set(err, ML_EFORMAT, "%s: not an ONNX model (malformed or truncated protobuf)", name);
    ml_error local;
    mlx_loader L;
    memset(&L, 0, sizeof L);
    L.path = name;
    L.err = err ? err : &local;
    L.input = -1;
    L.bind = bind;
    L.nbind = nbind;
    L.data_input = data_input;
    ml_status st = load_graph(&L, m);
    for (int i = 0; i < L.nconsts; i++)
        mlx_const_clear(&L.consts[i]);
    ml__free(L.consts);
    ml__free(L.vals);
    mlx_names_free(&L.names);
    onnx__model_proto__free_unpacked(m, NULL);
    if (st) {
        ml_net_free(L.net);
        return st;
    }
    *out = L.net;
    return ML_OK;
}

ml_status ml_onnx_load_buffer(const void *data, size_t len, const char *name, ml_net **out, ml_error *err)
{
    return load_buffer(data, len, name, NULL, -1, 0, out, err);
}

ml_status ml_onnx_load(const char *path, ml_net **out, ml_error *err)
{
    return ml_onnx_load_bound(path, NULL, -1, 0, out, err);
}

ml_status ml_onnx_load_bound(const char *path, const ml_onnx_tensor *values, int n, int data_input,
                             ml_net **out, ml_error *err)
{
    if (!path || !out || (n > 0 && !values) || (n >= 0 && (data_input < 0 || data_input >= n)))
        return ml_error_set(err, ML_EINVAL, "ml_onnx_load: bad argument");
    uint8_t *buf = NULL;
    size_t len = 0;
    ml_status st = mlx_read_file(path, &buf, &len, err);
    if (st)
        return st;
    st = load_buffer(buf, len, path, values, n < 0 ? -1 : n, data_input, out, err);
    ml__free(buf);
    return st;
}
