#!/usr/bin/env bash
# memlev levels on the tio2x preset: the study's claims, measured (issue 2 targets).
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
M=100; [ -n "${ML_TEST_SHORT:-}" ] && M=40
"$ML" levels --device tio2x --scheme feedforward --devices $M --json "$T/ff.json" --quiet
"$ML" levels --device tio2x --scheme identical --devices $M --json "$T/id.json" --quiet
"$ML" levels --device tio2x --scheme verify --devices $M --json "$T/vf.json" --quiet
python3 - "$T" <<'PY'
import json, sys
d = sys.argv[1]
ff, idn, vf = (json.load(open(f"{d}/{n}.json")) for n in ("ff", "id", "vf"))
keys = ["states", "nonlinearity", "max_deviation", "r2", "g_min_uS", "g_max_uS", "pulses_per_state", "energy_per_state_J", "sigma_read_uS"]
for j in (ff, idn, vf):
    missing = [k for k in keys if k not in j]
    assert not missing, missing
# feedforward is linear (README: NL 0.00; measured |NL| < 0.001) and fills every level of the
# 512-pulse staircase (513, the ceiling), so the study raised P until the states are a count
for j in (ff, vf):
    assert j["pulses_requested"] == 512 and j["pulses"] > 512 and j["states_saturated"] is False, j["pulses"]
    assert 400 <= j["states"] < j["pulses"] + 1, (j["states"], j["pulses"])
assert abs(ff["nonlinearity"]) <= 0.01, ff["nonlinearity"]
assert idn["states_saturated"] is False and idn["pulses"] == idn["pulses_requested"] == 512
assert 2 <= abs(idn["nonlinearity"]) <= 4, idn["nonlinearity"]
assert idn["states"] <= ff["states"] / 2, (idn["states"], ff["states"])
assert vf["pulses_per_state"] > ff["pulses_per_state"] and vf["reads_per_state"] > 0 == ff["reads_per_state"]
assert abs(ff["g_max_uS"] / ff["g_min_uS"] - 1.19) < 0.01
print(f"1 passed, 0 failed: feedforward {ff['states']} states at {ff['pulses']} pulses NL {ff['nonlinearity']:.3f}; identical {idn['states']} NL {idn['nonlinearity']:.2f}; verify {vf['states']} at {vf['pulses']} pulses, {vf['pulses_per_state']:.2f} pulses and {vf['reads_per_state']:.2f} reads per state")
PY
