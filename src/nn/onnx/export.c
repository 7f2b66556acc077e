/* ONNX export: describe an ml_net as a ModelProto (IR 7, opset 13, raw_data
 * initializers), pack it with protobuf-c and write it atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/onnx.h"
#include "memlev/util.h"
#include "nn/onnx/priv.h"

#define ML_ONNX_OPSET 13
#define ML_ONNX_IR_VERSION 7
#define MAX_ATTRS 8

/* Everything one node needs, so that the protobuf structs can point into it. */
typedef struct xnode {
    Onnx__NodeProto np;
    char *in[ML_MAX_INPUTS];
    char *out[1];
    Onnx__AttributeProto attr[MAX_ATTRS];
    Onnx__AttributeProto *pattr[MAX_ATTRS];
    int64_t ints[MAX_ATTRS][4];
    /* Reshape: the target shape as an int64 initializer */
    Onnx__TensorProto shape;
    int64_t shape_dims[1];
    uint8_t shape_raw[8 * ML_MAX_DIMS];
    char *shape_name;
} xnode;

static void add_ints(xnode *x, const char *name, const int *v, int n)
{
    int k = (int)x->np.n_attribute;
    Onnx__AttributeProto *a = &x->attr[k];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    for (int i = 0; i < n; i++)
        x->ints[k][i] = v[i];
    a->n_ints = (size_t)n;
    a->ints = x->ints[k];
    x->pattr[k] = a;
    x->np.n_attribute++;
}

static void add_int(xnode *x, const char *name, int v)
{
    int k = (int)x->np.n_attribute;
    Onnx__AttributeProto *a = &x->attr[k];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    x->pattr[k] = a;
    x->np.n_attribute++;
}

static void add_float(xnode *x, const char *name, float v)
{
    int k = (int)x->np.n_attribute;
    Onnx__AttributeProto *a = &x->attr[k];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = v;
    x->pattr[k] = a;
    x->np.n_attribute++;
}

static void window_attrs(xnode *x, const ml_attrs *a, const int *kernel, int dil)
{
    add_ints(x, "kernel_shape", kernel, 2);
    add_ints(x, "strides", a->strides, 2);
    add_ints(x, "pads", a->pads, 4);
    if (dil || a->dilations[0] != 1 || a->dilations[1] != 1)
        add_ints(x, "dilations", a->dilations, 2);
}

/* Fill x for node nd; returns 0, or -1 if the node cannot be expressed (err set). */
static int build_node(const ml_net *net, const ml_node *nd, xnode *x, ml_error *err, const char *path)
{
    onnx__node_proto__init(&x->np);
    const char *opname = ml_op_name(nd->op);
    if (!opname) {
        ml_error_set(err, ML_EINVAL, "%s: node '%s' has an unknown op", path, nd->name);
        return -1;
    }
    x->np.op_type = (char *)opname;
    x->np.name = nd->name && *nd->name ? nd->name : NULL;
    int nin = nd->op == ML_OP_RESHAPE ? 1 : nd->ninputs;
    while (nin > 1 && nd->inputs[nin - 1] < 0)
        nin--;
    for (int i = 0; i < nin; i++) {
        int t = nd->inputs[i];
        if (t >= net->ntensors || (t < 0 && i == 0)) {
            ml_error_set(err, ML_EINVAL, "%s: node '%s' input %d refers to no tensor", path, nd->name, i);
            return -1;
        }
        x->in[i] = t < 0 ? (char *)"" : net->tensors[t].name;
    }
    if (nd->output < 0 || nd->output >= net->ntensors) {
        ml_error_set(err, ML_EINVAL, "%s: node '%s' output refers to no tensor", path, nd->name);
        return -1;
    }
    x->out[0] = net->tensors[nd->output].name;
    x->np.n_output = 1;
    x->np.output = x->out;
    const ml_attrs *a = &nd->attrs;
    switch (nd->op) {
    case ML_OP_CONV: {
        const ml_tensor *w = nd->inputs[1] >= 0 ? &net->tensors[nd->inputs[1]] : NULL;
        if (!w || w->ndim != 4) {
            ml_error_set(err, ML_EINVAL, "%s: node '%s' (Conv): weight must be 4-D", path, nd->name);
            return -1;
        }
        int k[2] = {(int)w->dims[2], (int)w->dims[3]};
        window_attrs(x, a, k, 1);
        add_int(x, "group", a->group);
        break;
    }
    case ML_OP_MAXPOOL:
        window_attrs(x, a, a->kernel, 0);
        add_int(x, "ceil_mode", a->ceil_mode);
        break;
    case ML_OP_AVGPOOL:
        window_attrs(x, a, a->kernel, 0);
        add_int(x, "ceil_mode", a->ceil_mode);
        add_int(x, "count_include_pad", a->count_include_pad);
        break;
    case ML_OP_BATCHNORM:
        add_float(x, "epsilon", a->epsilon);
        add_float(x, "momentum", a->momentum);
        break;
    case ML_OP_GEMM:
        add_float(x, "alpha", a->alpha);
        add_float(x, "beta", a->beta);
        add_int(x, "transA", a->transA);
        add_int(x, "transB", a->transB);
        break;
    case ML_OP_FLATTEN:
        add_int(x, "axis", a->axis);
        break;
    case ML_OP_LEAKYRELU:
        add_float(x, "alpha", a->alpha);
        break;
    case ML_OP_SOFTMAX: {
        int rank = net->tensors[nd->inputs[0]].ndim;
        int ax = a->axis < 0 ? a->axis + rank : a->axis;
        if (a->softmax_flat && ax != rank - 1) {
            ml_error_set(err, ML_EINVAL, "%s: node '%s' (Softmax): opset-11 softmax over several axes has no opset-13 form",
                         path, nd->name);
            return -1;
        }
        add_int(x, "axis", a->axis);
        break;
    }
    case ML_OP_CLIP:
        ml_error_set(err, ML_EINVAL, "%s: node '%s' (Clip): exporting Clip is not supported", path, nd->name);
        return -1;
    case ML_OP_GLOBALMAXPOOL:
        break;
    default:
        /* the N-D ops: only the element-wise unaries without attributes (opset 13) are written */
        if (nd->op >= ML_OP_TRANSPOSE && !(nd->op >= ML_OP_TANH && nd->op <= ML_OP_SOFTSIGN)) {
            ml_error_set(err, ML_EINVAL, "%s: node '%s' (%s): exporting %s is not supported", path, nd->name, opname,
                         opname);
            return -1;
        }
        break;
    case ML_OP_RESHAPE: {
        if (a->nshape < 1 || a->nshape > ML_MAX_DIMS) {
            ml_error_set(err, ML_EINVAL, "%s: node '%s' (Reshape): %d shape entries", path, nd->name, a->nshape);
            return -1;
        }
        /* A unique initializer name: "<output>_shape", suffixed until free. */
        const char *base = net->tensors[nd->output].name;
        size_t len = strlen(base) + 32;
        x->shape_name = ml__malloc(len);
        if (!x->shape_name) {
            ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
            return -1;
        }
        snprintf(x->shape_name, len, "%s_shape", base);
        for (int s = 1; ml_net_find_tensor(net, x->shape_name) >= 0; s++)
            snprintf(x->shape_name, len, "%s_shape%d", base, s);
        onnx__tensor_proto__init(&x->shape);
        x->shape.name = x->shape_name;
        x->shape.has_data_type = 1;
        x->shape.data_type = MLX_DT_INT64;
        x->shape_dims[0] = a->nshape;
        x->shape.n_dims = 1;
        x->shape.dims = x->shape_dims;
        for (int i = 0; i < a->nshape; i++) {
            /* the batch entry becomes 0 (copy the input's batch) so any batch reshapes */
            uint64_t u = (uint64_t)(i == 0 ? 0 : a->shape[i]);
            for (int b = 0; b < 8; b++)
                x->shape_raw[8 * i + b] = (uint8_t)(u >> (8 * b));
        }
        x->shape.has_raw_data = 1;
        x->shape.raw_data.len = 8 * (size_t)a->nshape;
        x->shape.raw_data.data = x->shape_raw;
        x->in[1] = x->shape_name;
        nin = 2;
        break;
    }
    }
    x->np.n_input = (size_t)nin;
    x->np.input = x->in;
    x->np.attribute = x->np.n_attribute ? x->pattr : NULL;
    return 0;
}

/* Tensor type with shape: dims[0] becomes the symbolic batch "N". */
typedef struct xvalue {
    Onnx__ValueInfoProto vi;
    Onnx__TypeProto tp;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto shape;
    Onnx__TensorShapeProto__Dimension dim[ML_MAX_DIMS];
    Onnx__TensorShapeProto__Dimension *pdim[ML_MAX_DIMS];
} xvalue;

static void build_value(xvalue *v, const ml_tensor *t, int with_shape)
{
    onnx__value_info_proto__init(&v->vi);
    onnx__type_proto__init(&v->tp);
    onnx__type_proto__tensor__init(&v->tt);
    onnx__tensor_shape_proto__init(&v->shape);
    v->vi.name = t->name;
    v->vi.type = &v->tp;
    v->tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->tp.tensor_type = &v->tt;
    v->tt.has_elem_type = 1;
    v->tt.elem_type = MLX_DT_FLOAT;
    if (!with_shape || t->ndim < 1)
        return;
    for (int i = 0; i < t->ndim; i++) {
        onnx__tensor_shape_proto__dimension__init(&v->dim[i]);
        if (i == 0) {
            v->dim[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            v->dim[i].dim_param = (char *)"N";
        } else {
            v->dim[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            v->dim[i].dim_value = t->dims[i];
        }
        v->pdim[i] = &v->dim[i];
    }
    v->shape.n_dim = (size_t)t->ndim;
    v->shape.dim = v->pdim;
    v->tt.shape = &v->shape;
}

ml_status ml_onnx_save(const ml_net *net, const char *path, ml_error *err)
{
    if (!net || !path)
        return ml_error_set(err, ML_EINVAL, "ml_onnx_save: NULL argument");
    if (net->input < 0 || net->input >= net->ntensors || net->output < 0 || net->output >= net->ntensors)
        return ml_error_set(err, ML_EINVAL, "%s: net has no input or output set", path);
    if (net->nnodes < 1)
        return ml_error_set(err, ML_EINVAL, "%s: net has no nodes", path);
    const ml_tensor *in = &net->tensors[net->input];
    if (in->ndim != 4)
        return ml_error_set(err, ML_EINVAL, "%s: input '%s' must be 4-D", path, in->name);

    ml_status st = ML_OK;
    int nt = net->ntensors, nn = net->nnodes;
    xnode *xn = ml__calloc((size_t)nn, sizeof *xn);
    Onnx__NodeProto **pnode = ml__calloc((size_t)nn, sizeof *pnode);
    char *used = ml__calloc((size_t)nt, 1);
    Onnx__TensorProto *init = ml__calloc((size_t)nt + (size_t)nn, sizeof *init);
    Onnx__TensorProto **pinit = ml__calloc((size_t)nt + (size_t)nn, sizeof *pinit);
    uint8_t **raw = ml__calloc((size_t)nt, sizeof *raw);
    uint8_t *buf = NULL;
    if (!xn || !pnode || !used || !init || !pinit || !raw) {
        st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < nn; i++) {
        if (build_node(net, &net->nodes[i], &xn[i], err, path)) {
            st = err ? err->code : ML_EINVAL;
            goto done;
        }
        pnode[i] = &xn[i].np;
        for (int j = 0; j < net->nodes[i].ninputs; j++)
            if (net->nodes[i].inputs[j] >= 0)
                used[net->nodes[i].inputs[j]] = 1;
    }
    /* Initializers: every tensor with data that a node reads, float32 little-endian. */
    size_t ninit = 0;
    for (int i = 0; i < nt; i++) {
        const ml_tensor *t = &net->tensors[i];
        if (!used[i] || !t->data)
            continue;
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= (size_t)t->dims[d];
        raw[i] = ml__malloc(n ? 4 * n : 4);
        if (!raw[i]) {
            st = ml_error_set(err, ML_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t k = 0; k < n; k++)
            mlx_put_le_f32(raw[i] + 4 * k, t->data[k]);
        Onnx__TensorProto *tp = &init[ninit];
        onnx__tensor_proto__init(tp);
        tp->name = t->name;
        tp->n_dims = (size_t)t->ndim;
        tp->dims = (int64_t *)t->dims;
        tp->has_data_type = 1;
        tp->data_type = MLX_DT_FLOAT;
        tp->has_raw_data = 1;
        tp->raw_data.len = 4 * n;
        tp->raw_data.data = raw[i];
        pinit[ninit++] = tp;
    }
    for (int i = 0; i < nn; i++)
        if (xn[i].shape_name)
            pinit[ninit++] = &xn[i].shape;

    xvalue vin, vout;
    build_value(&vin, in, 1);
    build_value(&vout, &net->tensors[net->output], net->finalized);
    Onnx__ValueInfoProto *pin = &vin.vi, *pout = &vout.vi;

    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = net->name && *net->name ? net->name : (char *)"memlev";
    g.n_node = (size_t)nn;
    g.node = pnode;
    g.n_initializer = ninit;
    g.initializer = pinit;
    g.n_input = 1;
    g.input = &pin;
    g.n_output = 1;
    g.output = &pout;

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = ML_ONNX_OPSET;
    Onnx__OperatorSetIdProto *popset = &opset;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = ML_ONNX_IR_VERSION;
    m.n_opset_import = 1;
    m.opset_import = &popset;
    m.producer_name = (char *)"memlev";
    m.producer_version = (char *)"0.1";
    m.graph = &g;

    size_t len = onnx__model_proto__get_packed_size(&m);
    buf = ml__malloc(len ? len : 1);
    if (!buf) {
        st = ml_error_set(err, ML_ENOMEM, "%s: out of memory (%zu bytes)", path, len);
        goto done;
    }
    if (onnx__model_proto__pack(&m, buf) != len) {
        st = ml_error_set(err, ML_EINVAL, "%s: protobuf packing failed", path);
        goto done;
    }
    ml_outfile o;
    st = ml_outfile_open(&o, path, 1, err);
    if (st)
        goto done;
    if (fwrite(buf, 1, len, o.fp) != len) {
        ml_outfile_abort(&o);
        st = ml_error_set(err, ML_EIO, "%s: write failed", path);
        goto done;
    }
    st = ml_outfile_commit(&o, err);
done:
    if (xn)
        for (int i = 0; i < nn; i++)
            ml__free(xn[i].shape_name);
    if (raw)
        for (int i = 0; i < nt; i++)
            ml__free(raw[i]);
    ml__free(raw);
    ml__free(buf);
    ml__free(pinit);
    ml__free(init);
    ml__free(used);
    ml__free(pnode);
    ml__free(xn);
    return st;
}
