/* ONNX model check: the op types of a model that memlev cannot run, all at once (the
 * importer stops at the first). */
#include <stdio.h>
#include <string.h>
#include "core/alloc.h"
#include "nn/onnx/priv.h"

/* Whether the importer knows op_type in domain (it may still refuse an attribute). */
static int op_known(const char *domain, const char *op)
{
    ml_op o;
    if (domain && *domain && strcmp(domain, "ai.onnx"))
        return 0;
    return !strcmp(op, "Constant") || !strcmp(op, "Pad") || !strcmp(op, "Split") || !strcmp(op, "Upsample") ||
           mlx_is_shape_op(op) || !ml_op_from_name(op, &o);
}

ml_status ml_onnx_unsupported_ops(const char *path, char *list, size_t len, int *count, ml_error *err)
{
    if (!path || !count || (len && !list))
        return ml_error_set(err, ML_EINVAL, "ml_onnx_unsupported_ops: bad argument");
    *count = 0;
    if (len)
        list[0] = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    ml_status st = mlx_read_file(path, &buf, &n, err);
    if (st)
        return st;
    Onnx__ModelProto *m = NULL;
    if (mlx_wire_check(&onnx__model_proto__descriptor, buf, n) == 0)
        m = onnx__model_proto__unpack(NULL, n, buf);
    ml__free(buf);
    if (!m || !m->graph) {
        if (m)
            onnx__model_proto__free_unpacked(m, NULL);
        return ml_error_set(err, ML_EFORMAT, "%s: not an ONNX model (malformed or truncated protobuf)", path);
    }
    const Onnx__GraphProto *g = m->graph;
    size_t used = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        const char *op = nd && nd->op_type ? nd->op_type : "";
        if (!nd || op_known(nd->domain, op))
            continue;
        int seen = 0; /* the same op type listed once */
        for (size_t j = 0; j < i && !seen; j++) {
            const Onnx__NodeProto *pj = g->node[j];
            seen = pj && pj->op_type && !strcmp(pj->op_type, op) && !op_known(pj->domain, op);
        }
        if (seen)
            continue;
        (*count)++;
        if (len) {
            int w = snprintf(list + used, len - used, "%s%s", *count > 1 ? ", " : "", *op ? op : "(empty)");
            used = w < 0 || used + (size_t)w >= len ? len - 1 : used + (size_t)w;
        }
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return ML_OK;
}
