#!/usr/bin/env bash
# export-conductances: safetensors and .npy outputs are well-formed and inside the device window,
# and the weights rebuilt from them ((G+ - G-) / scale) match the model's own (ONNX initializers,
# read here with a small protobuf reader: no onnx/numpy needed).
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
M="$ML_SOURCE_DIR/tests/fixtures/resnet_small.onnx"
"$ML" export-conductances --model "$M" --levels 16 --calibrate population --out "$T/g.safetensors" >/dev/null
"$ML" export-conductances --model "$M" --levels 16 --mode statistical --out "$T/npy" >/dev/null
"$ML" export-conductances --model "$M" --levels 256 --calibrate population --out "$T/g256.safetensors" >/dev/null
"$ML" export-conductances --model "$M" --levels 256 --calibrate population --per-channel --out "$T/pc.safetensors" >/dev/null
python3 - "$T" "$M" <<'PY'
import glob, json, struct, sys
t, model = sys.argv[1], sys.argv[2]

def fields(b):
    """protobuf wire format: (field number, wire type, value) of one message"""
    i = 0
    def varint():
        nonlocal i
        v = s = 0
        while True:
            c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
            if c < 0x80: return v
    while i < len(b):
        key = varint(); f, wt = key >> 3, key & 7
        if wt == 0: yield f, wt, varint()
        elif wt == 1: yield f, wt, b[i:i + 8]; i += 8
        elif wt == 5: yield f, wt, b[i:i + 4]; i += 4
        elif wt == 2:
            n = varint(); yield f, wt, b[i:i + n]; i += n
        else: raise ValueError("wire type %d" % wt)

def initializers(path):
    """float initializers of an ONNX model: name -> (dims, values)"""
    out = {}
    graph = [v for f, wt, v in fields(open(path, "rb").read()) if f == 7][0]
    for f, wt, tb in fields(graph):
        if f != 5: continue
        dims, name, vals, dtype = [], "", None, 1
        for g, w2, v in fields(tb):
            if g == 1 and w2 == 0: dims.append(v)
            elif g == 1: dims += unpack_varints(v)  # packed dims
            elif g == 2: dtype = v
            elif g == 8: name = v.decode()
            elif g == 9: vals = list(struct.unpack("<%df" % (len(v) // 4), v))
            elif g == 4 and w2 == 2: vals = list(struct.unpack("<%df" % (len(v) // 4), v))
        if dtype == 1 and vals is not None: out[name] = (dims, vals)
    return out

def unpack_varints(b):
    out, v, s = [], 0, 0
    for c in b:
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80: out.append(v); v = s = 0
    return out

def safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    res = {}
    for k, e in h.items():
        a, z = e["data_offsets"]
        res[k] = (e["shape"], struct.unpack("<%dd" % ((z - a) // 8), b[8 + n + a:8 + n + z]))
    return res

W = initializers(model)
stats = []
for f, per in (("g256", False), ("pc", True)):
    g = safetensors(f"{t}/{f}.safetensors")
    names = sorted(k[:-len(".scale")] for k in g if k.endswith(".scale"))
    assert len(names) == 10 and len(g) == 30, (f, len(g))
    for nm in names:
        dims, w = W[nm]
        gp, gm, (sshape, sc) = g[nm + ".G_plus"][1], g[nm + ".G_minus"][1], g[nm + ".scale"]
        rows = dims[0]; cols = len(w) // rows
        assert sshape == [rows if per else 1], (nm, sshape)
        assert all(x > 0 for x in sc)
        # per layer (or channel): the rebuilt weights lie on the original ones (slope 1: the scale
        # is right; a wrong scale shows as a slope off 1), up to programming noise
        groups = [(r * cols, (r + 1) * cols) for r in range(rows)] if per else [(0, len(w))]
        for gi, (a, z) in enumerate(groups):
            s = sc[gi]
            ww = w[a:z]; re = [(gp[q] - gm[q]) / s for q in range(a, z)]
            m = max(abs(x) for x in ww)
            if m == 0: continue
            slope = sum(x * y for x, y in zip(ww, re)) / sum(x * x for x in ww)
            rms = (sum((x - y) ** 2 for x, y in zip(ww, re)) / len(ww)) ** 0.5
            stats.append((slope, rms / m))
            assert 0.9 < slope < 1.1 and rms < 0.08 * m, (f, nm, gi, slope, rms / m)
print("rebuilt weights match the model: slope %.3f..%.3f, rms/range <= %.3f" % (min(x[0] for x in stats), max(x[0] for x in stats), max(x[1] for x in stats)))
b = open(f"{t}/g.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert len(h) == 30 and all(k.endswith((".G_plus", ".G_minus", ".scale")) for k in h)
end = 0
for k, e in h.items():
    a, z = e["data_offsets"]
    cnt = 1
    for d in e["shape"]: cnt *= d
    assert e["dtype"] == "F64" and z - a == 8 * cnt
    vals = struct.unpack(f"<{cnt}d", b[8 + n + a:8 + n + z])
    if not k.endswith(".scale"): assert all(80e-6 < v < 101e-6 for v in vals), k
    end = max(end, z)
assert 8 + n + end == len(b)
files = glob.glob(f"{t}/npy/*.npy")
assert len(files) == 30
for f in files:
    d = open(f, "rb").read()
    assert d[:6] == b"\x93NUMPY" and (10 + d[8] + 256 * d[9]) % 64 == 0
print("1 passed, 0 failed")
PY
