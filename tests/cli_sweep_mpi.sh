#!/usr/bin/env bash
# memlev sweep under Open MPI (mpirun --oversubscribe): 1, 2 and 3 ranks give the points of
# the serial run; a job whose worker rank is killed with SIGKILL resumes to the same result;
# a bad config exits 2 on every rank with one message and no output. Skipped (exit 77) when
# memlev was built without MPI.
set -euo pipefail
ML="$1"
if [ -z "${ML_MPIEXEC:-}" ]; then echo "memlev built without MPI: skipped"; exit 77; fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$ML_SOURCE_DIR/tests/sweep_lib.sh"
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# Under AddressSanitizer: Open MPI loads its components with dlopen and unloads them in
# MPI_Finalize, so the allocations they keep for the life of the process are reported from
# "<unknown module>" and cannot be suppressed by name. Leak checking is off for the ranks
# (memory errors are still caught); cli_sweep.sh checks the same sweep code for leaks serially.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export OMP_NUM_THREADS=1
MPI=("$ML_MPIEXEC" --oversubscribe --bind-to none)
write_config "$T/c.json"
"$ML" sweep --config "$T/c.json" --json "$T/ref.json" --quiet >/dev/null
for n in 1 2 3; do
  "${MPI[@]}" -np $n "$ML" sweep --config "$T/c.json" --json "$T/n$n.json" --quiet >/dev/null
  same_points "$T/ref.json" "$T/n$n.json"
  test ! -e "$T/n$n.json.journal"
done
# kill rank 1 (a worker) with SIGKILL once two points are journaled; mpirun ends the job.
# Ranks keep the model loaded, so the small grid's points are quick: the kill runs on a
# heavier variant (more trials and images) with its own serial reference.
sed -e 's/"limit": 30/"limit": 300/' -e 's/"trials": 1/"trials": 6/' "$T/c.json" > "$T/ck.json"
"$ML" sweep --config "$T/ck.json" --json "$T/kref.json" --quiet >/dev/null
"${MPI[@]}" -np 3 "$ML" sweep --config "$T/ck.json" --json "$T/k.json" --quiet >/dev/null 2>"$T/kill.err" &
job=$!
# (up to 5 minutes: on a loaded machine three ranks may take a minute to write two points)
for _ in $(seq 1 15000); do
  [ -f "$T/k.json.journal" ] && [ "$(wc -l < "$T/k.json.journal")" -ge 3 ] && break
  kill -0 $job 2>/dev/null || break
  sleep 0.02
done
[ -f "$T/k.json.journal" ] || { echo "no journal after 5 minutes"; cat "$T/kill.err"; exit 1; }
victim=""
for p in $(pgrep -f "sweep --config $T/ck.json --json $T/k.json" || true); do
  if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$p; fi
done
[ -n "$victim" ] || { echo "no rank 1 found"; exit 1; }
kill -9 "$victim"
if wait $job; then echo "job survived a killed rank"; exit 1; fi
n=$(($(wc -l < "$T/k.json.journal") - 1))
echo "rank 1 killed after $n of 8 points"
[ "$n" -ge 2 ] && [ "$n" -lt 8 ]
test ! -e "$T/k.json"
"${MPI[@]}" -np 2 "$ML" sweep --config "$T/ck.json" --json "$T/k.json" --resume --quiet >/dev/null
same_points "$T/kref.json" "$T/k.json"
# bad config on 3 ranks: exit 2, the message once, nothing written
printf '{"model": "%s/models/mlp-fmnist.onnx", "colour": [1]}' "$SRC" > "$T/bad.json"
set +e; "${MPI[@]}" -np 3 "$ML" sweep --config "$T/bad.json" --json "$T/bad.out" 2>"$T/err" >/dev/null; rc=$?; set -e
[ "$rc" = 2 ] || { echo "rc $rc"; cat "$T/err"; exit 1; }
[ "$(grep -c "memlev sweep: .*unknown axis 'colour'" "$T/err")" = 1 ] || { cat "$T/err"; exit 1; }
test ! -e "$T/bad.out" && test ! -e "$T/bad.out.journal"
echo "1 passed, 0 failed"
