"""Samplers: draw low-energy bitstrings of a :class:`~.form.Qubo`.

Every sampler has ``name``, ``max_qubits`` and ``sample(qubo, seed) -> Samples``:

* :class:`ExactSampler` — enumerates all ``2^n`` energies (vectorised, in chunks) and
  returns the ``num_samples`` lowest;
* :class:`AnnealSampler` — dwave-samplers' ``SimulatedAnnealingSampler`` on a dimod
  ``BinaryQuadraticModel`` (``num_reads``, ``num_sweeps``, the seed passed through);
* :class:`~.qaoa.QaoaSampler` (in :mod:`.qaoa`) — QAOA circuits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .form import Qubo, all_energies, bits_of


@dataclass
class Samples:
    """Distinct bitstrings ``X`` (``k x n`` uint8) with how often each was drawn."""

    X: np.ndarray
    counts: np.ndarray

    @staticmethod
    def of(X: np.ndarray, counts: np.ndarray | None = None) -> "Samples":
        """Merge duplicate rows of ``X``."""
        X = np.asarray(X, dtype=np.uint8)
        c = np.ones(len(X), dtype=np.int64) if counts is None else np.asarray(counts, np.int64)
        if len(X) == 0:
            return Samples(X.reshape(0, X.shape[1] if X.ndim == 2 else 0), c)
        U, inv = np.unique(X, axis=0, return_inverse=True)
        return Samples(U, np.bincount(inv.ravel(), weights=c, minlength=len(U)).astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())


class ExactSampler:
    """Exact enumeration: the ``num_samples`` lowest-energy bitstrings."""

    name = "exact"
    max_qubits = 24
    deadline = None            # one enumeration of at most 2^24 states: not interrupted

    def __init__(self, num_samples: int = 64):
        self.num_samples = num_samples

    def sample(self, qubo: Qubo, seed: int) -> Samples:
        """The lowest-energy states, each counted once."""
        E = all_energies(qubo)
        k = min(self.num_samples, len(E))
        idx = np.argpartition(E, k - 1)[:k] if k < len(E) else np.arange(len(E))
        return Samples(bits_of(idx[np.argsort(E[idx], kind="stable")], qubo.n),
                       np.ones(k, dtype=np.int64))


#: dwave-samplers takes seeds in [0, 2^31) (its message says 2^32; 2^31 and up fail)
SEED_RANGE = 2 ** 31
#: Seconds of annealing between two looks at the clock under a ``time_limit``.
PIECE_SECONDS = 0.1


class AnnealSampler:
    """Simulated annealing from dwave-samplers on a dimod BQM."""

    name = "anneal"
    max_qubits = 100_000

    def __init__(self, num_reads: int = 100, num_sweeps: int = 1000):
        self.num_reads = num_reads
        self.num_sweeps = num_sweeps
        self.deadline: float | None = None     # perf_counter time after which reads stop

    def sample(self, qubo: Qubo, seed: int) -> Samples:
        """``num_reads`` annealing runs (the seed makes them reproducible)."""
        import warnings
        from dwave.samplers import SimulatedAnnealingSampler
        bqm = to_bqm(qubo)
        with warnings.catch_warnings():
            # an all-zero QUBO (every bitstring equally good) makes dwave warn about its
            # temperature range; the samples are still valid, and users get no raw warnings
            warnings.simplefilter("ignore", UserWarning)
            if self.deadline is None:
                ss = SimulatedAnnealingSampler().sample(bqm, num_reads=self.num_reads,
                                                        num_sweeps=self.num_sweeps, seed=int(seed) % SEED_RANGE)
            else:
                ss = self._sample_until(bqm, int(seed))
        order = np.argsort(np.asarray(list(ss.variables)))
        X = np.asarray(ss.record.sample)[:, order]
        return Samples.of(X, ss.record.num_occurrences)

    def _sample_until(self, bqm, seed: int):
        """The same anneal (dwave's default geometric schedule over ``num_sweeps``) run in
        pieces of about :data:`PIECE_SECONDS`, each continuing from the states the last one
        left, so that the ``deadline`` ends it between pieces (one read cannot be interrupted
        inside dwave's C loop).  The reads stop where the deadline finds them."""
        import time
        from dwave.samplers import SimulatedAnnealingSampler
        from dwave.samplers.sa.sampler import default_beta_range
        lo, hi = default_beta_range(bqm)
        n = self.num_sweeps
        if n == 1:
            schedule = np.array([hi], dtype=np.float64)
        elif min(lo, hi) > 0:
            schedule = np.geomspace(lo, hi, n)
        else:
            schedule = np.linspace(lo, hi, n)
        sampler, ss, start, piece, k = SimulatedAnnealingSampler(), None, 0, 1, 0
        while start < n:
            t0 = time.perf_counter()
            seg = schedule[start:start + piece]
            init = {} if ss is None else {"initial_states": ss, "initial_states_generator": "none"}
            ss = sampler.sample(bqm, num_reads=None if ss is not None else self.num_reads,
                                beta_schedule_type="custom", beta_schedule=seg,
                                seed=(seed + 104729 * k) % SEED_RANGE, **init)
            start, k = start + len(seg), k + 1
            took = time.perf_counter() - t0
            if time.perf_counter() >= self.deadline:
                break
            piece = int(max(1, min(8 * piece, piece * PIECE_SECONDS / max(took, 1e-6))))
        return ss


def to_bqm(qubo: Qubo):
    """A dimod ``BinaryQuadraticModel`` (variables ``0..n-1``) with the same energies."""
    import dimod
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        qubo.linear, (qubo.i, qubo.j, qubo.quad), qubo.offset, dimod.BINARY)
    bqm.add_variables_from((q, 0.0) for q in range(qubo.n))     # keep unused qubits
    return bqm
