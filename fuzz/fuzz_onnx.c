/* Fuzz the ONNX importer; whatever it accepts is exported and imported again. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "memlev/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ml_net *net = NULL;
    ml_error e;
    if (ml_onnx_load_buffer(data, size, "fuzz.onnx", &net, &e) != ML_OK)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_onnx.%ld.onnx", (long)getpid());
    if (ml_onnx_save(net, path, &e) == ML_OK) {
        ml_net *again = NULL;
        if (ml_onnx_load(path, &again, &e) != ML_OK)
            __builtin_trap(); /* an exported model must load */
        ml_net_free(again);
        remove(path);
    }
    ml_net_free(net);
    return 0;
}
