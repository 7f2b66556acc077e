/* Graph building: tensor table, node list, op names, cloning and parameter queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/internal.h"

static const char *const op_names[] = {
    "Conv", "BatchNormalization", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool",
    "Add", "Sub", "Mul", "Div", "Gemm", "MatMul", "Flatten", "Reshape", "Identity",
    "Sigmoid", "LeakyRelu", "Clip", "Softmax",
    "Transpose", "Concat", "Slice", "Pad", "Resize", "LogSoftmax", "GlobalMaxPool",
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    "Pow", "Max", "Min", "PRelu",
    "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Erf", "Floor", "Ceil", "Round",
    "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
    "Atanh", "Softplus", "Softsign", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
    "ThresholdedRelu", "Shrink", "ArgMax", "ArgMin"};
_Static_assert(sizeof op_names / sizeof op_names[0] == ML_OP_COUNT, "one name per op");

const char *ml_op_name(ml_op op)
{
    return (int)op >= 0 && op < ML_OP_COUNT ? op_names[op] : NULL;
}

int ml_op_from_name(const char *s, ml_op *op)
{
    if (!s)
        return -1;
    for (int i = 0; i < ML_OP_COUNT; i++)
        if (!strcmp(s, op_names[i])) {
            *op = (ml_op)i;
            return 0;
        }
    if (!strcmp(s, "Dropout")) {
        *op = ML_OP_IDENTITY;
        return 0;
    }
    return -1;
}

void ml_attrs_default(ml_attrs *a)
{
    memset(a, 0, sizeof *a);
    a->strides[0] = a->strides[1] = 1;
    a->dilations[0] = a->dilations[1] = 1;
    a->group = 1;
    a->epsilon = 1e-5f;
    a->momentum = 0.9f;
    a->alpha = a->beta = 1.0f;
    a->axis = 1;
    a->clip_min = -INFINITY;
    a->clip_max = INFINITY;
    a->keepdims = 1;
    a->cubic_a = -0.75f;
}

ml_net *ml_net_new(void)
{
    ml_net *n = ml__calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->input = n->output = -1;
    return n;
}

void ml__net_priv_free(struct ml_net_priv *p)
{
    if (!p)
        return;
    /* the arrays are sized by the tensor/node counts of the finalize that made them;
     * their element buffers were freed by the caller that knows those counts */
    ml__free(p->plan);
    ml__free(p->item);
    ml__free(p->nuse);
    ml__free(p->act);
    ml__free(p->dact);
    ml__free(p->bn_mean);
    ml__free(p->bn_istd);
    ml__free(p->scratch);
    ml__free(p->wpart);
    ml__free(p->fold);
    ml__free(p->wino);
    ml__wcache_free(p->wino_u);
    ml__dnnl_free(p->dnnl);
    ml__free(p);
}

/* Free the per-tensor and per-node buffers of the workspace, then the workspace. */
static void priv_release(ml_net *net)
{
    struct ml_net_priv *p = net->priv;
    if (!p)
        return;
    for (int i = 0; i < net->ntensors; i++) {
        if (p->act) ml__free(p->act[i]);
        if (p->dact) ml__free(p->dact[i]);
    }
    for (int i = 0; i < net->nnodes; i++) {
        if (p->bn_mean) ml__free(p->bn_mean[i]);
        if (p->bn_istd) ml__free(p->bn_istd[i]);
    }
    ml__net_priv_free(p);
    net->priv = NULL;
    net->finalized = 0;
}

/* Structural edits invalidate the plan; finalize rebuilds it. */
void ml__net_unfinalize(ml_net *net);
void ml__net_unfinalize(ml_net *net)
{
    priv_release(net);
}

void ml_net_free(ml_net *net)
{
    if (!net)
        return;
    priv_release(net);
    for (int i = 0; i < net->ntensors; i++) {
        ml__free(net->tensors[i].name);
        ml__free(net->tensors[i].data);
        ml__free(net->tensors[i].grad);
    }
    for (int i = 0; i < net->nnodes; i++)
        ml__free(net->nodes[i].name);
    ml__free(net->tensors);
    ml__free(net->nodes);
    ml__free(net->name);
    ml__free(net);
}

int ml_net_find_tensor(const ml_net *net, const char *name)
{
    for (int i = 0; i < net->ntensors; i++)
        if (!strcmp(net->tensors[i].name, name))
            return i;
    return -1;
}

int ml_net_add_tensor(ml_net *net, const char *name, int ndim, const int64_t *dims,
                      const float *data, unsigned flags, ml_error *err)
{
    if (!name || ndim < 0 || ndim > ML_MAX_DIMS || (ndim > 0 && !dims)) {
        ml_error_set(err, ML_EINVAL, "tensor '%s': bad name or rank %d", name ? name : "(null)", ndim);
        return -1;
    }
    if (ml_net_find_tensor(net, name) >= 0) {
        ml_error_set(err, ML_EFORMAT, "tensor '%s' defined twice", name);
        return -1;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (int64_t)1 << 31 ||
            (dims[i] > 0 && numel > ((size_t)1 << 40) / (size_t)dims[i])) {
            ml_error_set(err, ML_EFORMAT, "tensor '%s': dimension %d (%lld) out of range", name, i,
                         (long long)dims[i]);
            return -1;
        }
        numel *= (size_t)dims[i];
    }
    if (net->ntensors == net->cap_tensors) {
        int cap = net->cap_tensors ? net->cap_tensors * 2 : 64;
        ml_tensor *t = ml__realloc(net->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            ml_error_set(err, ML_ENOMEM, "tensor '%s': out of memory", name);
            return -1;
        }
        net->tensors = t;
        net->cap_tensors = cap;
    }
    ml_tensor t;
    memset(&t, 0, sizeof t);
    t.name = ml__strdup(name);
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.dims[i] = dims[i];
    t.flags = flags;
    if (data) {
        t.data = ml__malloc(numel ? numel * sizeof(float) : sizeof(float));
        if (t.data)
            memcpy(t.data, data, numel * sizeof(float));
    }
    if (!t.name || (data && !t.data)) {
        ml__free(t.name);
        ml__free(t.data);
        ml_error_set(err, ML_ENOMEM, "tensor '%s': out of memory", name);
        return -1;
    }
    ml__net_unfinalize(net);
    net->tensors[net->ntensors] = t;
    return net->ntensors++;
}

int ml_net_add_node(ml_net *net, ml_op op, const char *name, const int *inputs, int ninputs,
                    int output, const ml_attrs *attrs, ml_error *err)
{
    const char *nm = name ? name : "";
    if ((int)op < 0 || op >= ML_OP_COUNT) {
        ml_error_set(err, ML_EUNSUPP, "node '%s': unknown op %d", nm, (int)op);
        return -1;
    }
    if (ninputs < 1 || ninputs > ML_MAX_INPUTS || output < 0 || output >= net->ntensors) {
        ml_error_set(err, ML_EFORMAT, "node '%s' (%s): bad input count %d or output index %d", nm,
                     op_names[op], ninputs, output);
        return -1;
    }
    for (int i = 0; i < ninputs; i++)
        if (inputs[i] < -1 || inputs[i] >= net->ntensors) {
            ml_error_set(err, ML_EFORMAT, "node '%s' (%s): input %d refers to no tensor", nm,
                         op_names[op], i);
            return -1;
        }
    if (net->nnodes == net->cap_nodes) {
        int cap = net->cap_nodes ? net->cap_nodes * 2 : 64;
        ml_node *n = ml__realloc(net->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            ml_error_set(err, ML_ENOMEM, "node '%s': out of memory", nm);
            return -1;
        }
        net->nodes = n;
        net->cap_nodes = cap;
    }
    ml_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.name = ml__strdup(nm);
    if (!nd.name) {
        ml_error_set(err, ML_ENOMEM, "node '%s': out of memory", nm);
        return -1;
    }
    for (int i = 0; i < ML_MAX_INPUTS; i++)
        nd.inputs[i] = i < ninputs ? inputs[i] : -1;
    nd.ninputs = ninputs;
    nd.output = output;
    if (attrs)
        nd.attrs = *attrs;
    else
        ml_attrs_default(&nd.attrs);
    ml__net_unfinalize(net);
    net->nodes[net->nnodes] = nd;
    return net->nnodes++;
}

void ml_net_set_io(ml_net *net, int input, int output)
{
    ml__net_unfinalize(net);
    net->input = input;
    net->output = output;
    if (input >= 0 && input < net->ntensors)
        net->tensors[input].flags |= ML_TENSOR_INPUT;
}

int ml__tensor_trainable(const ml_tensor *t)
{
    return t->data && (t->flags & ML_TENSOR_PARAM) && !(t->flags & (ML_TENSOR_STAT | ML_TENSOR_CONST));
}

int ml_net_weights(const ml_net *net, int *idx, int max)
{
    int n = 0;
    for (int i = 0; i < net->ntensors; i++)
        if (net->tensors[i].flags & ML_TENSOR_WEIGHT) {
            if (idx && n < max)
                idx[n] = i;
            n++;
        }
    return n;
}

size_t ml_net_num_params(const ml_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->ntensors; i++)
        if (ml__tensor_trainable(&net->tensors[i]))
            n += ml_tensor_numel(&net->tensors[i]);
    return n;
}

ml_net *ml_net_clone(const ml_net *src)
{
    ml_net *d = ml_net_new();
    if (!d)
        return NULL;
    for (int i = 0; i < src->ntensors; i++) {
        const ml_tensor *t = &src->tensors[i];
        if (ml_net_add_tensor(d, t->name, t->ndim, t->dims, t->data, t->flags, NULL) < 0)
            goto fail;
    }
    for (int i = 0; i < src->nnodes; i++) {
        const ml_node *n = &src->nodes[i];
        if (ml_net_add_node(d, n->op, n->name, n->inputs, n->ninputs, n->output, &n->attrs, NULL) < 0)
            goto fail;
    }
    d->input = src->input;
    d->output = src->output;
    memcpy(d->input_shape, src->input_shape, sizeof d->input_shape);
    d->classes = src->classes;
    d->conv = src->conv;
    d->precision = src->precision;
    if (src->name && !(d->name = ml__strdup(src->name)))
        goto fail;
    if (src->finalized && ml_net_finalize(d, NULL) != ML_OK)
        goto fail;
    return d;
fail:
    ml_net_free(d);
    return NULL;
}
