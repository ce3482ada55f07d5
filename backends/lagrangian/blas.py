"""Keep scipy's and numpy's OpenBLAS on one thread while L-BFGS-B runs.

L-BFGS-B calls level-1/2 BLAS on vectors; a multi-threaded OpenBLAS wakes its worker threads
for each call, which on the loaded 2-core machine was measured at ~6 ms per L-BFGS-B call for
a 2-unknown problem (0.9 s for HS6, against 25 ms with one thread) and 141 ms per call at
100,000 unknowns (28 s of a 34 s run, against about 2 ms single-threaded).
``openblas_set_num_threads_local`` changes only the calling thread's setting, so other
threads of the user's process keep theirs.  Where the library or symbol is not found this
does nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

_LIBS: list | None = None


def _libs() -> list:
    global _LIBS
    if _LIBS is None:
        _LIBS = []
        try:
            import numpy
            import scipy
            paths = []
            for mod, libs in ((scipy, "scipy.libs"), (numpy, "numpy.libs")):
                root = os.path.dirname(os.path.dirname(mod.__file__))
                paths += glob.glob(os.path.join(root, libs, "*openblas*.so*"))
            for path in paths:
                lib = ctypes.CDLL(path)
                fn = getattr(lib, "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.restype = ctypes.c_int
                    fn.argtypes = [ctypes.c_int]
                    _LIBS.append(fn)
        except (OSError, ImportError):
            _LIBS = []
    return _LIBS


@contextlib.contextmanager
def single_threaded_blas(enabled: bool = True):
    """One BLAS thread for the calling thread inside the block (restored after)."""
    fns = _libs() if enabled else []
    old = [fn(1) for fn in fns]
    try:
        yield
    finally:
        for fn, n in zip(fns, old):
            fn(n)
