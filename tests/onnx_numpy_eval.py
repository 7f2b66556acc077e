#!/usr/bin/python3
"""Evaluate an ONNX model exported by memlev with plain numpy (an implementation
independent of memlev's engine) and compare its logits to reference logits (PyTorch's
for the fixtures, memlev's for its built-in architectures).

usage: onnx_numpy_eval.py MODEL.onnx REFERENCE.io [tolerance=1e-4]
Exit 0 when max |numpy - reference| <= tolerance. Covers the ops memlev exports.
"""
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def read_io(path):
    b = open(path, "rb").read()
    out, p = [], 0
    for _ in range(2):
        (r,) = struct.unpack_from("<I", b, p)
        dims = struct.unpack_from("<%dI" % r, b, p + 4)
        p += 4 + 4 * r
        n = int(np.prod(dims))
        out.append(np.frombuffer(b, "<f4", n, p).reshape(dims).astype(np.float64))
        p += 4 * n
    return out


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def windows(x, kh, kw, strides, pads, dil, fill):
    """(N, C, OH, OW, kh*kw) view of x's sliding windows after padding with fill."""
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
    n, c, h, w = xp.shape
    oh = (h - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w - dil[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.empty((n, c, oh, ow, kh * kw))
    for i in range(kh):
        for j in range(kw):
            hi, wj = i * dil[0], j * dil[1]
            cols[..., i * kw + j] = xp[:, :, hi:hi + strides[0] * oh:strides[0], wj:wj + strides[1] * ow:strides[1]]
    return cols


def run(model, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64 if t.data_type == 1 else np.int64)
           for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for nd in model.graph.node:
        a, ins = attrs(nd), [env[i] if i else None for i in nd.input]
        op = nd.op_type
        if op == "Conv":
            w, g = ins[1], a.get("group", 1)
            m, cg, kh, kw = w.shape
            cols = windows(ins[0], kh, kw, a.get("strides", [1, 1]), a.get("pads", [0] * 4), a.get("dilations", [1, 1]), 0)
            n, c, oh, ow, _ = cols.shape
            cols = cols.reshape(n, g, cg, oh, ow, kh * kw)
            wg = w.reshape(g, m // g, cg, kh * kw)
            y = np.einsum("ngcxyk,gmck->ngmxy", cols, wg).reshape(n, m, oh, ow)
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2].reshape(1, -1, 1, 1)
        elif op == "BatchNormalization":
            s, b, mu, var = (t.reshape(1, -1, 1, 1) for t in ins[1:5])
            y = (ins[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * s + b
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op in ("MaxPool", "AveragePool"):
            assert a.get("ceil_mode", 0) == 0
            k, pads = a["kernel_shape"], a.get("pads", [0] * 4)
            if op == "MaxPool":
                y = windows(ins[0], k[0], k[1], a.get("strides", [1, 1]), pads, [1, 1], -np.inf).max(-1)
            else:
                s = windows(ins[0], k[0], k[1], a.get("strides", [1, 1]), pads, [1, 1], 0).sum(-1)
                if a.get("count_include_pad", 0):
                    y = s / (k[0] * k[1])
                else:
                    cnt = windows(np.ones_like(ins[0][:1, :1]), k[0], k[1], a.get("strides", [1, 1]), pads, [1, 1], 0).sum(-1)
                    y = s / cnt
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](ins[0], ins[1])
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            A = A.T if a.get("transA", 0) else A
            B = B.T if a.get("transB", 0) else B
            y = a.get("alpha", 1.0) * A @ B
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            y = ins[0] @ ins[1]
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(ins[1].tolist())]
            y = ins[0].reshape(shape)
        elif op == "Identity":
            y = ins[0]
        else:
            raise SystemExit("onnx_numpy_eval: op %s not implemented" % op)
        env[nd.output[0]] = y
    return env[model.graph.output[0].name]


def main():
    model = onnx.load(sys.argv[1])
    x, ref = read_io(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    d = float(np.abs(run(model, x) - ref).max())
    print("%s: max |numpy - reference| = %.3g" % (sys.argv[1], d))
    return 0 if d <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
