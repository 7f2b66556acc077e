#!/usr/bin/env bash
# memlev transfer: JSON keys, byte-identical results for 1 and 2 threads, and an interrupted
# sweep (kill -9 mid-run) resumed with --resume ends with exactly the uninterrupted results.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
M="$ML_SOURCE_DIR/tests/fixtures/resnet_small.onnx"
A=(--model "$M" --scheme feedforward,identical --levels 4,8,16,32 --trials 2 --limit 200 --sample-devices 64 --quiet)
"$ML" transfer "${A[@]}" --threads 1 --json "$T/t1.json" --csv "$T/t1.csv" >/dev/null
"$ML" transfer "${A[@]}" --threads 2 --json "$T/t2.json" >/dev/null
cmp "$T/t1.json" "$T/t2.json"
"$ML" transfer "${A[@]}" --mode pulse --calibrate population --threads 1 --json "$T/p1.json" >/dev/null
"$ML" transfer "${A[@]}" --mode pulse --calibrate population --threads 2 --json "$T/p2.json" >/dev/null
cmp "$T/p1.json" "$T/p2.json"
# interrupted run: kill -9 once the first points are on disk, then resume
"$ML" transfer "${A[@]}" --json "$T/r.json" >/dev/null &
pid=$!
for _ in $(seq 1 600); do
  if [ -f "$T/r.json" ] && python3 -c "import json,sys; sys.exit(0 if len(json.load(open('$T/r.json'))['points']) >= 2 else 1)" 2>/dev/null; then break; fi
  sleep 0.05
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
python3 -c "import json; j=json.load(open('$T/r.json')); print('interrupted after', len(j['points']), 'points, complete =', j['complete'])"
"$ML" transfer "${A[@]}" --json "$T/r.json" --resume >/dev/null
cmp "$T/t1.json" "$T/r.json"
python3 - "$T/t1.json" "$T/t1.csv" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["complete"] is True and "baseline_accuracy" in j
keys = ["scheme", "levels", "accuracy_mean", "accuracy_std", "ci95", "quantized_accuracy", "pulses_per_device",
        "devices", "program_seconds", "distinguishable"]
assert len(j["points"]) == 8
for p in j["points"]:
    assert all(k in p for k in keys), p
assert len(open(sys.argv[2]).read().strip().split("\n")) == 9
print("1 passed, 0 failed")
PY
