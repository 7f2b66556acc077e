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
# interrupted run: kill -9 as soon as the first point is in the journal, then resume. The
# journal must show the kill landed mid-run (not complete, fewer points than the full run);
# a run that finished before the kill would prove nothing and fails the test.
"$ML" transfer "${A[@]}" --json "$T/r.json" >/dev/null &
pid=$!
for _ in $(seq 1 2400); do
  if [ -f "$T/r.json" ] && python3 -c "import json,sys; sys.exit(0 if len(json.load(open('$T/r.json'))['points']) >= 1 else 1)" 2>/dev/null; then break; fi
  sleep 0.05
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
python3 - "$T/r.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
n = len(j["points"])
print("interrupted after", n, "points, complete =", j["complete"])
assert j["complete"] is False and 1 <= n < 8, f"the kill did not interrupt the run ({n} of 8 points, complete = {j['complete']})"
PY
"$ML" transfer "${A[@]}" --json "$T/r.json" --resume >/dev/null
cmp "$T/t1.json" "$T/r.json"
python3 - "$T/t1.json" "$T/r.json" "$T/t1.csv" <<'PY'
import json, sys
j, r = (json.load(open(f)) for f in sys.argv[1:3])
assert j["complete"] is True and r["complete"] is True and 0 <= j["baseline_accuracy"] <= 1
keys = ["scheme", "levels", "accuracy_mean", "accuracy_std", "ci95", "quantized_accuracy", "pulses_per_device",
        "devices", "program_seconds", "distinguishable", "states", "calibration_pulses_per_device",
        "states_population", "grid"]
assert len(j["points"]) == 8 and len(r["points"]) == 8
# the resumed run's values, point by point, are the uninterrupted run's
for p, q in zip(j["points"], r["points"]):
    for k in keys:
        assert p[k] == q[k], (p["scheme"], p["levels"], k, p[k], q[k])
pts = {(p["scheme"], p["levels"]): p for p in j["points"]}
nw = pts[("feedforward", 4)]["devices"]
for (sc, lv), p in pts.items():
    assert 0 <= p["accuracy_mean"] <= 1 and 0 <= p["quantized_accuracy"] <= 1 and p["accuracy_std"] >= 0
    assert p["devices"] == nw > 0 and p["calibration_pulses_per_device"] > 0 and p["program_seconds"] > 0
    # feedforward resolves every level it is asked for; identical pulses fewer from 8 on
    # on one absolute grid for all devices (transfer's default for schemes that target levels)
    if sc == "feedforward": assert p["states_population"] == lv and p["distinguishable"] is True and p["grid"] == "common", p
    elif lv >= 8: assert p["states"] < lv and p["distinguishable"] is False and p["grid"] == "own", p
for sc in ("feedforward", "identical"):
    ppd = [pts[(sc, lv)]["pulses_per_device"] for lv in (4, 8, 16, 32)]
    assert all(a < b for a, b in zip(ppd, ppd[1:])), (sc, ppd)  # more levels, more pulses
    assert ppd[0] > 1  # a reset pulse and at least part of a programming pulse per device
assert len(open(sys.argv[3]).read().strip().split("\n")) == 9
print("1 passed, 0 failed")
PY
