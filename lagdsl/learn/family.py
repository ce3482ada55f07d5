"""A model with varying params as a *parametric family* of LPs/QPs, in arrays batched over
instances: what a learned policy trains on and answers.

The policy's inputs ``theta`` are the varying params' entries, flattened and concatenated in
declaration order.  The family is lowered once at the base data
(:func:`~lagdsl.lower.instance.lower_instance`) and once more per input entry with that entry
moved (:func:`~lagdsl.lower.incremental.relower`: only the touched rows are redone), which
gives the Jacobians of the row bounds, the linear costs and the objective constant with
respect to ``theta``; two training scenarios, lowered exactly, then confirm that those
enter affinely.  An instance batch is then matrix products:

    minimise (user's sense)  1/2 y'Hy + c(theta)'y + off(theta)
    subject to               lo(theta) <= A y <= hi(theta),   lb <= y <= ub

``A`` and ``H`` are the model's rows and objective *unscaled* (the rows as written, so a
violation measured here is a violation of the original rows).  What is not handled is
refused with the reason: integer unknowns, quadratic rows, fields, a varying param that
changes a coefficient of an unknown, a set, a variable bound or which rows exist, or one that
enters non-affinely.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import BackendRefusal, LagDataError
from ..ir.values import ParamValue

#: Relative agreement asked of the affine prediction of a lowered scenario.
AFFINE_RTOL = 1e-8


def refuse(reason: str, span=None) -> BackendRefusal:
    """The error for a model or scenario file a learned policy cannot take."""
    return BackendRefusal("lagdsl learn cannot take this model: " + reason, span)


@dataclass
class Family:
    """The parametric LP/QP (see the module docstring); vectors are float64 numpy arrays."""

    ir: object                       # the base IR model
    inputs: list[str]                # varying params, declaration order
    shapes: list[tuple]              # their shapes
    theta0: np.ndarray               # (P,) base values
    sense: float                     # +1 minimise, -1 maximise
    H: np.ndarray | None             # (N, N) symmetric, user's sense: objective has 1/2 y'Hy
    c0: np.ndarray                   # (N,)
    Jc: np.ndarray                   # (N, P)
    off0: float
    Joff: np.ndarray                 # (P,)
    A: sp.csr_matrix                 # (M, N)
    lo0: np.ndarray
    hi0: np.ndarray
    Jlo: np.ndarray                  # (M, P)
    Jhi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    blocks: dict = field(default_factory=dict)     # family name -> (start, stop) rows of A

    @property
    def N(self) -> int:
        return len(self.lb)

    @property
    def M(self) -> int:
        return self.A.shape[0]

    @property
    def P(self) -> int:
        return len(self.theta0)

    # --- instances ------------------------------------------------------------------
    def thetas(self, datas, names=None) -> np.ndarray:
        """``(B, P)`` inputs of override dicts ``datas`` (data-file shapes; a param not
        given keeps its base value; a JSON data file's path is read as one).  A param that
        is not an input is refused unless it holds its base value: the policy was trained
        with it fixed.  ``names`` (one per instance, e.g. ``scenario 7 (train.jsonl:7)``)
        prefix an error's message with the instance it is about."""
        out = np.repeat(self.theta0[None, :], len(datas), axis=0)
        if names is not None:
            from ..errors import LagError
            for k, raw in enumerate(datas):
                try:
                    out[k] = self.thetas([raw])[0]
                except LagError as exc:
                    exc.message = "%s: %s" % (names[k], exc.message)
                    raise
            return out
        starts = np.cumsum([0] + [int(np.prod(s)) for s in self.shapes])
        where = {n: (starts[i], starts[i + 1], self.shapes[i]) for i, n in enumerate(self.inputs)}
        for k, raw in enumerate(datas):
            if isinstance(raw, str) or hasattr(raw, "__fspath__"):
                from ..resolve import read_overrides
                raw = read_overrides(self.ir, raw)
            for name, value in raw.items():
                if name not in where:
                    if name in self.ir.params and self._same_as_base(name, value):
                        continue            # a whole data file: fixed params at their values
                    if name in self.ir.params:
                        raise LagDataError(
                            "%s is not an input of this policy (its inputs: %s): the policy was "
                            "trained with %s fixed at the base data" % (name, ", ".join(self.inputs), name),
                            self.ir.decl_spans.get(name), source=self.ir.source)
                    from ..resolve import read_overrides
                    read_overrides(self.ir, {name: value})      # the data file's error for it
                    raise LagDataError("%s is not a param of the model" % name)
                a, b, shape = where[name]
                v = _fast(value, shape)
                if v is None or not np.isfinite(v).all():
                    v = self._coerce(name, value)       # the data file's checks and errors
                out[k, a:b] = v
        return out

    def _same_as_base(self, name, value) -> bool:
        base = self.ir.params[name].values
        v = _fast(value, base.shape)
        if v is None:
            try:
                v = self._coerce(name, value)
            except LagDataError:
                return False
        return bool(np.array_equal(v.reshape(-1), base.reshape(-1)))

    def _coerce(self, name, value) -> np.ndarray:
        from ..resolve import coerce_overrides
        return coerce_overrides(self.ir, {name: value})[name].reshape(-1)

    def arrays(self, theta: np.ndarray):
        """``(c, off, lo, hi)`` batched: ``(B, N), (B,), (B, M), (B, M)`` for ``(B, P)``
        inputs."""
        d = theta - self.theta0[None, :]
        c = self.c0[None, :] + d @ self.Jc.T
        off = self.off0 + d @ self.Joff
        lo = self.lo0[None, :] + d @ self.Jlo.T
        hi = self.hi0[None, :] + d @ self.Jhi.T
        return c, off, lo, hi

    def objective(self, Y: np.ndarray, c: np.ndarray, off: np.ndarray) -> np.ndarray:
        """The objective (user's sense) of each row of ``Y``."""
        f = np.einsum("bn,bn->b", c, Y) + off
        if self.H is not None:
            f = f + 0.5 * np.einsum("bn,bn->b", Y @ self.H, Y)
        return f

    def violation(self, Y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The largest violation of any original row or variable bound, per row of ``Y``."""
        AY = (self.A @ Y.T).T if self.M else np.zeros((len(Y), 0))
        with np.errstate(invalid="ignore"):
            parts = [np.maximum(lo - AY, 0.0), np.maximum(AY - hi, 0.0),
                     np.maximum(self.lb[None, :] - Y, 0.0), np.maximum(Y - self.ub[None, :], 0.0)]
        return np.max(np.concatenate([np.nan_to_num(p, nan=0.0) for p in parts], axis=1), axis=1,
                      initial=0.0)


def _fast(value, shape) -> np.ndarray | None:
    """A plain nested list of the param's shape, as floats; None for other shapes (which
    the data-file code coerces, with its errors)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a.reshape(-1) if a.shape == tuple(shape) else None


def with_params(base, arrays: dict):
    """``base`` (IR) with params ``arrays`` (name -> array) replaced and the formula params
    that read them evaluated again; ``(model, changed names)``."""
    from ..resolve import evaluate_formula
    params = dict(base.params)
    changed = set()
    for name, arr in arrays.items():
        params[name] = ParamValue(base.params[name].index, np.asarray(arr, dtype=np.float64).reshape(
            base.params[name].values.shape))
        changed.add(name)
    model = copy.copy(base)
    model.params = params
    d = base.derivation
    if d is not None:
        for f in d.formulas.values():
            if f.name not in arrays and f.reads & changed:
                params[f.name] = ParamValue(base.params[f.name].index, evaluate_formula(model, f))
                changed.add(f.name)
    return model, changed


def input_names(ir, scenarios) -> list[str]:
    """The params that appear in ``scenarios`` (the policy's inputs), in declaration order;
    a set or an unknown name in a scenario is refused at the scenario."""
    seen = set()
    for s in scenarios:
        for k in s.data:
            if k not in ir.params:
                what = "a set" if k in ir.sets else "not a param of the model"
                span, source = _scenario_key(s, k)
                raise LagDataError("scenario %s: %s is %s; a learned policy takes new values for "
                                   "params only" % (s.id, k, what), span, source=source,
                                   hint=None if span else "at %s" % (s.where or "?"))
            seen.add(k)
    if not seen:
        raise LagDataError("the scenarios vary no param: a policy needs inputs",
                           hint="each scenario gives new values for the params the policy maps")
    return [n for n in ir.params if n in seen]


def _scenario_key(s, key):
    """``(span, source)`` of ``key`` in the scenario file line ``s`` came from (a JSONL
    ``path:line``), else ``(None, None)``."""
    from ..ir.model import Source, Span
    path, _, line = (s.where or "").rpartition(":")
    if not path or not line.isdigit():
        return None, None
    try:
        from ..frontend.files import read_text
        text = read_text(path, "scenario file")
        from ..frontend.jsontext import key_span
        n = int(line)
        row = text.split("\n")[n - 1]
        sp = key_span(Source(path, row), key)
    except (LagDataError, IndexError, OSError):
        return None, None
    return (Span(path, n, sp.col) if sp is not None else Span(path, n, 1)), Source(path, text)


def build_family(ir, inputs: list[str], probes=(), names=None) -> Family:
    """The :class:`Family` of ``ir`` with ``inputs`` varying (see the module docstring);
    ``probes`` are a few scenarios' override dicts used to confirm affinity (``names``
    theirs, for errors: :meth:`Family.thetas`)."""
    from ..lower.incremental import Dependencies, relower
    from ..lower.instance import lower_instance
    from ..lower.poly import NotPolynomial
    if ir.fields:
        raise refuse("it has fields (a PDE model); policies are learned for LPs and convex QPs")
    d = ir.derivation
    structural = set(d.structural) if d is not None else set()
    shaping = Dependencies(ir).structure()
    for name in inputs:
        if name in structural or name in shaping:
            what = ("which rows or terms exist in %s" % ", ".join(sorted(shaping[name]))
                    if name in shaping else "a set, range, default or variable bound")
            raise refuse("param %s varies in the scenarios but decides %s; a policy's inputs "
                         "may change right-hand sides and costs only" % (name, what), ir.decl_spans.get(name))
    try:
        inst = lower_instance(ir)
    except NotPolynomial as exc:
        raise refuse("%s; policies are learned for LPs and convex QPs" % exc) from None
    if (inst.vtype != "C").any():
        j = int(np.flatnonzero(inst.vtype != "C")[0])
        from ..lower.instance import column_name
        raise refuse("unknown %s is integer; policies are learned for continuous LPs and "
                     "convex QPs" % column_name(ir, j))
    for b in inst.blocks:
        if b.body.degree == 2:
            raise refuse("constraint %s is quadratic; policies are learned for linear rows"
                         % b.name, b.constraint.span)
    from ..lower.matrix import check_convex_objective
    from ..passes.base import PassError
    try:
        check_convex_objective(inst)
    except PassError as exc:
        raise refuse(exc.message, exc.span) from None
    shapes = [tuple(ir.params[n].values.shape) for n in inputs]
    theta0 = np.concatenate([ir.params[n].values.reshape(-1) for n in inputs]).astype(np.float64)
    A, lo0, hi0, blocks = _rows(inst)
    c0, off0, H = _objective(inst)
    P, M, N = len(theta0), A.shape[0], inst.N
    Jlo, Jhi, Jc, Joff = np.zeros((M, P)), np.zeros((M, P)), np.zeros((N, P)), np.zeros(P)
    starts = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    for i, name in enumerate(inputs):
        base_vals = ir.params[name].values.reshape(-1)
        for e in range(len(base_vals)):
            k = starts[i] + e
            step = max(1.0, abs(base_vals[e]))
            moved = base_vals.copy()
            moved[e] += step
            A1, lo1, hi1, c1, off1, H1 = _lowered(ir, inst, {name: moved}, relower, inputs)
            _same_structure(A, A1, H, H1, inputs)
            Jlo[:, k] = _diff(lo1, lo0) / step
            Jhi[:, k] = _diff(hi1, hi0) / step
            Jc[:, k] = (c1 - c0) / step
            Joff[k] = (off1 - off0) / step
    fam = Family(ir, list(inputs), shapes, theta0, 1.0 if inst.sense == "minimize" else -1.0,
                 H, c0, Jc, off0, Joff, A, lo0, hi0, Jlo, Jhi, inst.lb.astype(float), inst.ub.astype(float),
                 blocks)
    for k, raw in enumerate(list(probes)[:2]):
        th = fam.thetas([raw], None if names is None else [names[k]])
        arrays = {}
        for i, name in enumerate(inputs):
            arrays[name] = th[0, starts[i]:starts[i + 1]]
        _, lo1, hi1, c1, off1, _ = _lowered(ir, inst, arrays, relower, inputs)
        c, off, lo, hi = fam.arrays(th)
        for got, want, what in ((lo[0], lo1, "a lower bound"), (hi[0], hi1, "an upper bound"),
                                (c[0], c1, "a cost"), (np.array([off[0]]), np.array([off1]), "the objective")):
            if not _close(got, want):
                raise refuse("the scenarios' params (%s) enter %s non-affinely; policies are "
                             "learned where they enter right-hand sides and costs linearly"
                             % (", ".join(inputs), what))
    return fam


def _lowered(ir, inst, arrays, relower, inputs):
    model, changed = with_params(ir, arrays)
    got = relower(inst, model, changed)
    A, lo, hi, _ = _rows(got)
    c, off, H = _objective(got)
    return A, lo, hi, c, off, H


def _rows(inst):
    """``(A, lo, hi, blocks)``: every row as written (body constant moved to the bounds)."""
    from ..lower.matrix import canonical
    parts, los, his, blocks = [], [], [], {}
    start = 0
    for b in inst.blocks:
        lin = b.body.lin
        if lin is None:
            lin = sp.csr_matrix((b.n, inst.N))
        elif lin.shape[1] != inst.N:
            lin = sp.csr_matrix((lin.data, lin.indices, lin.indptr), shape=(b.n, inst.N))
        parts.append(canonical(sp.csr_matrix(lin)))
        const = np.broadcast_to(np.asarray(b.body.const, dtype=float), (b.n,))
        los.append(np.broadcast_to(b.lower, (b.n,)) - const)
        his.append(np.broadcast_to(b.upper, (b.n,)) - const)
        blocks[b.name] = (start, start + b.n)
        start += b.n
    A = sp.vstack(parts).tocsr() if parts else sp.csr_matrix((0, inst.N))
    cat = (lambda xs: np.concatenate(xs).astype(np.float64) if xs else np.zeros(0))
    return A, cat(los), cat(his), blocks


def _objective(inst):
    from ..lower.matrix import hessian_lower, objective_arrays
    c, off = objective_arrays(inst)
    L = hessian_lower(inst)
    H = None
    if L is not None:
        L = L.toarray()
        H = L + L.T - np.diag(np.diag(L))
    return c.astype(np.float64), float(off), H


def _diff(a, b):
    """``a - b`` with equal infinities (a missing bound on both sides) as 0."""
    with np.errstate(invalid="ignore"):
        d = a - b
    same_inf = np.isinf(a) & np.isinf(b) & (a == b)
    d[same_inf] = 0.0
    if not np.isfinite(d).all():
        raise refuse("a scenario's param turns a row's bound from finite to infinite or back; "
                     "a policy's rows must stay the same")
    return d


def _same_structure(A, A1, H, H1, inputs):
    if A.shape != A1.shape or A.nnz != A1.nnz or (A.nnz and (
            not np.array_equal(A.indices, A1.indices) or not np.array_equal(A.data, A1.data))):
        raise refuse("the scenarios' params (%s) change coefficients of unknowns in the "
                     "rows; policies are learned where they change right-hand sides and costs"
                     % ", ".join(inputs))
    if (H is None) != (H1 is None) or (H is not None and not np.array_equal(H, H1)):
        raise refuse("the scenarios' params (%s) change the objective's quadratic part; "
                     "policies are learned where they change right-hand sides and linear costs"
                     % ", ".join(inputs))


def _close(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    fin = np.isfinite(b)
    if not np.array_equal(fin, np.isfinite(a)):
        return False
    scale = max(1.0, float(np.max(np.abs(b[fin]), initial=0.0)))
    return bool(np.all(np.abs(a[fin] - b[fin]) <= AFFINE_RTOL * scale))
