/* memlev eval: accuracy of an ONNX model on a test set; --logits saves the outputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
#include "cli/progress.h"

/* Write rows x cols float32 values as a NumPy .npy file (version 1.0, little-endian),
 * through a temporary file renamed into place. 0, or 2 after printing the error. */
static int write_npy_f32(const char *path, const float *v, size_t rows, size_t cols)
{
    char tmp[4200], hdr[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(tmp, "wb");
    if (!f) return cli_fail("eval", "%s: cannot write", path);
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 255), (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)hl, f) == (size_t)hl;
    for (int i = 0; i < pad && ok; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    for (size_t i = 0; i < rows * cols && ok; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return cli_fail("eval", "%s: cannot write", path);
    }
    return 0;
}

/* Run the model over the first n images; logits (n x classes) and top-1 accuracy. */
static int run_logits(ml_net *net, const ml_dataset *ds, size_t n, int batch, float *logits, double *acc)
{
    ml_error err = {0};
    size_t item = (size_t)ds->c * ds->h * ds->w, correct = 0, k = (size_t)net->classes;
    for (size_t i = 0; i < n; i += (size_t)batch) {
        int b = (int)(n - i < (size_t)batch ? n - i : (size_t)batch);
        if (ml_net_forward(net, ds->images + i * item, b, logits + i * k, &err))
            return cli_fail_err("eval", &err);
    }
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (logits[i * k + j] > logits[i * k + best]) best = j;
        correct += best == ds->labels[i];
    }
    *acc = n ? (double)correct / (double)n : 0;
    return 0;
}

int ml_cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = "fashion-mnist", *json = NULL, *logits_path = NULL;
    long limit = 0, batch = 100, threads = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "ONNX model (required)", 0},
        {"data", OPT_STR, &data, "test data: fashion-mnist, cifar10:DIR or an IDX folder [fashion-mnist]", 0},
        {"limit", OPT_INT, &limit, "evaluate the first N test images [0 = all]", 0},
        {"batch", OPT_INT, &batch, "batch size [100]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {"json", OPT_OUT, &json, "write accuracy, images, images_per_s as JSON", 0},
        {"logits", OPT_OUT, &logits_path, "save the model's outputs as F.npy (float32, [images, classes])", 0},
        {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"eval", "--model model.onnx --data fashion-mnist [--limit N] [--json FILE]",
                     "Evaluate an ONNX model on a data set.", opts, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc == 1 ? 0 : 2;
    if (!model) return cli_fail("eval", "--model is required");
    if (limit < 0 || batch < 1 || batch > 65536) return cli_fail("eval", "--limit/--batch out of range");
    cli_set_threads(threads);
    ml_error err = {0};
    ml_net *net = NULL;
    ml_dataset *ds = NULL;
    double acc, ips;
    cli_progress bar = {0};
    if (logits_path) {
        char tmp[4200]; /* the temporary write_npy_f32 uses, checked before the long computation */
        snprintf(tmp, sizeof tmp, "%s.tmp", logits_path);
        FILE *f = fopen(tmp, "wb");
        if (!f) return cli_fail("eval", "%s: cannot write", logits_path);
        fclose(f);
        remove(tmp);
    }
    if (ml_onnx_load(model, &net, &err)) {
        if (err.code == ML_EUNSUPP && cli_report_unsupported("eval", model) > 0)
            return 2;
        return cli_fail_err("eval", &err);
    }
    if (cli_net_conv("eval", net)) {
        ml_net_free(net);
        return 2;
    }
    if (logits_path) {
        float *lg = NULL;
        rc = 2;
        if (ml_dataset_load(data, 0, &ds, &err)) {
            rc = cli_fail_err("eval", &err);
        } else if (net->input_shape[1] != ds->c || net->input_shape[2] != ds->h || net->input_shape[3] != ds->w) {
            rc = cli_fail("eval", "%s: model input is %lldx%lldx%lld, data '%s' is %dx%dx%d", model,
                          (long long)net->input_shape[1], (long long)net->input_shape[2], (long long)net->input_shape[3],
                          ds->name, ds->c, ds->h, ds->w);
        } else {
            size_t n = limit && (size_t)limit < ds->n ? (size_t)limit : ds->n;
            lg = malloc((n ? n : 1) * (size_t)net->classes * sizeof *lg);
            if (!lg) rc = cli_fail("eval", "out of memory");
            else if (!(rc = run_logits(net, ds, n, (int)batch, lg, &acc)))
                rc = write_npy_f32(logits_path, lg, n, (size_t)net->classes);
            if (!rc) printf("accuracy %.4f on %zu images; logits [%zu, %d] in %s\n", acc, n, n, net->classes, logits_path);
        }
        free(lg);
        ml_net_free(net);
        ml_dataset_free(ds);
        return rc;
    }
    if (ml_dataset_load(data, 0, &ds, &err) ||
        ml_net_evaluate(net, ds, (size_t)limit, (int)batch, cli_progress_cb, &bar, &acc, &ips, &err)) {
        cli_progress_end(&bar);
        ml_net_free(net); ml_dataset_free(ds);
        return cli_fail_err("eval", &err);
    }
    cli_progress_end(&bar);
    size_t n = limit && (size_t)limit < ds->n ? (size_t)limit : ds->n;
    printf("accuracy %.4f on %zu images (%.1f images/s)\n", acc, n, ips);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "accuracy", acc);
        cJSON_AddNumberToObject(j, "images", (double)n);
        cJSON_AddNumberToObject(j, "images_per_s", ips);
        rc = cli_write_json("eval", json, j);
        cJSON_Delete(j);
    }
    ml_net_free(net);
    ml_dataset_free(ds);
    return rc;
}
