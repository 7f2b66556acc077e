"""memlev's Python API against the library and the CLI: devices, program(), levels(),
transfer(), errors, progress and how the library is found."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import memlev

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_device_preset_has_window_and_parameters():
    d = memlev.Device("tio2x")
    assert d.g_min == pytest.approx(84.03e-6, rel=1e-3) and d.g_max == pytest.approx(100e-6)
    assert d.model == "softbounds" and d.name == "tio2x"
    assert d.a_p == pytest.approx(1e-4) and d.d2d["a_p"] == pytest.approx(0.05)
    with pytest.raises(AttributeError):
        d.no_such_parameter


def test_device_from_dict_and_file_equal_the_preset(tmp_path):
    d = memlev.Device("tio2x")
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(d.as_dict()))
    assert memlev.Device(d.as_dict()).as_dict() == d.as_dict()
    assert memlev.Device(str(p)).as_dict() == d.as_dict()
    changed = dict(d.as_dict(), g_max=120e-6, name="wide")
    w = memlev.Device(changed)
    assert w.g_max == 120e-6 and w.name == "wide"


def test_device_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="nosuch"):
        memlev.Device("nosuch")
    with pytest.raises(ValueError, match="unknown key 'bogus'"):
        memlev.Device(dict(memlev.Device("tio2x").as_dict(), bogus=1))
    with pytest.raises(ValueError, match="g_max"):
        memlev.Device(dict(memlev.Device("tio2x").as_dict(), g_max=1e-6))
    with pytest.raises(OSError):
        memlev.Device(str(tmp_path / "missing.json"))
    with pytest.raises(TypeError):
        memlev.Device(3)


def targets(d, shape, seed=0):
    rng = np.random.default_rng(seed)
    return d.g_min + (d.g_max - d.g_min) * rng.uniform(0.05, 0.9, size=shape)


def test_program_returns_float64_of_the_targets_shape_near_the_targets():
    d = memlev.Device("tio2x")
    t = targets(d, (6, 7)).astype(np.float32)
    g = memlev.program(d, t, seed=3, target_states=128, progress=False)
    assert g.dtype == np.float64 and g.shape == (6, 7)
    spacing = 0.95 * (d.g_max - d.g_min) / 128
    assert np.max(np.abs(g - t.astype(np.float64))) < 2 * spacing
    assert memlev.program(d, t.tolist(), seed=3, target_states=128, progress=False).shape == (6, 7)
    assert memlev.program(d, np.empty((0, 3)), progress=False).shape == (0, 3)
    assert memlev.program(d, float(t[0, 0]), seed=3, target_states=128, progress=False).shape == ()


def test_program_is_reproducible_and_independent_of_threads():
    d = memlev.Device("tio2x")
    t = targets(d, 50)
    a = memlev.program(d, t, "verify", seed=5, threads=1, target_states=64, progress=False)
    b = memlev.program(d, t, "verify", seed=5, threads=2, target_states=64, progress=False)
    c = memlev.program(d, t, "verify", seed=6, target_states=64, progress=False)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_program_every_scheme_with_one_model():
    # one calibrated model for all devices: the device-to-device gain spread (5 %) stays in
    # every open-loop scheme's result (per-device calibration, the default, removes it:
    # see the test above); verify's reads do not care
    d = memlev.Device("tio2x")
    t = targets(d, 40)
    bound = {"feedforward": 0.08, "verify": 0.02, "identical": 0.08, "ramp": 0.08}
    for s in memlev.SCHEMES:
        g = memlev.program(d, t, s, target_states=64, calibrate="population", progress=False)
        assert np.sqrt(np.mean((g - t) ** 2)) < bound[s] * (d.g_max - d.g_min), s


def test_program_runs_concurrently_from_python_threads():
    # ctypes releases the GIL for the call: two threads program at once (distinct plans and
    # populations, as the library allows) and get exactly the results of sequential calls
    import threading
    d = memlev.Device("tio2x")
    t = [targets(d, 30, seed) for seed in (1, 2)]
    want = [memlev.program(d, x, seed=9, target_states=32, calibrate="population", progress=False) for x in t]
    got = [None, None]

    def work(k):
        got[k] = memlev.program(d, t[k], seed=9, target_states=32, calibrate="population",
                                progress=lambda *a: None)

    th = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    assert all(np.array_equal(a, b) for a, b in zip(want, got))


def test_program_rejects_targets_outside_the_window():
    d = memlev.Device("tio2x")
    t = targets(d, (3, 4))
    t[1, 2] = d.g_max * 1.5
    t[2, 0] = 0
    with pytest.raises(ValueError) as e:
        memlev.program(d, t, progress=False)
    msg = str(e.value)
    assert "target 6 " in msg and f"{d.g_min:g}" in msg and f"{d.g_max:g}" in msg
    with pytest.raises(ValueError, match="target 0 "):
        memlev.program(d, [np.nan], progress=False)


def test_program_rejects_bad_options():
    d = memlev.Device("tio2x")
    t = targets(d, 3)
    with pytest.raises(ValueError, match="unknown"):
        memlev.program(d, t, "nosuch")
    with pytest.raises(ValueError, match="tol"):
        memlev.program(d, t, "verify", tol=0.9)
    with pytest.raises(ValueError, match="v_max"):
        memlev.program(d, t, "identical", v=10.0)
    with pytest.raises(TypeError, match="bogus"):
        memlev.program(d, t, bogus=1)
    with pytest.raises(ValueError, match="threads"):
        memlev.program(d, t, threads=0)


def test_program_reports_progress_through_the_library_callback():
    d = memlev.Device("tio2x")
    seen = []
    memlev.program(d, targets(d, 10), target_states=32, calibrate="population",
                   progress=lambda label, done, total: seen.append((label, done, total)))
    assert seen and seen[-1] == ("program", 10.0, 10.0)


@pytest.mark.parametrize("scheme,extra", [("feedforward", []), ("identical", []), ("verify", ["--calibrate", "population"]),
                                          ("feedforward", ["--direction", "auto"])])
def test_levels_equals_the_cli_json(tmp_path, cli, scheme, extra):
    want = cli(tmp_path, "levels", "--device", "tio2x", "--scheme", scheme, "--devices", "8", "--target-states",
               "48", "--seed", "4", *extra)
    opts = {extra[k][2:]: extra[k + 1] for k in range(0, len(extra), 2)}
    got = memlev.levels("tio2x", scheme, devices=8, target_states=48, seed=4, progress=False, **opts)
    assert got == want


def test_levels_rejects_bad_options():
    with pytest.raises(ValueError, match="devices"):
        memlev.levels("tio2x", "feedforward", devices=0)
    with pytest.raises(TypeError):
        memlev.levels("tio2x", "feedforward", pulses=3)
    with pytest.raises(ValueError, match="grid"):
        memlev.levels("tio2x", "feedforward", grid="shared")
    with pytest.raises(ValueError, match="grid"):
        memlev.levels("tio2x", "identical", grid="common")
    with pytest.raises(ValueError, match="direction"):
        memlev.levels("tio2x", "feedforward", direction="sideways")


def test_transfer_equals_the_cli_json(tmp_path, cli):
    model = "models/mlp-fmnist.onnx"
    want = cli(tmp_path, "transfer", "--model", model, "--scheme", "feedforward,identical", "--levels", "4,16",
               "--trials", "2", "--limit", "200", "--sample-devices", "32", "--seed", "2")
    got = memlev.transfer(str(ROOT / model), schemes=["feedforward", "identical"], levels=[4, 16], trials=2,
                          limit=200, sample_devices=32, seed=2, progress=False)
    got["config"]["model"] = model
    assert got == want
    assert len(got["points"]) == 4 and got["images"] == 200


def test_transfer_errors():
    with pytest.raises(OSError):
        memlev.transfer("/nonexistent.onnx", levels=[4], trials=1)
    with pytest.raises(ValueError, match="levels"):
        memlev.transfer(str(ROOT / "models/mlp-fmnist.onnx"), levels=[1])
    with pytest.raises(ValueError, match="scheme"):
        memlev.transfer(str(ROOT / "models/mlp-fmnist.onnx"), schemes="nosuch", levels=[4])
    with pytest.raises(ValueError, match="grid"):
        memlev.transfer(str(ROOT / "models/mlp-fmnist.onnx"), levels=[4], grid="shared")


def test_missing_library_names_every_place_tried(tmp_path):
    shutil.copytree(ROOT / "python" / "memlev", tmp_path / "pkg" / "memlev")
    env = dict(os.environ, MEMLEV_LIB=str(tmp_path / "nope.so"), PYTHONPATH=str(tmp_path / "pkg"))
    env.pop("LD_LIBRARY_PATH", None)
    p = subprocess.run([sys.executable, "-c", "import memlev"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    if p.returncode == 0:  # an installed libmemlev on the system path: that is the third place
        return
    assert "ImportError" in p.stderr
    for where in ("MEMLEV_LIB=", str(tmp_path / "build" / "libmemlev.so"), "system library path"):
        assert where in p.stderr
