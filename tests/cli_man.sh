#!/usr/bin/env bash
# docs/memlev.1 documents every command and every option that `memlev CMD --help` lists
# (regenerate with scripts/gen-man build/memlev), and it is valid roff.
set -uo pipefail
ML="$1"
SRC="${ML_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
MAN="$SRC/docs/memlev.1"
pass=0; fail=0
[ -s "$MAN" ] || { echo "FAIL: $MAN missing"; echo "0 passed, 1 failed"; exit 1; }
# the man page spells '-' as '\-'
plain=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$MAN")
helps() { # the help texts of a command, or of its subcommands (bench infer, device show)
  local c="$1" out subs
  out=$("$ML" "$c" --help 2>/dev/null) || return
  subs=$(grep -o "memlev $c [a-z][a-z-]*" <<<"$out" | awk '{print $3}' | sort -u)
  if [ -z "$subs" ]; then echo "$out"; return; fi
  for s in $subs; do "$ML" "$c" "$s" --help; done
}
cmds=$("$ML" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}')
[ -n "$cmds" ] || { echo "FAIL: no commands in memlev --help"; fail=$((fail+1)); }
for c in $cmds; do
  if grep -q "^\.SS \"memlev $c" <<<"$plain"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: command $c missing from docs/memlev.1"; fi
  h=$(helps "$c")
  [ -n "$h" ] || { fail=$((fail+1)); echo "FAIL: memlev $c --help printed nothing"; continue; }
  for o in $(grep -oE '^  --[a-zA-Z0-9][a-zA-Z0-9-]*' <<<"$h" | sed 's/^  //' | sort -u); do
    if grep -qE -- "^${o}( |$)" <<<"$plain"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: memlev $c $o is not in docs/memlev.1 (run scripts/gen-man build/memlev)"; fi
  done
done
if command -v groff >/dev/null; then
  w=$(groff -man -ww -z "$MAN" 2>&1)
  if [ -z "$w" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: groff warnings: $w"; fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
