#!/usr/bin/env bash
# Bad input: a one-line error naming the file/field, exit status 2, no output file left behind.
set -uo pipefail
ML="$1"; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
expect() { # expect WORD command...
  local word="$1"; shift
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$word" "$T/err"; then pass=$((pass+1))
  else fail=$((fail+1)); echo "FAIL ($rc, $lines lines): $* -> $(cat "$T/err")"; fi
}
echo '{"model":"softbounds","g_min":1e-4,"g_max":8e-5}' >"$T/inv.json"
echo '{"model":"softbounds","g_mn":1e-4}' >"$T/unk.json"
echo '{"model":"softbounds",' >"$T/trunc.json"
echo '{"model":"softbounds","width":-1e-6}' >"$T/negw.json"
echo '{"model":"softbounds","a_p":NaN}' >"$T/nan.json"
echo '{"model":"softbounds","stuck_fraction":1.5}' >"$T/stuck.json"
echo '{"model":"softbounds","stuck_fraction":-0.1}' >"$T/stuck2.json"
echo '{"model":"softbounds","d2d":{"v_th":0.1}}' >"$T/d2d.json"
echo '{"model":"neurosim","d2d":{"a_p":0.05}}' >"$T/nsa.json"
echo '{"model":"neurosim","d2d":{"nl":-0.2}}' >"$T/nsneg.json"
echo '{"model":"softbounds","d2d":{"nl":0.2}}' >"$T/sbnl.json"
echo '{"model":"serb","d2d":{"v0_p":0.02}}' >"$T/serbv0.json"
printf 'device,pulse,V,width,G_read\n0,0,0,0,1e-4\n0,1,1.0,abc,1e-4\n' >"$T/bad.csv"
printf 'device,pulse,V,width\n0,0,0,0\n' >"$T/nocol.csv"
printf 'device,pulse,V,width,G_read\n0,0,0,0,1e-4\n0,1,1.0,-1e-6,1e-4\n' >"$T/negw.csv"
expect "nosuch.json" "$ML" levels --device /nonexistent/nosuch.json --json "$T/o.json"
expect "g_max" "$ML" levels --device "$T/inv.json" --json "$T/o.json"
expect "g_mn" "$ML" levels --device "$T/unk.json" --json "$T/o.json"
expect "trunc.json" "$ML" levels --device "$T/trunc.json" --json "$T/o.json"
expect "width" "$ML" levels --device "$T/negw.json" --json "$T/o.json"
expect "nan.json" "$ML" levels --device "$T/nan.json" --json "$T/o.json"
expect "stuck_fraction" "$ML" levels --device "$T/stuck.json" --json "$T/o.json"
expect "stuck_fraction" "$ML" levels --device "$T/stuck2.json" --json "$T/o.json"
expect "d2d.v_th" "$ML" levels --device "$T/d2d.json" --json "$T/o.json"
expect "d2d.a_p" "$ML" levels --device "$T/nsa.json" --json "$T/o.json"
expect "d2d.nl" "$ML" levels --device "$T/nsneg.json" --json "$T/o.json"
expect "d2d.nl" "$ML" levels --device "$T/sbnl.json" --json "$T/o.json"
expect "d2d.v0_p" "$ML" pulse --device "$T/serbv0.json"
expect "width" "$ML" pulse --width -1e-6
expect "width" "$ML" pulse --width 5
expect "scheme" "$ML" levels --scheme nosuch
expect "devices" "$ML" levels --devices 0
expect "v_max" "$ML" pulse --scheme identical --v 9
expect "target-states" "$ML" levels --target-states 1
expect "tol" "$ML" levels --scheme verify --tol 3
expect "unknown option" "$ML" levels --bogus
expect "unknown command" "$ML" nosuchcmd
expect "width" "$ML" calibrate --data "$T/bad.csv" --json "$T/o.json"
expect "G_read" "$ML" calibrate --data "$T/nocol.csv" --json "$T/o.json"
expect "negative" "$ML" calibrate --data "$T/negw.csv" --json "$T/o.json"
expect "missing.csv" "$ML" calibrate --data "$T/missing.csv" --json "$T/o.json"
expect "direction" "$ML" pulse --direction sideways
expect "outside" "$ML" levels --target-uS 120 --devices 4 --json "$T/o.json"
expect "outside" "$ML" pulse --target-uS 50 --devices 4
echo '{"devices": 4, "bogus": 1}' >"$T/cfg1.json"
echo '{"devices": ' >"$T/cfg2.json"
echo '{"devices": "many"}' >"$T/cfg3.json"
expect "bogus" "$ML" levels --config "$T/cfg1.json" --json "$T/o.json"
expect "cfg2.json" "$ML" levels --config "$T/cfg2.json" --json "$T/o.json"
expect "devices" "$ML" levels --config "$T/cfg3.json" --json "$T/o.json"
expect "nosuch.json" "$ML" levels --config "$T/nosuch.json"
expect "levels" "$ML" transfer --model x.onnx --levels 1
expect "levels" "$ML" transfer --model x.onnx --levels 4,abc
expect "scheme" "$ML" transfer --model x.onnx --scheme bogus
expect "trials" "$ML" transfer --model x.onnx --trials 0
expect "mode" "$ML" transfer --model x.onnx --mode magic
expect "MEMLEV_CONV" env MEMLEV_CONV=fast "$ML" bench infer --arch lenet5 --batch 1 --iters 1
expect "model" "$ML" transfer --levels 4
expect "relax-time" "$ML" transfer --model x.onnx --relax-time 1
expect "grid" "$ML" levels --grid shared --json "$T/o.json"
expect "grid" "$ML" pulse --grid 1
expect "grid" "$ML" levels --scheme identical --grid common --json "$T/o.json"
expect "grid" "$ML" transfer --model x.onnx --grid mine
expect "ff-max-pulses" "$ML" levels --ff-max-pulses 300 --json "$T/o.json"
expect "ff-max-pulses" "$ML" levels --scheme verify --ff-max-pulses 4 --json "$T/o.json"
expect "ff-max-pulses" "$ML" pulse --ff-max-pulses 4 --verify-every 2
expect "ff-max-pulses" "$ML" transfer --model x.onnx --ff-max-pulses -1
expect "levels" "$ML" export-conductances --model x.onnx --levels 1 --out "$T/o.safetensors"

[ -e "$T/o.json" ] && { echo "FAIL: output written on error"; fail=$((fail+1)); }
ls "$T" | grep -q tmp && { echo "FAIL: temp file left"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
