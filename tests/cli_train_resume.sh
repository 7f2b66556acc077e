#!/usr/bin/env bash
# memlev train --checkpoint/--resume: a run killed (SIGKILL) twice part-way and resumed ends
# with the same ONNX bytes and final loss line as one uninterrupted run; corrupt, truncated,
# foreign or mismatched checkpoints give a one-line error naming the file, exit 2, no model.
# Data: 240 + 64 synthetic 28x28 IDX images (class-dependent stripes plus seeded noise).
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
python3 - "$T" <<'PY'
import random, struct, sys
random.seed(7)
for split, n in (("train", 240), ("t10k", 64)):
    im, lb = bytearray(), bytearray()
    for i in range(n):
        y = i % 10
        im += bytes(min(255, random.randint(0, 80) + (150 if (r // 3 + c // 3 + y) % 10 < 3 else 0))
                    for r in range(28) for c in range(28))
        lb.append(y)
    open(f"{sys.argv[1]}/{split}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + im)
    open(f"{sys.argv[1]}/{split}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + lb)
PY
A=(train --arch resnet20 --width 4 --data "$T" --epochs 2 --batch 16 --lr 0.05 --seed 3 --threads 1)

# Reference: uninterrupted, one thread, no checkpoint.
"$ML" "${A[@]}" --out "$T/ref.onnx" >"$T/ref.log" || bad "reference run failed"

# Start (or resume) a run in the background and SIGKILL it once $1 exists; its exit status
# must be 137 (killed), so it really stopped part-way.
run_and_kill() {
  local waitfor="$1"; shift
  "$ML" "${A[@]}" --checkpoint "$T/c.ckpt" --checkpoint-every 0 "$@" >>"$T/run.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 6000); do
    [ -s "$waitfor" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null; local rc=$?
  [ $rc -eq 137 ] && ok || bad "run was not interrupted (exit $rc): $*"
}
run_and_kill "$T/c.ckpt" --threads 2 --out "$T/k.onnx"          # killed after its first checkpoint
cp "$T/c.ckpt" "$T/first.ckpt"
run_and_kill "$T/k2.onnx" --resume --out "$T/k2.onnx" # killed after an epoch of the resumed run
"$ML" "${A[@]}" --checkpoint "$T/c.ckpt" --resume --out "$T/res.onnx" >"$T/res.log" 2>&1 || bad "resume failed: $(cat "$T/res.log")"
# Both interruptions happened before the end: each resumed run says where it picked up.
n=$(grep -c "resuming from $T/c.ckpt: epoch [12] of 2, at batch [0-9]* of 15" "$T/run.log" "$T/res.log" | awk -F: '{s+=$2} END {print s}')
[ "$n" -eq 2 ] && ok || bad "expected two resumptions before the end, got $n: $(grep resuming "$T/run.log" "$T/res.log")"
cmp -s "$T/ref.onnx" "$T/res.onnx" && ok || bad "resumed model differs from the uninterrupted one"
[ "$(grep "^epoch 2:" "$T/ref.log")" = "$(grep "^epoch 2:" "$T/res.log")" ] && ok || bad "last epoch's loss line differs"
# Resuming a finished checkpoint writes the same model again.
"$ML" "${A[@]}" --checkpoint "$T/c.ckpt" --resume --out "$T/again.onnx" >"$T/again.log" 2>&1 &&
  grep -q "all 2 epochs done" "$T/again.log" && cmp -s "$T/ref.onnx" "$T/again.onnx" && ok || bad "finished checkpoint"

expect() { # expect WORD checkpoint extra-args...: one line on stderr naming it and WORD, exit 2, no model
  local word="$1" ck="$2"; shift 2
  rm -f "$T/e.onnx"
  "$ML" "${A[@]}" --checkpoint "$ck" --resume --out "$T/e.onnx" "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$ck" "$T/err" && grep -q -- "$word" "$T/err" &&
     [ ! -e "$T/e.onnx" ]; then ok; else bad "($rc) $ck $*: $(cat "$T/err")"; fi
}
python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[len(b) // 2] ^= 1; open(sys.argv[2], 'wb').write(b)" \
  "$T/first.ckpt" "$T/flip.ckpt"
head -c 1000 "$T/first.ckpt" >"$T/trunc.ckpt"
expect "checksum" "$T/flip.ckpt"
expect "checksum" "$T/trunc.ckpt"
expect "not a memlev training checkpoint" "$T/ref.onnx"
expect "cannot open" "$T/nosuch.ckpt"
expect "batch is 16 in the checkpoint, 32" "$T/first.ckpt" --batch 32
expect "lr is 0.05 in the checkpoint, 0.1" "$T/first.ckpt" --lr 0.1
if grep -q avx512f /proc/cpuinfo; then # oneDNN runs bf16 (emulated without AVX512-BF16)
  expect "precision (0 fp32, 1 bf16) is 0 in the checkpoint, 1" "$T/first.ckpt" --precision bf16
else
  "$ML" "${A[@]}" --checkpoint "$T/first.ckpt" --resume --out "$T/e.onnx" --precision bf16 >/dev/null 2>"$T/err"
  [ $? -eq 2 ] && grep -q "bf16 training needs AVX-512" "$T/err" && [ ! -e "$T/e.onnx" ] && ok || bad "bf16 on AVX2"
fi
expect "shape" "$T/first.ckpt" --width 8
expect "tensors" "$T/first.ckpt" --arch lenet5 --width 0
"$ML" "${A[@]}" --resume --out "$T/e.onnx" >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q -- "--checkpoint" "$T/err" && ok || bad "--resume without --checkpoint"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
