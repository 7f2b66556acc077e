/* memlev eval: accuracy of an ONNX model on a test set. */
#include <stdio.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"
#include "cli/progress.h"

int ml_cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = "fashion-mnist", *json = NULL;
    long limit = 0, batch = 100, threads = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "ONNX model (required)", 0},
        {"data", OPT_STR, &data, "test data: fashion-mnist, cifar10:DIR or an IDX folder [fashion-mnist]", 0},
        {"limit", OPT_INT, &limit, "evaluate the first N test images [0 = all]", 0},
        {"batch", OPT_INT, &batch, "batch size [100]", 0},
        {"threads", OPT_INT, &threads, "OpenMP threads [all cores]", 0},
        {"json", OPT_OUT, &json, "write accuracy, images, images_per_s as JSON", 0},
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
    if (ml_onnx_load(model, &net, &err))
        return cli_fail_err("eval", &err);
    if (cli_net_conv("eval", net)) {
        ml_net_free(net);
        return 2;
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
