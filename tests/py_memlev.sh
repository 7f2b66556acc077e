#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest) against this build's libmemlev.so and CLI.
# pytest and numpy are required (scripts/setup installs them): their absence fails, it does
# not skip. Only the torch tests skip, when torch is not installed.
set -uo pipefail
SRC="${ML_SOURCE_DIR:?ML_SOURCE_DIR not set}"
PY=/usr/bin/python3   # Debian's python3, where Debian's numpy, pytest and torch live
for m in pytest numpy; do
  "$PY" -c "import $m" 2>/dev/null || { echo "FAIL: $PY cannot import $m (run scripts/setup)"; exit 1; }
done
cd "$SRC" && exec env OMP_WAIT_POLICY=passive "$PY" -m pytest -q -p no:cacheprovider python/tests
