#!/usr/bin/env bash
# Mutation check: apply each deliberate fault (tests/mutants/NAME.patch) to a copy of the
# tree, build, and run the tests that must catch it. A mutant is killed when at least one of
# those tests fails. Prints one line per mutant and a final "N passed, 0 failed" line, N =
# mutants killed; exits 0 only if every mutant is killed. A patch that no longer applies or
# no longer builds is a failure ("does not apply"), never a skip: rewrite it (README.md here).
# Usage: tests/mutants/run.sh [NAME...]     (default: every mutant in the table)
# Workspace: $ML_MUTANT_WORK (default build-mutants/): a copy of the tree and one build dir,
# configured and built once; each mutant is applied, built incrementally, tested, reverted.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/mutants"
W="${ML_MUTANT_WORK:-$ROOT/build-mutants}"
TREE="$W/tree" BUILD="$W/build"
JOBS="${ML_MUTANT_JOBS:-$(nproc)}"

# name | ctest -R regex of the tests that must kill it | build targets those tests need
TABLE="
calibration-copies-truth     | ^test_program$  | test_program
feedforward-identical-pulses | ^test_program$  | test_program
states-returns-ceiling       | ^test_program$  | test_program
statistical-drops-noise      | ^test_transfer$ | test_transfer
transfer-skips-programming   | ^test_transfer$ | test_transfer
neurosim-ignores-d2d         | ^test_device$   | test_device
"
field() { echo "$1" | cut -d'|' -f"$2" | xargs; }

# every patch on disk must be in the table (a mutant is rewritten, never silently dropped)
for p in "$HERE"/*.patch; do
  n=$(basename "$p" .patch)
  echo "$TABLE" | grep -q "^$n " || { echo "MUTANT $n: not in the table of tests/mutants/run.sh"; exit 1; }
done

# the tree: tracked and untracked-but-not-ignored files; a file is copied only when its
# content differs, so the build stays incremental across runs (a reverted mutant's file
# keeps its newer time stamp and is rebuilt)
mkdir -p "$TREE" "$BUILD"
(cd "$ROOT" && git ls-files -co --exclude-standard) | grep -v '^tests/mutants/' | sort >"$W/files"
(cd "$TREE" && find . -type f | sed 's|^\./||' | sort) >"$W/have"
comm -13 "$W/files" "$W/have" | while IFS= read -r f; do rm -f "$TREE/$f"; done
while IFS= read -r f; do
  [ -f "$ROOT/$f" ] || continue
  cmp -s "$ROOT/$f" "$TREE/$f" 2>/dev/null || { mkdir -p "$TREE/$(dirname "$f")"; cp "$ROOT/$f" "$TREE/$f"; }
done <"$W/files"

names=("$@")
[ ${#names[@]} -eq 0 ] && mapfile -t names < <(echo "$TABLE" | sed '/^\s*$/d' | cut -d'|' -f1 | xargs -n1)
targets="" regexes=""
for n in "${names[@]}"; do
  row=$(echo "$TABLE" | grep "^$n ") || { echo "MUTANT $n: not in the table"; exit 1; }
  targets="$targets $(field "$row" 3)"
  regexes="$regexes|$(field "$row" 2)"
done
targets=$(echo $targets | tr ' ' '\n' | sort -u | xargs)
regexes="${regexes#|}"

echo "== mutants: build ($targets) in $BUILD"
cmake -S "$TREE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$W/configure.log" 2>&1 || { cat "$W/configure.log"; exit 1; }
cmake --build "$BUILD" -j"$JOBS" --target $targets >"$W/build.log" 2>&1 || { tail -30 "$W/build.log"; exit 1; }
# the unmutated tree must pass, or every mutant would look killed
if ! ML_TEST_SHORT=1 ctest --test-dir "$BUILD" -R "$regexes" --no-tests=error >"$W/baseline.log" 2>&1; then
  echo "baseline: the unmutated tree fails its tests"; grep -E "Failed|\*\*\*" "$W/baseline.log"; exit 1
fi

killed=0 failed=0
for n in "${names[@]}"; do
  row=$(echo "$TABLE" | grep "^$n ")
  re=$(field "$row" 2) tg=$(field "$row" 3) p="$HERE/$n.patch"
  if [ ! -f "$p" ] || ! patch -d "$TREE" -p1 -s -f --dry-run <"$p" >/dev/null 2>&1; then
    echo "MUTANT $n: does not apply"; failed=$((failed+1)); continue
  fi
  patch -d "$TREE" -p1 -s -f <"$p" >/dev/null
  if ! cmake --build "$BUILD" -j"$JOBS" --target $tg >"$W/$n.build.log" 2>&1; then
    echo "MUTANT $n: does not build (log: $W/$n.build.log)"; failed=$((failed+1))
  elif ML_TEST_SHORT=1 ctest --test-dir "$BUILD" -R "$re" --no-tests=error >"$W/$n.test.log" 2>&1; then
    echo "MUTANT $n: SURVIVED ($re all pass)"; failed=$((failed+1))
  else
    echo "MUTANT $n: killed by $(grep -oE '[a-z_]+ \.+\*+[A-Za-z ]+' "$W/$n.test.log" | awk '{print $1}' | xargs)"
    killed=$((killed+1))
  fi
  patch -d "$TREE" -p1 -s -f -R <"$p" >/dev/null || { echo "MUTANT $n: cannot be reverted"; exit 1; }
done
echo "$killed passed, $failed failed"
[ "$failed" -eq 0 ]
