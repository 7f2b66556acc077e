"""Shared fixtures of the memlev Python tests: the package from this checkout (python/), the
CLI built beside the library (ML_CLI, else build/memlev) and a runner for it."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))


@pytest.fixture(scope="session")
def cli():
    """Run `memlev ARGS --json FILE` and return the parsed JSON."""
    exe = os.environ.get("ML_CLI") or str(ROOT / "build" / "memlev")
    assert os.access(exe, os.X_OK), f"memlev CLI not found at {exe} (set ML_CLI)"

    def run(tmp_path, *args):
        out = tmp_path / "cli.json"
        p = subprocess.run([exe, *args, "--json", str(out)], capture_output=True, text=True, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        return json.loads(out.read_text())

    return run
