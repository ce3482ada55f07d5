"""Constraint handling: the slack ``penalty`` baseline and four slack-free multiplier methods.

Every method works in the minimisation sense on the parts of :mod:`.lowering`: the
objective ``f``, the exact penalties ``P * e`` (rows that need no slack) and the relaxed rows
``g(x) = G x - h <= 0``.  The Lagrangian ``L(x, lam) = f + P e + lam . g`` with ``lam >= 0``
gives the dual function ``phi(lam) = min_x L(x, lam) <= f*``: wherever ``phi`` can be
computed exactly (an all-bitstring enumeration up to ``bound_qubits`` qubits, or a separable
``L``), ``max phi`` over the iterations is reported as the dual bound.

* ``dual-ascent`` — projected subgradient ``lam <- max(0, lam + t_k g(x_k))`` at the
  lowest-energy sample ``x_k`` with the Polyak-type step ``t_k = theta_k (UB - L_k) / |g|^2``,
  ``theta_k = 1 / sqrt(k + 1)`` (diminishing);
* ``augmented-lagrangian`` — samples ``L(x, lam) + rho/2 sum_{r active} g_r(x)^2`` (the
  quadratic term gives the couplings; unbalanced penalisation is the case of fixed ``lam,
  rho``); a row is active while it holds a positive multiplier or the last iteration's
  lowest-energy sample violates it (all rows at the start) — Rockafellar's
  ``max(0, g + lam/rho)^2`` with the max frozen, so that loose rows are not pushed tight;
  then ``lam <- max(0, lam + rho g(x_k))``, and ``rho`` grows by half (up to ``10 rho_0``)
  while the violation does not fall by a quarter;
* ``bundle`` — proximal bundle on ``phi``: every sample ``x_j`` gives a cut
  ``phi(lam) <= L(x_j, lam)``; the next point maximises the cut model minus
  ``u/2 |lam - centre|^2`` (SLSQP), and the centre moves on a serious step;
* ``cutting-plane`` — Kelley's master LP ``max t : t <= L(x_j, lam), 0 <= lam <= Lambda``
  over the same cuts, solved with HiGHS (``scipy.optimize.linprog``);
* ``penalty`` — qiskit-optimization's encoding (:func:`~.lowering.slack_form`) sampled once.

The default is ``augmented-lagrangian``: on the knapsack benchmarks it is the only method
whose raw samples (``repair=false``) reach the optimum, and its QUBOs have the couplings that
give QAOA something to do (``bench/README.md``); ``bundle`` and ``cutting-plane`` give the
tightest dual bounds.  A method stops when the dual bound proves the incumbent optimal, when
the multipliers have not moved for two iterations, or — with the default ``max_iter`` (none:
at most :data:`AUTO_MAX_ITER`) — when the best feasible objective (every row of it met) and
the dual bound have plateaued (:class:`lagdsl.plateau.Plateau`); a given ``max_iter`` is a cap.  Every sample
of every iteration is checked against the original rows; the best feasible one is kept,
after the greedy repair-and-improve of :mod:`.repair` when ``repair`` is on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lagdsl.history import History
from lagdsl.plateau import BUDGET, TIME_LIMIT, Plateau
from lagdsl.progress import progress

from .form import Qubo, all_energies, all_rows
from .lowering import Lowered, slack_form
from .repair import Repairer

METHODS = ("augmented-lagrangian", "dual-ascent", "bundle", "cutting-plane", "penalty")

#: The cap of the default budget (``max_iter`` none), which ends on a plateau of the best
#: feasible objective and the dual bound: relative changes below PLATEAU_RTOL (plus 1e-9) over
#: the last PLATEAU_WINDOW rounds.
AUTO_MAX_ITER = 20
PLATEAU_RTOL, PLATEAU_WINDOW = 1e-3, 3


def max_rounds(opts: dict) -> int:
    """The most multiplier rounds a run may take: ``max_iter``, or :data:`AUTO_MAX_ITER` when it
    is left at its default (none: the run ends on convergence before that)."""
    return AUTO_MAX_ITER if opts["max_iter"] is None else int(opts["max_iter"])


def stop_reason(stopped: str, method: str) -> str:
    """``stats["stop_reason"]`` from a run's ``stopped``: converged (and how), ``budget`` or
    ``time_limit`` (:mod:`lagdsl.plateau`'s words)."""
    if stopped == "time_limit":
        return TIME_LIMIT
    if stopped == "max_iter" or (stopped == "single round" and method == "penalty"):
        return BUDGET        # penalty samples once: that round is its whole budget
    if stopped.startswith("converged"):
        return stopped
    return {"optimal": "converged: the dual bound proves the incumbent optimal",
            "multipliers settled": "converged: the multipliers did not move for two iterations",
            "single round": "converged: no relaxed rows, so one round decides",
            }.get(stopped, stopped)


@dataclass
class Run:
    """What a method found (minimisation sense)."""

    x: np.ndarray | None = None           # best feasible qubit values
    f: float = np.inf
    lam: np.ndarray | None = None         # multipliers of the relaxed rows
    dual_bound: float | None = None
    iterations: int = 0
    drawn: int = 0                        # samples drawn (with multiplicity)
    feasible: int = 0                     # ... of which feasible as drawn
    repaired: int = 0                     # samples made feasible by repair
    qubits: int = 0
    slack_qubits: int = 0
    optimal: bool = False
    infeasible: bool = False              # proven: no bitstring satisfies the rows
    history: History = field(default_factory=History)
    last: tuple | None = None             # (values, feasible, counts) of the last round
    rounds: list = field(default_factory=list)   # per round: (values, feasible), thinned (--plot)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = ""                     # why the loop ended (``stats["stopped"]``)


class DualOracle:
    """Exact ``phi(lam) = min_x f + P e + lam . g`` by enumeration (or a sign test when
    separable); ``None`` from :meth:`__call__` when neither applies."""

    def __init__(self, low: Lowered, strength: float, max_qubits: int, memory: float = 2.5e8):
        self.low, self.strength = low, strength
        base = low.objective + low.exact.scaled(strength)
        self.base = base
        self.table = None
        m = low.G.shape[0]
        if base.separable:
            self.mode = "separable"
        elif low.n <= max_qubits and (1 << low.n) * (m + 3) * 8 <= memory and enumerable(low.n):
            self.mode = "enumerate"
            self.E0 = all_energies(base)
            self.GX = all_rows(low.G, low.n) - low.h.astype(np.float32) if m else None
        else:
            self.mode = None
            if low.n > max_qubits:
                self.why_not = ("no dual bound: the Lagrangian has couplings and its %d qubits "
                                "exceed bound_qubits=%d for an exact minimum" % (low.n, max_qubits))
            elif not enumerable(low.n):
                self.why_not = ("no dual bound: enumerating the Lagrangian's 2^%d states "
                                "exceeds the size limit (--max-elements)" % low.n)
            else:
                self.why_not = ("no dual bound: enumerating the Lagrangian's 2^%d states over "
                                "%d relaxed rows would take %.2g GB, more than the %.2g GB "
                                "allowed" % (low.n, m, (1 << low.n) * (m + 3) * 8 / 1e9, memory / 1e9))

    @property
    def exact(self) -> bool:
        return self.mode is not None

    def __call__(self, lam: np.ndarray) -> float | None:
        if self.mode == "separable":
            return self.low.lagrangian(lam, self.strength).minimum()[0]
        if self.mode == "enumerate":
            E = self.E0 if self.GX is None else self.E0 + self.GX @ lam.astype(np.float32)
            return float(E.min())
        return None

    def feasible_exists(self) -> bool | None:
        """Whether any bitstring satisfies every row (None when not enumerable)."""
        if self.mode != "enumerate":
            return None
        from .form import bits_of
        n = self.low.n
        for start in range(0, 1 << n, 1 << 18):
            X = bits_of(np.arange(start, min(1 << n, start + (1 << 18))), n)
            if np.any(self.low.violation(X) <= 1e-9):
                return True
        return False


class Search:
    """The loop shared by all methods: sample, check, repair, keep the best, record."""

    def __init__(self, low: Lowered, sampler, opts: dict):
        self.low, self.sampler, self.opts = low, sampler, opts
        self.strength = opts["penalty"] if opts["penalty"] is not None else low.strength
        self.repair = Repairer(low) if opts["repair"] else None
        self.run = Run(qubits=low.n)
        self.seed = int(opts["seed"])
        self.cuts_F: list[np.ndarray] = []
        self.cuts_g: list[np.ndarray] = []
        limit = opts.get("time_limit")
        self.deadline = None if limit is None else time.perf_counter() + float(limit)
        sampler.deadline = self.deadline

    def expired(self) -> bool:
        """Whether the ``time_limit`` has passed."""
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def objective_user(self, f: float) -> float:
        return self.low.sign * f

    def check(self, X: np.ndarray, counts: np.ndarray, energy: np.ndarray) -> None:
        """Check samples (qubit part ``X``) against the rows; repair the lowest-energy ones."""
        low, run = self.low, self.run
        f = low.values(X)
        feas = low.violation(X) <= 1e-9
        run.drawn += int(counts.sum())
        run.feasible += int(counts[feas].sum())
        self._keep(X[feas], f[feas])
        run.last = (f, feas, counts)
        if len(run.rounds) < MAX_ROUNDS_KEPT:
            run.rounds.append(_thin(f, feas))
        if self.repair is not None:
            top = np.argsort(energy, kind="stable")[: self.opts["repair_samples"]]
            top = top[~feas[top]] if feas.any() else top
            fixed = np.array([self.repair(X[k]) for k in top]).reshape(-1, low.n)
            ok = low.violation(fixed) <= 1e-9 if len(fixed) else np.zeros(0, bool)
            run.repaired += int(ok.sum())
            self._keep(fixed[ok], low.values(fixed[ok]))
            if feas.any():        # improve the best feasible ones too
                best = np.argsort(np.where(feas, f, np.inf), kind="stable")[:4]
                imp = np.array([self.repair(X[k]) for k in best if feas[k]]).reshape(-1, low.n)
                self._keep(imp, low.values(imp))

    def _keep(self, X: np.ndarray, f: np.ndarray) -> None:
        if len(f) and f.min() < self.run.f - 1e-12:
            k = int(np.argmin(f))
            self.run.f, self.run.x = float(f[k]), np.asarray(X[k], dtype=np.float64)

    def proven(self) -> bool:
        """Whether the dual bound proves the incumbent optimal."""
        run = self.run
        if run.x is None or run.dual_bound is None:
            return False
        off = self.low.objective.offset
        # integer coefficients: every objective value is off + an integer
        bound = np.ceil(run.dual_bound - off - 1e-6) + off if self.low.integral else run.dual_bound
        return run.f <= bound + 1e-6 * max(1.0, abs(run.f))

    def draw(self, qubo: Qubo, it: int):
        """Sample ``qubo``; returns ``(X, counts, energies)``."""
        check_finite(qubo, self.strength)
        S = self.sampler.sample(qubo, self.seed + 7919 * it)
        return S.X, S.counts, qubo.energy(S.X)


#: What a run keeps of each round's samples for the --plot objective panel: at most
#: SAMPLES_KEPT distinct objective values (quantiles beyond) of MAX_ROUNDS_KEPT rounds.
SAMPLES_KEPT, MAX_ROUNDS_KEPT = 200, 2000


def _thin(f: np.ndarray, feas: np.ndarray):
    """The distinct ``(value, feasible)`` pairs of one round, at most SAMPLES_KEPT of them
    (evenly spaced in value order beyond that)."""
    pairs = np.unique(np.column_stack([f, feas.astype(np.float64)]), axis=0)
    if len(pairs) > SAMPLES_KEPT:
        pairs = pairs[np.unique(np.linspace(0, len(pairs) - 1, SAMPLES_KEPT).round().astype(np.int64))]
    return pairs[:, 0].copy(), pairs[:, 1] > 0.5


def run_method(method: str, low: Lowered, sampler, opts: dict) -> Run:
    """Run ``method`` (one of :data:`METHODS`)."""
    t0 = time.perf_counter()
    if method == "penalty":
        run = _penalty(low, sampler, opts)
    else:
        run = _multipliers(method, low, sampler, opts)
    run.seconds = time.perf_counter() - t0
    return run


def _penalty(low: Lowered, sampler, opts: dict) -> Run:
    s = Search(low, sampler, opts)
    form = slack_form(low, s.strength)
    s.run.qubits, s.run.slack_qubits = low.n + form.slack, form.slack
    _check_size(sampler, s.run.qubits)
    check_sizes(opts, s.run.qubits, 0)
    with progress(1, desc="qubo penalty") as bar:
        X, counts, energy = s.draw(form.qubo, 0)
        s.check(X[:, : low.n], counts, energy)
        s.run.iterations = 1
        _record(s, 0, None, None)
        bar.update(objective=s.objective_user(s.run.f) if s.run.x is not None else np.nan)
    s.run.stopped = "time_limit" if s.expired() else "single round"
    if form.qubo.n <= opts["bound_qubits"] and not s.expired():
        if enumerable(form.qubo.n):
            s.run.dual_bound = float(all_energies(form.qubo).min())
            s.run.optimal = s.proven()
        else:
            s.run.notes.append("no dual bound: enumerating the 2^%d states of the slack QUBO "
                               "exceeds the size limit (--max-elements)" % form.qubo.n)
    return s.run


def enumerable(qubits: int) -> bool:
    """Whether all ``2^qubits`` energies fit the size limit (``bound_qubits`` enumerations
    are skipped, with a note, beyond it)."""
    from lagdsl.limits import max_elements
    return qubits < 62 and (1 << qubits) <= max_elements()


class NonFiniteQubo(ValueError):
    """A QUBO whose coefficients overflow float64 (or are too large to anneal)."""


#: The largest QUBO coefficient sampled (see ``MAX_WEIGHT`` of the backend's options).
MAX_COEFFICIENT = 1e150


def check_finite(q: Qubo, strength: float) -> None:
    """Refuse a QUBO with a non-finite coefficient or one above :data:`MAX_COEFFICIENT`
    (a huge ``penalty`` times squared rows, or huge data), before any sampler sees it."""
    parts = (q.linear, q.quad, np.array([q.offset]))
    if all(np.all(np.isfinite(a)) for a in parts) and q.scale() <= MAX_COEFFICIENT:
        return
    raise NonFiniteQubo("the QUBO's coefficients overflow float64 or exceed %.0e (penalty "
                        "strength %.6g times squared constraint rows); lower the penalty or "
                        "rescale the model's data" % (MAX_COEFFICIENT, strength))


def samples_per_round(opts: dict, qubits: int) -> int:
    """The most distinct samples one call of the chosen sampler returns."""
    states = 1 << min(qubits, 62)
    return {"anneal": opts["num_reads"], "exact": min(opts["num_samples"], states),
            "qaoa": min(opts["shots"], states)}[opts["sampler"]]


def check_sizes(opts: dict, qubits: int, rows: int) -> None:
    """Refuse options whose loops or arrays would exceed the size limit, naming the
    option (:func:`lagdsl.limits.check_option_size`), before any sampling: every count
    option on its own, then what it allocates with the model's qubits and rows."""
    from lagdsl.limits import check_option_size
    n = max(qubits, 1)
    sampler = opts["sampler"]
    own = {"anneal": ("num_reads", "num_sweeps"), "exact": ("num_samples",),
           "qaoa": ("shots", "restarts", "train_iter")}[sampler]
    what = {"max_iter": ("the multiplier loop", "iterations"),
            "repair_samples": ("one round's repair", "samples"),
            "num_reads": ("the annealer", "runs"), "num_sweeps": ("each annealing run", "sweeps"),
            "num_samples": ("the exact sampler", "returned states"), "shots": ("QAOA", "shots"),
            "restarts": ("QAOA's angle training", "starts"),
            "train_iter": ("each angle-training start", "optimiser iterations")}

    def setting(name):
        return "%s=%s" % (name, opts[name])
    for name in ("max_iter", "repair_samples") + own:
        if opts[name] is not None:           # max_iter none: the default cap, AUTO_MAX_ITER
            check_option_size(int(opts[name]), setting(name), *what[name])
    per = samples_per_round(opts, qubits)
    option = {"anneal": "num_reads", "exact": "num_samples", "qaoa": "shots"}[sampler]
    check_option_size(int(per) * n, setting(option),
                      "the samples of one round (%s x %d qubits)" % (option, n), "bits")
    if opts["method"] in ("bundle", "cutting-plane") and rows:
        check_option_size(min(max_rounds(opts), 10 ** 12) * int(per) * (rows + 1), setting("max_iter"),
                          "the stored cuts (max_iter x samples per round x %d rows)" % (rows + 1), "values")


def _check_size(sampler, qubits: int) -> None:
    if qubits > sampler.max_qubits:
        raise TooManyQubits(qubits, sampler)


class TooManyQubits(Exception):
    """The model needs more qubits than the sampler holds."""

    def __init__(self, qubits: int, sampler):
        super().__init__(qubits, sampler)
        self.qubits, self.sampler = qubits, sampler


def _record(s: Search, it: int, lam, viol) -> None:
    run = s.run
    run.history.record(it, objective=s.objective_user(run.f) if run.x is not None else None,
                       violation=viol, multiplier_norm=None if lam is None else float(np.linalg.norm(lam)),
                       feasible_fraction=run.feasible / max(run.drawn, 1),
                       dual_bound=None if run.dual_bound is None else s.objective_user(run.dual_bound))


def default_rho(low: Lowered) -> float:
    """``rho`` with ``rho/2 a^2 ~ c``: flipping a typical item (row coefficient ``a``,
    objective coefficient ``c``) changes the quadratic term as much as the objective."""
    c = np.abs(np.concatenate([low.objective.linear, low.objective.quad]))
    c = c[c > 0]
    a = np.abs(low.G.data)
    a = a[a > 0]
    cm, am = (float(np.mean(c)) if len(c) else 1.0), (float(np.mean(a)) if len(a) else 1.0)
    with np.errstate(over="ignore", under="ignore"):
        rho = 2.0 * np.float64(cm) / am / am
    if not (np.isfinite(rho) and rho > 0):
        raise NonFiniteQubo("no augmented-Lagrangian weight rho for these data: objective "
                            "coefficients near %.3g against row coefficients near %.3g leave "
                            "float64's range (set --option rho=..., or rescale the rows)" % (cm, am))
    return float(rho)


def _multipliers(method: str, low: Lowered, sampler, opts: dict) -> Run:
    s = Search(low, sampler, opts)
    run = s.run
    _check_size(sampler, low.n)
    m = low.G.shape[0]
    check_sizes(opts, low.n, m)
    lam = np.zeros(m)
    rho = opts["rho"] if opts["rho"] is not None else default_rho(low)
    oracle = DualOracle(low, s.strength, opts["bound_qubits"])
    if not oracle.exact:
        run.notes.append(oracle.why_not)
    plain = low.lagrangian
    centre, centre_phi = lam.copy(), -np.inf          # bundle
    prev_viol = np.inf
    active = np.ones(m, dtype=bool)
    rho0 = rho
    still = 0                                       # iterations without a multiplier change
    auto = opts["max_iter"] is None
    iters = max_rounds(opts) if m else 1
    plateau = Plateau(PLATEAU_RTOL, PLATEAU_WINDOW, atol=1e-9,
                      what="best feasible objective and dual bound")
    with progress(iters, desc="qubo " + method) as bar:
        for it in range(iters):
            L = plain(lam, s.strength)
            q = L
            if method == "augmented-lagrangian" and m:
                # Rockafellar's term (rho/2) max(0, g + lam/rho)^2 with the max fixed at the last
                # point: rows that are active or violated get (rho/2) g^2, loose rows none.
                q = L + low.squared(np.where(active, rho / 2.0, 0.0))
            run_prev = lam.copy()
            X, counts, energy = s.draw(q, it)
            s.check(X, counts, energy)
            k = int(np.argmin(energy))
            xk = X[k].astype(np.float64)
            g = np.asarray(low.G @ xk).ravel() - low.h if m else np.zeros(0)
            phi = oracle(lam)
            if phi is not None:
                run.dual_bound = phi if run.dual_bound is None else max(run.dual_bound, phi)
                run.lam = lam.copy() if run.lam is None or phi >= run.dual_bound else run.lam
            viol = float(np.max(np.maximum(g, 0), initial=0.0))
            run.iterations = it + 1
            _record(s, it, lam, viol)
            bar.update(objective=s.objective_user(run.f) if run.x is not None else np.nan,
                       violation=viol, lam=float(np.linalg.norm(lam)))
            if s.proven() or not m or still >= 2:
                run.stopped = "optimal" if s.proven() else "single round" if not m else "multipliers settled"
                break
            if s.expired():
                run.stopped = "time_limit"
                break
            # the incumbent is nan (never settled) until a feasible sample is found
            # (the round's own violation and the multipliers are left out: a subgradient
            # loop's samples and steps oscillate around the dual optimum for ever)
            if auto and plateau.update(objective=run.f if run.x is not None else np.nan,
                                       dual_bound=0.0 if run.dual_bound is None else run.dual_bound):
                run.stopped = plateau.reason
                break
            if method in ("bundle", "cutting-plane"):
                Fx = L.energy(X) - X.astype(np.float64) @ (np.asarray(low.G.T @ lam).ravel()) + lam @ low.h
                Gx = np.asarray((low.G @ X.T.astype(np.float64)).T) - low.h
                s.cuts_F.append(Fx)
                s.cuts_g.append(Gx)
            if method == "dual-ascent":
                lk = float(L.energy(xk[None])[0])
                # Polyak's target: the incumbent, or a guess above the Lagrangian value
                ub = run.f if run.x is not None else lk + abs(lk) + 1.0
                lk = lk if phi is None else phi
                gg = float(g @ g)
                if gg <= 0:
                    break
                t = (ub - lk) / gg / np.sqrt(it + 1.0)
                lam = np.maximum(0.0, lam + max(t, 0.0) * g)
            elif method == "augmented-lagrangian":
                lam = np.maximum(0.0, lam + rho * g)
                if viol > 0 and viol > 0.75 * prev_viol:
                    rho = min(1.5 * rho, opts["rho_max_factor"] * rho0)
                prev_viol = viol
                # Rows stay active while they hold a multiplier or are violated; a row
                # that is loose with a zero multiplier drops its term (a quadratic on it
                # would push the row tight, which the inequality does not ask for).
                active = (lam > 0) | (g > 0)
            else:
                F = np.concatenate(s.cuts_F)
                Gc = np.vstack(s.cuts_g)
                F, Gc = _prune(F, Gc, lam, opts["max_cuts"])
                box = _box(low, s.strength)
                if method == "cutting-plane":
                    lam = _kelley(F, Gc, box)
                else:
                    val = phi if phi is not None else float(np.min(F + Gc @ lam))
                    if val >= centre_phi:
                        centre, centre_phi = lam.copy(), val
                    u = opts["prox"] * max(1.0, float(np.abs(Gc).max(initial=0.0))) / box
                    lam = _proximal(F, Gc, centre, u, box)
            still = still + 1 if np.allclose(lam, run_prev, rtol=1e-9, atol=1e-12) else 0
        else:
            run.stopped = "max_iter"
    if run.lam is None:
        run.lam = lam
    run.optimal = s.proven()
    if run.x is None and oracle.exact and not s.expired() and oracle.feasible_exists() is False:
        run.notes.append("no bitstring satisfies the constraints (checked by enumeration)")
        run.infeasible = True
    return run


def _box(low: Lowered, strength: float) -> float:
    """Upper bound on each multiplier for the master problems: a unit violation is never
    worth more than the whole objective range."""
    return float(max(1.0, np.abs(low.objective.linear).sum() + np.abs(low.objective.quad).sum()))


def _prune(F: np.ndarray, G: np.ndarray, lam: np.ndarray, keep: int):
    """The ``keep`` cuts lowest at ``lam`` (the active ones), duplicates removed."""
    val = F + G @ lam
    order = np.argsort(val, kind="stable")
    F, G = F[order], G[order]
    _, first = np.unique(np.round(np.column_stack([F, G]), 9), axis=0, return_index=True)
    first = np.sort(first)[:keep]
    return F[first], G[first]


def _kelley(F: np.ndarray, G: np.ndarray, box: float) -> np.ndarray:
    """``argmax_{0 <= lam <= box} min_j F_j + G_j . lam`` as an LP in ``(lam, t)`` (HiGHS)."""
    from scipy.optimize import linprog
    k, m = G.shape
    c = np.zeros(m + 1)
    c[-1] = -1.0
    A = np.hstack([-G, np.ones((k, 1))])
    res = linprog(c, A_ub=A, b_ub=F, bounds=[(0, box)] * m + [(None, None)], method="highs")
    return np.asarray(res.x[:m]) if res.status == 0 else np.zeros(m)


def _proximal(F: np.ndarray, G: np.ndarray, centre: np.ndarray, u: float, box: float) -> np.ndarray:
    """``argmax_{0 <= lam <= box} min_j (F_j + G_j . lam) - u/2 |lam - centre|^2`` (SLSQP on
    ``(lam, t)``)."""
    from scipy.optimize import minimize
    k, m = G.shape
    z0 = np.concatenate([centre, [float(np.min(F + G @ centre))]])
    cons = {"type": "ineq", "fun": lambda z: F + G @ z[:m] - z[m],
            "jac": lambda z: np.hstack([G, -np.ones((k, 1))])}
    obj = (lambda z: -z[m] + 0.5 * u * np.sum((z[:m] - centre) ** 2))
    jac = (lambda z: np.concatenate([u * (z[:m] - centre), [-1.0]]))
    res = minimize(obj, z0, jac=jac, constraints=[cons], bounds=[(0, box)] * m + [(None, None)],
                   method="SLSQP", options={"maxiter": 200})
    return np.clip(res.x[:m], 0, box)
