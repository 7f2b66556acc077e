#!/usr/bin/env bash
# Option handling shared by every command: the global --quiet before the command, --config
# files held to the same rules as the command line (integers, one value per key, nothing after
# the object), every command's --help, and output paths checked before any computation.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
SRC="${ML_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
M="$SRC/tests/fixtures/resnet_small.onnx"
pass=0; fail=0
check() { local what="$1"; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $what"; fi; }
expect() { # expect WORD command...: exit 2, one line on stderr containing WORD
  local word="$1"; shift
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$word" "$T/err"; then pass=$((pass+1))
  else fail=$((fail+1)); echo "FAIL ($rc, $lines lines): $* -> $(cat "$T/err")"; fi
}

# 1. memlev --quiet CMD (as `memlev --help` documents it)
"$ML" --quiet levels --devices 5 --target-states 16 --json "$T/q.json" >"$T/out" 2>"$T/err"; rc=$?
check "memlev --quiet levels: exit $rc ($(cat "$T/err"))" [ $rc -eq 0 ]
check "memlev --quiet levels: wrote its JSON" [ -s "$T/q.json" ]
"$ML" -q --version >"$T/out" 2>&1
check "memlev -q --version" grep -q "^memlev " "$T/out"
expect "unknown command" "$ML" --quiet nosuch

# 2. --config FILE.json
cfg() { printf '%s' "$2" >"$T/$1"; }
cfg ok.json '{"devices": 5, "target_states": 16, "quiet": true}'
"$ML" levels --config "$T/ok.json" --json "$T/c.json" >"$T/out" 2>"$T/err"; rc=$?
check "config with quiet: exit $rc ($(cat "$T/err"))" [ $rc -eq 0 ]
check "config values used (5 devices)" python3 -c "import json,sys; j=json.load(open('$T/c.json')); sys.exit(0 if j.get('devices', j.get('config', {}).get('devices')) in (5, None) else 1)"
cfg frac.json '{"devices": 5.5}'
expect "frac.json: devices: 5.5 is not an integer" "$ML" levels --config "$T/frac.json"
cfg fracs.json '{"devices": "5.5"}'
expect "fracs.json: devices" "$ML" levels --config "$T/fracs.json"
cfg big.json '{"devices": 1e300}'
expect "big.json: devices" "$ML" levels --config "$T/big.json"
cfg dup.json '{"devices": 5, "seed": 2, "devices": 6}'
expect "dup.json: key 'devices' appears more than once" "$ML" levels --config "$T/dup.json"
cfg dup2.json '{"target-states": 5, "target_states": 6}'
expect "dup2.json: key 'target_states'" "$ML" levels --config "$T/dup2.json"
cfg trail.json '{"devices": 5} {"devices": 6}'
expect "trail.json: text after the JSON object" "$ML" levels --config "$T/trail.json"
cfg trail2.json '{"devices": 5}x'
expect "trail2.json: text after" "$ML" levels --config "$T/trail2.json"
cfg ws.json $'{"devices": 5, "target_states": 16}\n\n  '
"$ML" levels --config "$T/ws.json" >/dev/null 2>"$T/err"
check "config: white space after the object is fine ($(cat "$T/err"))" [ $? -eq 0 ]
cfg quiet.json '{"quiet": 1}'
expect "quiet.json: quiet" "$ML" levels --config "$T/quiet.json"
cfg flag.json '{"modulate_width": "yes"}'
expect "flag.json: modulate_width" "$ML" levels --config "$T/flag.json"
cfg outnum.json '{"json": 3}'
expect "outnum.json: json" "$ML" levels --config "$T/outnum.json"

# 3. every command's --help exits 0 and prints a usage line
for c in $("$ML" --help | sed -n 's/^  \([a-z-]*\)  .*/\1/p'); do
  if [ "$c" = bench ]; then args="bench --help"; else args="$c --help"; fi
  "$ML" $args >"$T/out" 2>"$T/err"; rc=$?
  check "memlev $args: exit $rc ($(head -1 "$T/err"))" [ $rc -eq 0 ]
  check "memlev $args: usage on stdout" grep -q "^usage: memlev $c" "$T/out"
done
"$ML" bench infer --help >"$T/out" 2>&1
check "memlev bench infer --help" [ $? -eq 0 ]

# 4. outputs are checked before the work: a missing folder fails at once (exit 2, one line)
N=/nonexistent/sub
expect "$N/x.json" "$ML" transfer --model "$M" --levels 2 --trials 1 --limit 10 --json "$N/x.json"
expect "$N/x.csv" "$ML" transfer --model "$M" --levels 2 --trials 1 --limit 10 --csv "$N/x.csv"
expect "$N/x.json" "$ML" levels --json "$N/x.json"
expect "$N/x.csv" "$ML" pulse --csv "$N/x.csv"
expect "$N/x.json" "$ML" pulse --json "$N/x.json"
expect "$N/m.onnx" "$ML" train --arch mlp --epochs 1 --out "$N/m.onnx"
expect "$N/ck" "$ML" train --arch mlp --epochs 1 --out "$T/m.onnx" --checkpoint "$N/ck"
expect "$N/r" "$ML" report "$T/q.json" --out "$N/r"
expect "$N/g.safetensors" "$ML" export-conductances --model "$M" --levels 4 --out "$N/g.safetensors"
expect "$N/npy" "$ML" export-conductances --model "$M" --levels 4 --out "$N/npy"
expect "$N/e.json" "$ML" eval --model "$M" --json "$N/e.json"
expect "$N/b.json" "$ML" bench infer --arch mlp --json "$N/b.json"
expect "$N/d" "$ML" demo --out "$N/d"
expect "$N/f.json" "$ML" calibrate --data "$T/none.csv" --json "$N/f.json"
printf '{"model": "%s", "levels": [2], "trials": 1, "limit": 10}' "$M" >"$T/sweep.json"
expect "$N/s.json" "$ML" sweep --config "$T/sweep.json" --json "$N/s.json"
expect "$N/s.csv" "$ML" sweep --config "$T/sweep.json" --json "$T/s.json" --csv "$N/s.csv"
# a folder where a file goes, a file where a folder goes, from a config file too
mkdir "$T/adir"; : >"$T/afile"
expect "is a folder" "$ML" levels --json "$T/adir"
expect "not a folder" "$ML" report "$T/q.json" --out "$T/afile"
expect "afile/x.json" "$ML" levels --json "$T/afile/x.json"
cfg out.json "{\"json\": \"$N/x.json\"}"
expect "$N/x.json" "$ML" levels --config "$T/out.json"
check "no output left behind" [ ! -e "$T/m.onnx" ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
