/* Fuzz the IDX reader: the input is split into an image part and a label part at a
 * position given by its first byte. */
#include <stdint.h>
#include "memlev/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cut = 1 + (size_t)data[0] * (size - 1) / 255;
    ml_dataset *d = NULL;
    ml_error e;
    if (ml_idx_parse(data + 1, cut - 1, data + cut, size - cut, "fuzz-images", "fuzz-labels", &d, &e) == ML_OK)
        ml_dataset_free(d);
    return 0;
}
