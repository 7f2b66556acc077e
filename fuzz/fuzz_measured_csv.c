/* Fuzz the measured-data CSV reader and the model fits on what it accepts. */
#include <stdint.h>
#include "memlev/measured.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ml_measured *m = NULL;
    ml_error e;
    if (ml_measured_parse((const char *)data, size, "fuzz.csv", &m, &e) == ML_OK) {
        ml_device d;
        if (m->n < 2000) {
            if (ml_measured_fit(m, "softbounds", "fuzz.csv", &d, &e) == ML_OK) ml_device_clear(&d);
            if (ml_measured_fit(m, "table", "fuzz.csv", &d, &e) == ML_OK) ml_device_clear(&d);
        }
        ml_measured_free(m);
    }
    return 0;
}
