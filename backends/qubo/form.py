"""The QUBO form: ``E(x) = offset + linear . x + sum_k quad[k] x[i_k] x[j_k]`` over binary ``x``.

One :class:`Qubo` holds the couplings as merged COO triplets with ``i < j`` (``x_i^2 = x_i``
is folded into the linear part on construction), so that adding, scaling and evaluating a
batch of samples are a few numpy calls.  :func:`all_energies` enumerates ``E`` over all
``2^n`` bitstrings in qiskit's little-endian order (bit ``q`` of index ``k`` is qubit ``q``),
the common ground of the ``exact`` sampler, the fast QAOA statevector and the dual bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .qiskit_home import qiskit_ready

#: Bitstrings enumerated per chunk (keeps the work arrays near 2^20 x n bytes).
CHUNK = 1 << 20


@dataclass
class Qubo:
    """A quadratic form over ``n`` binaries (see module docstring)."""

    n: int
    linear: np.ndarray
    i: np.ndarray
    j: np.ndarray
    quad: np.ndarray
    offset: float = 0.0

    @staticmethod
    def build(n: int, linear=None, i=(), j=(), coef=(), offset: float = 0.0) -> "Qubo":
        """A QUBO from unmerged triplets: diagonal terms go to the linear part, ``(i, j)``
        and ``(j, i)`` are merged, zeros dropped."""
        lin = np.zeros(n) if linear is None else np.asarray(linear, dtype=np.float64).copy()
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        c = np.asarray(coef, dtype=np.float64)
        diag = i == j
        np.add.at(lin, i[diag], c[diag])
        a, b, c = np.minimum(i[~diag], j[~diag]), np.maximum(i[~diag], j[~diag]), c[~diag]
        if len(c):
            M = sp.coo_matrix((c, (a, b)), shape=(n, n)).tocsr()
            M.sum_duplicates()
            M.eliminate_zeros()
            M = M.tocoo()
            a, b, c = M.row.astype(np.int64), M.col.astype(np.int64), M.data
        return Qubo(n, lin, a, b, c, float(offset))

    @staticmethod
    def from_matrix(M: sp.spmatrix, linear=None, offset: float = 0.0) -> "Qubo":
        """``x' M x + linear . x + offset`` for any (not necessarily symmetric) sparse ``M``."""
        C = sp.coo_matrix(M)
        return Qubo.build(M.shape[0], linear, C.row, C.col, C.data, offset)

    def __add__(self, other: "Qubo") -> "Qubo":
        return Qubo.build(self.n, self.linear + other.linear, np.concatenate([self.i, other.i]),
                          np.concatenate([self.j, other.j]), np.concatenate([self.quad, other.quad]),
                          self.offset + other.offset)

    def scaled(self, s: float) -> "Qubo":
        """``s * E``."""
        return Qubo(self.n, self.linear * s, self.i, self.j, self.quad * s, self.offset * s)

    @property
    def separable(self) -> bool:
        """Whether there are no couplings (the minimum is a per-bit sign test)."""
        return not np.any(self.quad)

    def energy(self, X: np.ndarray) -> np.ndarray:
        """Energies of the samples ``X`` (``k x n`` of 0/1)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.n)
        e = self.offset + X @ self.linear
        if len(self.quad):
            # sum_k quad_k x_i x_j = rowsum((X U) * X) with U upper triangular: k x n work
            # arrays, not k x couplings
            e = e + np.einsum("ki,ki->k", np.asarray(self.matrix().T @ X.T).T, X)
        return e

    def matrix(self) -> sp.csr_matrix:
        """Upper-triangular coupling matrix (``i < j``)."""
        return sp.csr_matrix((self.quad, (self.i, self.j)), shape=(self.n, self.n))

    def symmetric(self) -> sp.csr_matrix:
        """Symmetric ``S`` with zero diagonal and ``x' S x / 2`` equal to the coupling part."""
        U = self.matrix()
        return (U + U.T).tocsr()

    def minimum(self) -> tuple[float, np.ndarray]:
        """Exact minimum and a minimiser of a separable QUBO (per-bit sign test)."""
        assert self.separable
        x = (self.linear < 0).astype(np.float64)
        return float(self.offset + np.minimum(self.linear, 0).sum()), x

    def scale(self) -> float:
        """Largest absolute coefficient (1 for an all-zero form)."""
        m = max(np.max(np.abs(self.linear), initial=0.0), np.max(np.abs(self.quad), initial=0.0))
        return float(m) if m > 0 else 1.0

    def ising(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """``(h, i, j, J, const)`` with ``E = const + sum h_q z_q + sum J z_i z_j`` for
        ``x = (1 - z) / 2`` (``z = +1`` is bit 0, qiskit's ``|0>``)."""
        h = -self.linear / 2.0
        J = self.quad / 4.0
        np.add.at(h, self.i, -J)
        np.add.at(h, self.j, -J)
        const = self.offset + self.linear.sum() / 2.0 + J.sum()
        return h, self.i, self.j, J, float(const)

    def pauli(self, scale: float = 1.0):
        """The Ising Hamiltonian ``E / scale`` as a qiskit ``SparsePauliOp`` over ``n`` qubits
        (identity term included, so its eigenvalues are exactly the energies)."""
        qiskit_ready()
        from qiskit.quantum_info import SparsePauliOp
        h, i, j, J, const = self.ising()
        terms = [("", [], const / scale)]
        terms += [("Z", [q], v / scale) for q, v in enumerate(h) if v != 0]
        terms += [("ZZ", [a, b], v / scale) for a, b, v in zip(i.tolist(), j.tolist(), J) if v != 0]
        return SparsePauliOp.from_sparse_list(terms, num_qubits=self.n).simplify(atol=0)


def bits_of(index: np.ndarray, n: int) -> np.ndarray:
    """0/1 rows (``len(index) x n``, uint8) of basis-state indices (qubit ``q`` = bit ``q``)."""
    index = np.asarray(index, dtype=np.int64)
    return ((index[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.uint8)


def all_energies(q: Qubo) -> np.ndarray:
    """``E`` of all ``2^n`` bitstrings (float64, little-endian order), in chunks."""
    n = q.n
    out = np.empty(1 << n)
    S = q.symmetric().toarray() / 2.0 if len(q.quad) else None
    for start in range(0, 1 << n, CHUNK):
        stop = min(1 << n, start + CHUNK)
        X = bits_of(np.arange(start, stop), n).astype(np.float64)
        e = q.offset + X @ q.linear
        if S is not None:
            e += np.einsum("ki,ki->k", X @ S, X)
        out[start:stop] = e
    return out


def all_rows(A: sp.csr_matrix, n: int) -> np.ndarray:
    """``A @ x`` for all ``2^n`` bitstrings (``2^n x m``, float32 to halve memory)."""
    out = np.empty((1 << n, A.shape[0]), dtype=np.float32)
    for start in range(0, 1 << n, CHUNK):
        stop = min(1 << n, start + CHUNK)
        X = bits_of(np.arange(start, stop), n).astype(np.float32)
        out[start:stop] = np.asarray((A @ X.T).T) if A.nnz else 0.0
    return out
