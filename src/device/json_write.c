/* Exact JSON numbers for device files (see json_write.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "device/json_write.h"

cJSON *ml__json_exact_number(double v)
{
    if (!isfinite(v)) return cJSON_CreateNull();
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        double back = strtod(buf, NULL);
        if (!memcmp(&back, &v, sizeof v)) break; /* bit for bit (keeps -0 too) */
    }
    return cJSON_CreateRaw(buf);
}
