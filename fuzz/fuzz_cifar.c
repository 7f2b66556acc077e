/* Fuzz the CIFAR-10 batch reader (through a temporary file). */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "memlev/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/memlev-fuzz-cifar-%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *paths[1] = {path};
    ml_dataset *d = NULL;
    ml_error e;
    if (ml_cifar_load(paths, 1, &d, &e) == ML_OK) ml_dataset_free(d);
    return 0;
}
