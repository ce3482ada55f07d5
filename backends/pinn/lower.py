"""Lowering a field model to torch: bodies evaluated over batches of points or rows.

A batch is a :class:`Batch`: ``rows`` (the bound indices of an indexed constraint or an
aggregate, as in :mod:`lagdsl.lower.rows`) and ``coords`` (one tensor per coordinate of the
region being sampled, same length as the rows, with ``requires_grad`` so that derivatives are
autograd of the network's output).  :class:`TorchEvaluator` walks a sympy body once per batch,
vectorised: data sub-trees go to the shared :class:`~lagdsl.lower.evaluate.Evaluator` (numpy),
the rest become tensor operations — a field application is one network call on the whole
batch, ``Derivative(u(x, t), (x, 2))`` two ``autograd.grad`` calls (cached, so that ``u``,
``u_x`` and ``u_xx`` are computed once per batch), a sum over ``k in K`` a segment sum, and
``integral(D) body`` a quasi-Monte-Carlo mean over fresh points of ``D`` times its volume.

The vocabulary differs from the :class:`~lagdsl.lower.evaluate.Algebra` protocol in one way
that matters: coordinates are neither data nor unknowns, and derivatives need the graph from
the coordinates to the value, so the walk is this module's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy
import torch
from sympy.core.function import AppliedUndef

from lagdsl.errors import LagDataError, LagError
from lagdsl.ir.model import Model
from lagdsl.ir.sym import AGG_KINDS, VECTOR_AGG_KINDS, Agg, sigmoid
from lagdsl.lower.evaluate import Evaluator, empty_aggregate
from lagdsl.lower.rows import Rows
from lagdsl.lower.torch_segments import segment_reduce

from .sampling import box_points

_TORCH_FUNCS = {
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.sin: torch.sin, sympy.cos: torch.cos,
    sympy.tan: torch.tan, sympy.tanh: torch.tanh, sympy.Abs: torch.abs, sigmoid: torch.sigmoid,
}
#: ``derivatives=auto`` takes a field's derivatives in one forward (Taylor) pass when at least
#: this many coordinates need second derivatives and no other coordinate a first derivative
#: (a 3D Laplacian); otherwise nested reverse mode (one backward pass for every first
#: derivative, then one per coordinate with second derivatives) measured as fast or faster on
#: CPU, by up to 1.3x where a u_t rides along (``bench/pinn_derivatives.py``)
FORWARD_FROM = 3
#: segment reductions an aggregate of unknowns may use: every kind of :class:`Agg`
REDUCTIONS = AGG_KINDS + VECTOR_AGG_KINDS


class Unsupported(LagError):
    """A construct the pinn backend cannot lower (reported as a refusal by ``accepts``)."""


@dataclass
class Batch:
    """Points or rows a body is evaluated on; ``cache`` holds field values and derivatives."""

    rows: Rows
    coords: dict = field(default_factory=dict)      # coordinate name -> tensor (rows.n,)
    cache: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.rows.n


class TorchEvaluator:
    """Evaluates bodies of ``model`` with fields ``nets`` and scalar unknowns ``params``.

    ``params[name]`` is a 1-D tensor over the variable's flat positions (a scalar variable has
    length 1).  ``owner`` is the constraint or objective, for positioned data errors.
    """

    def __init__(self, model: Model, nets: dict, params: dict, dtype=torch.float64,
                 integral_points: int = 4096, rng: np.random.Generator | None = None,
                 derivatives: str = "auto"):
        self.model, self.nets, self.params, self.dtype = model, nets, params, dtype
        self.derivatives = derivatives
        self.coord_names = {c for d in model.domains.values() for c in d.coords}
        self.integral_points = integral_points
        self.rng = rng or np.random.default_rng(0)
        self._dyn: dict = {}
        self._consts: dict = {}
        self._plans: dict = {}
        self.ev = Evaluator(model)

    def for_owner(self, owner) -> "TorchEvaluator":
        """Point data errors at ``owner`` (a constraint or the objective)."""
        self.ev.owner = owner
        return self

    # --- structure -----------------------------------------------------------------
    def dynamic(self, e) -> bool:
        """Whether ``e`` depends on a coordinate, a field or an unknown (else it is data)."""
        r = self._dyn.get(e)
        if r is None:
            if isinstance(e, (AppliedUndef, sympy.Derivative, sympy.Integral)):
                r = True
            elif isinstance(e, sympy.Symbol):
                r = e.name in self.coord_names or e.name in self.model.vars
            elif isinstance(e, sympy.Indexed):
                r = e.base.label.name in self.model.vars
            elif isinstance(e, Agg):
                r = self.dynamic(e.body)
            else:
                r = any(self.dynamic(a) for a in e.args)
            self._dyn[e] = r
        return r

    def fail(self, message: str, node=None):
        raise Unsupported(message, self.ev.span_of(node), source=self.model.source)

    # --- values --------------------------------------------------------------------
    def tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=self.dtype)

    def value(self, e, b: Batch) -> torch.Tensor:
        """``e`` on every row/point of ``b``: a tensor of shape ``(b.n,)`` or a scalar."""
        if not self.dynamic(e):
            if b.rows.cols:
                return self.tensor(self.ev.data(e, b.rows))
            # data that depends on no index (pi ^ 2, alpha) is the same for every batch
            key = (e, self.dtype, b.n)
            if key not in self._consts:
                self._consts[key] = self.tensor(self.ev.data(e, b.rows))
            return self._consts[key]
        if isinstance(e, sympy.Symbol):
            if e.name in b.coords:
                return b.coords[e.name]
            if e.name in self.model.vars:
                return self.params[e.name][0]
            self.fail("the coordinate %s has no value here" % e.name, e)
        if isinstance(e, sympy.Indexed):
            name = e.base.label.name
            pos = self.ev.positions(e, self.model.var_sets(name), b.rows, "variable")
            return self.params[name][torch.as_tensor(pos)]
        if isinstance(e, sympy.Add):
            out = self.value(e.args[0], b)
            for a in e.args[1:]:
                out = out + self.value(a, b)
            return out
        if isinstance(e, sympy.Mul):
            out = self.value(e.args[0], b)
            for a in e.args[1:]:
                out = out * self.value(a, b)
            return out
        if isinstance(e, sympy.Pow):
            base = self.value(e.base, b)
            if e.exp.is_Integer:
                return base ** int(e.exp)
            return base ** self.value(e.exp, b)
        if isinstance(e, AppliedUndef):
            return self.field(e, b)
        if isinstance(e, sympy.Derivative):
            return self.derivative(e, b)
        if isinstance(e, sympy.Integral):
            return self.integral(e, b)
        if isinstance(e, Agg):
            return self.aggregate(e, b)
        f = _TORCH_FUNCS.get(type(e))
        if f is not None:
            return f(self.value(e.args[0], b))
        if isinstance(e, (sympy.Min, sympy.Max)):
            f = torch.minimum if isinstance(e, sympy.Min) else torch.maximum
            out = self.value(e.args[0], b)
            for a in e.args[1:]:
                out = f(*torch.broadcast_tensors(out, self.value(a, b)))
            return out
        self.fail("the pinn backend cannot evaluate %s" % e, e)

    def field(self, e, b: Batch) -> torch.Tensor:
        """A field applied to arguments: one network call on the batch (cached).  When the
        arguments are coordinates of the batch, the first and second derivatives that the
        current owner's expressions take of this application come from the same pass
        (:mod:`.jets`) and are cached for :meth:`derivative`."""
        key = ("field", e)
        if key not in b.cache:
            args = [self.value(a, b).expand(b.n) for a in e.args]
            X = torch.stack(args, dim=1)
            net = self.nets[e.func.__name__]
            plan = self._jet_plan(e, b)
            if plan is None:
                b.cache[key] = net(X)
            else:
                seeds, pairs, firsts, seconds = plan
                V, D1, D2 = net.jet(X, seeds, pairs)
                b.cache[key] = V
                for k, names in enumerate(firsts):
                    b.cache[("d", e, names)] = D1[k]
                for k, names in enumerate(seconds):
                    b.cache[("d", e, names)] = D2[k]
        return b.cache[key]

    def _jet_plan(self, e, b: Batch):
        """``(seeds, pairs, firsts, seconds)`` for the derivatives of ``e`` that the owner's
        expressions take up to second order (cache keys: sorted coordinate names), or None
        when there are none or an argument is neither a batch coordinate nor data (then
        :meth:`derivative` differentiates by autograd, which handles any argument)."""
        if self.derivatives == "reverse":
            return None
        # the plan depends on the owner, the application and the batch's coordinates only:
        # made once, not on every field call of every step
        key = (id(self.ev.owner), e, tuple(sorted(b.coords)))
        if key not in self._plans:
            self._plans[key] = self._make_plan(e, b)
        return self._plans[key]

    def _make_plan(self, e, b: Batch):
        """:meth:`_jet_plan` for one owner, application and set of batch coordinates."""
        wanted = self._wanted(e)
        if not wanted:
            return None
        cols = {}
        for j, a in enumerate(e.args):
            if isinstance(a, sympy.Symbol) and a.name in b.coords:
                cols.setdefault(a.name, []).append(j)
            elif self.dynamic(a):
                return None
        firsts = sorted({n[:1] for n in wanted} | {n[1:] for n in wanted if len(n) == 2})
        if any(n[0] not in cols for n in firsts):
            return None        # d(u(0, t), x) and the like: autograd's error/zero, as before
        seconds = sorted(n for n in wanted if len(n) == 2)
        parents = {n[0] for n in seconds}
        if self.derivatives == "auto" and (len(parents) < FORWARD_FROM or any(n[0] not in parents for n in firsts)):
            return None
        seeds = torch.zeros(len(firsts), len(e.args), dtype=torch.float64)
        for k, (c,) in enumerate(firsts):
            seeds[k, cols[c]] = 1.0
        pairs = [(firsts.index(n[:1]), firsts.index(n[1:])) for n in seconds]
        return seeds, pairs, firsts, seconds

    def _wanted(self, e) -> set:
        """Sorted coordinate-name tuples (orders 1 and 2, prefixes of higher orders) of the
        derivatives of ``e`` in the current owner's expressions."""
        owner = self.ev.owner
        got = set()
        for x in (getattr(owner, a, None) for a in ("body", "lower", "upper", "expr")):
            if isinstance(x, sympy.Basic):
                for d in x.atoms(sympy.Derivative):
                    if d.expr == e:
                        got.add(tuple(sorted(s.name for s, k in d.variable_count for _ in range(int(k))))[:2])
        return got

    def derivative(self, e: sympy.Derivative, b: Batch) -> torch.Tensor:
        """A partial derivative of a field application: from the jet :meth:`field` cached
        (orders 1 and 2), continued by repeated autograd beyond (cached)."""
        if not isinstance(e.expr, AppliedUndef):
            self.fail("the pinn backend differentiates fields only, not %s" % e.expr, e)
        # partial derivatives of a smooth network commute: sorted names share cache entries
        order = sorted(s.name for s, k in e.variable_count for _ in range(int(k)))
        out = self.field(e.expr, b)
        names = sorted(b.coords)
        for j in range(len(order)):
            if order[j] not in b.coords:
                self.fail("d(%s, %s) needs the coordinate %s of a region" % (e.expr, order[j], order[j]), e)
            key = ("d", e.expr, tuple(order[: j + 1]))
            if key not in b.cache:
                # one backward pass gives the derivative along every coordinate (u_x and u_t
                # of the heat equation cost one pass, not two); all are cached
                grads = torch.autograd.grad(out, [b.coords[c] for c in names], torch.ones_like(out),
                                            create_graph=True, allow_unused=True)
                for c, g in zip(names, grads):
                    b.cache[("d", e.expr, tuple(sorted(order[:j] + [c])))] = torch.zeros_like(out) if g is None else g
            out = b.cache[key]
        return out

    def aggregate(self, e: Agg, b: Batch) -> torch.Tensor:
        """``sum(k in K) body`` and friends: expand the rows, evaluate, segment-reduce."""
        if e.kind not in REDUCTIONS:
            self.fail("the pinn backend cannot take %s() of unknowns" % e.kind, e)
        inner, parent = self.ev.bind(b.rows, e.bindings, e.cond)
        empty = empty_aggregate(e.kind, b.rows, parent)
        if empty is not None:
            # as the data evaluator says it, at the aggregate (sum is 0 and prod 1 there)
            raise LagDataError(empty[0], self.ev.span_of(e), empty[1], self.model.source)
        p = torch.as_tensor(parent)
        sub = Batch(inner, {c: t[p] for c, t in b.coords.items()})
        vals = self.value(e.body, sub)
        vals = vals.expand(inner.n) if vals.dim() == 0 else vals
        return segment_reduce(e.kind, vals, p, b.n)

    def integral(self, e: sympy.Integral, b: Batch) -> torch.Tensor:
        """``integral(D) body``: volume times the mean of ``body`` on QMC points of D."""
        if b.n != 1 or b.coords:
            self.fail("integral(D) is taken once, in an objective or a scalar constraint", e)
        coords = [lim[0].name for lim in e.limits]
        dom = next(d for d in self.model.domains.values() if list(d.coords) == coords)
        pts = box_points(dom, self.integral_points, self.rng)
        inner = Batch(Rows(self.integral_points, {}), {c: self.tensor(v).requires_grad_(True) for c, v in pts.items()})
        vol = float(np.prod([hi - lo for lo, hi in dom.coords.values()]))
        vals = self.value(e.function, inner)
        return (vol * vals.mean()).reshape(1)
