#!/usr/bin/python3
"""ResNet-18/34 inference, memlev vs PyTorch, side by side in one run.

Both engines run the same random weights: the PyTorch model (1x28x28 input, 3x3
stride-1 stem, no max-pool, torchvision stage layout, 10 classes, eval mode) is exported
with torch.onnx.export and loaded by memlev (bench_infer_onnx). Batch 64, 2 threads.
Prints images/s for both and the ratio memlev/PyTorch.

usage: /usr/bin/python3 bench/infer_vs_torch.py [--build build] [--seconds 10] [--batch 64]
       [--threads 2] [--arch resnet18,resnet34] [--rounds 3] [--json out.json]
The two engines alternate in --rounds slices of seconds/rounds each, so that load from
other processes on a shared machine falls on both alike; "load" is the 1-min load average.
"torch/c" and "memlev/c" are images per CPU-second of each process (all its threads): on
a busy machine they show the work each engine needs, which wall-clock rates hide.
Needs Debian's python3-torch (run with /usr/bin/python3) and a built bench_infer_onnx.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")  # for PyTorch's OpenBLAS on CPUs Debian's 0.3.21 does not know (memlev does not use OpenBLAS)

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """torchvision resnet18/34 stages with a CIFAR-style 3x3 stride-1 stem, no max-pool."""

    def __init__(self, blocks, width=64, in_ch=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width << i
            for j in range(n):
                layers.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


ARCHS = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def torch_ips(model, batch, seconds):
    """(images per wall second, images per CPU second of this process)"""
    x = torch.rand(batch, 1, 28, 28)
    with torch.inference_mode():
        model(x)
        model(x)
        n, t0, c0 = 0, time.perf_counter(), cpu_seconds()
        while n < 3 or time.perf_counter() - t0 < seconds:
            model(x)
            n += 1
        t, c = time.perf_counter() - t0, cpu_seconds() - c0
    return n * batch / t, n * batch / c


def alternate(rounds, torch_slice, memlev_cmd):
    """Run PyTorch and memlev in `rounds` alternating slices so that load from other
    processes hits both alike. torch_slice() returns (images/s, images per CPU-s, ...);
    memlev_cmd prints one JSON line with images_per_s and images_per_cpu_s. Returns the
    per-round rates (torch wall, torch CPU, memlev wall, memlev CPU), torch_slice's last
    result and memlev's last JSON object."""
    t_rates, t_cpu, m_rates, m_cpu = [], [], [], []
    for _ in range(rounds):
        t = torch_slice()
        t_rates.append(t[0])
        t_cpu.append(t[1])
        out = subprocess.run(memlev_cmd, check=True, capture_output=True, text=True).stdout
        m = json.loads(out.strip().splitlines()[-1])
        m_rates.append(m["images_per_s"])
        m_cpu.append(m["images_per_cpu_s"])
    return t_rates, t_cpu, m_rates, m_cpu, t, m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", default="resnet18,resnet34")
    ap.add_argument("--rounds", type=int, default=3, help="alternating slices per engine")
    ap.add_argument("--json")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench_infer_onnx")
    if not os.access(exe, os.X_OK):
        sys.exit("%s not found: build first (cmake --build %s)" % (exe, a.build))
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    print("OPENBLAS_CORETYPE=%s  torch %s (%d threads)  batch %d  %.0f s per measurement"
          % (os.environ.get("OPENBLAS_CORETYPE", ""), torch.__version__, torch.get_num_threads(), a.batch, a.seconds))
    print("%-9s %9s %11s %12s %6s %11s %8s %8s %5s" % ("model", "GMAC/img", "torch img/s", "memlev img/s", "ratio",
          "memlev GF/s", "torch/c", "memlev/c", "load"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in a.arch.split(","):
            model = ResNet(ARCHS[arch]).eval()
            path = os.path.join(tmp, arch + ".onnx")
            torch.onnx.export(model, torch.rand(1, 1, 28, 28), path, input_names=["input"],
                              output_names=["logits"], opset_version=13,
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
            t_rates, t_cpu, m_rates, m_cpu, _, m = alternate(
                a.rounds, lambda: torch_ips(model, a.batch, a.seconds / a.rounds),
                [exe, path, str(a.batch), str(a.threads), str(a.seconds / a.rounds)])
            t_ips, m_ips = sum(t_rates) / a.rounds, sum(m_rates) / a.rounds
            t_ipc, m_ipc = sum(t_cpu) / a.rounds, sum(m_cpu) / a.rounds
            row = {"arch": arch, "batch": a.batch, "threads": a.threads,
                   "macs_per_image": m["macs_per_image"], "torch_images_per_s": t_ips,
                   "memlev_images_per_s": m_ips, "ratio": m_ips / t_ips,
                   "memlev_gflops": 2 * m["macs_per_image"] * m_ips / 1e9,
                   "torch_gflops": 2 * m["macs_per_image"] * t_ips / 1e9,
                   "torch_rounds": t_rates, "memlev_rounds": m_rates,
                   "torch_images_per_cpu_s": t_ipc, "memlev_images_per_cpu_s": m_ipc,
                   "load_average": os.getloadavg()[0]}
            rows.append(row)
            print("%-9s %9.3f %11.1f %12.1f %6.2f %11.1f %8.1f %8.1f %5.1f" % (arch, row["macs_per_image"] / 1e9,
                  t_ips, m_ips, row["ratio"], row["memlev_gflops"], t_ipc, m_ipc, row["load_average"]), flush=True)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
