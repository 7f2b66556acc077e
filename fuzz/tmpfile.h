/* Shared by the fuzz targets whose parser takes a path: write the input to a per-process
 * file, on tmpfs (/dev/shm) where there is one so a run is not bound by disk writes. */
#ifndef ML_FUZZ_TMPFILE_H
#define ML_FUZZ_TMPFILE_H
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static inline const char *fuzz_write_tmp(const char *tag, const uint8_t *data, size_t size)
{
    static char path[96];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/memlev-fuzz-%s-%d", dir, tag, (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t put = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || put != size) return NULL;
    return path;
}
#endif
