#!/usr/bin/env bash
# Build the libFuzzer targets with clang and fuzz each parser for SECONDS (default 60),
# starting from the committed seed corpus. Crashes land in fuzz/crashes/ and fail the run.
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
CC=clang cmake -S . -B build-fuzz -DML_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p fuzz/crashes
status=0
for bin in build-fuzz/fuzz_*; do
  name=$(basename "$bin"); corpus="fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  echo "== $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix=fuzz/crashes/"$name"- "$work" "$corpus" 2>"$work.log"; then
    status=1; tail -30 "$work.log"
  fi
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "$work.log" || true
  rm -rf "$work" "$work.log"
done
exit $status
