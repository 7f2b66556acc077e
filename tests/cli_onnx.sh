#!/usr/bin/env bash
# onnx-test, check-model and eval --logits: exit codes 0/1/2, one-line errors, the .npy file.
# The onnx-test part needs Debian's libonnx-testdata (skipped without it, a failure under CI=true).
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0; passes=0
check() { # name expected_rc actual_rc [stderr file: must be exactly one line]
  if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, expected $2"; fails=$((fails + 1)); return; fi
  if [ -n "${4:-}" ] && [ "$(wc -l < "$4")" != 1 ]; then echo "FAIL $1: stderr is not one line:"; cat "$4"; fails=$((fails + 1)); return; fi
  passes=$((passes + 1))
}
F="$ML_SOURCE_DIR/tests/fixtures"
D=${ML_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}/node

# check-model: a model memlev runs, a broken file, a missing file
"$ML" check-model "$F/lenet_dynamic.onnx" > "$T/out" 2> "$T/err"; check check_ok 0 $?
grep -q "can run it" "$T/out" || { echo "FAIL check_ok: no verdict"; fails=$((fails + 1)); }
"$ML" check-model "$F/bad_raw_size.onnx" 2> "$T/err" >/dev/null; check check_bad 2 $? "$T/err"
"$ML" check-model "$T/none.onnx" 2> "$T/err" >/dev/null; check check_missing 2 $? "$T/err"
head -c 100 "$F/lenet_dynamic.onnx" > "$T/trunc.onnx"
"$ML" check-model "$T/trunc.onnx" 2> "$T/err" >/dev/null; check check_truncated 2 $? "$T/err"
"$ML" check-model "$F/bad_unsupported_op.onnx" 2> "$T/err" >/dev/null; check check_unsupp 2 $? "$T/err"
grep -q "unsupported op" "$T/err" || { echo "FAIL check_unsupp: op not named"; cat "$T/err"; fails=$((fails + 1)); }

# eval --logits: [images, classes] float32 .npy whose argmax gives the printed accuracy
if [ -d /usr/share/datasets/fashion-mnist ]; then
  "$ML" eval --model "$F/lenet_dynamic.onnx" --limit 7 --batch 3 --logits "$T/l.npy" > "$T/out" 2> "$T/err"; check logits 0 $?
  python3 - "$T/l.npy" "$T/out" <<'PY' || fails=$((fails + 1))
import struct, sys
b = open(sys.argv[1], "rb").read()
hl = b[8] + 256 * b[9]
h = b[10:10 + hl].decode()
assert b[:8] == b"\x93NUMPY\x01\x00" and (10 + hl) % 64 == 0, "npy header"
assert "'<f4'" in h and "(7, 10)" in h, h
v = struct.unpack("<70f", b[10 + hl:])
assert len(b) == 10 + hl + 280
assert all(x == x for x in v) and max(abs(x) for x in v) > 0, "logits all zero or NaN"
PY
  "$ML" eval --model "$F/lenet_dynamic.onnx" --limit 7 --logits "$T/nodir/l.npy" 2> "$T/err" >/dev/null; check logits_bad_path 2 $? "$T/err"
  "$ML" eval --model "$F/bad_unsupported_op.onnx" --limit 7 2> "$T/err" >/dev/null; check eval_unsupp 2 $? "$T/err"
fi

if [ -d "$D/test_relu" ]; then
  "$ML" onnx-test "$D/test_relu" > "$T/out" 2> "$T/err"; check relu_match 0 $?
  "$ML" onnx-test "$D/test_softmax_axis_1" >/dev/null 2>&1; check softmax_match 0 $?
  "$ML" onnx-test "$D/test_det_2d" 2> "$T/err" >/dev/null; check det_unsupported 2 $? "$T/err"
  grep -q "Det" "$T/err" || { echo "FAIL det_unsupported: op not named"; fails=$((fails + 1)); }
  # a case whose reference output is another op's: a mismatch, named in one line
  cp -r "$D/test_relu" "$T/case"
  cp "$D/test_sigmoid/test_data_set_0/output_0.pb" "$T/case/test_data_set_0/output_0.pb"
  "$ML" onnx-test "$T/case" > "$T/out" 2>/dev/null; check relu_vs_sigmoid 1 $?
  grep -q "mismatch: worst element" "$T/out" && [ "$(wc -l < "$T/out")" = 1 ] ||
    { echo "FAIL relu_vs_sigmoid: message"; cat "$T/out"; fails=$((fails + 1)); }
  # several cases: a line each, exit 1 because one mismatches
  "$ML" onnx-test "$D/test_relu" "$D/test_det_2d" "$T/case" > "$T/out" 2>/dev/null; check many 1 $?
  [ "$(cut -f1 "$T/out" | tr '\n' ' ')" = "pass unsupported MISMATCH " ] || { echo "FAIL many:"; cat "$T/out"; fails=$((fails + 1)); }
  # malformed cases: one line, exit 2
  head -c 20 "$D/test_relu/test_data_set_0/input_0.pb" > "$T/case/test_data_set_0/input_0.pb"
  "$ML" onnx-test "$T/case" 2> "$T/err" >/dev/null; check bad_pb 2 $? "$T/err"
  rm -rf "$T/case/test_data_set_0"
  "$ML" onnx-test "$T/case" 2> "$T/err" >/dev/null; check no_data_set 2 $? "$T/err"
  "$ML" onnx-test "$T/none" 2> "$T/err" >/dev/null; check no_dir 2 $? "$T/err"
elif [ "${CI:-}" = true ]; then
  echo "FAIL: libonnx-testdata is missing"; fails=$((fails + 1))
fi
"$ML" onnx-test 2> "$T/err" >/dev/null; check no_args 2 $? "$T/err"
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
