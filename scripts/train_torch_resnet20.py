#!/usr/bin/python3
"""Peer reference: train the CIFAR-style ResNet-20 (1 input channel, width 16) on Fashion-MNIST
with Debian's PyTorch and export it to ONNX with the input normalisation wrapped in (Sub/Div).

    /usr/bin/python3 scripts/train_torch_resnet20.py --epochs 15 --out models/resnet20-fmnist-torch.onnx

Reads the IDX files of Debian's dataset-fashion-mnist; seeds are fixed; prints test accuracy."""
import argparse, gzip, math, time
import numpy as np
import os, sys
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from infer_vs_torch import BasicBlock  # the one residual block of the PyTorch peers

D = "/usr/share/datasets/fashion-mnist"

def idx(name):
    with gzip.open(f"{D}/{name}", "rb") as f:
        b = f.read()
    if name.find("images") >= 0:
        n, h, w = np.frombuffer(b[4:16], ">u4")
        return np.frombuffer(b[16:], np.uint8).reshape(n, 1, h, w).astype(np.float32) / 255.0
    return np.frombuffer(b[8:], np.uint8).astype(np.int64)

class ResNet20(nn.Module):
    def __init__(s, w=16, classes=10):
        super().__init__()
        s.register_buffer("mean", torch.tensor(0.2860).reshape(1, 1, 1, 1))
        s.register_buffer("std", torch.tensor(0.3530).reshape(1, 1, 1, 1))
        s.c = nn.Conv2d(1, w, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(w)
        layers, i = [], w
        for o, st in ((w, 1), (2 * w, 2), (4 * w, 2)):
            for k in range(3):
                layers.append(BasicBlock(i, o, st if k == 0 else 1)); i = o
        s.layers = nn.Sequential(*layers)
        s.fc = nn.Linear(i, classes)
    def forward(s, x):
        x = (x - s.mean) / s.std
        x = F.relu(s.b(s.c(x)))
        x = s.layers(x)
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="models/resnet20-fmnist-torch.onnx")
    a = ap.parse_args()
    torch.manual_seed(1); np.random.seed(1); torch.set_num_threads(a.threads)
    xtr, ytr = torch.from_numpy(idx("train-images-idx3-ubyte.gz")), torch.from_numpy(idx("train-labels-idx1-ubyte.gz"))
    xte, yte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz")), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz"))
    m = ResNet20()
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = a.epochs * math.ceil(len(xtr) / a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.15)
    def evaluate():
        m.eval(); c = 0
        with torch.no_grad():
            for i in range(0, len(xte), 500):
                c += (m(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum().item()
        return c / len(xte)
    for ep in range(a.epochs):
        m.train(); t0 = time.time(); perm = torch.randperm(len(xtr)); tl = 0
        for i in range(0, len(xtr), a.batch):
            idxs = perm[i:i + a.batch]
            x = xtr[idxs]
            # augmentation: random crop with 2-pixel padding, horizontal flip
            x = F.pad(x, (2, 2, 2, 2))
            dx, dy = np.random.randint(0, 5, 2)
            x = x[:, :, dy:dy + 28, dx:dx + 28]
            if np.random.rand() < 0.5: x = torch.flip(x, [3])
            loss = F.cross_entropy(m(x), ytr[idxs])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); tl += loss.item() * len(idxs)
        print(f"epoch {ep + 1}/{a.epochs} loss {tl / len(xtr):.4f} test {evaluate():.4f} ({time.time() - t0:.0f} s)", flush=True)
    m.eval()
    torch.onnx.export(m, torch.zeros(1, 1, 28, 28), a.out, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    print(f"test accuracy {evaluate():.4f}; wrote {a.out}")

if __name__ == "__main__":
    main()
