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
# --config FILE.json with the option names as keys gives the same result as the flags
echo '{"scheme": "verify", "devices": 30, "target_states": 128, "threads": 1}' >"$T/cfg.json"
"$ML" levels --config "$T/cfg.json" --json "$T/c.json" --quiet >/dev/null
"$ML" levels --scheme verify --devices 30 --target-states 128 --threads 1 --json "$T/a.json" --quiet >/dev/null
cmp "$T/a.json" "$T/c.json"
echo "1 passed, 0 failed"
