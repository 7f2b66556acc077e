#!/usr/bin/env bash
# Pulse-mode vs statistical-mode transfer on ResNet-20 (issue 15 item 4), side by side in one
# run: for each scheme and image count, `memlev transfer` in both modes one after the other
# (1 trial, 2 threads), wall and CPU (user + sys) seconds from /usr/bin/time, the load average
# before each run, and the pulse/statistical ratios. LIMITS: test images per point (0: all
# 10,000, what a sweep evaluates by default; 100: programming dominates, the worst case);
# LEVELS: the level counts (one point, 32, by default; 2,4,8,16,32,64,128,256,512 is the CLI's
# default sweep).
# Usage: [LIMITS="100 0"] [LEVELS=32] bench/transfer_modes.sh [memlev binary (build/memlev)] [schemes (verify feedforward)]
set -euo pipefail
BIN="${1:-build/memlev}"
SCHEMES="${2:-verify feedforward}"
MODEL="${MODEL:-models/resnet20-fmnist.onnx}"
LIMITS="${LIMITS:-100 0}"
LEVELS="${LEVELS:-32}"
[ -x "$BIN" ] || { echo "transfer_modes: $BIN is not an executable" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "transfer_modes: $MODEL not found" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "binary $BIN, levels $LEVELS, $(date -u +%FT%TZ)"
for lim in $LIMITS; do
  imgs=$([ "$lim" = 0 ] && echo all || echo "$lim")
  for s in $SCHEMES; do
    for m in statistical pulse; do
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      /usr/bin/time -f "%e %U %S" -o "$T/time" "$BIN" transfer --model "$MODEL" --device tio2x --scheme "$s" \
        --levels "$LEVELS" --mode "$m" --limit "$lim" --trials 1 --threads 2 --quiet --json "$T/$s-$m.json" >/dev/null
      read -r wall user sys <"$T/time"
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
      acc=$(python3 -c "import json,sys; print(' '.join('%.4f' % p['accuracy_mean'] for p in json.load(open(sys.argv[1]))['points']))" "$T/$s-$m.json")
      printf '%-12s %-12s images %-5s wall %7.2f s  cpu %7.2f s  accuracy %s  load %s\n' "$s" "$m" "$imgs" "$wall" "$cpu" "$acc" "$load"
      echo "$wall $cpu" >"$T/$s-$m.t"
    done
    read -r ws cs <"$T/$s-statistical.t"
    read -r wp cp <"$T/$s-pulse.t"
    awk -v s="$s" -v i="$imgs" -v ws="$ws" -v cs="$cs" -v wp="$wp" -v cp="$cp" \
      'BEGIN { printf "%-12s images %-5s pulse/statistical: wall %.2fx, cpu %.2fx\n", s, i, wp / ws, cp / cs }'
  done
done
