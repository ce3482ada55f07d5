"""Where qiskit is first used: a thread that lives as long as the process.

qiskit 2.x's Rust extension allocates with a bundled mimalloc that crashes the process
(segfault in ``mi_thread_init``) when a new thread allocates after the thread that first
used it has ended.  That is what happens to any caller that solves on short-lived threads:
the CLI run twice in one process (``lagdsl.cli.main`` solves in a fresh worker thread each
time), a thread pool, a Dask worker.  :func:`qiskit_ready`, called before each of this
backend's qiskit imports, makes the first use happen on the main thread when it is the
caller, else on a parked daemon thread that never ends.
"""
from __future__ import annotations

import threading

_ready = False
_lock = threading.Lock()


def _first_use() -> None:
    from qiskit.quantum_info import SparsePauliOp
    SparsePauliOp.from_sparse_list([("Z", [0], 1.0)], num_qubits=1).simplify(atol=0)


def qiskit_ready() -> None:
    """Import qiskit and allocate with its Rust extension once, on a thread that outlives
    every later use (see the module docstring); cheap after the first call."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        if threading.current_thread() is threading.main_thread():
            _first_use()
        else:
            done = threading.Event()
            failed: list = []

            def home():
                try:
                    _first_use()
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    failed.append(exc)
                finally:
                    done.set()
                threading.Event().wait()        # parked for the life of the process

            threading.Thread(target=home, name="lagdsl-qiskit-home", daemon=True).start()
            done.wait()
            if failed:
                raise failed[0]
        _ready = True
