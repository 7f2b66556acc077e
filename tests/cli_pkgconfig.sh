#!/usr/bin/env bash
# build/memlev.pc serves programs built against the build tree without installing: the example
# compiles with `PKG_CONFIG_PATH=build pkg-config --cflags --libs memlev` and runs as is (shared
# library, rpath into build/), and a static link of libmemlev.a with `pkg-config --static --libs`
# runs without libmemlev.so.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
B="${ML_BINARY_DIR:?ML_BINARY_DIR not set}"; SRC="${ML_SOURCE_DIR:?ML_SOURCE_DIR not set}"
pass=0; fail=0
SAN=""; grep -q "^ML_SANITIZE:BOOL=ON" "$B/CMakeCache.txt" 2>/dev/null && SAN="-fsanitize=address,undefined"
check() { local what="$1"; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $what"; fi; }
pc() { PKG_CONFIG_PATH="$B" PKG_CONFIG_DISABLE_UNINSTALLED=1 pkg-config "$@"; }
check "build/memlev.pc exists" [ -f "$B/memlev.pc" ]
check "libdir is the build folder" [ "$(pc --variable=libdir memlev)" -ef "$B" ]
check "includedir holds memlev/program.h" [ -f "$(pc --variable=includedir memlev)/memlev/program.h" ]
check "memlev-uninstalled.pc found by plain pkg-config" bash -c "PKG_CONFIG_PATH='$B' pkg-config --cflags memlev | grep -q -- '-I$SRC/include'"
# shared: compile, run without LD_LIBRARY_PATH, and the library is this build's
flags=$(pc --cflags --libs memlev 2>"$T/pc.err")
check "pkg-config --cflags --libs memlev ($(cat "$T/pc.err"))" [ -n "$flags" ]
cc -std=c11 -O1 -Wall $SAN "$SRC/examples/program_population.c" $flags -o "$T/ex" 2>"$T/cc.err"
check "example compiles against build/ ($(head -3 "$T/cc.err"))" [ -x "$T/ex" ]
"$T/ex" 20 64 >"$T/run.out" 2>&1
check "example runs without LD_LIBRARY_PATH ($(head -2 "$T/run.out"))" grep -Eq "^states [0-9]+ .* NL [-+]" "$T/run.out"
check "example uses build/libmemlev.so" bash -c "ldd '$T/ex' | grep -q '$B/libmemlev.so'"
# static: libmemlev.a (and only it) linked statically; the rest from pkg-config --static
cat >"$T/static.c" <<'C'
#include <stdio.h>
#include <memlev/device.h>
#include <memlev/report.h>
int main(void)
{
    ml_report *r = NULL;
    ml_device d;
    ml_error e;
    if (ml_report_new(&r, &e) || ml_device_preset("tio2x", &d, &e)) return 1;
    printf("g_max %g\n", d.g_max);
    ml_device_clear(&d);
    ml_report_free(r);
    return 0;
}
C
# the archive in place of -lmemlev, which would otherwise also pull in libmemlev.so
static_libs() { pc --static --libs memlev | sed "s|-lmemlev\b|$B/libmemlev.a|"; }
cc -std=c11 $SAN "$T/static.c" $(pc --cflags memlev) $(static_libs) -o "$T/static" 2>"$T/static.err"
check "static link with pkg-config --static ($(grep -m2 'undefined\|error' "$T/static.err" | tr '\n' ' '))" [ -x "$T/static" ]
check "static program runs" bash -c "'$T/static' | grep -q '^g_max 0.0001'"
check "static program needs no libmemlev.so" bash -c "! ldd '$T/static' | grep -q libmemlev"
# every example in examples/ builds both ways
for ex in "$SRC"/examples/*.c; do
  cc -std=c11 -O1 $SAN "$ex" $(pc --cflags memlev) $(static_libs) -o "$T/x" 2>"$T/x.err"
  check "$(basename "$ex") links statically ($(head -2 "$T/x.err"))" [ -x "$T/x" ]
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
