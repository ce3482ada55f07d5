"""QAOA: circuits from ``qiskit.circuit.library.qaoa_ansatz``, angles trained classically.

The cost operator is the Ising form of the QUBO divided by its largest coefficient
(:meth:`~.form.Qubo.pauli`), so that angles of order one make sense for any data.  The
circuit is ``H^n`` then, per layer, ``exp(-i gamma H_C)`` and ``RX(2 beta)`` on every qubit
(qiskit's parameters ``beta[0..p-1]`` then ``gamma[0..p-1]``).

Simulators (``simulator=``):

* ``fast`` — an exact statevector for diagonal costs in numpy: the energies of all ``2^n``
  bitstrings are computed once (:func:`~.form.all_energies`), a cost layer is an elementwise
  phase ``exp(-i gamma E)`` (gathered from the distinct energy levels when there are few), the
  mixer ``RX`` on every qubit as a few dense ``2^4 x 2^4`` matrix products over blocks of
  qubits (:func:`on_every_qubit`); no circuit is built (its depth is counted,
  :func:`ansatz_depth`) and neither qiskit nor torch is imported.  Tests check it against
  qiskit's ``Statevector`` and Aer;
* ``statevector`` — qiskit's ``Statevector`` of the bound circuit, for training and sampling;
* ``aer`` — angles trained on the exact fast path, then the transpiled circuit run on
  ``AerSimulator`` with ``shots`` measurements and, with ``noise=p``, a depolarising error of
  ``p`` on every one-qubit gate and ``2p`` on every two-qubit gate (what noise does to
  feasibility shows in ``feasible_fraction``).

Training minimises the CVaR of the energy (the mean of the lowest ``cvar`` fraction of the
distribution; ``cvar=1`` is the plain expectation) from the previous iteration's angles (a
warm start across multiplier updates) or, on the first, from a schedule: on the fast path (also
used to train for ``aer``), depth 1 is trained from a linear ramp (the discretised annealing
path of TQA initialisation) and each further layer starts from the trained angles of the depth
below interpolated onto one more layer (INTERP, Zhou et al. 2020; :func:`interpolate`), with
BFGS, the exact adjoint gradient of :func:`fast_value_grad`, and a stop on a plateau of the
energy (:class:`lagdsl.plateau.Plateau`) or after ``train_iter`` iterations; ``restarts - 1``
random starts follow (one start by default).  ``simulator=statevector`` trains by COBYLA through
qiskit's ``Statevector`` from the ramp of depth ``reps`` and the random starts.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from lagdsl.plateau import Plateau

from .form import Qubo, all_energies, bits_of
from .qiskit_home import qiskit_ready
from .samplers import Samples

#: Total evolution time of the linear-ramp starting angles (for costs scaled to |coef| <= 1).
RAMP = 0.75

#: Angle training ends when the energy changed by less than TRAIN_RTOL (relative) over the
#: last TRAIN_WINDOW BFGS iterations, or after ``train_iter`` iterations.
TRAIN_RTOL, TRAIN_WINDOW = 1e-3, 2

#: qubit limits per simulator (a statevector of 2^n complex128 numbers).
MAX_QUBITS = {"fast": 24, "statevector": 20, "aer": 24}


#: Precision of the fast statevector (double: the angle training's line searches need
#: gradients accurate well below single precision).
DTYPE = np.complex128


#: Qubits per dense block of :func:`on_every_qubit` (a 2^BLOCK x 2^BLOCK matrix product).
BLOCK = 4


def on_every_qubit(psi: np.ndarray, r: np.ndarray, n: int) -> np.ndarray:
    """``(r ⊗ r ⊗ ... ⊗ r) |psi>`` for a 2x2 matrix ``r`` (a new array).  The qubits go in
    blocks of :data:`BLOCK`, each block one matrix product with ``r``'s ``BLOCK``-fold
    Kronecker power on the state viewed as ``(-1, 2^BLOCK, 2^lo)``: a few BLAS calls instead
    of a strided pass per qubit (about half the time of such passes in torch, and no torch)."""
    out = np.asarray(psi, dtype=DTYPE)
    lo = 0
    while lo < n:
        k = min(BLOCK, n - lo)
        R = r
        for _ in range(k - 1):
            R = np.kron(R, r)
        out = np.matmul(R, out.reshape(-1, 1 << k, 1 << lo)).reshape(-1)
        lo += k
    return out


def mixer(psi: np.ndarray, beta: float, n: int) -> np.ndarray:
    """``prod_q RX(2 beta)_q |psi>`` (a new array; ``psi`` is left as it is)."""
    c, s = np.cos(beta), -1j * np.sin(beta)
    return on_every_qubit(psi, np.array([[c, s], [s, c]], dtype=DTYPE), n)


#: The Walsh-Hadamard factor ``H / sqrt(2)`` of :func:`x_overlap`.
HADAMARD = np.array([[1.0, 1.0], [1.0, -1.0]], dtype=DTYPE) / np.sqrt(2.0)


def x_overlap(lam: np.ndarray, psi: np.ndarray, n: int, z: np.ndarray | None = None) -> complex:
    """``<lam| (sum_q X_q) |psi>``, as ``<H lam| (sum_q Z_q) |H psi>`` with ``H`` the
    Hadamard on every qubit (``H X H = Z``): ``sum_q Z_q`` is the diagonal ``z`` (:func:`z_sum`,
    computed here when not given)."""
    z = z_sum(n) if z is None else z
    return complex(np.vdot(on_every_qubit(lam, HADAMARD, n), z * on_every_qubit(psi, HADAMARD, n)))


def z_sum(n: int) -> np.ndarray:
    """The diagonal of ``sum_q Z_q`` on ``n`` qubits: ``n - 2 popcount(index)``."""
    idx = np.arange(1 << n, dtype=np.int64)
    ones = np.zeros(1 << n, dtype=np.int64)
    for q in range(n):
        ones += (idx >> q) & 1
    return (n - 2.0 * ones).astype(np.float64)


def energy_levels(E: np.ndarray):
    """``(levels, index)`` with ``E == levels[index]`` when ``E`` takes few distinct values (at
    most a quarter of its length: integer data over many bitstrings), else None.  A cost
    layer's phase vector is then ``exp(-i gamma levels)[index]``: a gather instead of
    ``2^n`` complex exponentials, which cost most of a small-depth evaluation."""
    levels, index = np.unique(E, return_inverse=True)
    return (levels, index.reshape(-1)) if len(levels) <= len(E) // 4 else None


def phase(E: np.ndarray, g: float, levels=None) -> np.ndarray:
    """``exp(-i g E)`` (through :func:`energy_levels`' table when given)."""
    if levels is not None:
        return np.exp(-1j * g * levels[0]).astype(DTYPE)[levels[1]]
    return np.exp(-1j * g * E).astype(DTYPE)


def fast_state(E: np.ndarray, betas, gammas, n: int, phases: list | None = None, levels=None) -> np.ndarray:
    """The QAOA state for diagonal energies ``E`` (already scaled) and the given angles;
    the layers' phase vectors are appended to ``phases`` when given (for the gradient);
    ``levels``: :func:`energy_levels` of ``E``, or None."""
    psi = np.full(1 << n, (1 << n) ** -0.5, dtype=DTYPE)
    for b, g in zip(betas, gammas):
        ph = phase(E, g, levels)
        if phases is not None:
            phases.append(ph)
        psi *= ph
        psi = mixer(psi, b, n)
    return psi


def cvar_weights(probs: np.ndarray, E: np.ndarray, order: np.ndarray, alpha: float):
    """``(CVaR, w)``: the CVaR and the diagonal ``w`` whose expectation has the CVaR's
    derivative.  CVaR ``= sum_z take_z E_z / alpha`` where the states below the boundary
    state ``b`` are taken whole and ``b`` fills the rest of the mass ``alpha``; as the masses
    sum to one, its derivative is ``sum_{z below b} dp_z (E_z - E_b) / alpha``."""
    p = probs[order]
    c = np.cumsum(p)
    take = np.minimum(p, np.maximum(alpha - (c - p), 0.0))
    value = float(take @ E[order] / alpha)
    b = int(min(np.searchsorted(c, alpha), len(c) - 1))
    w = np.zeros_like(E)
    full = order[:b]
    w[full] = (E[full] - E[order[b]]) / alpha
    return value, w


def fast_value_grad(E: np.ndarray, a: np.ndarray, n: int, order: np.ndarray, alpha: float, levels=None,
                    z: np.ndarray | None = None):
    """CVaR (or expectation) of ``E`` and its gradient in ``a = [beta..., gamma...]`` by the
    adjoint method: the state and the costate ``w E |psi>`` are run back through the layers
    (the gates are unitary, so only the phase vectors are kept), each angle's derivative
    being ``2 Re <costate| -i H_k |psi>`` with ``H_k`` the layer's generator (``sum_q X_q``
    for ``beta``, ``E`` for ``gamma``); ``levels``: :func:`energy_levels`, ``z``:
    :func:`z_sum` of ``n``, when the caller keeps them across evaluations."""
    p = len(a) // 2
    z = z_sum(n) if z is None else z
    betas, gammas = a[:p], a[p:]
    phases: list = []
    psi = fast_state(E, betas, gammas, n, phases, levels)
    probs = np.abs(psi) ** 2
    if alpha >= 1.0:
        w, value = E, float(probs @ E)
    else:
        value, w = cvar_weights(probs, E, order, alpha)
    lam = (w * psi).astype(DTYPE)
    grad = np.zeros(2 * p)
    for k in reversed(range(p)):
        grad[k] = 2.0 * np.imag(x_overlap(lam, psi, n, z))          # 2 Re(-i z) = 2 Im z
        psi, lam = mixer(psi, -betas[k], n), mixer(lam, -betas[k], n)
        grad[p + k] = 2.0 * np.imag(np.vdot(lam, E * psi))
        back = np.conj(phases[k])
        psi *= back
        lam *= back
    return value, grad


def cvar(probs: np.ndarray, E: np.ndarray, order: np.ndarray, alpha: float) -> float:
    """Mean of the lowest ``alpha`` probability mass of ``E`` (``order`` sorts ``E``)."""
    if alpha >= 1.0:
        return float(probs @ E)
    p = probs[order]
    c = np.cumsum(p)
    take = np.minimum(p, np.maximum(alpha - (c - p), 0.0))
    return float(take @ E[order] / alpha)


def build_circuit(qubo: Qubo, reps: int, scale: float):
    """``qaoa_ansatz`` for ``qubo / scale`` with ``reps`` layers, and its (beta, gamma)
    parameter vectors."""
    qiskit_ready()
    from qiskit.circuit.library import qaoa_ansatz
    circ = qaoa_ansatz(qubo.pauli(scale), reps=reps)
    params = sorted(circ.parameters, key=lambda p: p.name)
    betas = [p for p in params if p.name.startswith("β")]
    gammas = [p for p in params if p.name.startswith("γ")]
    return circ, betas, gammas


def bind(circ, betas, gammas, angles: np.ndarray):
    """The circuit with ``angles = [beta..., gamma...]`` assigned."""
    p = len(betas)
    return circ.assign_parameters({**dict(zip(betas, angles[:p])), **dict(zip(gammas, angles[p:]))})


def statevector_probs(circ, betas, gammas, angles) -> np.ndarray:
    """Probabilities of qiskit's ``Statevector`` of the bound circuit (little-endian)."""
    qiskit_ready()
    from qiskit.quantum_info import Statevector
    return np.abs(Statevector(bind(circ, betas, gammas, angles)).data) ** 2


def noise_model(p: float):
    """Depolarising errors: ``p`` on one-qubit gates, ``min(2p, 1)`` on two-qubit gates."""
    qiskit_ready()
    from qiskit_aer.noise import NoiseModel, depolarizing_error
    nm = NoiseModel()
    nm.add_all_qubit_quantum_error(depolarizing_error(p, 1), ["rx", "rz", "h", "sx", "x", "u", "u3"])
    nm.add_all_qubit_quantum_error(depolarizing_error(min(2 * p, 1.0), 2), ["cx", "rzz"])
    return nm


def aer_counts(circ, betas, gammas, angles, shots: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Measured basis-state indices and counts from Aer (noisy when ``noise > 0``)."""
    qiskit_ready()
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    sim = AerSimulator(noise_model=noise_model(noise) if noise > 0 else None, seed_simulator=int(seed))
    qc = bind(circ, betas, gammas, angles).copy()
    qc.measure_all()
    qc = transpile(qc, basis_gates=["h", "rx", "rz", "rzz", "cx", "measure"], optimization_level=0)
    counts = sim.run(qc, shots=shots).result().get_counts()
    idx = np.array([int(k.replace(" ", ""), 2) for k in counts], dtype=np.int64)
    return idx, np.array(list(counts.values()), dtype=np.int64)


class QaoaSampler:
    """QAOA with ``reps`` layers; see the module docstring."""

    name = "qaoa"

    def __init__(self, reps: int = 2, shots: int = 1024, simulator: str = "fast", restarts: int = 2,
                 train_iter: int = 60, cvar_alpha: float = 1.0, noise: float = 0.0):
        self.reps, self.shots, self.simulator = reps, shots, simulator
        self.restarts, self.train_iter, self.cvar_alpha, self.noise = restarts, train_iter, cvar_alpha, noise
        self.max_qubits = MAX_QUBITS[simulator]
        self.angles: np.ndarray | None = None      # trained [beta..., gamma...] of the last run
        self.qubo = None                            # the last QUBO sampled, and its scale
        self.scale = 1.0
        self.depth: int | None = None
        self.evaluations = 0
        self.deadline: float | None = None     # perf_counter time after which training stops

    def sample(self, qubo: Qubo, seed: int) -> Samples:
        """Train angles for ``qubo``, then draw ``shots`` samples from the final state."""
        n, rng = qubo.n, np.random.default_rng(seed)
        scale = qubo.scale()
        E = all_energies(qubo) / scale
        order = np.argsort(E, kind="stable")
        levels = energy_levels(E)
        zdiag = z_sum(n) if self.simulator != "statevector" else None
        self.qubo, self.scale = qubo, scale
        circ = betas = gammas = None
        if self.simulator != "fast":
            circ, betas, gammas = build_circuit(qubo, self.reps, scale)
            self.depth = circuit_depth(circ) if self.depth is None else self.depth
        elif self.depth is None:
            # the fast path needs no circuit: its depth is counted without qiskit (whose import
            # and first circuit cost more than the whole training of a 16-qubit model)
            self.depth = ansatz_depth(qubo, self.reps)
        p = self.reps

        def probs(a):
            self.evaluations += 1
            if self.simulator == "statevector":
                return statevector_probs(circ, betas, gammas, a)
            return np.abs(fast_state(E, a[:p], a[p:], n, levels=levels)) ** 2

        def loss(a):
            return cvar(probs(a), E, order, self.cvar_alpha)

        def value_grad(a):
            self.evaluations += 1
            return fast_value_grad(E, a, n, order, self.cvar_alpha, levels, zdiag)

        clock = _Clock(self.deadline)
        starts = [] if self.angles is None else [self.angles]
        try:
            if self.simulator == "statevector":
                starts += [ramp(p)] + [random_angles(rng, p) for _ in range(self.restarts - 1)]
                for a0 in starts:
                    if clock.expired() and clock.best is not None:
                        break
                    minimize(clock.wrap(loss), a0, method="COBYLA",
                             options={"maxiter": self.train_iter, "rhobeg": 0.3})
            else:
                # the schedule-based start: depth 1 from the ramp, then each depth from the last
                # one's trained angles interpolated onto one more layer (INTERP), so that the
                # final depth starts next to its optimum instead of from a guess
                if self.angles is None:
                    a = ramp(1)
                    for depth in range(1, p):
                        try:
                            a = self._bfgs(clock.wrap(value_grad, grad=True, record=False), a)
                        except _TimeUp:       # past the limit: the final depth gets one evaluation
                            pass
                        a = interpolate(a)
                    starts.append(a)
                starts += [random_angles(rng, p) for _ in range(self.restarts - 1)]
                for a0 in starts:
                    if clock.expired() and clock.best is not None:
                        break
                    self._bfgs(clock.wrap(value_grad, grad=True), a0)
        except _TimeUp:
            pass
        self.angles = np.asarray(clock.best, dtype=np.float64)
        if self.simulator == "aer":
            idx, counts = aer_counts(circ, betas, gammas, self.angles, self.shots, self.noise,
                                     rng.integers(2**31))
        else:
            pr = probs(self.angles)
            draws = rng.choice(len(pr), size=self.shots, p=pr / pr.sum())
            idx, counts = np.unique(draws, return_counts=True)
        return Samples(bits_of(idx, n), counts.astype(np.int64))

    def _bfgs(self, fun, a0: np.ndarray) -> np.ndarray:
        """BFGS on ``fun`` (value and gradient) from ``a0`` for at most ``train_iter``
        iterations, ended early when the value has plateaued (relative changes below
        ``TRAIN_RTOL`` over ``TRAIN_WINDOW`` iterations); returns the last iterate."""
        plateau = Plateau(TRAIN_RTOL, TRAIN_WINDOW, atol=1e-9, what="the energy")
        last = {"x": np.asarray(a0, dtype=np.float64)}

        def callback(xk):
            last["x"] = np.array(xk, dtype=np.float64)
            if plateau.update(energy=fun.last_value):
                raise _Settled

        try:
            res = minimize(fun, a0, jac=True, method="BFGS", callback=callback,
                           options={"maxiter": self.train_iter, "gtol": 1e-5})
            return np.asarray(res.x, dtype=np.float64)
        except _Settled:
            return last["x"]

    def bound_circuit(self):
        """The last circuit with its trained angles (None before a run)."""
        if self.qubo is None or self.angles is None:
            return None
        circ, betas, gammas = build_circuit(self.qubo, self.reps, self.scale)
        return bind(circ, betas, gammas, self.angles)


class _TimeUp(Exception):
    """The time limit passed during angle training."""


class _Settled(Exception):
    """Angle training has converged (a plateau of the energy)."""


def ramp(p: int) -> np.ndarray:
    """The linear-ramp angles ``[beta..., gamma...]`` of depth ``p``: the discretised
    annealing path of TQA initialisation (beta falls, gamma rises over a total time RAMP)."""
    f = np.arange(1, p + 1) / (p + 1)
    return np.concatenate([(1 - f) * RAMP, f * RAMP])


def random_angles(rng, p: int) -> np.ndarray:
    """A random start of depth ``p`` (beta in [0, pi/2], gamma in [0, pi])."""
    return np.concatenate([rng.uniform(0, np.pi / 2, p), rng.uniform(0, np.pi, p)])


def interpolate(a: np.ndarray) -> np.ndarray:
    """Trained angles of depth ``p`` as a start of depth ``p + 1`` (INTERP, Zhou et al. 2020):
    each schedule, read as a function of the layer's position, linearly interpolated at
    ``p + 1`` points: ``x'_i = (i - 1)/p x_{i-1} + (p - i + 1)/p x_i``, ``x_0 = x_{p+1} = 0``."""
    p = len(a) // 2
    out = []
    for x in (a[:p], a[p:]):
        padded = np.concatenate([[0.0], x, [0.0]])
        i = np.arange(1, p + 2)
        out.append((i - 1) / p * padded[i - 1] + (p - i + 1) / p * padded[i])
    return np.concatenate(out)


class _Clock:
    """Keeps the best angles any objective evaluation saw, and ends training (by raising
    :class:`_TimeUp` from the objective, whatever the optimiser) once the deadline has
    passed and some angles have been evaluated."""

    def __init__(self, deadline: float | None):
        import time
        self.deadline, self.now = deadline, time.perf_counter
        self.best, self.best_value = None, np.inf

    def expired(self) -> bool:
        return self.deadline is not None and self.now() >= self.deadline

    def wrap(self, fn, grad: bool = False, record: bool = True):
        """``fn`` checking the deadline first; with ``record``, the best angles it sees are
        kept (a lower depth's angles, of another length, are not); ``.last_value`` is the
        latest value."""
        def inner(a):
            # a run that keeps no best (a lower depth) stops after its own first evaluation
            if (self.best is not None or (not record and inner.calls)) and self.expired():
                raise _TimeUp
            inner.calls += 1
            out = fn(a)
            value = out[0] if grad else out
            inner.last_value = float(value)
            if record and (value < self.best_value or self.best is None):
                self.best, self.best_value = np.array(a, dtype=np.float64), value
            return out
        inner.last_value, inner.calls = np.nan, 0
        return inner


def ansatz_depth(qubo: Qubo, reps: int) -> int:
    """The depth :func:`circuit_depth` gives ``qaoa_ansatz`` of ``qubo``, counted without
    building it: the Hadamard layer, then per layer each ``Z`` term's ``rz`` and each ``ZZ``
    term's ``rzz`` placed as early as their qubits allow, in the order of
    :meth:`~.form.Qubo.pauli`, and the ``rx`` mixer (tested equal to qiskit's count)."""
    h, i, j, J, _ = qubo.ising()
    d = np.ones(qubo.n, dtype=np.int64)
    zs = np.flatnonzero(np.asarray(h) != 0)
    pairs = [(a, b) for a, b, v in zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.asarray(J)) if v != 0]
    for _ in range(reps):
        d[zs] += 1
        for a, b in pairs:
            d[a] = d[b] = max(d[a], d[b]) + 1
        d += 1
    return int(d.max()) if qubo.n else 0


def circuit_depth(circ) -> int:
    """Depth of the circuit in the gates ``h``, ``rx``, ``rz``, ``rzz``."""
    qiskit_ready()
    from qiskit import transpile
    return int(transpile(circ, basis_gates=["h", "rx", "rz", "rzz", "cx"], optimization_level=0).depth())
