#!/usr/bin/python3
"""ResNet training steps, memlev vs PyTorch, side by side in one run.

Same architecture on both sides (--arch resnet20: CIFAR-style, 3x3 stem, 3 stages of 3
basic blocks, widths 16/32/64; resnet18/resnet34: 3x3 stride-1 stem, no max-pool,
torchvision stage layout, widths 64..512; 1x28x28 input, 10 classes), random data,
training mode (BN on batch statistics), forward + backward + SGD (momentum 0.9, weight
decay 5e-4) per step, 2 threads. Prints images/s for both and the ratio memlev/PyTorch.

usage: /usr/bin/python3 bench/train_vs_torch.py [--build build] [--arch resnet20] [--seconds 10]
       [--batch 128] [--threads 2] [--precision fp32|bf16]
--precision bf16 runs memlev's convolutions in bfloat16 (ml_net_set_precision); PyTorch stays fp32.
Needs Debian's python3-torch (run with /usr/bin/python3) and a built bench_train_step.
"""
import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")  # for PyTorch's OpenBLAS on CPUs Debian's 0.3.21 does not know (memlev does not use OpenBLAS)

import torch
import torch.nn as nn
import torch.nn.functional as F

from infer_vs_torch import ARCHS, BasicBlock, ResNet, alternate


class ResNet20(nn.Module):
    def __init__(self, width=16, in_ch=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for i in range(3):
            cout = width << i
            for j in range(3):
                layers.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def torch_ips(arch, batch, seconds):
    model = (ResNet20() if arch == "resnet20" else ResNet(ARCHS[arch])).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    n, t0, c0 = 0, time.perf_counter(), cpu()
    while n < 3 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0), n * batch / (cpu() - c0), sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--arch", default="resnet20", choices=["resnet20"] + sorted(ARCHS))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="alternating slices per engine")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="memlev's training convolutions")
    ap.add_argument("--json")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench_train_step")
    if not os.access(exe, os.X_OK):
        sys.exit("%s not found: build first (cmake --build %s)" % (exe, a.build))
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    t_rates, t_cpu, m_rates, m_cpu, (_, _, t_params), m = alternate(
        a.rounds, lambda: torch_ips(a.arch, a.batch, a.seconds / a.rounds),
        [exe, a.arch, str(a.batch), str(a.threads), str(a.seconds / a.rounds), a.precision])
    t_ips, m_ips = sum(t_rates) / a.rounds, sum(m_rates) / a.rounds
    t_ipc, m_ipc = sum(t_cpu) / a.rounds, sum(m_cpu) / a.rounds
    row = {"arch": a.arch, "memlev_precision": a.precision, "batch": a.batch, "threads": a.threads, "torch_params": t_params,
           "memlev_params": m["params"], "torch_images_per_s": t_ips, "memlev_images_per_s": m_ips,
           "ratio": m_ips / t_ips, "torch_rounds": t_rates, "memlev_rounds": m_rates,
           "torch_images_per_cpu_s": t_ipc, "memlev_images_per_cpu_s": m_ipc,
           "load_average": os.getloadavg()[0]}
    print("torch %s (%d threads)  batch %d  training steps (fwd+bwd+SGD)  memlev %s" % (torch.__version__, a.threads,
          a.batch, a.precision))
    print("%-9s %8s %11s %12s %6s %8s %8s %5s" % ("model", "params", "torch img/s", "memlev img/s", "ratio",
          "torch/c", "memlev/c", "load"))
    print("%-9s %8d %11.1f %12.1f %6.2f %8.1f %8.1f %5.1f" % (a.arch, t_params, t_ips, m_ips, row["ratio"],
          t_ipc, m_ipc, row["load_average"]))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump([row], f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
