#!/usr/bin/env bash
# Build the libFuzzer targets with clang and fuzz each parser for SECONDS (default 60),
# starting from the committed seed corpus. A crash, an ASan or UBSan report (UBSan halts on
# the first one) or a nonzero exit fails the run; the failing run's log is kept in
# fuzz/crashes/NAME.log next to the reproducer.
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
CC=clang cmake -S . -B build-fuzz -DML_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p fuzz/crashes
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
status=0
for bin in build-fuzz/fuzz_*; do
  name=$(basename "$bin"); corpus="fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  echo "== $name for ${secs}s"
  rc=0
  "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=fuzz/crashes/"$name"- "$work" "$corpus" 2>"$work.log" || rc=$?
  # a report counts even if the process somehow exited 0
  if [ "$rc" -ne 0 ] || grep -Eq "runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|SUMMARY: .*Sanitizer" "$work.log"; then
    status=1
    cp "$work.log" "fuzz/crashes/$name.log"
    echo "FAIL: $name (exit $rc); log kept in fuzz/crashes/$name.log"
    tail -30 "$work.log"
  fi
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "$work.log" || true
  rm -rf "$work" "$work.log"
done
exit $status
