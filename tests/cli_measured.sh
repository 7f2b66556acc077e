#!/usr/bin/env bash
# calibrate on measured data: generated from a power law (not soft bounds) with known C2C,
# read noise, drift and D2D (scripts/gen-measured); tio2x's own pulse trains round trip;
# units, row order, resets and missing polarities checked.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# under ASan: the report draws text, and fontconfig's process-lifetime font cache is not a leak of ours
export LSAN_OPTIONS="suppressions=$(dirname "$0")/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
GEN="$(dirname "$0")/../scripts/gen-measured"
pass=0
ok() { pass=$((pass + 1)); }
python3 "$GEN" --out "$T/a.csv" --truth "$T/truth.json" --seed 1
python3 "$GEN" --out "$T/b.csv" --seed 2
"$ML" calibrate --data "$T/a.csv" --json "$T/fa.json" --report "$T/ra.json" >"$T/out" 2>"$T/err"
"$ML" calibrate --data "$T/b.csv" --json "$T/fb.json" --report "$T/rb.json" >/dev/null 2>&1
grep -q "R^2" "$T/out"
# recovered within 2x of the truth on both data sets (C2C was capped at 0.5 and held misfit,
# read noise and D2D; D2D came out 0), with fit quality in the report
python3 - "$T/truth.json" "$T/ra.json" "$T/rb.json" "$T/fa.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
for f in sys.argv[2:4]:
    r = json.load(open(f))
    within = lambda x, y: y / 2 <= x <= 2 * y
    assert within(r["c2c"], t["c2c"]), ("c2c", r["c2c"])
    assert within(r["read_noise_rel"], t["read_rel"]), ("read_rel", r["read_noise_rel"])
    assert within(r["read_noise_abs_nS"], t["read_abs"] * 1e9), ("read_abs", r["read_noise_abs_nS"])
    assert within(r["d2d"]["a_p"], t["d2d_a"]) and within(r["d2d"]["a_d"], t["d2d_a"]), r["d2d"]
    assert 0 < r["r2"] <= 1 and r["residual_rms_uS"] > 0 and isinstance(r["warnings"], list)
    assert r["potentiation"]["a_se"] > 0 and r["depression"]["v0_se_V"] > 0
    # power law: soft bounds misfits, the table wins on held-out pairs
    assert r["law"] == "table" and r["heldout_rms_uS"]["table"] < r["heldout_rms_uS"]["softbounds"], r["heldout_rms_uS"]
a, b = (json.load(open(f)) for f in sys.argv[2:4])
assert abs(a["c2c"] / b["c2c"] - 1) < 0.3, (a["c2c"], b["c2c"])
# the table's spread is C2C alone (it held two reads' noise and D2D) and no cell is left at 0
d = json.load(open(sys.argv[4]))
for m, s in zip(d["table"]["dg_mean"], d["table"]["dg_std"]):
    assert abs(s - a["c2c"] * abs(m)) <= 1e-6 * abs(m) + 1e-18, (m, s)
    assert s > 0 or m == 0
print("generated data: ok")
PY
ok
# the report carries measured vs fitted trains (4 devices, the fitted train follows the
# measured one) and memlev report draws them; a fit report without trains exits 2, one line
python3 - "$T/ra.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["trains"]) == 4, len(r["trains"])
for t in r["trains"]:
    assert len(t["pulse"]) == len(t["measured_uS"]) == len(t["fitted_uS"]) > 100, t["rows"]
    assert 0.9 < t["r2"] <= 1 and 0 < t["rms_uS"] < 10, (t["r2"], t["rms_uS"])
PY
"$ML" report "$T/ra.json" --out "$T/rep" --no-svg >/dev/null 2>&1
[ -s "$T/rep/fit.png" ] && grep -q "measured vs fitted" "$T/rep/index.html"
python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); del r['trains']; json.dump(r, open(sys.argv[2], 'w'))" "$T/ra.json" "$T/bad.json"
rc=0; "$ML" report "$T/bad.json" --out "$T/rep2" --no-svg >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "trains" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -e "$T/rep2/fit.png" ]
ok
# the fitted device programs: verify and feedforward run on it (states are reported, not asserted)
"$ML" levels --device "$T/fa.json" --scheme verify --devices 4 --target-states 16 --quiet --json "$T/lv.json" >/dev/null
"$ML" levels --device "$T/fa.json" --scheme feedforward --devices 4 --target-states 16 --quiet --json "$T/lf.json" >/dev/null
ok
# feedforward on the fitted (table) device: the soft-bounds model misfits and the device's
# finest step (at the threshold, one width) is coarser than 64 equal steps, so feedforward
# measures the step curve and plans equal steps it can make (it gave 3 states against verify's 48)
"$ML" levels --device "$T/fa.json" --scheme feedforward --devices 20 --target-states 64 --quiet --json "$T/l64.json" >/dev/null
python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); assert r['states'] >= 16, r['states']
assert 0 < r['planned_steps'] < r['pulses'] == 64, (r['planned_steps'], r['pulses'])" "$T/l64.json"
ok
# its potentiation steps are coarse where depression's are fine: --direction auto calibrates
# both, checks each staircase once and keeps depression: 4x finer open-loop precision, more
# states (50 against 20 at 128 levels on 100 devices), both calibrations in the cost
"$ML" levels --device "$T/fa.json" --scheme feedforward --devices 20 --target-states 128 --quiet --json "$T/l128.json" >"$T/out128"
grep -q "planned .* equal steps of the 128: the devices' finest potentiation step is coarser" "$T/out128"
"$ML" levels --device "$T/fa.json" --scheme feedforward --devices 20 --target-states 128 --direction auto --quiet --json "$T/la.json" >"$T/out"
grep -q "direction down (auto" "$T/out" && ! grep -q "planned" "$T/out"
python3 -c "
import json,sys; u=json.load(open(sys.argv[1])); a=json.load(open(sys.argv[2]))
assert a['direction'] == 'down' and a['direction_auto'] and not u['direction_auto'], (a['direction'], a['direction_auto'])
assert a['states'] > 1.5 * u['states'], (a['states'], u['states'])
assert a['planned_steps'] == a['pulses'] == 128 and u['planned_steps'] < 128, (a['planned_steps'], u['planned_steps'])
assert a['precision_rms_uS'] < u['precision_rms_uS'] / 2, (a['precision_rms_uS'], u['precision_rms_uS'])
assert a['calibration_pulses_per_device'] > u['calibration_pulses_per_device']" "$T/l128.json" "$T/la.json"
ok
# pulse says which polarity auto kept (text and JSON; at 128 steps, where potentiation is capped)
"$ML" pulse --device "$T/fa.json" --scheme feedforward --devices 8 --pulses 128 --direction auto --json "$T/pa.json" >"$T/out"
"$ML" pulse --device "$T/fa.json" --scheme feedforward --devices 8 --pulses 128 --json "$T/pu.json" >/dev/null
grep -q "direction down (auto)" "$T/out"
python3 -c "
import json,sys; a=json.load(open(sys.argv[1])); u=json.load(open(sys.argv[2]))
assert (a['direction'], a['direction_auto'], u['direction'], u['direction_auto']) == ('down', True, 'up', False)
assert a['g_end_uS'] < a['g_start_uS'] and u['g_end_uS'] > u['g_start_uS']" "$T/pa.json" "$T/pu.json"
ok
# C2C above 0.5 is reported as it is, with a warning (it was capped silently)
python3 "$GEN" --out "$T/c.csv" --seed 3 --c2c 0.9 --devices 2 --cycles 2
"$ML" calibrate --data "$T/c.csv" --model softbounds --json "$T/fc.json" --report "$T/rc.json" >/dev/null 2>"$T/err"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['c2c'] > 0.5, r['c2c']" "$T/rc.json"
grep -q "C2C" "$T/err"
ok
# tio2x round trip: reset rows (V 0, width 0, tag reset) are not reads; read noise ~3 nS
"$ML" pulse --scheme ramp --devices 4 --pulses 300 --csv "$T/up.csv" --quiet >/dev/null
"$ML" pulse --scheme ramp --direction down --devices 4 --pulses 300 --csv "$T/dn.csv" --quiet >/dev/null
python3 - "$T/up.csv" "$T/dn.csv" "$T/rt.csv" <<'PY'
import csv, sys
rows = []
for f, off in ((sys.argv[1], 0), (sys.argv[2], 1000)):
    for r in csv.DictReader(open(f)):
        rows.append((int(r["device"]), int(r["pulse"]) + off, r))
rows.sort(key=lambda t: (t[0], t[1]))
with open(sys.argv[3], "w") as o:
    o.write("device,pulse,V,width,G_read,tag\n")
    for d, p, r in rows:
        o.write("%d,%d,%s,%s,%s,%s\n" % (d, p, r["V"], r["width"], r["G_read"], r["tag"]))
PY
"$ML" calibrate --data "$T/rt.csv" --json "$T/frt.json" --report "$T/rrt.json" >/dev/null 2>&1
python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); assert 1.5 < r['read_noise_abs_nS'] < 6, r['read_noise_abs_nS']" "$T/rrt.json"
ok
# units: conductance in uS, widths in us -> exit 2 naming the column
head -50 "$T/rt.csv" >"$T/h.csv"
sed '2,$ s/,\([0-9.e+-]*\),\([a-z]*\)$/,\1e6,\2/' "$T/h.csv" >"$T/us.csv"
rc=0; "$ML" calibrate --data "$T/us.csv" --json "$T/x.json" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "G_read" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -e "$T/x.json" ]
awk -F, 'NR == 1 || $6 != "reset" { if (NR > 1) $4 = $4 * 1e-6; print }' OFS=, "$T/h.csv" >"$T/w.csv"
rc=0; "$ML" calibrate --data "$T/w.csv" --json "$T/x.json" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "column width" "$T/err"
ok
# row order: sorted by pulse instead of device -> exit 2 (it gave v0 = 10 V, exit 0)
{ head -1 "$T/rt.csv"; tail -n +2 "$T/rt.csv" | sort -t, -k2,2n -k1,1n; } >"$T/ord.csv"
rc=0; "$ML" calibrate --data "$T/ord.csv" --json "$T/x.json" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "sort the rows by device" "$T/err"
ok
# potentiation only: a stated fallback (warning), not tio2x's depression parameters
python3 "$GEN" --out "$T/up.csv" --seed 4 --polarity up --devices 3 --cycles 3
"$ML" calibrate --data "$T/up.csv" --model softbounds --json "$T/fu.json" --report "$T/ru.json" >/dev/null 2>"$T/err"
grep -q "no depressing pulses" "$T/err"
python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); r=json.load(open(sys.argv[2]))
assert d['a_d'] == d['a_p'] and d['v0_d'] == d['v0_p'], d
assert not r['depression']['measured'] and any('no depressing' in w for w in r['warnings'])" "$T/fu.json" "$T/ru.json"
ok
# the bundled CrossSim ramps import and calibrate (one device, no read rows: stated)
SRC="$(dirname "$0")/.."
python3 "$SRC/scripts/import-crosssim" "$SRC/data/crosssim-rram/set.csv" "$SRC/data/crosssim-rram/reset.csv" "$T/cs.csv"
"$ML" calibrate --data "$T/cs.csv" --json "$T/cs.json" --report "$T/csr.json" >/dev/null 2>"$T/err"
grep -q "one device" "$T/err"
python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); assert r['law'] == 'table' and r['r2'] > 0.9, r" "$T/csr.json"
ok
# feedforward on it: steps that grow toward the bound (no soft-bounds fit: every device failed,
# 1 state); the measured curve programs equal steps
"$ML" levels --device "$T/cs.json" --scheme feedforward --devices 20 --target-states 64 --quiet --json "$T/lcs.json" >/dev/null
python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); assert r['states'] >= 16 and r['devices_failed'] == 0, r['states']" "$T/lcs.json"
ok
# verify on it: the polarity soft bounds failed on is measured (every device failed: 1 state),
# and the energy per state is a number (a failed fit's NaN amplitude made it -nan)
"$ML" levels --device "$T/cs.json" --scheme verify --devices 8 --target-states 32 --pulse-cap 32 --quiet --json "$T/lcv.json" >"$T/out"
! grep -q nan "$T/out"
python3 -c "
import json,sys,math; r=json.load(open(sys.argv[1])); assert r['states'] >= 16 and r['devices_failed'] == 0 and math.isfinite(r['energy_per_state_J']) and r['energy_per_state_J'] > 0, r" "$T/lcv.json"
ok
# feedforward at the default 512 steps reaches at least half of verify's states on it (it gave
# 68 against 112: one pulse a step added up C2C, which steps that grow with G amplify; it now
# takes up to 8 pulses of a step's part, as many as the C2C its curve trains measure needs)
"$ML" levels --device "$T/cs.json" --scheme feedforward --devices 20 --quiet --json "$T/lff.json" >/dev/null
"$ML" levels --device "$T/cs.json" --scheme verify --devices 20 --quiet --json "$T/lvf.json" >/dev/null
python3 -c "
import json,sys; f=json.load(open(sys.argv[1])); v=json.load(open(sys.argv[2]))
assert 2 * f['states'] >= v['states'] and f['states'] >= 134, (f['states'], v['states'])" "$T/lff.json" "$T/lvf.json"
ok
echo "$pass passed, 0 failed"
