/* Exact JSON numbers for device files: what ml_device_to_json writes must load back to the
 * same doubles (cJSON's own printer stops at 15 digits when a value is within an epsilon). */
#ifndef ML_DEVICE_JSON_WRITE_H
#define ML_DEVICE_JSON_WRITE_H
#include <cjson/cJSON.h>

/* A JSON number item holding v in the fewest digits (15..17) that parse back to exactly v;
 * NULL when out of memory. Non-finite values (never in a valid device) become null. */
cJSON *ml__json_exact_number(double v);

#endif
