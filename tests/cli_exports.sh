#!/bin/bash
# The library's edge: libmemlev.so exports exactly the functions include/memlev/*.h
# declares, each declared with ML_API, and no internal symbol carries the public ml_
# prefix (scripts/check-exports; docs/architecture.md "Library edge").
set -euo pipefail
: "${ML_SOURCE_DIR:?}" "${ML_BINARY_DIR:?}"
python3 "$ML_SOURCE_DIR/scripts/check-exports" "$ML_BINARY_DIR/libmemlev.so" "$ML_BINARY_DIR/libmemlev.a"
