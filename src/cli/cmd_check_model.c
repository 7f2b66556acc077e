/* memlev check-model: can memlev run this ONNX model? Lists every unsupported op at once. */
#include <stdio.h>
#include "cli/common.h"
#include "memlev/nn.h"
#include "memlev/onnx.h"

/* Print the unsupported ops of model (if any) as one line on stderr; returns their count,
 * or -1 when the file cannot be read as a model (error printed). */
int cli_report_unsupported(const char *cmd, const char *model)
{
    char list[2048];
    int count = 0;
    ml_error err = {0};
    if (ml_onnx_unsupported_ops(model, list, sizeof list, &count, &err)) {
        cli_fail_err(cmd, &err);
        return -1;
    }
    if (count)
        fprintf(stderr, "memlev %s: %s: %d unsupported op%s: %s\n", cmd, model, count, count == 1 ? "" : "s", list);
    return count;
}

int ml_cmd_check_model(int argc, char **argv)
{
    cli_opt opts[] = {{NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"check-model", "MODEL.onnx",
                     "Check whether memlev can run an ONNX model: exit 0 if it can, 2 (naming every unsupported op) if not.",
                     opts, 1};
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(&spec, argc, argv, pos, &npos);
    if (rc) return rc == 1 ? 0 : 2;
    if (npos != 1) return cli_fail("check-model", "give one model file (memlev check-model --help)");
    int n = cli_report_unsupported("check-model", pos[0]);
    if (n != 0) return 2;
    ml_error err = {0};
    ml_net *net = NULL;
    if (ml_onnx_load(pos[0], &net, &err))
        return cli_fail_err("check-model", &err);
    printf("%s: memlev can run it (%d nodes, input %lldx%lldx%lld, %d outputs per image)\n", pos[0], net->nnodes,
           (long long)net->input_shape[1], (long long)net->input_shape[2], (long long)net->input_shape[3], net->classes);
    ml_net_free(net);
    return 0;
}
