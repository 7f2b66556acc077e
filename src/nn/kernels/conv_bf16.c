/* bfloat16 training convolutions (ML_PRECISION_BF16): the table ml__conv_onednn_bf16, whose
 * forward and backward run oneDNN's bf16 kernels (inputs, weights and output gradients
 * rounded to bfloat16 by the reorders into oneDNN's layout, float32 accumulation and
 * outputs), and ml_net_set_precision, which puts it in place of the float32 oneDNN table.
 * Chunks, scratchpads and the weight-gradient reduction are the float32 table's
 * (dnnl/conv.c), so results are independent of the thread count here too. */
#include "nn/dnnl/priv.h"

int ml__bf16_supported(const char **isa)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core:
    case dnnl_cpu_isa_avx512_core_vnni:
    case dnnl_cpu_isa_avx512_core_bf16:
    case dnnl_cpu_isa_avx512_core_amx:
        return 1;
    default:
        if (isa)
            *isa = ml__dnnl_isa_label();
        return 0;
    }
}

static int bf16_supports(const ml_geom *g)
{
    return ml__conv_onednn.supports(g);
}

static void bf16_workspace(const ml_geom *g, int batch, int threads, int training, ml_conv_ws *ws)
{
    ml__conv_onednn.workspace(g, batch, threads, training, ws);
}

/* inference stays float32 */
static void bf16_infer(ml_net *net, const ml_conv_args *a, float *y)
{
    ml__conv_onednn.infer(net, a, y);
}

/* where oneDNN cannot run a call (no kernel for a chunk size), the layer's builtin float32
 * engine runs it, as in the float32 table */
static void bf16_forward(ml_net *net, const ml_conv_args *a, float *y)
{
    if (dn_conv_forward(net, a->node, a->g, a->x, a->w, a->bias, a->batch, y, F_BF16) && !net->priv->dnnl_oom)
        ml__conv_builtin(a->g)->forward(net, a, y);
}

static ml_status bf16_backward(ml_net *net, const ml_conv_args *a, const float *dy, float *dx, float *dw,
                               float *db, ml_error *err)
{
    return dn_backward_entry(net, a, dy, dx, dw, db, F_BF16, err);
}

const ml_conv_backend ml__conv_onednn_bf16 = {
    .name = "oneDNN bf16",
    .supports = bf16_supports,
    .workspace = bf16_workspace,
    .infer = bf16_infer,
    .forward = bf16_forward,
    .backward = bf16_backward,
    .begin_pass = NULL, /* ml_net_forward calls the float32 table's, which shares the state */
};

ml_status ml_net_set_precision(ml_net *net, ml_train_precision precision, ml_error *err)
{
    const char *isa = "";
    if (precision != ML_PRECISION_FP32 && precision != ML_PRECISION_BF16)
        return ml_error_set(err, ML_EINVAL, "net: precision %d is neither ML_PRECISION_FP32 nor ML_PRECISION_BF16",
                            (int)precision);
    if (precision == ML_PRECISION_BF16 && !ml__bf16_supported(&isa))
        return ml_error_set(err, ML_EUNSUPP, "bf16 training needs AVX-512; %s here", isa);
    net->precision = precision;
    if (net->finalized)
        ml__conv_choose_all(net);
    return ML_OK;
}
