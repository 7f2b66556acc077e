#!/usr/bin/env bash
# Resets and costs, honestly: reset pulses logged with their real amplitude and width, reset
# cost booked apart from programming, costs split and amortised in levels/transfer JSON,
# costs measured in statistical transfer mode, and honest labels (zero windows rejected,
# yield on stdout, windows inside the device's bounds, no CI from one trial).
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
SRC="${ML_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
# under ASan: the report draws text, and fontconfig's process-lifetime font cache is not a leak of ours
export LSAN_OPTIONS="suppressions=$SRC/tests/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
"$ML" pulse --devices 3 --pulses 16 --reset settle --csv "$T/p.csv" --json "$T/p.json" --quiet >/dev/null
"$ML" pulse --devices 3 --pulses 16 --json "$T/once.json" --quiet >/dev/null
"$ML" levels --devices 16 --target-states 32 --pulse-cap 32 --reset settle --json "$T/l1.json" --quiet >"$T/l1.txt"
"$ML" levels --devices 16 --target-states 32 --pulse-cap 32 --reset settle --reprogram-cycles 10 --json "$T/l10.json" --quiet >/dev/null
# a window of a millionth of g_max or less is zero: one line, exit 2
echo '{"model":"softbounds","g_min":1e-4,"g_max":1.00000001e-4}' >"$T/zero.json"
set +e
"$ML" levels --device "$T/zero.json" --devices 4 --quiet >"$T/zero.out" 2>"$T/zero.err"; rc=$?
set -e
[ $rc -eq 2 ] && [ ! -s "$T/zero.out" ] && [ "$(wc -l <"$T/zero.err")" -eq 1 ] && grep -q "window" "$T/zero.err" \
  || { echo "zero window: rc $rc, $(cat "$T/zero.err")"; exit 1; }
# a narrow window read through noise stays inside the device's bounds
echo '{"model":"softbounds","g_min":1e-4,"g_max":1.00002e-4,"d2d":{"g_min":0,"g_max":0}}' >"$T/narrow.json"
"$ML" levels --device "$T/narrow.json" --devices 8 --target-states 8 --json "$T/n.json" --quiet >/dev/null
M="$ML_SOURCE_DIR/tests/fixtures/resnet_small.onnx"
"$ML" transfer --model "$M" --scheme verify --levels 4,64 --trials 1 --limit 20 --sample-devices 16 --quiet \
  --reprogram-cycles 4 --json "$T/t.json" >"$T/t.txt"
grep -q "yield" "$T/l1.txt" && grep -q "yield" "$T/t.txt" || { echo "yield not printed"; exit 1; }
# the report page shows yield, fallback and failed devices, and no CI for one trial
"$ML" report "$T/l1.json" "$T/t.json" --out "$T/rep" --no-svg >/dev/null 2>&1
grep -q "<th>yield</th>" "$T/rep/index.html" && grep -q "fallback devices" "$T/rep/index.html" \
  && grep -q "<td>n/a</td><td>n/a</td>" "$T/rep/index.html" || { echo "report lacks yield or shows a CI of one trial"; exit 1; }
grep -q "n/a" "$T/t.txt" || { echo "one trial printed a CI"; cat "$T/t.txt"; exit 1; }
python3 - "$T" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/p.csv")))
tags = {r["tag"] for r in rows}
assert tags == {"reset", "read", "pulse"}, tags
for dev in "012":
    r = [x for x in rows if x["device"] == dev]
    assert [int(x["pulse"]) for x in r] == list(range(len(r)))  # rows in the order they happened
    resets = [x for x in r if x["tag"] == "reset"]
    assert resets and r[:len(resets)] == resets
    # the reset with its real amplitude and width (tio2x: v_max 2.5 V, width_max 1 ms)
    assert all(float(x["V"]) == -2.5 and float(x["width"]) == 1e-3 for x in resets), resets
    assert r[len(resets)]["tag"] == "read" and float(r[len(resets)]["V"]) == 0
    assert all(float(x["V"]) > 0 and float(x["width"]) > 0 for x in r if x["tag"] == "pulse")
p, once = (json.load(open(f"{d}/{n}.json")) for n in ("p", "once"))
assert p["reset"] == "settle" and once["reset"] == "once"
assert once["reset_pulses"] == 3 and once["reset_reads"] == 0 and p["reset_reads"] > 0
assert p["program_pulses"] == 48 and p["program_time_s"] < p["reset_time_s"]  # 1 ms resets apart
l1, l10 = (json.load(open(f"{d}/{n}.json")) for n in ("l1", "l10"))
c1, c10 = l1["cost"], l10["cost"]
for k in ("calibration_per_device", "reset_per_device", "programming_per_device", "total_per_device"):
    assert set(c1[k]) == {"pulses", "reads", "energy_J", "time_s"}, c1[k]
cal, rs, pg = c1["calibration_per_device"], c1["reset_per_device"], c1["programming_per_device"]
# energy and time per state from the pulses that program, the reset apart
assert abs(l1["energy_per_state_J"] * 32 - pg["energy_J"]) < 1e-6 * pg["energy_J"]
assert abs(l1["time_per_state_s"] * 32 - pg["time_s"]) < 1e-6 * pg["time_s"]
assert rs["time_s"] >= 1e-3 and pg["pulses"] == 32
for k in ("pulses", "reads", "energy_J", "time_s"):
    t1 = cal[k] + rs[k] + pg[k]
    t10 = cal[k] / 10 + rs[k] + pg[k]
    assert abs(c1["total_per_device"][k] - t1) <= 1e-9 * abs(t1) and abs(c10["total_per_device"][k] - t10) <= 1e-9 * abs(t10)
assert c10["reprogram_cycles"] == 10
n = json.load(open(f"{d}/n.json"))
assert 100 - 1e-9 <= n["g_min_uS"] <= n["g_max_uS"] <= 100.002 + 1e-9, (n["g_min_uS"], n["g_max_uS"])
t = json.load(open(f"{d}/t.json"))
a, b = t["points"]
assert t["reprogram_cycles"] == 4 and all(k in a for k in ("yield", "devices_fallback", "devices_failed"))
# statistical mode: verify's cost is measured per level count, not a constant
pa, pb = a["cost"]["programming_per_device"], b["cost"]["programming_per_device"]
assert pb["pulses"] > pa["pulses"] > 0 and pa["energy_J"] > 0 and a["energy_J"] > 0, (pa, pb)
assert abs(a["pulses_per_device"] - pa["pulses"] - a["cost"]["reset_per_device"]["pulses"]) < 1e-9
print("1 passed, 0 failed")
PY
