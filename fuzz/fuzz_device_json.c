/* Fuzz the device JSON parser (and serialise what it accepts, then parse that again). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "memlev/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t) return 0;
    memcpy(t, data, size);
    t[size] = 0;
    ml_device d;
    ml_error e;
    if (ml_device_from_json_text(t, "fuzz.json", &d, &e) == ML_OK) {
        char *j = ml_device_to_json(&d);
        ml_device d2;
        if (j && ml_device_from_json_text(j, "rt.json", &d2, &e) == ML_OK) ml_device_clear(&d2);
        free(j);
        ml_device_clear(&d);
    }
    free(t);
    return 0;
}
