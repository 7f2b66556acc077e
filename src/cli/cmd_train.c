/* memlev train: train a built-in architecture on a data set; checkpoints to ONNX. */
#include <stdio.h>
#include <string.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
#include "cli/progress.h"

typedef struct ckpt { const char *out; int quiet; } ckpt;

static int on_epoch(ml_net *net, int epoch, double loss, double acc, void *user)
{
    ckpt *c = user;
    ml_error err = {0};
    printf("epoch %d: train loss %.4f, test accuracy %.4f\n", epoch, loss, acc);
    fflush(stdout);
    if (ml_onnx_save(net, c->out, &err)) fprintf(stderr, "memlev train: checkpoint: %s\n", err.msg);
    return 0;
}

int ml_cmd_train(int argc, char **argv)
{
    const char *arch = "resnet20", *data = "fashion-mnist", *out = NULL, *checkpoint = NULL, *precision = "fp32";
    long epochs = 10, width = 0, seed = 1, batch = 128, limit = 0, threads = 0, pad = 2;
    double lr = 0.1, wd = 5e-4, momentum = 0.9, warmup = 0, every = 300;
    int no_flip = 0, resume = 0;
    cli_opt opts[] = {
        {"arch", OPT_STR, &arch, "mlp | lenet5 | resnet20 | resnet18 | resnet34 [resnet20]", 0},
        {"data", OPT_STR, &data, "fashion-mnist, a CIFAR-10 folder (cifar10:DIR) or an IDX folder [fashion-mnist]", 0},
        {"epochs", OPT_INT, &epochs, "training epochs [10]", 0},
        {"width", OPT_INT, &width, "base width (mlp: hidden units) [architecture default]", 0},
        {"seed", OPT_INT, &seed, "initialisation, shuffling and augmentation seed [1]", 0},
        {"batch", OPT_INT, &batch, "batch size [128]", 0},
        {"lr", OPT_DBL, &lr, "peak learning rate (cosine decay to 0) [0.1]", 0},
        {"weight-decay", OPT_DBL, &wd, "L2 weight decay on conv/fc weights [5e-4]", 0},
        {"momentum", OPT_DBL, &momentum, "SGD momentum [0.9]", 0},
        {"warmup", OPT_DBL, &warmup, "linear warm-up in epochs [0]", 0},
        {"pad", OPT_INT, &pad, "random-crop padding in pixels (0 = off) [2]", 0},
        {"no-flip", OPT_FLAG, &no_flip, "no random horizontal flips", 0},
        {"limit", OPT_INT, &limit, "use the first N training images [0 = all]", 0},
        {"precision", OPT_STR, &precision, "fp32 | bf16: bf16 runs the convolutions on bfloat16 inputs (float32 weights, sums and everything else; needs AVX-512, fastest with AVX512-BF16) [fp32]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]; results do not depend on it", 0},
        {"out", OPT_OUT, &out, "model file (ONNX), rewritten after every epoch (required)", 0},
        {"checkpoint", OPT_OUT, &checkpoint, "training state (weights, momentum, position), saved after every epoch and every --checkpoint-every s", 0},
        {"checkpoint-every", OPT_DBL, &every, "seconds between mid-epoch checkpoints (0 = after every batch) [300]", 0},
        {"resume", OPT_FLAG, &resume, "continue from --checkpoint; ends bit-identical to an uninterrupted run with the same options", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"train", "--arch resnet20 --data fashion-mnist [--epochs N] [--width W] [--seed S] [--checkpoint FILE [--resume]] --out model.onnx",
                     "Train a network and save it as ONNX.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (!out) return cli_fail("train", "--out is required");
    if (epochs < 1 || epochs > 10000) return cli_fail("train", "--epochs: %ld is out of range (1..10000)", epochs);
    if (batch < 1 || batch > 65536) return cli_fail("train", "--batch: %ld is out of range", batch);
    if (!(lr > 0 && lr < 100)) return cli_fail("train", "--lr: %g is out of range", lr);
    if (wd < 0 || momentum < 0 || momentum >= 1 || warmup < 0 || pad < 0 || pad > 64 || seed < 0 || limit < 0 || width < 0)
        return cli_fail("train", "--weight-decay/--momentum/--warmup/--pad/--seed/--limit/--width out of range");
    if (!(every >= 0 && every <= 1e9)) return cli_fail("train", "--checkpoint-every: %g is out of range (0..1e9 s)", every);
    if (resume && !checkpoint) return cli_fail("train", "--resume needs --checkpoint FILE");
    const int bf16 = !strcmp(precision, "bf16");
    if (!bf16 && strcmp(precision, "fp32")) return cli_fail("train", "--precision: '%s' is neither fp32 nor bf16", precision);
    cli_set_threads(threads);
    ml_error err = {0};
    if (resume) {
        ml_checkpoint_info ci;
        if (ml_checkpoint_info_read(checkpoint, &ci, &err)) return cli_fail_err("train", &err);
        if (ci.epoch < ci.epochs)
            printf("resuming from %s: epoch %d of %d, at batch %zu of %zu\n", checkpoint, ci.epoch + 1, ci.epochs,
                   ci.batch, ci.batches);
        else
            printf("resuming from %s: all %d epochs done\n", checkpoint, ci.epochs);
    }
    ml_dataset *tr = NULL, *te = NULL;
    ml_net *net = NULL;
    if (ml_dataset_load(data, 1, &tr, &err) || ml_dataset_load(data, 0, &te, &err) ||
        ml_arch_build(arch, tr->c, tr->h, tr->classes, (int)width, (uint64_t)seed, &net, &err)) {
        ml_dataset_free(tr); ml_dataset_free(te);
        return cli_fail_err("train", &err);
    }
    if (cli_net_conv("train", net) ||
        (bf16 && ml_net_set_precision(net, ML_PRECISION_BF16, &err) && cli_fail_err("train", &err))) {
        ml_net_free(net); ml_dataset_free(tr); ml_dataset_free(te);
        return 2;
    }
    if (tr->h != tr->w) { ml_net_free(net); ml_dataset_free(tr); ml_dataset_free(te); return cli_fail("train", "%s: images must be square", data); }
    printf("training %s (%zu parameters) on %s: %zu images, %ld epochs\n", arch, ml_net_num_params(net), data,
           limit && (size_t)limit < tr->n ? (size_t)limit : tr->n, epochs);
    ml_train_opts o;
    ml_train_opts_default(&o);
    o.epochs = (int)epochs; o.batch = (int)batch; o.lr = lr; o.weight_decay = wd; o.momentum = momentum;
    o.warmup_epochs = warmup; o.augment_pad = (int)pad; o.augment_flip = !no_flip; o.limit = (size_t)limit;
    o.seed = (uint64_t)seed; o.val = te; o.on_epoch = on_epoch;
    o.checkpoint = checkpoint; o.checkpoint_every_s = every; o.resume = resume;
    o.precision = bf16 ? ML_PRECISION_BF16 : ML_PRECISION_FP32;
    ckpt c = {out, 0};
    o.user = &c;
    cli_progress bar = {0};
    o.progress = cli_progress_cb;
    o.progress_ctx = &bar;
    double acc;
    ml_status st = ml_net_train(net, tr, &o, &acc, &err);
    cli_progress_end(&bar);
    if (!st) st = ml_onnx_save(net, out, &err); /* also when resumed from a finished checkpoint */
    if (!st) printf("final test accuracy %.4f; model written to %s\n", acc, out);
    ml_net_free(net);
    ml_dataset_free(tr);
    ml_dataset_free(te);
    return st ? cli_fail_err("train", &err) : 0;
}
