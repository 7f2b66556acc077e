"""memlev.torch: program a PyTorch module's weights onto simulated devices as `memlev transfer`
does, and get back the module whose weights are what the devices hold (needs torch).

The rules are the library's own (ml_levelset_build, ml_transfer_array; docs/python.md):
every weight w of a Conv/Linear layer becomes a differential pair (G+, G-): one device stays
at the reset level, the other goes to the level nearest |w| * scale, where the levels are
the measured means of `levels` programmed levels of the scheme (their distance above the
reset level's mean) and scale = (top level - reset level) / max|w| over the layer (or over
each output channel with per_channel). The effective weight is (G+ - G-) / scale, read back
from the programmed devices (mode "pulse"), sampled from each level's measured distribution
(mode "statistical", the default, as `memlev transfer`), or the level means (mode
"quantized", the software-quantised baseline). Biases and normalisation layers stay as they
are. Devices are numbered in the order module.modules() yields the layers, two per weight in
the weight's C order, as `memlev transfer` numbers an ONNX model's weight tensors."""

import copy
import ctypes
from ctypes import byref, c_float, c_void_p

import numpy as np
import torch

from . import Device, _lib, _scheme

__all__ = ["program_module"]

_MODES = {"pulse": _lib.TRANSFER_PULSE, "statistical": _lib.TRANSFER_STATISTICAL,
          "quantized": _lib.TRANSFER_QUANTIZE}
_LAYERS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)


def program_module(module, device, scheme, levels, seed=1, per_channel=False, *, mode="statistical",
                   sample_devices=1000, relax_time=0.0, calibrate="device", verify_every=0, trial=0,
                   threads=None, progress=True):
    """A deep copy of `module` whose Conv1d/2d/3d and Linear weights are the effective weights
    of differential pairs of `device` programmed with `scheme` to `levels` levels, exactly as
    trial `trial` of `memlev transfer --scheme S --levels N --seed seed` maps, programs and
    reads them (level set from `sample_devices` devices, seed as the CLI's; the devices'
    draws from the trial's seed). Returns the copy; `module` is not changed."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError("program_module: module must be a torch.nn.Module")
    if mode not in _MODES:
        raise ValueError(f"mode: '{mode}' must be one of {', '.join(_MODES)}")
    if not isinstance(levels, int) or not 2 <= levels <= 65536:
        raise ValueError(f"levels: {levels!r} is out of range (2..65536)")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError("seed: must be a non-negative integer")
    if not isinstance(trial, int) or trial < 0:
        raise ValueError("trial: must be a non-negative integer")
    if not isinstance(sample_devices, int) or not 8 <= sample_devices <= 10000000:
        raise ValueError(f"sample_devices: {sample_devices!r} is out of range (8..1e7)")
    if relax_time < 0 or (relax_time > 0 and mode != "pulse"):
        raise ValueError("relax_time: must not be negative, and needs mode='pulse'")
    dev = device if isinstance(device, Device) else Device(device)
    # the study's scheme: defaults plus its calibration and hybrid options only
    s, _ = _scheme(scheme, dev, {"calibrate": calibrate, "verify_every": verify_every})
    out = copy.deepcopy(module)
    layers = [m for m in out.modules() if isinstance(m, _LAYERS)]
    err, ls = _lib.Error(), c_void_p()
    bar = _lib.Progress(progress)
    try:
        with _lib.threads(threads):
            _lib.check(_lib.ml_levelset_build(dev._ptr, byref(s), levels, sample_devices, seed, byref(ls),
                                              byref(err)), err)
            o = _lib.TransferOpts(mode=_MODES[mode], per_channel=int(bool(per_channel)),
                                  relax_time=float(relax_time), seed=_lib.seed_mix(seed, trial))
            st = _lib.TransferStats()
            first = 0
            fp = ctypes.POINTER(c_float)
            total = sum(m.weight.numel() for m in layers)
            for m in layers:
                w = np.ascontiguousarray(m.weight.detach().cpu().numpy(), dtype=np.float32)
                r = np.empty_like(w)
                rows = w.shape[0]
                rc = _lib.ml_transfer_array(w.ctypes.data_as(fp), rows, w.size // rows, ls, byref(o), first,
                                            r.ctypes.data_as(fp), None, None, byref(st), byref(err))
                _lib.check(rc, err)
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(r).to(m.weight.dtype))
                first += 2 * w.size
                bar._cb(None, b"program_module", first / 2, total)
    finally:
        bar.close()
        _lib.ml_levelset_free(ls)
    return out
