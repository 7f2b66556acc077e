#!/usr/bin/env bash
# bench/pulse_vs_aihwkit.sh AIHWKIT_DIR [MEMLEV_BUILD_DIR] [DEVICES] [PULSES]
# Device-pulse updates/s with C2C noise on 10^6 soft-bounds devices, IBM aihwkit's CPU core
# (RPUCuda's SoftBoundsRPUDevice::doDenseUpdate, float, table-based Gaussians) and memlev's
# pulse-train kernel side by side in one run, 1 and 2 threads, and the ratio memlev/aihwkit.
#
# AIHWKIT_DIR is a checkout of aihwkit's public source, which this script does not fetch:
#     git clone --depth 1 https://github.com/IBM/aihwkit.git /tmp/aihwkit
# Only its C++ core is built (src/rpucuda/*.cpp without tests and CUDA), with g++ and Debian's
# OpenBLAS (libopenblas-dev) instead of its CMake (which wants pybind11 and PyTorch for the
# Python module): no Python, no torch, no CUDA. Its build goes to MEMLEV_BUILD_DIR/aihwkit-core.
# Nothing of aihwkit is copied into memlev; bench/pulse_aihwkit.cpp is memlev's driver.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/src/rpucuda/rpu_linearstep_device.h" ]; then
    echo "usage: $0 AIHWKIT_DIR [MEMLEV_BUILD_DIR] [DEVICES] [PULSES]" >&2
    echo "  AIHWKIT_DIR: git clone --depth 1 https://github.com/IBM/aihwkit.git /tmp/aihwkit" >&2
    exit 2
fi
AIHWKIT=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${2:-$HERE/../build}
N=${3:-1000000}
PULSES=${4:-200}
OUT=$BUILD/aihwkit-core
mkdir -p "$OUT"
[ -x "$BUILD/bench_pulse" ] || { echo "$BUILD/bench_pulse missing: build memlev first (cmake --build $BUILD)" >&2; exit 2; }
BLAS_INC=$(pkg-config --cflags openblas 2>/dev/null || echo "-I/usr/include/x86_64-linux-gnu")
CXXFLAGS="-O3 -ftree-vectorize -std=c++17 -fopenmp -DRPU_USE_OPENBLAS -w $BLAS_INC -I$AIHWKIT/src/rpucuda"

# aihwkit's core, compiled once per checkout (its own flags: -O3 -ftree-vectorize, float)
SRCS=$(ls "$AIHWKIT"/src/rpucuda/*.cpp | grep -v '_test\.cpp$')
objs=()
for s in $SRCS; do
    o="$OUT/$(basename "${s%.cpp}").o"
    [ "$o" -nt "$s" ] || g++ $CXXFLAGS -c "$s" -o "$o" &
    objs+=("$o")
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait
g++ $CXXFLAGS "$HERE/pulse_aihwkit.cpp" "${objs[@]}" -o "$OUT/bench_pulse_aihwkit" -lopenblas
REV=$(git -C "$AIHWKIT" rev-parse --short HEAD 2>/dev/null || cat "$AIHWKIT/src/aihwkit/VERSION.txt" 2>/dev/null || echo unknown)

echo "pulse updates/s, $N soft-bounds devices, 1 % multiplicative C2C noise, $PULSES pulses"
echo "load average before: $(cat /proc/loadavg)"
A=$("$OUT/bench_pulse_aihwkit" "$N" "$PULSES" 0.01)
M=$("$BUILD/bench_pulse" "$N" "$PULSES")
echo "load average after:  $(cat /proc/loadavg)"
ISA=$(echo "$M" | sed -n 's/.*train kernel ISA: //p')
printf "%-8s %-44s %14s %14s %8s\n" threads "memlev kernel ($ISA)" memlev "aihwkit $REV" ratio
for t in 1 2; do
    a=$(echo "$A" | awk -v t=$t '$1 == "aihwkit" && $2 == t {print $3}')
    m=$(echo "$M" | awk -v t=$t '/^train f32, C2C/ && $(NF-2) == t {print $(NF-1)}')
    printf "%-8s %-44s %14.3e %14.3e %8.2f\n" $t "pulse train (float32)" "$m" "$a" "$(echo "$m $a" | awk '{print $1 / $2}')"
    m=$(echo "$M" | awk -v t=$t '/^one-pulse f64, C2C/ && $(NF-2) == t {print $(NF-1)}')
    printf "%-8s %-44s %14.3e %14.3e %8.2f\n" $t "one pulse per call (double)" "$m" "$a" "$(echo "$m $a" | awk '{print $1 / $2}')"
done
