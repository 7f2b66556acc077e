/* Choosing the convolution back end of each layer, once, when a net is finalized (or when
 * its engine choice changes): the rule and the net's engine in words. */
#include "nn/backend.h"

const ml_conv_backend *const ml__conv_backends[] = {&ml__conv_onednn, &ml__conv_winograd, &ml__conv_im2col, NULL};

const ml_conv_backend *ml__conv_builtin(const ml_geom *g)
{
    return ml__conv_winograd.supports(g) ? &ml__conv_winograd : &ml__conv_im2col;
}

const ml_conv_backend *ml__conv_choose(const ml_geom *g, ml_conv_choice choice)
{
    if (choice == ML_CONV_AUTO && ml__conv_onednn.supports(g))
        return &ml__conv_onednn;
    return ml__conv_builtin(g);
}

void ml__conv_choose_all(ml_net *net)
{
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].op == ML_OP_CONV) {
            const ml_conv_backend *b = ml__conv_choose(&net->priv->plan[i].g, net->conv);
            net->priv->plan[i].conv = b == &ml__conv_onednn && net->precision == ML_PRECISION_BF16
                                          ? &ml__conv_onednn_bf16 : b;
        }
}

ml_status ml_net_set_conv(ml_net *net, ml_conv_choice choice, ml_error *err)
{
    if (choice != ML_CONV_AUTO && choice != ML_CONV_BUILTIN)
        return ml_error_set(err, ML_EINVAL, "net: convolution engine %d is neither ML_CONV_AUTO nor ML_CONV_BUILTIN",
                            (int)choice);
    net->conv = choice;
    if (net->finalized)
        ml__conv_choose_all(net);
    return ML_OK;
}

const char *ml_net_conv_engine(const ml_net *net)
{
    int any = 0;
    for (int i = 0; net->finalized && i < net->nnodes; i++) {
        if (net->nodes[i].op != ML_OP_CONV)
            continue;
        if (ml__conv_is_onednn(net->priv->plan[i].conv))
            return ml__dnnl_isa_label();
        any = 1;
    }
    return any ? "builtin" : "none";
}
