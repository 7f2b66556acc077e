/* ml_net_finalize: validation, shape inference and the inference fusion plan
 * (Conv -> BatchNormalization -> Relu run as one kernel). */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/backend.h"
#include "nn/nd/nd.h"

void ml__net_unfinalize(ml_net *net);

#define FAIL(code, ...) do { rc = ml_error_set(err, code, __VA_ARGS__); goto fail; } while (0)

static int64_t prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

static void set_shape(ml_tensor *t, int ndim, const int64_t *dims)
{
    t->ndim = ndim;
    for (int i = 0; i < ML_MAX_DIMS; i++)
        t->dims[i] = i < ndim ? dims[i] : 0;
}

/* Output size of a window op along one axis; -1 when it is empty. */
static int out_size(int in, int k, int s, int p0, int p1, int d, int ceil_mode)
{
    int ext = d * (k - 1) + 1;
    int span = in + p0 + p1 - ext;
    if (span < 0 || s < 1)
        return -1;
    int o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p0)
        o--;
    return o;
}

/* ONNX auto_pad SAME_*: pads that make the output ceil(in / stride), the odd one at the end
 * (UPPER) or the beginning (LOWER). */
static void same_pads(ml_attrs *a, int axis, int in, int k)
{
    int s = a->strides[axis], ext = a->dilations[axis] * (k - 1) + 1;
    int out = (in + s - 1) / s, total = (out - 1) * s + ext - in;
    if (total < 0) total = 0;
    a->pads[axis] = a->auto_pad == 1 ? total / 2 : total - total / 2;
    a->pads[axis + 2] = total - a->pads[axis];
}

static ml_status window_geom(ml_node *nd, const ml_tensor *x, int kh, int kw, ml_geom *g,
                             ml_error *err)
{
    ml_attrs *a = &nd->attrs;
    if (a->auto_pad == 1 || a->auto_pad == 2) {
        if (a->strides[0] < 1 || a->strides[1] < 1 || a->dilations[0] < 1 || a->dilations[1] < 1 || kh < 1 || kw < 1)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): bad kernel, stride or dilation", nd->name,
                                ml_op_name(nd->op));
        same_pads(a, 0, (int)x->dims[2], kh);
        same_pads(a, 1, (int)x->dims[3], kw);
    }
    const char *op = ml_op_name(nd->op);
    if (a->strides[0] < 1 || a->strides[1] < 1 || a->dilations[0] < 1 || a->dilations[1] < 1 ||
        a->pads[0] < 0 || a->pads[1] < 0 || a->pads[2] < 0 || a->pads[3] < 0 || kh < 1 || kw < 1)
        return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): bad kernel, stride, pad or dilation",
                            nd->name, op);
    g->c = (int)x->dims[1];
    g->h = (int)x->dims[2];
    g->w = (int)x->dims[3];
    g->kh = kh;
    g->kw = kw;
    g->sh = a->strides[0];
    g->sw = a->strides[1];
    g->ph = a->pads[0];
    g->pw = a->pads[1];
    g->dh = a->dilations[0];
    g->dw = a->dilations[1];
    g->group = 1;
    g->oh = out_size(g->h, kh, g->sh, a->pads[0], a->pads[2], g->dh, a->ceil_mode);
    g->ow = out_size(g->w, kw, g->sw, a->pads[1], a->pads[3], g->dw, a->ceil_mode);
    if (g->oh < 1 || g->ow < 1)
        return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): window %dx%d larger than padded input %dx%d",
                            nd->name, op, kh, kw, g->h, g->w);
    return ML_OK;
}

/* Broadcast strides of operand t against the output dims (both right-aligned into 4). */
static int bcast_strides(const ml_tensor *t, const int64_t *od, int ond, int *st)
{
    int64_t d4[4] = {1, 1, 1, 1};
    for (int i = 0; i < t->ndim; i++)
        d4[4 - t->ndim + i] = t->dims[i];
    int64_t o4[4] = {1, 1, 1, 1};
    for (int i = 0; i < ond; i++)
        o4[4 - ond + i] = od[i];
    int s = 1;
    for (int i = 3; i >= 0; i--) {
        if (d4[i] != o4[i] && d4[i] != 1)
            return -1;
        st[i] = d4[i] == 1 ? 0 : s;
        s *= (int)d4[i];
    }
    return 0;
}

static ml_status infer_node(ml_net *net, int ni, ml_error *err)
{
    ml_node *nd = &net->nodes[ni];
    ml_plan *p = &net->priv->plan[ni];
    const char *op = ml_op_name(nd->op);
    ml_tensor *T = net->tensors;
    ml_tensor *x = &T[nd->inputs[0]];
    ml_tensor *y = &T[nd->output];
    int64_t od[ML_MAX_DIMS] = {0};
    int ond = 0;
    int binary = nd->op == ML_OP_ADD || nd->op == ML_OP_SUB || nd->op == ML_OP_MUL || nd->op == ML_OP_DIV ||
                 nd->op == ML_OP_POW || nd->op == ML_OP_MAX || nd->op == ML_OP_MIN || nd->op == ML_OP_PRELU;
    int need_act = !binary && nd->op != ML_OP_CONCAT;
    if (need_act && !ml_is_activation(x))
        return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): first input '%s' is a constant",
                            nd->name, op, x->name);
    switch (nd->op) {
    case ML_OP_CONV: {
        if (nd->ninputs < 2 || nd->inputs[1] < 0 || !T[nd->inputs[1]].data)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (Conv): weight must be an initializer", nd->name);
        ml_tensor *w = &T[nd->inputs[1]];
        if (x->ndim != 4 || w->ndim != 4)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (Conv): input and weight must have 4 dims (have %d, %d)",
                                nd->name, x->ndim, w->ndim);
        int grp = nd->attrs.group;
        if (grp < 1 || x->dims[1] % grp || w->dims[0] % grp || w->dims[1] * grp != x->dims[1])
            return ml_error_set(err, ML_EFORMAT, "node '%s' (Conv): weight has %lld input channels x %d groups, input has %lld",
                                nd->name, (long long)w->dims[1], grp, (long long)x->dims[1]);
        if ((nd->attrs.kernel[0] && nd->attrs.kernel[0] != w->dims[2]) ||
            (nd->attrs.kernel[1] && nd->attrs.kernel[1] != w->dims[3]))
            return ml_error_set(err, ML_EFORMAT, "node '%s' (Conv): kernel_shape disagrees with the weight", nd->name);
        if (nd->ninputs > 2 && nd->inputs[2] >= 0 &&
            (!T[nd->inputs[2]].data || ml_tensor_numel(&T[nd->inputs[2]]) != (size_t)w->dims[0]))
            return ml_error_set(err, ML_EFORMAT, "node '%s' (Conv): bias must be an initializer of %lld values",
                                nd->name, (long long)w->dims[0]);
        ml_status s = window_geom(nd, x, (int)w->dims[2], (int)w->dims[3], &p->g, err);
        if (s)
            return s;
        p->g.m = (int)w->dims[0];
        p->g.group = grp;
        w->flags |= ML_TENSOR_WEIGHT;
        ond = 4;
        od[0] = 1; od[1] = w->dims[0]; od[2] = p->g.oh; od[3] = p->g.ow;
        break;
    }
    case ML_OP_BATCHNORM: {
        if (nd->ninputs < 5)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (BatchNormalization): needs 5 inputs", nd->name);
        if (x->ndim < 2)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (BatchNormalization): input has %d dims", nd->name, x->ndim);
        for (int i = 1; i < 5; i++) {
            if (nd->inputs[i] < 0 || !T[nd->inputs[i]].data ||
                ml_tensor_numel(&T[nd->inputs[i]]) != (size_t)x->dims[1])
                return ml_error_set(err, ML_EFORMAT, "node '%s' (BatchNormalization): input %d must be an initializer of %lld values",
                                    nd->name, i, (long long)x->dims[1]);
        }
        T[nd->inputs[3]].flags |= ML_TENSOR_STAT;
        T[nd->inputs[4]].flags |= ML_TENSOR_STAT;
        ond = x->ndim;
        memcpy(od, x->dims, sizeof od);
        break;
    }
    case ML_OP_SOFTMAX: case ML_OP_LOGSOFTMAX: {
        int ax = nd->attrs.axis < 0 ? nd->attrs.axis + x->ndim : nd->attrs.axis;
        if (ax < 0 || ax >= (x->ndim ? x->ndim : 1))
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): axis %d out of range for %d dims", nd->name, op,
                                nd->attrs.axis, x->ndim);
        if (ax == 0)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): axis 0 (the batch axis) is not supported", nd->name, op);
        p->axis = ax;
    }
    /* fall through */
    case ML_OP_RELU:
    case ML_OP_IDENTITY:
    case ML_OP_SIGMOID:
    case ML_OP_LEAKYRELU:
    case ML_OP_CLIP:
        ond = x->ndim;
        memcpy(od, x->dims, sizeof od);
        break;
    case ML_OP_MAXPOOL:
    case ML_OP_AVGPOOL: {
        if (x->ndim != 4)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): input must have 4 dims", nd->name, op);
        if (nd->attrs.dilations[0] != 1 || nd->attrs.dilations[1] != 1)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): dilated pooling is not supported", nd->name, op);
        ml_status s = window_geom(nd, x, nd->attrs.kernel[0], nd->attrs.kernel[1], &p->g, err);
        if (s)
            return s;
        p->g.m = p->g.c;
        ond = 4;
        od[0] = 1; od[1] = x->dims[1]; od[2] = p->g.oh; od[3] = p->g.ow;
        break;
    }
    case ML_OP_GLOBALAVGPOOL:
        if (x->ndim != 4)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (GlobalAveragePool): input must have 4 dims", nd->name);
        ond = 4;
        od[0] = 1; od[1] = x->dims[1]; od[2] = 1; od[3] = 1;
        break;
    case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV:
    case ML_OP_POW: case ML_OP_MAX: case ML_OP_MIN: case ML_OP_PRELU: {
        if (nd->ninputs != 2 || nd->inputs[1] < 0)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): needs 2 inputs", nd->name, op);
        ml_tensor *b = &T[nd->inputs[1]];
        if (x->ndim > 4 || b->ndim > 4)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): operands of more than 4 dims", nd->name, op);
        int aa = ml_is_activation(x), ba = ml_is_activation(b);
        if (!aa && !ba)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): both inputs are constants (fold them first)", nd->name, op);
        const ml_tensor *big = aa ? x : b;
        if ((aa && ba && x->ndim != b->ndim) || (!aa && x->ndim > big->ndim) || (!ba && b->ndim > big->ndim))
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): operand ranks %d and %d cannot broadcast over the batch",
                                nd->name, op, x->ndim, b->ndim);
        ond = big->ndim;
        for (int i = 0; i < ond; i++) {
            int64_t da = i - (ond - x->ndim) >= 0 ? x->dims[i - (ond - x->ndim)] : 1;
            int64_t db = i - (ond - b->ndim) >= 0 ? b->dims[i - (ond - b->ndim)] : 1;
            od[i] = da > db ? da : db;
            if ((da != od[i] && da != 1) || (db != od[i] && db != 1))
                return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): shapes do not broadcast at axis %d (%lld vs %lld)",
                                    nd->name, op, i, (long long)da, (long long)db);
        }
        /* A constant as long as the output, whose first dim exceeds 1, holds one item per
         * image (ONNX graphs with a fixed batch): it advances with the batch like an
         * activation, and the batch must equal its first dim. */
        ml_tensor ops[2] = {*x, *b};
        p->item_batch = 0;
        for (int k = 0; k < 2; k++) {
            ml_tensor *t = &ops[k];
            p->batched[k] = k ? ba : aa;
            if (!p->batched[k] && t->ndim == ond && ond > 0 && t->dims[0] > 1) {
                if (p->item_batch && p->item_batch != t->dims[0])
                    return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): constants of %lld and %d batch items", nd->name,
                                        op, (long long)t->dims[0], p->item_batch);
                p->item_batch = (int)t->dims[0];
                t->dims[0] = 1;
                p->batched[k] = 1;
            }
        }
        if (p->item_batch)
            od[0] = 1;
        if (od[0] != 1)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): constant broadcasts over the batch axis", nd->name, op);
        for (int i = 0; i < 4; i++)
            p->odims[i] = 1;
        for (int i = 0; i < ond; i++)
            p->odims[4 - ond + i] = (int)od[i];
        p->opitem[0] = ml_tensor_numel(&ops[0]);
        p->opitem[1] = ml_tensor_numel(&ops[1]);
        if (bcast_strides(&ops[0], od, ond, p->bcast[0]) || bcast_strides(&ops[1], od, ond, p->bcast[1]))
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): shapes do not broadcast", nd->name, op);
        break;
    }
    case ML_OP_GEMM:
    case ML_OP_MATMUL: {
        if (nd->ninputs < 2 || nd->inputs[1] < 0 || !T[nd->inputs[1]].data)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): second input must be an initializer", nd->name, op);
        ml_tensor *B = &T[nd->inputs[1]];
        int tb = nd->op == ML_OP_GEMM && nd->attrs.transB;
        if (x->ndim != 2 || B->ndim != 2)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): inputs must be 2-D (have %d and %d dims; Flatten first)",
                                nd->name, op, x->ndim, B->ndim);
        if (nd->op == ML_OP_GEMM && nd->attrs.transA)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (Gemm): transA=1 is not supported", nd->name);
        int64_t k = tb ? B->dims[1] : B->dims[0], m = tb ? B->dims[0] : B->dims[1];
        if (k != x->dims[1])
            return ml_error_set(err, ML_EFORMAT, "node '%s' (%s): input has %lld features, weight expects %lld",
                                nd->name, op, (long long)x->dims[1], (long long)k);
        if (nd->op == ML_OP_GEMM && nd->ninputs > 2 && nd->inputs[2] >= 0) {
            ml_tensor *C = &T[nd->inputs[2]];
            size_t cn = ml_tensor_numel(C);
            if (!C->data || (cn != 1 && cn != (size_t)m))
                return ml_error_set(err, ML_EUNSUPP, "node '%s' (Gemm): C must be an initializer of 1 or %lld values",
                                    nd->name, (long long)m);
        }
        B->flags |= ML_TENSOR_WEIGHT;
        ond = 2;
        od[0] = 1; od[1] = m;
        break;
    }
    case ML_OP_FLATTEN: {
        int ax = nd->attrs.axis < 0 ? nd->attrs.axis + x->ndim : nd->attrs.axis;
        if (ax != 1)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (Flatten): only axis 1 is supported (got %d)", nd->name,
                                nd->attrs.axis);
        ond = 2;
        od[0] = 1; od[1] = prod(x->dims, 1, x->ndim);
        break;
    }
    case ML_OP_RESHAPE: {
        int ns = nd->attrs.nshape;
        if (ns < 1 || ns > ML_MAX_DIMS)
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (Reshape): target rank %d not in 1..%d", nd->name, ns,
                                ML_MAX_DIMS);
        int64_t item = prod(x->dims, 1, x->ndim), known = 1;
        int infer = -1;
        od[0] = 1; /* the first entry is the batch, whatever its value */
        for (int i = 1; i < ns; i++) {
            int64_t v = nd->attrs.shape[i];
            if (v == 0)
                v = i < x->ndim ? x->dims[i] : -2;
            if (v == -1 && infer < 0) { infer = i; continue; }
            if (v < 1)
                return ml_error_set(err, ML_EFORMAT, "node '%s' (Reshape): bad shape entry %d", nd->name, i);
            od[i] = v;
            known *= v;
        }
        if (infer >= 0)
            od[infer] = known > 0 && item % known == 0 ? item / known : -1;
        if ((infer >= 0 && od[infer] < 1) || prod(od, 0, ns) != item)
            return ml_error_set(err, ML_EFORMAT, "node '%s' (Reshape): cannot reshape %lld values per image",
                                nd->name, (long long)item);
        ond = ns;
        break;
    }
    default: {
        ml_status s = ml__nd_infer(net, ni, od, &ond, err);
        if (s)
            return s;
    }
    }
    set_shape(y, ond, od);
    return ML_OK;
}

ml_status ml_net_finalize(ml_net *net, ml_error *err)
{
    ml__net_unfinalize(net);
    ml_status rc = ML_OK;
    int nt = net->ntensors, nn = net->nnodes;
    if (net->input < 0 || net->input >= nt || net->output < 0 || net->output >= nt)
        return ml_error_set(err, ML_EFORMAT, "net: graph input or output not set");
    ml_tensor *in = &net->tensors[net->input];
    int in_ok = !in->data && in->ndim >= 1 && in->ndim <= ML_MAX_DIMS;
    for (int i = 1; in_ok && i < in->ndim; i++)
        in_ok = in->dims[i] >= 1;
    if (!in_ok)
        return ml_error_set(err, ML_EFORMAT, "net: input '%s' must be a non-constant tensor of 1 to %d dims (N first)",
                            in->name, ML_MAX_DIMS);
    if (nn == 0)
        return ml_error_set(err, ML_EFORMAT, "net: no nodes");
    struct ml_net_priv *p = ml__calloc(1, sizeof *p);
    char *defined = ml__calloc((size_t)nt, 1);
    if (!p || !defined) {
        ml__free(p);
        ml__free(defined);
        return ml_error_set(err, ML_ENOMEM, "net: out of memory");
    }
    net->priv = p;
    p->plan = ml__calloc((size_t)nn, sizeof *p->plan);
    p->item = ml__calloc((size_t)nt, sizeof *p->item);
    p->nuse = ml__calloc((size_t)nt, sizeof *p->nuse);
    p->act = ml__calloc((size_t)nt, sizeof *p->act);
    p->dact = ml__calloc((size_t)nt, sizeof *p->dact);
    p->bn_mean = ml__calloc((size_t)nn, sizeof *p->bn_mean);
    p->bn_istd = ml__calloc((size_t)nn, sizeof *p->bn_istd);
    if (!p->plan || !p->item || !p->nuse || !p->act || !p->dact || !p->bn_mean || !p->bn_istd)
        FAIL(ML_ENOMEM, "net: out of memory");
    in->dims[0] = 1;
    for (int i = 0; i < 4; i++) /* fewer than 4 dims: padded with 1s at the end; more: the last holds the rest */
        net->input_shape[i] = i < in->ndim ? in->dims[i] : 1;
    for (int i = 4; i < in->ndim; i++)
        net->input_shape[3] *= in->dims[i];
    for (int i = 0; i < nt; i++)
        defined[i] = net->tensors[i].data != NULL;
    defined[net->input] = 1;
    for (int i = 0; i < nn; i++) {
        ml_node *nd = &net->nodes[i];
        p->plan[i].fuse_bn = p->plan[i].fuse_relu = -1;
        for (int j = 0; j < nd->ninputs; j++) {
            int t = nd->inputs[j];
            if (t < 0) {
                if (j == 0)
                    FAIL(ML_EFORMAT, "node '%s' (%s): missing first input", nd->name, ml_op_name(nd->op));
                continue;
            }
            if (!defined[t])
                FAIL(ML_EFORMAT, "node '%s' (%s): input '%s' is not computed before it (graph not in topological order?)",
                     nd->name, ml_op_name(nd->op), net->tensors[t].name);
            p->nuse[t]++;
        }
        if (defined[nd->output])
            FAIL(ML_EFORMAT, "node '%s' (%s): output '%s' is already defined", nd->name, ml_op_name(nd->op),
                 net->tensors[nd->output].name);
        ml_status s = infer_node(net, i, err);
        if (s) {
            ml__free(defined);
            ml__net_unfinalize(net);
            return s;
        }
        defined[nd->output] = 1;
    }
    if (!defined[net->output] || !ml_is_activation(&net->tensors[net->output]))
        FAIL(ML_EFORMAT, "net: output '%s' is not computed by any node", net->tensors[net->output].name);
    p->nuse[net->output]++;
    for (int i = 0; i < nt; i++) {
        ml_tensor *t = &net->tensors[i];
        if (ml_is_activation(t) && defined[i]) {
            size_t n = 1;
            for (int d = 1; d < t->ndim; d++)
                n *= (size_t)t->dims[d];
            p->item[i] = n;
        }
    }
    net->classes = (int)p->item[net->output];
    /* Fusion plan for inference. */
    for (int i = 0; i < nn; i++) {
        ml_node *nd = &net->nodes[i];
        if (nd->op != ML_OP_CONV && nd->op != ML_OP_BATCHNORM && nd->op != ML_OP_ADD)
            continue;
        int out = nd->output;
        for (int j = i + 1; j < nn && p->nuse[out] == 1; j++) {
            ml_node *c = &net->nodes[j];
            if (c->inputs[0] != out && !(c->ninputs > 1 && c->inputs[1] == out))
                continue;
            if (nd->op == ML_OP_CONV && p->plan[i].fuse_bn < 0 && p->plan[i].fuse_relu < 0 &&
                c->op == ML_OP_BATCHNORM && c->inputs[0] == out) {
                p->plan[i].fuse_bn = j;
                p->plan[j].skip = 1;
                out = c->output;
                continue;
            }
            if (c->op == ML_OP_RELU) {
                p->plan[i].fuse_relu = j;
                p->plan[j].skip = 1;
            }
            break;
        }
    }
    ml__free(defined);
    net->finalized = 1;
    ml__conv_choose_all(net);
    return ML_OK;
fail:
    ml__free(defined);
    ml__net_unfinalize(net);
    return rc;
}

double ml_net_macs(const ml_net *net)
{
    double macs = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ml_node *nd = &net->nodes[i];
        if (nd->op == ML_OP_CONV) {
            const ml_tensor *w = &net->tensors[nd->inputs[1]];
            const ml_tensor *y = &net->tensors[nd->output];
            macs += (double)ml_tensor_numel(w) * (double)(y->dims[2] * y->dims[3]);
        } else if (nd->op == ML_OP_GEMM || nd->op == ML_OP_MATMUL) {
            macs += (double)ml_tensor_numel(&net->tensors[nd->inputs[1]]);
        }
    }
    return macs;
}
