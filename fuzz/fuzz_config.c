/* Fuzz --config FILE.json handling of the option parser (through a temporary file). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/memlev-fuzz-config-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *dev = "tio2x", *scheme = "x";
    long n = 0;
    double k = 0;
    int flag = 0;
    cli_opt opts[] = {{"device", OPT_STR, &dev, "", 0}, {"scheme", OPT_STR, &scheme, "", 0},
                      {"devices", OPT_INT, &n, "", 0}, {"k", OPT_DBL, &k, "", 0},
                      {"per-channel", OPT_FLAG, &flag, "", 0}, {NULL, 0, NULL, NULL, 0}};
    cli_spec spec = {"fuzz", "", "", opts, 0};
    char *argv[] = {"fuzz", "--config", path, NULL};
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    cli_parse(&spec, 3, argv, NULL, NULL);
    fclose(stderr);
    stderr = saved;
    return 0;
}
