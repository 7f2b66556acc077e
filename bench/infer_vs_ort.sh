#!/bin/sh
# ResNet-18/34 inference, memlev vs onnxruntime (see infer_vs_ort.js).
# usage: bench/infer_vs_ort.sh [build dir] [options of infer_vs_ort.js]
# onnxruntime comes from the npm package onnxruntime-node, installed by hand (this script
# installs nothing) into $MEMLEV_PEERS (default bench/.peers, git-ignored):
#   mkdir -p bench/.peers && (cd bench/.peers && npm install --ignore-scripts onnxruntime-node@1.30.0)
# (--ignore-scripts: the package's CPU library ships in it; its install script only fetches
# GPU add-ons.) OPENBLAS_CORETYPE is left as the caller has it: memlev's convolutions run on
# oneDNN (which picks its own kernels for the CPU) and OpenBLAS only multiplies the final
# 512x10 layer; onnxruntime does not use OpenBLAS.
# Needs Node.js (Debian: nodejs, npm) and a built bench_arch_onnx/bench_infer_onnx.
here=$(cd "$(dirname "$0")" && pwd)
peers=${MEMLEV_PEERS:-$here/.peers}
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
if [ ! -f "$peers/node_modules/onnxruntime-node/package.json" ]; then
    echo "infer_vs_ort: no onnxruntime-node in $peers; install it with" >&2
    echo "  mkdir -p $peers && (cd $peers && npm install --ignore-scripts onnxruntime-node@1.30.0)" >&2
    exit 2
fi
command -v node >/dev/null || { echo "infer_vs_ort: node not found (Debian: apt-get install nodejs)" >&2; exit 2; }
exec node "$here/infer_vs_ort.js" --peers "$peers" --build "$build" "$@"
