#!/usr/bin/env bash
# Measured data -> calibrate -> device JSON usable by --device, recovering the parameters.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$ML" pulse --scheme ramp --devices 1 --pulses 300 --csv "$T/up.csv" --quiet >/dev/null
"$ML" pulse --scheme ramp --direction down --devices 1 --pulses 300 --csv "$T/dn.csv" --quiet >/dev/null
{ cat "$T/up.csv"; tail -n +2 "$T/dn.csv" | sed 's/^0,/1,/'; } >"$T/all.csv"
"$ML" calibrate --data "$T/all.csv" --json "$T/fit.json" >/dev/null
"$ML" calibrate --data "$T/all.csv" --model table --json "$T/tab.json" >/dev/null
"$ML" pulse --device "$T/fit.json" --pulses 20 --devices 2 --quiet >/dev/null
"$ML" pulse --device "$T/tab.json" --scheme identical --v 1 --pulses 20 --devices 2 --quiet >/dev/null
python3 - "$T/fit.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
# tio2x: a_p ~1e-4 (5% D2D), v0 0.25 V (2% D2D), window 84-100 uS (0.5% D2D)
assert 0.85e-4 < f["a_p"] < 1.15e-4, f["a_p"]
assert 0.23 < f["v0_p"] < 0.27, f["v0_p"]
assert 99e-6 < f["g_max"] < 101.5e-6 and 83e-6 < f["g_min"] < 85e-6, (f["g_min"], f["g_max"])
print("1 passed, 0 failed")
PY
