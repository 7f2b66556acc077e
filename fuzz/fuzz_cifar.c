/* Fuzz the CIFAR-10 batch reader (through a temporary file). */
#include "memlev/data.h"
#include "tmpfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp("cifar", data, size);
    if (!path) return 0;
    const char *paths[1] = {path};
    ml_dataset *d = NULL;
    ml_error e;
    if (ml_cifar_load(paths, 1, &d, &e) == ML_OK) ml_dataset_free(d);
    return 0;
}
