/* memlev command-line entry: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/progress.h"

/* Subcommands live in their own files; a weak reference lets the tool build while a
 * subcommand is still being written (it then reports that it is unavailable). */
#define CMD(name) int ml_cmd_##name(int argc, char **argv) __attribute__((weak));
CMD(pulse) CMD(levels) CMD(calibrate) CMD(train) CMD(eval) CMD(bench) CMD(transfer)
CMD(export_conductances) CMD(report) CMD(demo) CMD(sweep) CMD(onnx_test) CMD(check_model) CMD(device)
#undef CMD

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } cmd_entry;

static cmd_entry *commands(size_t *n)
{
    static cmd_entry t[] = {
        {"demo", NULL, "run the whole study on embedded defaults and write a report"},
        {"pulse", NULL, "program a potentiation/depression staircase on a device population"},
        {"levels", NULL, "count distinguishable states, nonlinearity and cost of a scheme"},
        {"calibrate", NULL, "fit a device model to measured pulse responses (CSV)"},
        {"train", NULL, "train a network on a data set and save it as ONNX"},
        {"eval", NULL, "evaluate an ONNX model on a data set"},
        {"bench", NULL, "benchmarks (bench infer)"},
        {"transfer", NULL, "program a network's weights onto devices; accuracy vs levels"},
        {"export-conductances", NULL, "write programmed conductances (safetensors/.npy)"},
        {"report", NULL, "plots and an HTML report from result files"},
        {"sweep", NULL, "a grid of transfer/levels studies from a config; runs under mpirun"},
        {"check-model", NULL, "can memlev run an ONNX model? lists every unsupported op"},
        {"onnx-test", NULL, "run one case of ONNX's backend test suite (exit 0 match, 1 mismatch, 2 unsupported)"},
        {"device", NULL, "list the device presets, or print one as JSON (device list | device show NAME)"},
    };
    t[0].fn = ml_cmd_demo; t[1].fn = ml_cmd_pulse; t[2].fn = ml_cmd_levels;
    t[3].fn = ml_cmd_calibrate; t[4].fn = ml_cmd_train; t[5].fn = ml_cmd_eval;
    t[6].fn = ml_cmd_bench; t[7].fn = ml_cmd_transfer; t[8].fn = ml_cmd_export_conductances;
    t[9].fn = ml_cmd_report; t[10].fn = ml_cmd_sweep; t[11].fn = ml_cmd_check_model; t[12].fn = ml_cmd_onnx_test;
    t[13].fn = ml_cmd_device;
    *n = sizeof t / sizeof t[0];
    return t;
}

static void usage(FILE *f)
{
    size_t n;
    cmd_entry *t = commands(&n);
    fprintf(f, "usage: memlev COMMAND [options]   (memlev COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < n; i++)
        if (t[i].fn)
            fprintf(f, "  %-20s %s\n", t[i].name, t[i].help);
    fprintf(f, "\nglobal options: --quiet (no progress on stderr), --version\n");
}

int main(int argc, char **argv)
{
    /* global options before the command: memlev --quiet CMD ... */
    while (argc >= 2 && (!strcmp(argv[1], "--quiet") || !strcmp(argv[1], "-q"))) {
        cli_set_quiet(1);
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("memlev %s\n", ML_VERSION_STRING);
        return 0;
    }
    size_t n;
    cmd_entry *t = commands(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], t[i].name))
            continue;
        if (!t[i].fn) {
            fprintf(stderr, "memlev: command '%s' is not available in this build\n", argv[1]);
            return 2;
        }
        return t[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "memlev: unknown command '%s' (memlev --help lists them)\n", argv[1]);
    return 2;
}
