#!/usr/bin/env bash
# Same seed, 1 or 2 threads: byte-identical JSON.
set -euo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for s in feedforward verify; do
  "$ML" levels --scheme $s --devices 30 --target-states 128 --threads 1 --json "$T/a.json" --quiet >/dev/null
  "$ML" levels --scheme $s --devices 30 --target-states 128 --threads 2 --json "$T/b.json" --quiet >/dev/null
  cmp "$T/a.json" "$T/b.json"
done
"$ML" pulse --scheme ramp --devices 5 --pulses 50 --threads 1 --csv "$T/a.csv" --quiet >/dev/null
"$ML" pulse --scheme ramp --devices 5 --pulses 50 --threads 2 --csv "$T/b.csv" --quiet >/dev/null
cmp "$T/a.csv" "$T/b.csv"
echo "1 passed, 0 failed"
