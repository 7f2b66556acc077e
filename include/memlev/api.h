/* The export marker of libmemlev: every function the headers in include/memlev/ declare carries ML_API;
 * the library is built with hidden visibility, so nothing else leaves the shared object. */
#ifndef MEMLEV_API_H
#define MEMLEV_API_H

#if defined(_WIN32)
#define ML_API
#elif defined(__GNUC__)
#define ML_API __attribute__((visibility("default")))
#else
#define ML_API
#endif

#endif
