#!/usr/bin/env bash
# export-conductances: safetensors and .npy outputs are well-formed and inside the device window.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
M="$ML_SOURCE_DIR/tests/fixtures/resnet_small.onnx"
"$ML" export-conductances --model "$M" --levels 16 --calibrate population --out "$T/g.safetensors" >/dev/null
"$ML" export-conductances --model "$M" --levels 16 --mode statistical --out "$T/npy" >/dev/null
python3 - "$T" <<'PY'
import glob, json, struct, sys
t = sys.argv[1]
b = open(f"{t}/g.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert len(h) == 20 and all(k.endswith((".G_plus", ".G_minus")) for k in h)
end = 0
for k, e in h.items():
    a, z = e["data_offsets"]
    cnt = 1
    for d in e["shape"]: cnt *= d
    assert e["dtype"] == "F64" and z - a == 8 * cnt
    vals = struct.unpack(f"<{cnt}d", b[8 + n + a:8 + n + z])
    assert all(80e-6 < v < 101e-6 for v in vals), k
    end = max(end, z)
assert 8 + n + end == len(b)
files = glob.glob(f"{t}/npy/*.npy")
assert len(files) == 20
for f in files:
    d = open(f, "rb").read()
    assert d[:6] == b"\x93NUMPY" and (10 + d[8] + 256 * d[9]) % 64 == 0
print("1 passed, 0 failed")
PY
