"""Transfer a small PyTorch CNN onto tio2x devices and compare its accuracy before and after,
for a few level counts and schemes (memlev.torch.program_module: the rules of memlev transfer).
Run from the repository: PYTHONPATH=python /usr/bin/python3 examples/python/torch_transfer.py"""
import numpy as np
import torch

import memlev.torch as mt


def bars(n, seed):
    """4 classes: a horizontal, vertical, diagonal or anti-diagonal bar in noise (1x12x12)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 0.2, (n, 1, 12, 12)).astype(np.float32)
    for i in range(n):
        a, b = rng.integers(2, 10, 2)
        for k in range(-2, 3):
            r, c = [(a, b + k), (a + k, b), (a + k, b + k), (a + k, b - k)][y[i]]
            x[i, 0, r, c] += 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                          torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(16, 4))
x, y = bars(300, 1)
opt = torch.optim.Adam(net.parameters(), lr=0.02)
for _ in range(100):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
xt, yt = bars(2000, 2)


def accuracy(m):
    with torch.no_grad():
        return (m(xt).argmax(1) == yt).float().mean().item()


print(f"float: {accuracy(net):.4f}")
for scheme in ("identical", "feedforward"):
    for levels in (4, 16, 512):
        prog = mt.program_module(net, "tio2x", scheme, levels, seed=1, progress=False)
        print(f"{scheme:12s} {levels:4d} levels: {accuracy(prog):.4f}")
