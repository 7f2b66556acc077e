/* Training: forward with batch statistics, softmax cross-entropy, backward
 * through every node (gradients accumulate into activation gradients; parameter gradients
 * are written), and SGD with momentum, weight decay and a cosine schedule. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "memlev/util.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/internal.h"

static float *grad_of(ml_net *net, int t)
{
    if (t < 0) return NULL;
    ml_tensor *T = &net->tensors[t];
    if (!T->data || !ml__tensor_trainable(T)) return NULL;
    if (!T->grad) T->grad = ml__calloc(ml_tensor_numel(T), sizeof(float));
    return T->grad;
}

static float *dact_of(ml_net *net, int t)
{
    if (t < 0 || net->tensors[t].data || t == net->input) return NULL;
    return net->priv->dact[t];
}

/* A ReLU whose input comes only from a BatchNormalization or Add runs inside that node: the
 * forward writes the ReLU's output directly and the backward masks the ReLU's gradient by it
 * (the same values as running them apart, with two passes over memory fewer). For node i,
 * the ReLU node it absorbs, or -1. */
static int absorbed_relu(const ml_net *net, int i)
{
    const ml_op op = net->nodes[i].op;
    return op == ML_OP_BATCHNORM || op == ML_OP_ADD ? net->priv->plan[i].fuse_relu : -1;
}

static int relu_absorbed(const ml_net *net, int j)
{
    const int in = net->nodes[j].inputs[0];
    for (int k = j - 1; k >= 0; k--)
        if (net->nodes[k].output == in)
            return absorbed_relu(net, k) == j;
    return 0;
}

static ml_status forward_train(ml_net *net, const float *x, int batch, int update, ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    for (int i = 0; i < net->nnodes; i++) {
        const ml_node *nd = &net->nodes[i];
        const ml_plan *pl = &p->plan[i];
        const float *a = ml__val(net, nd->inputs[0], x);
        const int fr = absorbed_relu(net, i);
        float *y = p->act[fr >= 0 ? net->nodes[fr].output : nd->output];
        const ml_tensor *ti = &net->tensors[nd->inputs[0]];
        if (nd->op == ML_OP_RELU && relu_absorbed(net, i))
            continue;
        switch (nd->op) {
        case ML_OP_CONV: {
            const ml_conv_args ca = {.node = i, .g = &pl->g, .x = a, .w = ml__val(net, nd->inputs[1], x),
                                     .bias = nd->ninputs > 2 ? ml__val(net, nd->inputs[2], x) : NULL,
                                     .batch = batch};
            pl->conv->forward(net, &ca, y);
            if (p->dnnl_oom) {
                p->dnnl_oom = 0;
                return ml_error_set(err, ML_ENOMEM, "train: out of memory");
            }
            break;
        }
        case ML_OP_BATCHNORM: {
            int c = (int)ti->dims[1], hw = (int)(p->item[nd->inputs[0]] / (size_t)c);
            if (!p->bn_mean[i]) p->bn_mean[i] = ml__malloc((size_t)c * sizeof(float));
            if (!p->bn_istd[i]) p->bn_istd[i] = ml__malloc((size_t)c * sizeof(float));
            if (!p->bn_mean[i] || !p->bn_istd[i]) return ml_error_set(err, ML_ENOMEM, "train: out of memory");
            ml__bn_train_forward(a, ml__val(net, nd->inputs[1], x), ml__val(net, nd->inputs[2], x),
                                net->tensors[nd->inputs[3]].data, net->tensors[nd->inputs[4]].data, nd->attrs.epsilon,
                                nd->attrs.momentum, update, batch, c, hw, fr >= 0, p->bn_mean[i], p->bn_istd[i], y);
            break;
        }
        default:
            if (!ml__forward_common(net, nd, x, a, batch, fr >= 0, y))
                return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): op runs for inference only, it cannot be trained",
                                    nd->name, ml_op_name(nd->op));
        }
    }
    return ML_OK;
}

static ml_status backward(ml_net *net, const float *x, int batch, ml_error *err)
{
    struct ml_net_priv *p = net->priv;
    for (int i = net->nnodes - 1; i >= 0; i--) {
        const ml_node *nd = &net->nodes[i];
        const ml_plan *pl = &p->plan[i];
        const int fr = absorbed_relu(net, i);
        const float *dy = p->dact[fr >= 0 ? net->nodes[fr].output : nd->output];
        const float *mask = fr >= 0 ? p->act[net->nodes[fr].output] : NULL;
        const float *a = ml__val(net, nd->inputs[0], x);
        if (nd->op == ML_OP_RELU && relu_absorbed(net, i))
            continue;
        float *dx = dact_of(net, nd->inputs[0]);
        size_t nin = (size_t)batch * p->item[nd->inputs[0]];
        const ml_tensor *ti = &net->tensors[nd->inputs[0]];
        switch (nd->op) {
        case ML_OP_CONV: {
            float *dw = grad_of(net, nd->inputs[1]);
            float *db = nd->ninputs > 2 ? grad_of(net, nd->inputs[2]) : NULL;
            if (!dw) return ml_error_set(err, ML_EUNSUPP, "node '%s' (Conv): weight is not trainable", nd->name);
            const ml_conv_args ca = {.node = i, .g = &pl->g, .x = a, .w = ml__val(net, nd->inputs[1], x),
                                     .batch = batch};
            ml_status st = pl->conv->backward(net, &ca, dy, dx, dw, db, err);
            if (st) return st;
            break;
        }
        case ML_OP_BATCHNORM: {
            int c = (int)ti->dims[1], hw = (int)(p->item[nd->inputs[0]] / (size_t)c);
            ml__bn_backward(a, ml__val(net, nd->inputs[1], x), p->bn_mean[i], p->bn_istd[i], dy, mask, batch, c, hw, dx,
                           grad_of(net, nd->inputs[1]), grad_of(net, nd->inputs[2]));
            break;
        }
        case ML_OP_RELU: if (dx) ml__relu_backward(p->act[nd->output], dy, nin, dx); break;
        case ML_OP_MAXPOOL: if (dx) ml__maxpool_backward(&pl->g, a, dy, batch, dx); break;
        case ML_OP_AVGPOOL: if (dx) ml__avgpool_backward(&pl->g, nd->attrs.count_include_pad, dy, batch, dx); break;
        case ML_OP_GLOBALAVGPOOL:
            if (dx) {
                int c = (int)ti->dims[1];
                ml__gap_backward(dy, batch, c, (int)(p->item[nd->inputs[0]] / (size_t)c), dx);
            }
            break;
        case ML_OP_ADD: case ML_OP_SUB: case ML_OP_MUL: case ML_OP_DIV: {
            float *db = dact_of(net, nd->inputs[1]);
            ml__binary_backward(nd->op, pl, a, ml__val(net, nd->inputs[1], x), dy, mask, batch, dx, db, dx != NULL,
                               db != NULL);
            break;
        }
        case ML_OP_GEMM: case ML_OP_MATMUL: {
            int C = nd->ninputs > 2 ? nd->inputs[2] : -1;
            ml__gemm_backward(nd, &net->tensors[nd->inputs[1]], C >= 0 ? &net->tensors[C] : NULL, a, dy, batch,
                             (int)p->item[nd->inputs[0]], (int)p->item[nd->output], dx, grad_of(net, nd->inputs[1]),
                             grad_of(net, C));
            break;
        }
        case ML_OP_FLATTEN: case ML_OP_RESHAPE: case ML_OP_IDENTITY:
            if (dx)
                for (size_t k = 0; k < nin; k++) dx[k] += dy[k];
            break;
        default:
            return ml_error_set(err, ML_EUNSUPP, "node '%s' (%s): op runs for inference only, it cannot be trained",
                                nd->name, ml_op_name(nd->op));
        }
    }
    return ML_OK;
}

ml_status ml_net_loss_grad(ml_net *net, const float *x, const uint8_t *labels, int batch, int update_stats,
                           double *loss, int *correct, ml_error *err)
{
    ml_status st = ml__ws_reserve(net, batch, 1, err);
    if (st) return st;
    struct ml_net_priv *p = net->priv;
    if ((st = forward_train(net, x, batch, update_stats, err))) return st;
    for (int t = 0; t < net->ntensors; t++)
        if (p->dact[t]) {
            const size_t n = (size_t)batch * p->item[t], blk = 16384, nblk = (n + blk - 1) / blk;
#pragma omp parallel for schedule(static)
            for (size_t b = 0; b < nblk; b++)
                memset(p->dact[t] + b * blk, 0, (b + 1 == nblk ? n - b * blk : blk) * sizeof(float));
        }
    const int K = net->classes;
    const float *z = p->act[net->output];
    float *dz = p->dact[net->output];
    double L = 0;
    int ok = 0;
    for (int n = 0; n < batch; n++) {
        const float *zn = z + (size_t)n * K;
        float *dn = dz + (size_t)n * K;
        int best = 0;
        float m = zn[0];
        for (int k = 1; k < K; k++)
            if (zn[k] > m) { m = zn[k]; best = k; }
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)zn[k] - m);
        int y = labels[n] < K ? labels[n] : 0;
        L += log(s) + m - zn[y];
        ok += best == y;
        for (int k = 0; k < K; k++) dn[k] = (float)((exp((double)zn[k] - m) / s - (k == y)) / batch);
    }
    if (loss) *loss = L / batch;
    if (correct) *correct = ok;
    return backward(net, x, batch, err);
}

void ml_train_opts_default(ml_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 128;
    o->lr = 0.1;
    o->momentum = 0.9;
    o->weight_decay = 5e-4;
    o->augment_pad = 2;
    o->augment_flip = 1;
    o->seed = 1;
    o->checkpoint_every_s = 300;
}

ml_status ml_net_train(ml_net *net, const ml_dataset *tr, const ml_train_opts *o, double *final_acc, ml_error *err)
{
    if (!net->finalized) return ml_error_set(err, ML_EINVAL, "train: net not finalized");
    const int64_t *is = net->input_shape;
    if (is[1] != tr->c || is[2] != tr->h || is[3] != tr->w)
        return ml_error_set(err, ML_EINVAL, "train: model input %lldx%lldx%lld, data %dx%dx%d", (long long)is[1],
                            (long long)is[2], (long long)is[3], tr->c, tr->h, tr->w);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0))
        return ml_error_set(err, ML_EINVAL, "train: epochs, batch and lr must be positive");
    size_t n = o->limit && o->limit < tr->n ? o->limit : tr->n;
    size_t per = (size_t)tr->c * tr->h * tr->w;
    size_t nb = n / (size_t)o->batch; /* drop the last partial batch */
    if (nb == 0) return ml_error_set(err, ML_EINVAL, "train: fewer images (%zu) than one batch (%d)", n, o->batch);
    float **vel = ml__calloc((size_t)net->ntensors, sizeof *vel);
    float *xb = ml__malloc((size_t)o->batch * per * sizeof *xb);
    uint8_t *yb = ml__malloc((size_t)o->batch);
    size_t *perm = ml__malloc(n * sizeof *perm);
    ml_status st = (!vel || !xb || !yb || !perm) ? ml_error_set(err, ML_ENOMEM, "train: out of memory") : ML_OK;
    for (int t = 0; t < net->ntensors && !st; t++)
        if (net->tensors[t].data && ml__tensor_trainable(&net->tensors[t]) &&
            !(vel[t] = ml__calloc(ml_tensor_numel(&net->tensors[t]), sizeof(float))))
            st = ml_error_set(err, ML_ENOMEM, "train: out of memory");
    const ml_train_precision prev = net->precision;
    if (!st && o->precision != prev)
        st = ml_net_set_precision(net, o->precision, err);
    ml_train_pos pos = {0, 0, 0, -1};
    if (!st && o->resume)
        st = o->checkpoint ? ml__ckpt_load(o->checkpoint, net, o, n, nb, vel, &pos, err)
                           : ml_error_set(err, ML_EINVAL, "train: resume needs a checkpoint file");
    double total = (double)o->epochs * nb, acc = pos.acc, saved_s = ml_now();
    for (int ep = pos.epoch; ep < o->epochs && !st; ep++) {
        ml_shuffle(perm, n, o->seed, (uint32_t)ep);
        double lsum = ep == pos.epoch ? pos.loss_sum : 0;
        for (size_t b = ep == pos.epoch ? pos.batch : 0; b < nb && !st; b++) {
            #pragma omp parallel for schedule(static)
            for (int k = 0; k < o->batch; k++) {
                size_t idx = perm[b * (size_t)o->batch + (size_t)k];
                ml_augment(ml_dataset_image(tr, idx), xb + (size_t)k * per, tr->c, tr->h, tr->w, o->augment_pad,
                           o->augment_flip, o->seed, idx, (uint32_t)ep);
                yb[k] = tr->labels[idx];
            }
            double L;
            if ((st = ml_net_loss_grad(net, xb, yb, o->batch, 1, &L, NULL, err))) break;
            lsum += L;
            double step = (double)ep * nb + (double)b, warm = o->warmup_epochs * nb;
            double lr = step < warm ? o->lr * (step + 1) / warm
                                    : 0.5 * o->lr * (1 + cos(3.14159265358979323846 * (step - warm) / (total - warm)));
            for (int t = 0; t < net->ntensors; t++) {
                ml_tensor *T = &net->tensors[t];
                if (!vel[t] || !T->grad) continue;
                size_t m = ml_tensor_numel(T);
                float wd = (T->flags & ML_TENSOR_WEIGHT) ? (float)o->weight_decay : 0.0f;
                float mu = (float)o->momentum, lrf = (float)lr;
                float *restrict w = T->data, *restrict g = T->grad, *restrict v = vel[t];
                for (size_t q = 0; q < m; q++) {
                    v[q] = mu * v[q] + g[q] + wd * w[q];
                    w[q] -= lrf * v[q];
                }
            }
            if (o->progress) o->progress(o->progress_ctx, "training", (double)ep * nb + (double)b + 1, total);
            if (o->checkpoint && b + 1 < nb && ml_now() - saved_s >= o->checkpoint_every_s) {
                st = ml__ckpt_save(o->checkpoint, net, o, n, nb, vel, &(ml_train_pos){ep, b + 1, lsum, acc}, err);
                saved_s = ml_now();
            }
        }
        if (st) break;
        if (o->val && (st = ml_net_evaluate(net, o->val, 0, 250, NULL, NULL, &acc, NULL, err))) break;
        if (o->checkpoint && (st = ml__ckpt_save(o->checkpoint, net, o, n, nb, vel, &(ml_train_pos){ep + 1, 0, 0, acc}, err)))
            break;
        saved_s = ml_now();
        if (o->on_epoch && o->on_epoch(net, ep + 1, lsum / nb, acc, o->user)) break;
    }
    if (net->precision != prev)
        ml_net_set_precision(net, prev, NULL);
    for (int t = 0; vel && t < net->ntensors; t++) ml__free(vel[t]);
    ml__free(vel); ml__free(xb); ml__free(yb); ml__free(perm);
    if (final_acc) *final_acc = acc;
    return st;
}
