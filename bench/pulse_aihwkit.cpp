/* bench/pulse_aihwkit: IBM aihwkit's CPU pulsed-device update (its C++ core, RPUCuda, float)
 * on soft-bounds devices with multiplicative C2C noise: SoftBoundsRPUDevice::doDenseUpdate
 * with one coincidence (one pulse) per device per call, on n devices, for 1 and 2 threads.
 * aihwkit's dense update is serial, so with 2 threads each thread updates its own device
 * array of n/2 devices with its own RNG (one process, two cores, as memlev's bench does).
 * Built by bench/pulse_vs_aihwkit.sh against a user-supplied aihwkit checkout; the output is
 * one line per thread count: "aihwkit <threads> <updates/s>". */
#include <omp.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>
#include "rng.h"
#include "rpu_linearstep_device.h"

using namespace RPU;

struct Tile {
    std::unique_ptr<PulsedRPUDevice<float>> dev;
    float **w;
    std::vector<int> coinc;
    std::unique_ptr<RNG<float>> rng;
    int x, d;
};

static Tile make_tile(int x, int d, unsigned seed, float c2c)
{
    SoftBoundsRPUDeviceMetaParameter<float> par;
    par.dw_min = 0.001f;   /* ~1000 steps across the window, like tio2x's 5e-3 gap fraction */
    par.dw_min_std = c2c;  /* multiplicative cycle-to-cycle step noise */
    par.w_max = 1.0f;
    par.w_min = -1.0f;
    RealWorldRNG<float> rw(seed);
    Tile t;
    t.dev.reset(static_cast<PulsedRPUDevice<float> *>(par.createDevice(x, d, &rw)));
    t.w = Array_2D_Get<float>(d, x);
    for (int i = 0; i < x * d; i++) t.w[0][i] = 0.0f;
    t.coinc.assign((size_t)x * d, 1); /* +1: one pulse per device, same direction for all */
    t.rng.reset(new RNG<float>(seed + 17));
    t.x = x;
    t.d = d;
    return t;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int pulses = argc > 2 ? atoi(argv[2]) : 50;
    float c2c = argc > 3 ? (float)atof(argv[3]) : 0.01f;
    if (n < 2000 || pulses < 1) { fprintf(stderr, "usage: bench_pulse_aihwkit [devices >= 2000] [pulses] [c2c]\n"); return 2; }
    for (int threads = 1; threads <= 2; threads++) {
        std::vector<Tile> tiles;
        int x = 1000, d = (int)(n / 1000 / threads);
        for (int t = 0; t < threads; t++) tiles.push_back(make_tile(x, d, 1234u + (unsigned)t, c2c));
        for (auto &t : tiles) t.dev->doDenseUpdate(t.w, t.coinc.data(), t.rng.get()); /* warm up */
        auto t0 = std::chrono::steady_clock::now();
        #pragma omp parallel for num_threads(threads) schedule(static, 1)
        for (int t = 0; t < threads; t++)
            for (int k = 0; k < pulses; k++) tiles[t].dev->doDenseUpdate(tiles[t].w, tiles[t].coinc.data(), tiles[t].rng.get());
        double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double updates = (double)x * d * threads * pulses;
        printf("aihwkit %d %.4e\n", threads, updates / dt);
        for (auto &t : tiles) Array_2D_Free<float>(t.w);
    }
    return 0;
}
