"""libmemlev through ctypes: finding the library, the C structures the bindings pass, errors
and progress callbacks. Only functions the headers mark ML_API are used."""

import ctypes
import os
import pathlib
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int,
                    c_size_t, c_uint64, c_void_p)

_REPO_LIB = pathlib.Path(__file__).resolve().parents[2] / "build" / "libmemlev.so"


def _load():
    tried = []
    env = os.environ.get("MEMLEV_LIB")
    if env:
        try:
            return ctypes.CDLL(env)
        except OSError as e:
            tried.append(f"MEMLEV_LIB={env} ({e})")
    else:
        tried.append("MEMLEV_LIB (not set)")
    if _REPO_LIB.exists():
        try:
            return ctypes.CDLL(str(_REPO_LIB))
        except OSError as e:
            tried.append(f"{_REPO_LIB} ({e})")
    else:
        tried.append(f"{_REPO_LIB} (no such file: build the repository with cmake)")
    try:
        return ctypes.CDLL("libmemlev.so.0")
    except OSError:
        try:
            return ctypes.CDLL("libmemlev.so")
        except OSError as e:
            tried.append(f"libmemlev.so on the system library path ({e})")
    raise ImportError("memlev: cannot load libmemlev; tried " + "; ".join(tried))


lib = _load()

ML_EINVAL, ML_EIO, ML_EFORMAT, ML_ENOMEM, ML_EUNSUPP = 1, 2, 3, 4, 5


class Error(Structure):
    _fields_ = [("code", c_int), ("msg", c_char * 512)]


class MemlevError(RuntimeError):
    """A libmemlev call failed for a reason other than bad input (I/O, memory, format)."""


class Scheme(Structure):
    """ml_scheme (include/memlev/program.h)."""
    _fields_ = [("type", c_void_p), ("v", c_double), ("width", c_double), ("modulate_width", c_int),
                ("v_start", c_double), ("v_stop", c_double), ("tol", c_double), ("v_step", c_double),
                ("max_pulses", c_int), ("max_reversals", c_int), ("verify_every", c_int),
                ("calib_per_device", c_int), ("calib_rounds", c_int), ("calib_read_every", c_int),
                ("calib_trains", c_int), ("calib_train_len", c_int), ("calib_budget", c_double),
                ("coverage", c_double),
                ("target_top", c_double), ("reset_mode", c_int), ("reset_max_pulses", c_int),
                ("reset_tol", c_double), ("grid_common", c_int), ("ff_max_pulses", c_int)]


class Cost(Structure):
    _fields_ = [("pulses", c_double), ("reads", c_double), ("time_s", c_double), ("energy_j", c_double),
                ("converged", c_size_t), ("failed", c_size_t), ("reset_pulses", c_double),
                ("reset_reads", c_double), ("reset_time_s", c_double), ("reset_energy_j", c_double),
                ("resets", c_double)]


PROGRESS_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_double, c_double)


class LevelsStudyOpts(Structure):
    _fields_ = [("dev", c_void_p), ("scheme", Scheme), ("P", c_int), ("P_max", c_int), ("dir", c_int),
                ("devices", c_size_t),
                ("seed", c_uint64), ("k", c_double), ("frac", c_double), ("progress", PROGRESS_FN),
                ("progress_ctx", c_void_p), ("reprogram_cycles", c_int), ("calib_budget", c_double)]


POINT_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_int)


class TransferStudyOpts(Structure):
    _fields_ = [("dev", c_void_p), ("schemes", c_void_p * 8), ("nschemes", c_int), ("levels", POINTER(c_int)),
                ("nlevels", c_int), ("trials", c_int), ("mode", c_int), ("per_channel", c_int), ("limit", c_size_t),
                ("seed", c_uint64), ("sample_devices", c_size_t), ("relax_time", c_double), ("batch", c_int),
                ("calib_per_device", c_int), ("verify_every", c_int), ("grid_own", c_int), ("ff_max_pulses", c_int),
                ("baseline_accuracy", c_double),
                ("done", c_void_p), ("ndone", c_size_t), ("on_point", POINT_FN), ("ctx", c_void_p),
                ("progress", PROGRESS_FN), ("progress_ctx", c_void_p), ("reprogram_cycles", c_int)]


class TransferOpts(Structure):
    _fields_ = [("mode", c_int), ("per_channel", c_int), ("relax_time", c_double), ("seed", c_uint64)]


class TransferStats(Structure):
    _fields_ = [("devices", c_double), ("pulses", c_double), ("reads", c_double), ("energy_j", c_double),
                ("seconds", c_double), ("device_seconds", c_double), ("calib_pulses", c_double),
                ("reset_pulses", c_double), ("reset_reads", c_double), ("reset_energy_j", c_double),
                ("reset_seconds", c_double), ("calib_reads", c_double), ("calib_energy_j", c_double),
                ("calib_seconds", c_double)]


TRANSFER_PULSE, TRANSFER_STATISTICAL, TRANSFER_QUANTIZE = 0, 1, 2


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


E = POINTER(Error)
ml_free = _fn("ml_free", None, c_void_p)
ml_device_new = _fn("ml_device_new", c_int, c_char_p, POINTER(c_void_p), E)
ml_device_new_json = _fn("ml_device_new_json", c_int, c_char_p, c_char_p, POINTER(c_void_p), E)
ml_device_free = _fn("ml_device_free", None, c_void_p)
ml_device_to_json = _fn("ml_device_to_json", c_void_p, c_void_p)
ml_scheme_lookup = _fn("ml_scheme_lookup", c_void_p, c_char_p)
ml_scheme_targets = _fn("ml_scheme_targets", c_int, POINTER(Scheme))
ml_scheme_defaults = _fn("ml_scheme_defaults", None, POINTER(Scheme), c_void_p)
ml_program_conductances = _fn("ml_program_conductances", c_int, c_void_p, POINTER(Scheme), c_int, c_int, c_uint64,
                              c_size_t, POINTER(c_double), POINTER(c_double), POINTER(Cost), POINTER(Cost),
                              PROGRESS_FN, c_void_p, E)
ml_levels_study = _fn("ml_levels_study", c_int, POINTER(LevelsStudyOpts), POINTER(c_void_p), E)
ml_levels_result_json = _fn("ml_levels_result_json", c_int, c_void_p, POINTER(c_void_p), E)
ml_levels_result_free = _fn("ml_levels_result_free", None, c_void_p)
ml_onnx_load = _fn("ml_onnx_load", c_int, c_char_p, POINTER(c_void_p), E)
ml_net_free = _fn("ml_net_free", None, c_void_p)
ml_dataset_load = _fn("ml_dataset_load", c_int, c_char_p, c_int, POINTER(c_void_p), E)
ml_dataset_free = _fn("ml_dataset_free", None, c_void_p)
ml_transfer_study = _fn("ml_transfer_study", c_int, c_void_p, c_void_p, POINTER(TransferStudyOpts),
                        POINTER(c_void_p), E)
ml_transfer_result_json = _fn("ml_transfer_result_json", c_int, c_void_p, POINTER(c_void_p), E)
ml_transfer_result_free = _fn("ml_transfer_result_free", None, c_void_p)
ml_levelset_build = _fn("ml_levelset_build", c_int, c_void_p, POINTER(Scheme), c_int, c_size_t, c_uint64,
                        POINTER(c_void_p), E)
ml_levelset_free = _fn("ml_levelset_free", None, c_void_p)
ml_transfer_array = _fn("ml_transfer_array", c_int, POINTER(c_float), c_size_t, c_size_t, c_void_p,
                        POINTER(TransferOpts), c_uint64, POINTER(c_float), POINTER(c_double), POINTER(c_double),
                        POINTER(TransferStats), E)


def check(rc, err):
    """Raise for a nonzero status: ValueError for bad input (ML_EINVAL, ML_EFORMAT), OSError for
    I/O, MemoryError, MemlevError otherwise; the message is the library's."""
    if rc == 0:
        return
    msg = err.msg.decode("utf-8", "replace")
    if rc in (ML_EINVAL, ML_EFORMAT):
        raise ValueError(msg)
    if rc == ML_EIO:
        raise OSError(msg)
    if rc == ML_ENOMEM:
        raise MemoryError(msg)
    raise MemlevError(msg)


def take_text(ptr):
    """The NUL-terminated text at ptr (library-allocated), freed."""
    if not ptr:
        raise MemoryError("memlev: out of memory")
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        ml_free(ptr)


def seed_mix(seed, sub):
    """ml_seed_mix (include/memlev/rng.h): the seed of trial `sub` of a study."""
    m = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15 * (sub + 1)) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


class Progress:
    """A progress callback for the library (ml_progress_fn): tqdm when installed, else a line
    on stderr when it is a terminal; a callable gets (label, done, total). Library callbacks
    run on the calling thread between units of work; ctypes takes the GIL for them."""

    def __init__(self, show):
        self.show, self.bar, self.label = show, None, None
        self.fn = PROGRESS_FN(self._cb) if show else PROGRESS_FN()

    def _cb(self, ctx, label, done, total):
        try:
            label = label.decode() if label else ""
            if callable(self.show):
                self.show(label, done, total)
                return
            if self.bar is None or label != self.label:
                self.close()
                self.label = label
                try:
                    from tqdm import tqdm
                    self.bar = tqdm(total=total, desc=label, unit="unit")
                except ImportError:
                    self.bar = _Line(label, total)
            self.bar.update(done - self.bar.n)
        except Exception:  # a failing bar must never break the computation
            pass

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Line:
    """A one-line bar on stderr (only when stderr is a terminal)."""

    def __init__(self, label, total):
        self.label, self.total, self.n = label, total, 0
        self.on = sys.stderr.isatty()

    def update(self, k):
        self.n += k
        if self.on:
            sys.stderr.write(f"\r{self.label}: {self.n:.0f}/{self.total:.0f}")
            sys.stderr.flush()

    def close(self):
        if self.on:
            sys.stderr.write("\n")


class threads:
    """Run a block with n OpenMP threads (None: leave them), restoring the count afterwards.
    Results do not depend on it; it only changes speed."""

    def __init__(self, n):
        self.n, self.old, self.omp = n, None, None

    def __enter__(self):
        if self.n is None:
            return self
        if not (isinstance(self.n, int) and 1 <= self.n <= 4096):
            raise ValueError(f"threads: {self.n!r} must be an integer within 1..4096")
        try:
            self.omp = ctypes.CDLL("libgomp.so.1")
        except OSError:
            return self
        self.old = self.omp.omp_get_max_threads()
        self.omp.omp_set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.omp is not None and self.old is not None:
            self.omp.omp_set_num_threads(self.old)
        return False
