#!/usr/bin/env bash
# memlev device list/show: every preset prints as device JSON that --device FILE.json loads
# back to the same device (same JSON again) and the same simulated results.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { local what="$1"; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $what"; fi; }
"$ML" device list >"$T/list" 2>"$T/err"
check "device list: exit 0 ($(cat "$T/err"))" [ $? -eq 0 ]
presets=$(awk '{print $1}' "$T/list")
check "device list names the presets" [ "$(echo "$presets" | wc -l)" -ge 6 ]
check "device list: tio2x" grep -q "^tio2x " "$T/list"
check "device list: agsi window in nS" grep -Eq "^agsi .* nS$" "$T/list"
for p in $presets; do
  "$ML" device show "$p" >"$T/$p.json" 2>"$T/err"
  check "device show $p: exit 0 ($(cat "$T/err"))" [ $? -eq 0 ]
  check "device show $p: JSON object" python3 -c "import json; assert isinstance(json.load(open('$T/$p.json')), dict)"
  # loading it back and printing again gives the same text
  "$ML" device show "$T/$p.json" >"$T/$p.again.json" 2>&1
  check "device show $p: round trip identical" cmp -s "$T/$p.json" "$T/$p.again.json"
  "$ML" device show "$p" --out "$T/$p.out.json"
  check "device show $p --out: same as stdout" cmp -s "$T/$p.json" "$T/$p.out.json"
  # same results from the preset and from the file: a noisy population (verify on one preset:
  # it is the slow one)
  schemes="identical feedforward"; [ "$p" = agsi ] && schemes="$schemes verify"
  for s in $schemes; do
    a=$("$ML" pulse --device "$p" --scheme "$s" --devices 6 --pulses 24 --seed 3 --json "$T/a.json" 2>&1)
    b=$("$ML" pulse --device "$T/$p.json" --scheme "$s" --devices 6 --pulses 24 --seed 3 --json "$T/b.json" 2>&1)
    check "$p $s: same results from the preset and its JSON" python3 - "$T/a.json" "$T/b.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
a.pop("device"); b.pop("device")
sys.exit(0 if a == b else 1)
PY
  done
done
"$ML" device show nosuch >"$T/out" 2>"$T/err"; rc=$?
check "device show nosuch: exit 2, one line naming it" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q nosuch '$T/err'"
"$ML" device >/dev/null 2>&1
check "device without a subcommand: exit 2" [ $? -eq 2 ]
"$ML" device show --help >"$T/out" 2>&1
check "device show --help: exit 0" [ $? -eq 0 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
