"""memlev from Python: devices, programming target conductances, the levels and transfer
studies, over libmemlev (ctypes). numpy in and out; see docs/python.md.

    import memlev, numpy as np
    dev = memlev.Device("tio2x")
    g = memlev.program(dev, np.linspace(dev.g_min, dev.g_max, 1000) * 0.9 + dev.g_min * 0.1)
    r = memlev.levels(dev, "feedforward", devices=100)          # = memlev levels --json
    t = memlev.transfer("models/mlp-fmnist.onnx", levels=[8, 16], trials=2, limit=500)

Calls into the library release the GIL; progress comes from the library's callbacks (tqdm
when installed). Results depend only on the arguments (seeds), never on `threads`."""

import ctypes
import json
import os
from ctypes import byref, c_double, c_int, c_void_p

import numpy as np

from . import _lib
from ._lib import MemlevError

__all__ = ["Device", "program", "levels", "transfer", "MemlevError", "SCHEMES"]
__version__ = "0.1.0"

SCHEMES = ("identical", "ramp", "verify", "feedforward")


class Device:
    """A device kind: a preset name ("tio2x", "agsi", ...), a device JSON file path, or a dict
    in the device JSON form (docs/devices.md). Attributes: g_min, g_max (S, the nominal
    window), every parameter of the JSON form by name (model, name, a_p, v0_p, ..., d2d),
    and as_dict()."""

    def __init__(self, spec):
        if isinstance(spec, Device):
            spec = spec.as_dict()
        err = _lib.Error()
        ptr = c_void_p()
        if isinstance(spec, dict):
            self.spec = str(spec.get("name", "<dict>"))
            rc = _lib.ml_device_new_json(json.dumps(spec).encode(), b"device dict", byref(ptr), byref(err))
        elif isinstance(spec, (str, os.PathLike)):
            self.spec = os.fspath(spec)
            rc = _lib.ml_device_new(self.spec.encode(), byref(ptr), byref(err))
        else:
            raise TypeError(f"Device: spec must be a preset name, a JSON path or a dict, not {type(spec).__name__}")
        _lib.check(rc, err)
        self._ptr = ptr
        self._params = json.loads(_lib.take_text(_lib.ml_device_to_json(ptr)))

    def __del__(self):
        ptr = getattr(self, "_ptr", None)
        if ptr:
            _lib.ml_device_free(ptr)
            self._ptr = None

    def __getattr__(self, key):
        params = self.__dict__.get("_params")
        if params is not None and key in params:
            return params[key]
        raise AttributeError(f"Device has no parameter '{key}'")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._params))

    def as_dict(self):
        """The device in its JSON form (a new dict)."""
        return json.loads(json.dumps(self._params))

    def __repr__(self):
        return f"Device({self.spec!r}: {self.model}, {self.g_min * 1e6:.4g}-{self.g_max * 1e6:.4g} uS)"


def _device(d):
    return d if isinstance(d, Device) else Device(d)


_SCHEME_OPTS = {"direction": "up", "v": 0.0, "width": 0.0, "modulate_width": False, "v_start": 0.0, "v_stop": 0.0,
                "tol": 0.25, "max_pulses": 200, "verify_every": 0, "calibrate": "device", "coverage": 0.95,
                "target_uS": 0.0, "grid": "own", "ff_max_pulses": 0}


def _scheme(name, dev, opts):
    """An ml_scheme and direction from a scheme name and the CLI's programming options
    (prog_opts_resolve's checks, the messages naming the option)."""
    t = _lib.ml_scheme_lookup(str(name).encode()) if isinstance(name, str) else None
    if not t:
        raise ValueError(f"scheme: '{name}' is unknown ({', '.join(SCHEMES)})")
    o = dict(_SCHEME_OPTS)
    o.update(opts)
    if o["width"] < 0:
        raise ValueError(f"width: {o['width']} s must be positive")
    if o["v"] < 0:
        raise ValueError(f"v: give the magnitude in V ({o['v']} is negative)")
    if not 0 < o["tol"] <= 0.5:
        raise ValueError(f"tol: {o['tol']} must be within (0, 0.5]")
    if not 1 <= o["max_pulses"] <= 100000:
        raise ValueError(f"max_pulses: {o['max_pulses']} is out of range (1..100000)")
    if o["verify_every"] < 0:
        raise ValueError("verify_every: must not be negative")
    if not 0 < o["coverage"] < 1:
        raise ValueError(f"coverage: {o['coverage']} must be within (0, 1)")
    if o["target_uS"] < 0:
        raise ValueError(f"target_uS: {o['target_uS']} must be positive")
    if o["v_start"] < 0 or o["v_stop"] < 0:
        raise ValueError("v_start/v_stop must not be negative")
    if o["direction"] not in ("up", "down", "auto"):
        raise ValueError(f"direction: '{o['direction']}' must be up, down or auto")
    if o["calibrate"] not in ("device", "population"):
        raise ValueError(f"calibrate: '{o['calibrate']}' must be device or population")
    if o["grid"] not in ("own", "common"):
        raise ValueError(f"grid: '{o['grid']}' must be common or own")
    if o["width"] > 0 and not dev.width_min <= o["width"] <= dev.width_max:
        raise ValueError(f"width: {o['width']} s is outside the device's [{dev.width_min}, {dev.width_max}] s")
    vlim = dev.v_max * (1e9 if o["modulate_width"] else 1)
    if o["v"] > dev.v_max or o["v_start"] > vlim or o["v_stop"] > vlim:
        raise ValueError(f"v/v_start/v_stop exceed the device's safety limit v_max = {dev.v_max} V")
    s = _lib.Scheme()
    _lib.ml_scheme_defaults(byref(s), t)
    s.v, s.width, s.modulate_width = o["v"], o["width"], int(bool(o["modulate_width"]))
    s.v_start, s.v_stop, s.tol, s.max_pulses = o["v_start"], o["v_stop"], o["tol"], int(o["max_pulses"])
    s.verify_every = int(o["verify_every"])
    s.calib_per_device = int(o["calibrate"] == "device")
    s.coverage, s.target_top = o["coverage"], o["target_uS"] * 1e-6
    s.grid_common = int(o["grid"] == "common")
    if not isinstance(o["ff_max_pulses"], int) or not 0 <= o["ff_max_pulses"] <= 256:
        raise ValueError(f"ff_max_pulses: {o['ff_max_pulses']!r} is out of range (0..256)")
    if o["ff_max_pulses"] and (name != "feedforward" or o["verify_every"]):
        raise ValueError("ff_max_pulses: one-shot programming needs feedforward without verify_every")
    s.ff_max_pulses = o["ff_max_pulses"]
    if s.grid_common and not _lib.ml_scheme_targets(byref(s)):
        raise ValueError(f"grid: common needs a scheme that programs to targets (feedforward, verify), not {name}")
    return s, {"up": 1, "down": -1, "auto": 0}[o["direction"]]


def _split(options, allowed, fn):
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError(f"{fn}() got unexpected option(s): {', '.join(sorted(unknown))}")


def program(device, targets, scheme="feedforward", seed=1, threads=None, *, target_states=512, progress=True,
            **options):
    """Program one simulated device per target conductance and read each back.

    device: Device, preset name, JSON path or dict. targets: conductances in siemens, any
    shape. Every device is drawn from `seed` (device i of the population, in C order),
    calibrated and programmed by `scheme` from reset toward its target through the library's
    plan API (ml_program_conductances): the scheme's staircase of `target_states` steps sets
    its step size (feedforward: equal steps of at most one spacing, scheduled under each
    device's calibrated model; verify: closed loop within tol of a spacing; identical/ramp:
    the pulse count whose planned level is nearest). options: the programming options of
    `memlev levels` (direction, v, width, modulate_width, v_start, v_stop, tol, max_pulses,
    verify_every, calibrate, coverage, target_uS, grid, ff_max_pulses).

    Returns the read-back conductances (one noisy read each), float64, the targets' shape.
    Raises ValueError for a target outside the device's window [g_min, g_max] (naming the
    first bad flat index and the window) or a bad option."""
    _split(options, _SCHEME_OPTS, "program")
    dev = _device(device)
    g = np.array(targets, dtype=np.float64, order="C")
    flat = g.reshape(-1)
    bad = np.flatnonzero(~((flat >= dev.g_min) & (flat <= dev.g_max)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"target {i} ({flat[i]:g} S) is outside the programmable window "
                         f"[{dev.g_min:g}, {dev.g_max:g}] S of device '{dev.spec}'")
    if not isinstance(target_states, int) or not 2 <= target_states <= 100000:
        raise ValueError(f"target_states: {target_states!r} is out of range (2..100000)")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: {seed!r} must be a non-negative integer")
    s, d = _scheme(scheme, dev, options)
    out = np.empty_like(flat)
    if flat.size == 0:
        return out.reshape(g.shape)
    err, bar = _lib.Error(), _lib.Progress(progress)
    dp = ctypes.POINTER(c_double)
    try:
        with _lib.threads(threads):
            rc = _lib.ml_program_conductances(dev._ptr, byref(s), target_states, d, seed, flat.size,
                                              flat.ctypes.data_as(dp), out.ctypes.data_as(dp), None, None, bar.fn,
                                              None, byref(err))
    finally:
        bar.close()
    _lib.check(rc, err)
    return out.reshape(g.shape)


_LEVELS_OPTS = dict(_SCHEME_OPTS, devices=100, seed=1, target_states=512, pulse_cap=8192, k=3.0,
                    pass_fraction=0.9)


def levels(device, scheme="feedforward", *, threads=None, progress=True, **options):
    """The levels study (`memlev levels`): a staircase on `devices` simulated devices; returns
    the dict `memlev levels --json` writes, with the same keys and, for the same options
    and seed, the same figures (both come from ml_levels_result_json). options: devices
    [100], seed [1], target_states [512], pulse_cap [8192: while the states saturate at
    target_states + 1 the study doubles the pulse budget up to this, as long as the raised
    budget's calibration stays within calib_budget (default 1100 pulses per device); the
    JSON's `pulses` is the budget it ended at and `raise` says why it stopped], k [3],
    pass_fraction [0.9] and the programming options of program()."""
    _split(options, _LEVELS_OPTS, "levels")
    o = dict(_LEVELS_OPTS)
    o.update(options)
    dev = _device(device)
    if not isinstance(o["devices"], int) or not 1 <= o["devices"] <= 100000000:
        raise ValueError(f"devices: {o['devices']!r} is out of range (1..1e8)")
    if not isinstance(o["seed"], int) or o["seed"] < 0:
        raise ValueError("seed: must be a non-negative integer")
    if not isinstance(o["target_states"], int) or not 2 <= o["target_states"] <= 100000:
        raise ValueError(f"target_states: {o['target_states']!r} is out of range (2..100000)")
    if not isinstance(o["pulse_cap"], int) or not 2 <= o["pulse_cap"] <= 100000:
        raise ValueError(f"pulse_cap: {o['pulse_cap']!r} is out of range (2..100000)")
    if not 0 < o["k"] < 100:
        raise ValueError(f"k: {o['k']} is out of range (0..100)")
    if not 0 < o["pass_fraction"] <= 1:
        raise ValueError(f"pass_fraction: {o['pass_fraction']} must be within (0, 1]")
    s, d = _scheme(scheme, dev, {k: v for k, v in o.items() if k in _SCHEME_OPTS})
    bar = _lib.Progress(progress)
    so = _lib.LevelsStudyOpts(dev=dev._ptr, scheme=s, P=o["target_states"], P_max=o["pulse_cap"], dir=d, devices=o["devices"],
                              seed=o["seed"], k=float(o["k"]), frac=float(o["pass_fraction"]), progress=bar.fn)
    err, res = _lib.Error(), c_void_p()
    try:
        with _lib.threads(threads):
            rc = _lib.ml_levels_study(byref(so), byref(res), byref(err))
    finally:
        bar.close()
    _lib.check(rc, err)
    try:
        text = c_void_p()
        _lib.check(_lib.ml_levels_result_json(res, byref(text), byref(err)), err)
        return json.loads(_lib.take_text(text))
    finally:
        _lib.ml_levels_result_free(res)


def transfer(model, data="fashion-mnist", device="tio2x", schemes="feedforward",
             levels=(2, 4, 8, 16, 32, 64, 128, 256, 512), trials=5, *, mode="statistical", limit=0,
             per_channel=False, seed=1, sample_devices=1000, relax_time=0.0, batch=100, threads=None,
             calibrate="device", verify_every=0, grid="common", ff_max_pulses=0, reprogram_cycles=1, progress=True):
    """The transfer study (`memlev transfer`): the network in the ONNX file `model`, evaluated
    on `data` (fashion-mnist, an IDX folder or cifar10:DIR) after its weights are programmed
    onto differential pairs of `device`, per scheme and level count, `trials` Monte-Carlo
    trials each. Returns the dict `memlev transfer --json` writes (config, baseline_accuracy,
    images, points, complete), with the CLI's figures for the same arguments. `device` names
    the device in config as given (a Device gives its spec)."""
    if isinstance(schemes, str):
        schemes = schemes.split(",")
    schemes = list(schemes)
    lv = [levels] if isinstance(levels, int) else list(levels)
    if not schemes or len(schemes) > 4:
        raise ValueError("schemes: give 1 to 4 schemes")
    if not lv or len(lv) > 64 or any(not isinstance(n, int) or not 2 <= n <= 65536 for n in lv):
        raise ValueError(f"levels: {lv!r} must be 1 to 64 integers within 2..65536")
    if not isinstance(trials, int) or not 1 <= trials <= 10000:
        raise ValueError(f"trials: {trials!r} is out of range (1..10000)")
    if not isinstance(limit, int) or limit < 0:
        raise ValueError("limit: must not be negative")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError("seed: must not be negative")
    if not isinstance(sample_devices, int) or not 8 <= sample_devices <= 10000000:
        raise ValueError(f"sample_devices: {sample_devices!r} is out of range (8..1e7)")
    if not isinstance(batch, int) or not 1 <= batch <= 4096:
        raise ValueError(f"batch: {batch!r} is out of range (1..4096)")
    if relax_time < 0:
        raise ValueError("relax_time: must not be negative")
    if calibrate not in ("device", "population"):
        raise ValueError(f"calibrate: '{calibrate}' must be device or population")
    if not isinstance(verify_every, int) or verify_every < 0:
        raise ValueError("verify_every: must not be negative")
    if not isinstance(reprogram_cycles, int) or not 1 <= reprogram_cycles <= 1000000000:
        raise ValueError("reprogram_cycles: must be within 1..1e9")
    if grid not in ("common", "own"):
        raise ValueError(f"grid: '{grid}' must be common or own")
    if not isinstance(ff_max_pulses, int) or not 0 <= ff_max_pulses <= 256 or (ff_max_pulses and verify_every):
        raise ValueError(f"ff_max_pulses: {ff_max_pulses!r} must be within 0..256, without verify_every")
    if mode not in ("pulse", "statistical"):
        raise ValueError(f"mode: '{mode}' must be pulse or statistical")
    if relax_time > 0 and mode != "pulse":
        raise ValueError("relax_time needs mode='pulse'")
    dev = _device(device)
    types = []
    for name in schemes:
        t = _lib.ml_scheme_lookup(str(name).encode())
        if not t:
            raise ValueError(f"scheme: '{name}' is unknown ({', '.join(SCHEMES)})")
        types.append(t)
    model = os.fspath(model)
    config = {"model": model, "data": data, "device": dev.spec if not isinstance(device, Device) else device.spec,
              "mode": mode, "trials": trials, "reprogram_cycles": reprogram_cycles, "limit": limit, "seed": seed,
              "per_channel": bool(per_channel),
              "sample_devices": sample_devices, "relax_time": relax_time, "calibrate": calibrate,
              "verify_every": verify_every, "grid": grid, "ff_max_pulses": ff_max_pulses}
    err, net, ds = _lib.Error(), c_void_p(), c_void_p()
    _lib.check(_lib.ml_onnx_load(model.encode(), byref(net), byref(err)), err)
    res = c_void_p()
    bar = _lib.Progress(progress)
    try:
        _lib.check(_lib.ml_dataset_load(str(data).encode(), 0, byref(ds), byref(err)), err)
        lvarr = (c_int * len(lv))(*lv)
        o = _lib.TransferStudyOpts(dev=dev._ptr, nschemes=len(types), levels=lvarr, nlevels=len(lv), trials=trials,
                                   mode=_lib.TRANSFER_PULSE if mode == "pulse" else _lib.TRANSFER_STATISTICAL,
                                   per_channel=int(bool(per_channel)), limit=limit, seed=seed,
                                   sample_devices=sample_devices, relax_time=float(relax_time), batch=batch,
                                   calib_per_device=int(calibrate == "device"), verify_every=verify_every,
                                   grid_own=int(grid == "own"), ff_max_pulses=ff_max_pulses,
                                   reprogram_cycles=reprogram_cycles, baseline_accuracy=-1.0, progress=bar.fn)
        for i, t in enumerate(types):
            o.schemes[i] = t
        with _lib.threads(threads):
            rc = _lib.ml_transfer_study(net, ds, byref(o), byref(res), byref(err))
        _lib.check(rc, err)
        text = c_void_p()
        _lib.check(_lib.ml_transfer_result_json(res, byref(text), byref(err)), err)
        out = {"config": config}
        out.update(json.loads(_lib.take_text(text)))
        out["complete"] = True
        return out
    finally:
        bar.close()
        _lib.ml_transfer_result_free(res)
        _lib.ml_dataset_free(ds)
        _lib.ml_net_free(net)
