/* ml_free: release memory the library returned, through the library's own allocator. */
#include <stdlib.h>
#include "core/alloc.h"
#include "memlev/util.h"

void ml_free(void *p) { ml__free(p); }
