#!/usr/bin/env python3
"""Export torchvision-like MobileNetV2 and ShuffleNetV2 (built here, torchvision's layout,
random weights and BN statistics from fixed seeds) with torch.onnx and check that memlev
runs them to PyTorch's outputs: each model becomes an ONNX backend-test case folder
(model.onnx, test_data_set_0/input_0.pb, output_0.pb) run by `memlev onnx-test`.

The reference output is PyTorch's forward in float64 (the exported float32 model's own
rounding, in PyTorch or memlev, reaches 1e-4 of a logit over these 50-odd layers), and the
check allows 1e-4 of the largest |logit| plus 1e-4 relative: a wrong op moves logits by a
sizeable fraction of their range.

Usage: /usr/bin/python3 scripts/onnx_cnn_check.py MEMLEV [--size 224] [--opsets 11,13] [--keep DIR]
Exit: memlev onnx-test's status (0 all match), 77 when torch or onnx is missing (ctest
skip). Debian: apt-get install python3-torch python3-onnx.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover
    print(f"onnx_cnn_check: {e} (skipped)")
    sys.exit(77)


def conv_bn(cin, cout, k, s, groups=1, act="relu6"):
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    elif act == "relu":
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidualV2(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual"""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hidden, 1, 1)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


def make_divisible(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


class MobileNetV2(nn.Module):
    """torchvision.models.mobilenet_v2 (width_mult 1.0 unless given)"""

    def __init__(self, classes=1000, width=1.0):
        super().__init__()
        cfg = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        cin = make_divisible(32 * width)
        last = make_divisible(1280 * max(1.0, width))
        feats = [conv_bn(3, cin, 3, 2)]
        for t, c, n, s in cfg:
            cout = make_divisible(c * width)
            for i in range(n):
                feats.append(InvertedResidualV2(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(conv_bn(cin, last, 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class InvertedResidualShuffle(nn.Module):
    """torchvision.models.shufflenetv2.InvertedResidual"""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        bf = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, bf, 1, 1, act="relu"))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(conv_bn(cin if stride > 1 else bf, bf, 1, 1, act="relu"),
                                     conv_bn(bf, bf, 3, stride, groups=bf, act=None), conv_bn(bf, bf, 1, 1, act="relu"))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """torchvision.models.shufflenet_v2_x0_5 (x1_0 with widths 116, 232, 464, 1024)"""

    def __init__(self, classes=1000, widths=(24, 48, 96, 192, 1024), repeats=(4, 8, 4)):
        super().__init__()
        self.conv1 = conv_bn(3, widths[0], 3, 2, act="relu")
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = widths[0], []
        for n, cout in zip(repeats, widths[1:4]):
            blocks = [InvertedResidualShuffle(cin, cout, 2)] + [InvertedResidualShuffle(cout, cout, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn(cin, widths[4], 1, 1, act="relu")
        self.fc = nn.Linear(widths[4], classes)

    def forward(self, x):
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.01)
    return model.eval()


def write_case(folder, model, x, opset):
    """Export model (float32) at opset into folder with its float64 output as the reference;
    returns the largest |logit|."""
    os.makedirs(os.path.join(folder, "test_data_set_0"), exist_ok=True)
    torch.onnx.export(model, x, os.path.join(folder, "model.onnx"), opset_version=opset, input_names=["input"],
                      output_names=["logits"])
    with torch.no_grad():
        y = model.double()(x.double())
    model.float()
    for name, t in (("input_0", x), ("output_0", y)):
        with open(os.path.join(folder, "test_data_set_0", name + ".pb"), "wb") as f:
            f.write(numpy_helper.from_array(t.numpy().astype(np.float32), name).SerializeToString())
    return float(y.abs().max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("memlev")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--opsets", default="11,13")
    ap.add_argument("--keep", help="write the cases here (kept) instead of a temp folder")
    a = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(2, 3, a.size, a.size, generator=torch.Generator().manual_seed(1))
    models = {"mobilenet_v2": randomize(MobileNetV2(), 2), "shufflenet_v2_x0_5": randomize(ShuffleNetV2(), 3)}
    with tempfile.TemporaryDirectory() as tmp:
        root = a.keep or tmp
        worst = 0
        for opset in (int(o) for o in a.opsets.split(",")):
            for name, m in models.items():
                d = os.path.join(root, f"{name}_opset{opset}")
                big = write_case(d, m, x, opset)
                r = subprocess.run([a.memlev, "onnx-test", "--rtol", "1e-4", "--atol", f"{1e-4 * big:.6g}", d])
                worst = max(worst, r.returncode)
        return worst


if __name__ == "__main__":
    sys.exit(main())
