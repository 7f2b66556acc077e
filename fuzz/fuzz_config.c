/* Fuzz --config FILE.json handling of the option parser (through a temporary file). */
#include <stdlib.h>
#include "cli/cli.h"
#include "tmpfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    const char *path = fuzz_write_tmp("config", data, size);
    if (!path || !devnull) return 0;
    const char *dev = "tio2x", *scheme = "x";
    long n = 0;
    double k = 0;
    int flag = 0;
    cli_opt opts[] = {{"device", OPT_STR, &dev, "", 0}, {"scheme", OPT_STR, &scheme, "", 0},
                      {"devices", OPT_INT, &n, "", 0}, {"k", OPT_DBL, &k, "", 0},
                      {"per-channel", OPT_FLAG, &flag, "", 0}, {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"fuzz", "", "", opts, 0};
    char *argv[] = {"fuzz", "--config", (char *)path, NULL};
    FILE *saved = stderr;
    stderr = devnull;
    cli_parse(&spec, 3, argv, NULL, NULL);
    stderr = saved;
    return 0;
}
