#!/usr/bin/env bash
# memlev sweep, serial: grid order and keys, seeds from coordinates (a sub-grid reproduces
# its points), a sweep killed with SIGKILL half way resumes (after a torn journal line) to
# exactly the uninterrupted result, and bad configs fail with one line naming the key.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$ML_SOURCE_DIR/tests/sweep_lib.sh"
write_config "$T/c.json"
"$ML" sweep --config "$T/c.json" --json "$T/ref.json" --csv "$T/ref.csv" --quiet >/dev/null
test ! -e "$T/ref.json.journal"
python3 - "$T/ref.json" "$T/ref.csv" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["complete"] is True and j["config"]["devices"] == ["tio2x", "agsi"]
pts = j["points"]
order = [(p["device"], p["scheme"], p["levels"]) for p in pts]
assert order == [(d, s, l) for d in ("tio2x", "agsi") for s in ("feedforward", "identical") for l in (2, 8)], order
keys = ["scheme", "levels", "accuracy_mean", "accuracy_std", "ci95", "quantized_accuracy", "pulses_per_device",
        "devices", "program_seconds", "distinguishable", "device", "point_seed", "baseline_accuracy", "wall_s"]
for p in pts:
    assert all(k in p for k in keys), p
assert len({p["point_seed"] for p in pts}) == len(pts)
# real results: more levels give a better network on the feedforward scheme, baseline is trained
assert pts[0]["baseline_accuracy"] > 0.5
assert pts[1]["accuracy_mean"] > pts[0]["accuracy_mean"], (pts[0], pts[1])
assert len(open(sys.argv[2]).read().strip().split("\n")) == 1 + len(pts)
PY
# a point's result depends on its coordinates only: the same point alone in a sub-grid
sed -e 's/"devices": \["tio2x", "agsi"\]/"devices": "agsi"/' -e 's/"levels": \[2, 8\]/"levels": [8]/' \
    -e 's/"schemes": \["feedforward", "identical"\]/"schemes": ["identical"]/' "$T/c.json" > "$T/sub.json"
"$ML" sweep --config "$T/sub.json" --json "$T/sub.json.out" --quiet >/dev/null
python3 - "$T/ref.json" "$T/sub.json.out" <<'PY'
import json, sys
ref = [p for p in json.load(open(sys.argv[1]))["points"] if (p["device"], p["scheme"], p["levels"]) == ("agsi", "identical", 8)]
sub = json.load(open(sys.argv[2]))["points"]
for p in ref + sub:
    p.pop("wall_s")
assert len(sub) == 1 and sub == ref, (sub, ref)
PY
# SIGKILL half way: the journal holds fewer points than the grid and no output exists
"$ML" sweep --config "$T/c.json" --json "$T/r.json" --quiet >/dev/null &
pid=$!
for _ in $(seq 1 3000); do
  [ -f "$T/r.json.journal" ] && [ "$(wc -l < "$T/r.json.journal")" -ge 3 ] && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
n=$(($(wc -l < "$T/r.json.journal") - 1))
echo "killed after $n of 8 points"
[ "$n" -ge 2 ] && [ "$n" -lt 8 ]
test ! -e "$T/r.json"
printf '{"index":7,"point":{"model":' >> "$T/r.json.journal"   # a torn last line
# without --resume the journal is not overwritten
if "$ML" sweep --config "$T/c.json" --json "$T/r.json" --quiet 2>"$T/err" >/dev/null; then exit 1; fi
grep -q "pass --resume" "$T/err"
test ! -e "$T/r.json"
"$ML" sweep --config "$T/c.json" --json "$T/r.json" --resume --quiet >/dev/null
same_points "$T/ref.json" "$T/r.json"
test ! -e "$T/r.json.journal"
# levels only (no network) and the report of both kinds of sweep
printf '{"levels_only": true, "devices": ["tio2x", "agsi"], "schemes": ["feedforward", "verify"], "levels": 16, "population": 20}' > "$T/l.json"
"$ML" sweep --config "$T/l.json" --json "$T/l.out" --csv "$T/l.csv" --quiet >/dev/null
python3 - "$T/l.out" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["points"]
assert [(p["device"], p["scheme"]) for p in pts] == [("tio2x", "feedforward"), ("tio2x", "verify"), ("agsi", "feedforward"), ("agsi", "verify")]
assert all(p["levels"] == 16 and p["population"] == 20 and p["states"] >= 2 for p in pts), pts
PY
export LSAN_OPTIONS="suppressions=$SRC/tests/lsan-fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
"$ML" report "$T/ref.json" "$T/l.out" --out "$T/rep" --no-svg >/dev/null
for f in sweep-lines sweep-heatmap sweep-lines-2 sweep-heatmap-2; do
  [ "$(head -c 8 "$T/rep/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "$f.png is not a PNG"; exit 1; }
done
grep -q 'id="sweeps"' "$T/rep/index.html"
grep -q "sweep, 8 points" "$T/rep/index.html"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); del j['points'][3]['device']; json.dump(j, open(sys.argv[2], 'w'))" "$T/ref.json" "$T/broken.json"
set +e; "$ML" report "$T/broken.json" --out "$T/rep2" 2>"$T/err" >/dev/null; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "points\[3\]: 'device'" "$T/err" || { cat "$T/err"; exit 1; }
# bad configs: one line naming the key, exit 2, nothing written
bad() {
  printf '%s' "$1" > "$T/bad.json"
  set +e; "$ML" sweep --config "$T/bad.json" --json "$T/bad.out" --csv "$T/bad.csv" 2>"$T/err" >/dev/null; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "rc $rc for $1"; exit 1; }
  [ "$(wc -l < "$T/err")" = 1 ] && grep -q "$2" "$T/err" || { cat "$T/err"; exit 1; }
  test ! -e "$T/bad.out" && test ! -e "$T/bad.csv" && test ! -e "$T/bad.out.journal"
}
M="\"model\": \"$SRC/models/mlp-fmnist.onnx\""
bad "{$M, \"colour\": [1, 2]}" "unknown axis 'colour'"
bad "{$M, \"levels\": []}" "levels: empty list"
bad "{\"levels\": [2, 4]}" "model: missing"
bad "{$M, \"levels\": [2, \"x\"]}" "levels\[1\]: expected an integer"
bad "{$M, \"trials\": 0}" "trials: 0 is out of range"
bad "{$M, \"levels\": [4, 2.5]}" "levels\[1\]: 2.5 is not an integer"
bad "{$M, \"seed\": 1e300}" "seed: 1e+300 is out of range"
bad "{$M, \"devices\": [\"tio2x\", \"nosuch\"]}" "devices\[1\]"
bad "{$M, \"schemes\": \"bogus\"}" "schemes: scheme 'bogus'"
bad "{$M, \"mode\": \"statistical\", \"relax_time\": 1}" "relax_time"
bad "{\"levels_only\": true, $M}" "model: does not apply"
bad "[1, 2]" "not a JSON object"
echo "1 passed, 0 failed"
