/* ml_free: release memory the library returned, through the library's own allocator. */
#include <stdlib.h>
#include "memlev/util.h"

void ml_free(void *p) { free(p); }
