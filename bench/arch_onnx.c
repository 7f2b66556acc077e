/* Write a built-in architecture with its seeded random initial weights as ONNX, so that
 * other engines can run the very file memlev runs (bench/infer_vs_ort.sh).
 * usage: bench_arch_onnx ARCH OUT.onnx [size=28] [channels=1] [seed=1] */
#include <stdio.h>
#include <stdlib.h>
#include "memlev/nn.h"
#include "memlev/onnx.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ARCH OUT.onnx [size=28] [channels=1] [seed=1]\n", argv[0]);
        return 2;
    }
    int size = argc > 3 ? atoi(argv[3]) : 28, ch = argc > 4 ? atoi(argv[4]) : 1;
    long seed = argc > 5 ? atol(argv[5]) : 1;
    if (size < 1 || ch < 1 || seed < 0) {
        fprintf(stderr, "bad size, channels or seed\n");
        return 2;
    }
    ml_net *net = NULL;
    ml_error err = {0};
    if (ml_arch_build(argv[1], ch, size, 10, 0, (uint64_t)seed, &net, &err) || ml_onnx_save(net, argv[2], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        ml_net_free(net);
        return 2;
    }
    ml_net_free(net);
    return 0;
}
