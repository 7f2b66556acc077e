#!/bin/sh
# ResNet-18/34 inference, memlev vs PyTorch (see infer_vs_torch.py). usage: bench/infer_vs_torch.sh [build dir] [args]
# The project pins OpenBLAS to its Haswell kernels; keep that unless the caller chose.
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}" # for PyTorch's OpenBLAS; memlev does not use OpenBLAS
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
exec /usr/bin/python3 "$here/infer_vs_torch.py" --build "$build" "$@"
