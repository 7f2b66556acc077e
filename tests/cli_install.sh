#!/usr/bin/env bash
# cmake --install puts the library, headers, pkg-config file and CLI in a prefix; the example
# program builds against the installed pkg-config file alone and runs.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
B="${ML_BINARY_DIR:?ML_BINARY_DIR not set}"; SRC="${ML_SOURCE_DIR:?ML_SOURCE_DIR not set}"
pass=0; fail=0
# a sanitizer build's library needs the sanitizer runtimes in the program too
SAN=""; grep -q "^ML_SANITIZE:BOOL=ON" "$B/CMakeCache.txt" 2>/dev/null && SAN="-fsanitize=address,undefined"
check() { local what="$1"; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $what"; fi; }
cmake --install "$B" --prefix "$T/p" >"$T/install.log" 2>&1; rc=$?
check "cmake --install ($(grep -m1 -A1 Error "$T/install.log" | tr '\n' ' '))" [ $rc -eq 0 ]
PC=$(ls -d "$T"/p/lib*/pkgconfig 2>/dev/null | head -1)
check "pkg-config file installed" [ -f "$PC/memlev.pc" ]
check "headers installed" test -f "$T/p/include/memlev/program.h" -a -f "$T/p/include/memlev/report.h"
check "CLI installed" "$T/p/bin/memlev" --version
flags=$(PKG_CONFIG_PATH="$PC" pkg-config --cflags --libs --static memlev 2>"$T/pc.err")
check "pkg-config --static memlev ($(cat "$T/pc.err"))" [ -n "$flags" ]
# only the installed prefix: headers and library come from $T/p, never from the source tree
cc -std=c11 -O1 -Wall $SAN "$SRC/examples/program_population.c" $flags -o "$T/program_population" 2>"$T/cc.err"
check "example compiles against the installed library ($(head -3 "$T/cc.err"))" [ -x "$T/program_population" ]
if [ -x "$T/program_population" ]; then
  LD_LIBRARY_PATH="$(dirname "$PC")" "$T/program_population" 20 64 >"$T/run.out" 2>&1; rc=$?
  check "example runs ($(cat "$T/run.out"))" [ $rc -eq 0 ]
  check "example uses the installed libmemlev" bash -c "LD_LIBRARY_PATH='$(dirname "$PC")' ldd '$T/program_population' | grep -q '$T/p/.*libmemlev'"
  check "example prints states and NL" grep -Eq "^states [0-9]+ .* NL [-+]" "$T/run.out"
  cat "$T/run.out"
fi
# a static link of the whole library (report included) needs only what pkg-config --static names
cat >"$T/static.c" <<'C'
#include <memlev/report.h>
int main(void) { ml_report *r = NULL; ml_error e; if (ml_report_new(&r, &e)) return 1; ml_report_free(r); return 0; }
C
A=$(ls "$T"/p/lib*/libmemlev.a 2>/dev/null | head -1)
cc -std=c11 $SAN "$T/static.c" $(PKG_CONFIG_PATH="$PC" pkg-config --cflags memlev) -Wl,--whole-archive "$A" -Wl,--no-whole-archive \
  $(PKG_CONFIG_PATH="$PC" pkg-config --libs --static memlev | sed 's/-lmemlev//') -o "$T/static" 2>"$T/static.err"
check "static link with pkg-config --static ($(grep -m2 'undefined\|error' "$T/static.err" | tr '\n' ' '))" "$T/static"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
