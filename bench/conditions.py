"""The measuring conditions every bench script fixes and prints (issue 19).

A comparison is only worth quoting when every contender ran under the same thread counts and
the reader can see the machine's load.  :func:`pin_threads` re-executes the script once with
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` set, because BLAS reads
them when numpy is first imported and cannot be changed afterwards for all libraries alike;
the children a script starts inherit the same environment, and torch's intra-op pool is set
to the same number.  :func:`describe` is the header line each table prints.
"""
from __future__ import annotations

import os
import platform
import sys

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MARK = "LAGDSL_BENCH_THREADS"


def pin_threads(n: int) -> None:
    """Run this script under ``n`` BLAS/OpenMP threads for every contender (re-exec once)."""
    if os.environ.get(MARK) == str(n):
        _torch_threads(n)
        return
    env = dict(os.environ, **{v: str(n) for v in THREAD_VARS}, **{MARK: str(n)})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _torch_threads(n: int) -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def set_torch_threads() -> None:
    """Call after importing torch in a contender: the pinned count for its intra-op pool."""
    n = os.environ.get(MARK)
    if n:
        _torch_threads(int(n))


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def blas_info() -> str:
    """The BLAS libraries numpy/scipy loaded and their thread counts (threadpoolctl, if present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    import numpy  # noqa: F401  (load the libraries to be described)
    import scipy.linalg  # noqa: F401
    return "; ".join("%s %s %s threads=%s" % (d.get("internal_api"), d.get("version"),
                                               d.get("architecture", ""), d.get("num_threads"))
                     for d in threadpool_info())


def describe() -> str:
    """One line: cores, CPU, load average, the pinned thread counts and what BLAS runs."""
    load = " ".join("%.2f" % v for v in os.getloadavg())
    pinned = ", ".join("%s=%s" % (v, os.environ.get(v, "unset")) for v in THREAD_VARS)
    return ("conditions: %d cores (%s), load average %s; %s; torch intra-op threads = the same; "
            "BLAS: %s; timer: time.perf_counter (wall)" % (os.cpu_count() or 0, _cpu(), load,
                                                           pinned, blas_info()))
