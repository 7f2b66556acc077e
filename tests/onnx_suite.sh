#!/usr/bin/env bash
# Run every case of ONNX's backend test suite (Debian libonnx-testdata) through
# `memlev onnx-test`. Fails when any case mismatches (exit 1) or crashes (any exit
# other than 0, 1, 2); cases the engine does not support (exit 2) are counted.
# Usage: tests/onnx_suite.sh MEMLEV [--list FILE | --doc docs/onnx.md]
#   --list writes the passing cases, one a line; --doc rewrites the part of the page between
#   <!-- onnx-suite:begin --> and <!-- onnx-suite:end --> with the counts and passing cases.
#   ML_ONNX_SUITE_VERBOSE=1 prints every case's outcome.
# ML_ONNX_TESTDATA overrides the data folder. Without the data: exit 77 (ctest SKIP),
# or a failure under CI=true.
set -uo pipefail
memlev=${1:?usage: onnx_suite.sh MEMLEV [--list FILE]}
list=""; doc=""
[ "${2:-}" = "--list" ] && list=${3:?--list needs a file}
[ "${2:-}" = "--doc" ] && doc=${3:?--doc needs a file}
data=${ML_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
if [ ! -d "$data/node" ]; then
  echo "onnx_suite: $data not found (apt-get install libonnx-testdata)"
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$data"/node "$data"/pytorch-converted "$data"/pytorch-operator "$data"/simple -mindepth 1 -maxdepth 1 -type d |
  sort > "$tmp/cases"
# `memlev onnx-test DIR...` prints "pass|MISMATCH|unsupported <tab> DIR <tab> why" per case;
# a crash ends its chunk early, so every case without a line counts as crashed.
OMP_NUM_THREADS=1 xargs -P 2 -n 100 timeout 600 "$memlev" onnx-test < "$tmp/cases" > "$tmp/out" 2> "$tmp/err"
sort -t$'\t' -k2 "$tmp/out" > "$tmp/sorted"
cut -f2 "$tmp/sorted" > "$tmp/seen"
total=$(wc -l < "$tmp/cases")
pass=$(awk -F'\t' '$1 == "pass"' "$tmp/sorted" | wc -l)
unsupp=$(awk -F'\t' '$1 == "unsupported"' "$tmp/sorted" | wc -l)
mism=$(awk -F'\t' '$1 == "MISMATCH"' "$tmp/sorted")
crashed=$(comm -23 "$tmp/cases" "$tmp/seen")
echo "onnx_suite: $total cases: $pass pass, $unsupp unsupported, $(printf '%s' "$mism" | grep -c .) mismatch, $(printf '%s' "$crashed" | grep -c .) crashed"
if [ -n "$list" ]; then
  awk -F'\t' '$1 == "pass" {print $2}' "$tmp/sorted" | sed "s|^$data/||" > "$list.tmp" && mv "$list.tmp" "$list"
fi
if [ -n "$doc" ]; then
  grep -q '<!-- onnx-suite:end -->' "$doc" || { echo "onnx_suite: $doc has no onnx-suite markers"; exit 2; }
  {
    awk '/<!-- onnx-suite:begin -->/ {print; exit} {print}' "$doc"
    echo
    echo "$total cases: **$pass pass**, $unsupp unsupported (exit 2), $(printf '%s' "$mism" | grep -c .) mismatch," \
         "$(printf '%s' "$crashed" | grep -c .) crashed (\`tests/onnx_suite.sh build/memlev --doc docs/onnx.md\`)."
    for suite in node pytorch-converted pytorch-operator simple; do
      cases=$(awk -F'\t' '$1 == "pass" {print $2}' "$tmp/sorted" | sed "s|^$data/||" | grep "^$suite/" | sed "s|^$suite/||")
      [ -z "$cases" ] && continue
      echo
      echo "- $suite ($(printf '%s\n' "$cases" | wc -l)): $(printf '%s\n' "$cases" | sed 's/^/`/; s/$/`/' | paste -sd, - | sed 's/,/, /g')"
    done
    echo
    awk '/<!-- onnx-suite:end -->/ {f = 1} f {print}' "$doc"
  } > "$doc.tmp" && mv "$doc.tmp" "$doc"
fi
if [ -n "${ML_ONNX_SUITE_VERBOSE:-}" ]; then sed "s|$data/||g" "$tmp/sorted"; fi
if [ -n "$mism" ] || [ -n "$crashed" ]; then
  [ -n "$mism" ] && { echo "onnx_suite: mismatches:"; printf '%s\n' "$mism"; }
  [ -n "$crashed" ] && { echo "onnx_suite: crashed or not run (the first one crashed its chunk):"; printf '%s\n' "$crashed" | head -5; cat "$tmp/err" | tail -5; }
  exit 1
fi
exit 0
