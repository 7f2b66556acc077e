#!/usr/bin/env bash
# Pulse-mode vs statistical-mode transfer on ResNet-20 (issue 15 item 4), side by side in one
# run: for each scheme, `memlev transfer` in both modes one after the other (32 levels, 100
# test images, 1 trial, 2 threads), wall and CPU (user + sys) seconds from /usr/bin/time, the
# load average before each run, and the pulse/statistical ratios.
# Usage: bench/transfer_modes.sh [memlev binary (build/memlev)] [schemes (verify feedforward)]
set -euo pipefail
BIN="${1:-build/memlev}"
SCHEMES="${2:-verify feedforward}"
MODEL="${MODEL:-models/resnet20-fmnist.onnx}"
[ -x "$BIN" ] || { echo "transfer_modes: $BIN is not an executable" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "transfer_modes: $MODEL not found" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "binary $BIN, $(date -u +%FT%TZ)"
for s in $SCHEMES; do
  for m in statistical pulse; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -f "%e %U %S" -o "$T/time" "$BIN" transfer --model "$MODEL" --device tio2x --scheme "$s" \
      --levels 32 --mode "$m" --limit 100 --trials 1 --threads 2 --quiet --json "$T/$s-$m.json" >/dev/null
    read -r wall user sys <"$T/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    acc=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['points'][0]['accuracy_mean'])" "$T/$s-$m.json")
    printf '%-12s %-12s wall %7.2f s  cpu %7.2f s  accuracy %s  load %s\n' "$s" "$m" "$wall" "$cpu" "$acc" "$load"
    echo "$wall $cpu" >"$T/$s-$m.t"
  done
  read -r ws cs <"$T/$s-statistical.t"
  read -r wp cp <"$T/$s-pulse.t"
  awk -v s="$s" -v ws="$ws" -v cs="$cs" -v wp="$wp" -v cp="$cp" \
    'BEGIN { printf "%-12s pulse/statistical: wall %.1fx, cpu %.1fx\n", s, wp / ws, cp / cs }'
done
