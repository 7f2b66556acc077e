"""Program 10^5 random target conductances on tio2x devices with the feedforward scheme and
show the programming error: a histogram (PNG with matplotlib, else text).
Run from the repository: PYTHONPATH=python /usr/bin/python3 examples/python/program_histogram.py"""
import sys
import time

import numpy as np

import memlev

dev = memlev.Device("tio2x")
rng = np.random.default_rng(0)
lo, hi = dev.g_min, dev.g_min + 0.9 * (dev.g_max - dev.g_min)
targets = rng.uniform(lo, hi, 100_000)
t0 = time.time()
g = memlev.program(dev, targets, "feedforward", seed=1, target_states=128)
err = (g - targets) * 1e9  # nS
print(f"{targets.size} devices in {time.time() - t0:.1f} s; error mean {err.mean():+.2f} nS, "
      f"std {err.std():.2f} nS, 99.9th percentile |error| {np.percentile(np.abs(err), 99.9):.1f} nS "
      f"(level spacing at 128 states {0.95 * (dev.g_max - dev.g_min) / 128 * 1e9:.0f} nS)")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.hist(err, bins=100)
    plt.xlabel("read-back - target (nS)")
    plt.ylabel("devices")
    plt.savefig(sys.argv[1] if len(sys.argv) > 1 else "program-error.png", dpi=120)
except ImportError:
    counts, edges = np.histogram(err, bins=15)
    for c, a, b in zip(counts, edges, edges[1:]):
        print(f"{a:+8.1f} .. {b:+8.1f} nS {'#' * int(60 * c / counts.max())} {c}")
