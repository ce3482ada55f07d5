"""Lowering a field model to torch: bodies evaluated over batches of points or rows.

A batch is a :class:`Batch`: ``rows`` (the bound indices of an indexed constraint or an
aggregate, as in :mod:`lagdsl.lower.rows`) and ``coords`` (one tensor per coordinate of the
region being sampled, same length as the rows, with ``requires_grad`` where a derivative is
autograd of the network's output).  :class:`TorchEvaluator` walks a sympy body once per batch,
vectorised: data sub-trees go to the shared :class:`~lagdsl.lower.evaluate.Evaluator` (numpy),
the rest become tensor operations — a field application is one network call on the whole
batch (or on several terms' batches at once, :meth:`TorchEvaluator.share_passes`),
``Derivative(u(x, t), (x, 2))`` either comes from that call's forward (Taylor) pass
(:mod:`.jets`) or is two ``autograd.grad`` calls (cached, so that ``u``, ``u_x`` and ``u_xx``
are computed once per batch), a sum over ``k in K`` a segment sum, and ``integral(D) body`` a
quasi-Monte-Carlo mean over fresh points of ``D`` times its volume.

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
from lagdsl.ir.atoms import AtomFunction
from lagdsl.ir.sym import AGG_KINDS, VECTOR_AGG_KINDS, Agg, sigmoid
from lagdsl.lower.torch_atoms import atom as torch_atom
from lagdsl.lower.evaluate import Evaluator, empty_aggregate
from lagdsl.lower.rows import Rows
from lagdsl.lower.torch_segments import segment_reduce

from .sampling import box_points

_TORCH_RELATIONS = {"<": torch.lt, "<=": torch.le, ">": torch.gt, ">=": torch.ge,
                    "==": torch.eq, "!=": torch.ne}

_TORCH_FUNCS = {
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.sin: torch.sin, sympy.cos: torch.cos,
    sympy.tan: torch.tan, sympy.tanh: torch.tanh, sympy.Abs: torch.abs, sigmoid: torch.sigmoid,
}
#: the most points a batch may have to join another's network pass (:meth:`share_passes`)
SHARED_UP_TO = 64
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
        self._shares: dict = {}
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
        if isinstance(e, sympy.Piecewise):
            return self.piecewise(e, b)
        f = _TORCH_FUNCS.get(type(e))
        if f is not None:
            return f(self.value(e.args[0], b))
        if isinstance(e, AtomFunction):
            return torch_atom(e.atom.name, [self.value(a, b) for a in e.args])
        if isinstance(e, (sympy.Min, sympy.Max)):
            f = torch.minimum if isinstance(e, sympy.Min) else torch.maximum
            out = self.value(e.args[0], b)
            for a in e.args[1:]:
                out = f(*torch.broadcast_tensors(out, self.value(a, b)))
            return out
        self.fail("the pinn backend cannot evaluate %s" % e, e)

    def piecewise(self, e: sympy.Piecewise, b: Batch) -> torch.Tensor:
        """``if c then a else b`` whose branches or conditions hold fields or coordinates
        (``if x < 0.5 then 1 else 2``): every branch on every point, chosen by ``where``."""
        out = None
        for val, cond in reversed(e.args):
            v = self.value(val, b)
            out = v if out is None else torch.where(self.truth(cond, b), v, out)
        return out

    def truth(self, c, b: Batch) -> torch.Tensor:
        """A condition of a ``Piecewise`` on every point of ``b`` (a bool tensor)."""
        if isinstance(c, (sympy.logic.boolalg.BooleanTrue, sympy.logic.boolalg.BooleanFalse)):
            return torch.tensor(bool(c))
        if not self.dynamic(c):
            return torch.as_tensor(np.asarray(self.ev.data(c, b.rows), dtype=bool))
        if isinstance(c, (sympy.And, sympy.Or)):
            parts = [self.truth(a, b) for a in c.args]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(c, sympy.And) else (out | p)
            return out
        if isinstance(c, sympy.Not):
            return ~self.truth(c.args[0], b)
        if isinstance(c, sympy.core.relational.Relational) and c.rel_op in _TORCH_RELATIONS:
            return _TORCH_RELATIONS[c.rel_op](self.value(c.lhs, b), self.value(c.rhs, b))
        self.fail("the pinn backend cannot evaluate the condition %s" % c, c)

    def field(self, e, b: Batch) -> torch.Tensor:
        """A field applied to arguments: one network call on the batch (cached).  When the
        arguments are coordinates of the batch, the first and second derivatives that the
        current owner's expressions take of this application come from the same pass
        (:mod:`.jets`) and are cached for :meth:`derivative`."""
        key = ("field", e)
        if key not in b.cache:
            args = [self.value(a, b).expand(b.n) for a in e.args]
            plan = self._jet_plan(e, tuple(sorted(b.coords)))
            self._store(b, e, plan, *self._network(e, torch.stack(args, dim=1), plan))
        return b.cache[key]

    def _network(self, e, X: torch.Tensor, plan):
        """The network of ``e``'s field at points ``X``: ``(V, D1, D2)``, the derivatives of a
        forward ``plan`` or None (no plan)."""
        net = self.nets[e.func.__name__]
        if plan is None:
            return net(X), None, None
        return net.jet(X, plan[0], plan[1])

    @staticmethod
    def _store(b: Batch, e, plan, V, D1, D2, rows: slice | None = None) -> None:
        """Cache ``e``'s value (and ``plan``'s derivatives, unless None) at ``b``'s points,
        which are ``rows`` of the pass (None: all of it)."""
        def pick(T):
            return T if rows is None else T[rows]
        b.cache[("field", e)] = pick(V)
        if plan is not None:
            for k, names in enumerate(plan[2]):
                b.cache[("d", e, names)] = pick(D1[k])
            for k, names in enumerate(plan[3]):
                b.cache[("d", e, names)] = pick(D2[k])

    def share_passes(self, owned: list) -> None:
        """Fewer network passes for the batches of one step (``owned``: the ``(owner, batch)``
        of every term), each batch's cache filled as if it had made its own.  Where bodies
        apply a field to their batch's coordinates (``u(x, t)`` on the points of a region):

        * a batch of at most :data:`SHARED_UP_TO` points that needs either no derivative of
          the field or exactly the forward ones of the largest batch joins the largest
          batch's pass (its derivatives come along);
        * the other batches that need no derivative (boundary, initial and data values) share
          one plain pass.

        At these sizes a pass costs about as much in dispatch and autograd bookkeeping as in
        arithmetic: a 1D boundary's two points in a pass of their own cost a tenth of a step,
        while 200 points joining a pass of 2000 and taking its derivatives along cost more than
        they save.  A batch that differentiates by autograd keeps its own pass, whose backward
        passes would otherwise run through every other batch's rows too."""
        groups: dict = {}
        for owner, b in owned:
            if not b.coords:
                continue
            for e, plan, wants in self._shareable(owner, tuple(sorted(b.coords))):
                if ("field", e) not in b.cache:
                    groups.setdefault(e, []).append((b, plan, wants))
        for e, members in groups.items():
            host, plan, _ = max(members, key=lambda m: m[0].n)
            joined = [(host, plan)] + [
                (b, p) for b, p, wants in members if b is not host and b.n <= SHARED_UP_TO
                and (not wants or (p is not None and plan is not None and _same_plan(p, plan)))]
            rest = [(b, None) for b, p, wants in members
                    if not wants and all(b is not j for j, _ in joined)]
            for passed, pass_plan in ((joined, plan), (rest, None)):
                if len(passed) > 1:
                    self._one_pass(e, passed, pass_plan)

    def _one_pass(self, e, members: list, plan) -> None:
        """Evaluate application ``e`` once on the concatenated points of ``members``
        (``(batch, plan)`` pairs) with ``plan``'s derivatives; cache each batch's rows."""
        X = torch.cat([torch.stack([b.coords[a.name] for a in e.args], dim=1) for b, _ in members])
        V, D1, D2 = self._network(e, X, plan)
        start = 0
        for b, p in members:
            # a member without a plan takes the value only (its derivatives, if any, by autograd)
            self._store(b, e, None if p is None else plan, V, D1, D2, slice(start, start + b.n))
            start += b.n

    def _shareable(self, owner, coords: tuple) -> list:
        """``(application, forward plan, whether it is differentiated)`` for each application
        of a field to the coordinates ``coords`` in ``owner``'s expressions (made once)."""
        key = (id(owner), coords)
        if key not in self._shares:
            self.for_owner(owner)
            self._shares[key] = [(e, self._jet_plan(e, coords), bool(self._wanted(e)))
                                for e in sorted(_applications(owner), key=sympy.default_sort_key)
                                if all(isinstance(a, sympy.Symbol) and a.name in coords for a in e.args)]
        return self._shares[key]

    def _jet_plan(self, e, coords: tuple):
        """``(seeds, pairs, firsts, seconds)`` for the derivatives of ``e`` that the owner's
        expressions take up to second order (cache keys: sorted coordinate names), or None
        when there are none or an argument is neither a batch coordinate nor data (then
        :meth:`derivative` differentiates by autograd, which handles any argument)."""
        if self.derivatives == "reverse":
            return None
        # the plan depends on the owner, the application and the batch's coordinates only:
        # made once, not on every field call of every step
        key = (id(self.ev.owner), e, coords)
        if key not in self._plans:
            self._plans[key] = self._make_plan(e, coords)
        return self._plans[key]

    def _make_plan(self, e, coords: tuple):
        """:meth:`_jet_plan` for one owner, application and set of batch coordinates."""
        wanted = self._wanted(e)
        if not wanted:
            return None
        cols = {}
        for j, a in enumerate(e.args):
            if isinstance(a, sympy.Symbol) and a.name in coords:
                cols.setdefault(a.name, []).append(j)
            elif self.dynamic(a):
                return None
        firsts = sorted({n[:1] for n in wanted} | {n[1:] for n in wanted if len(n) == 2})
        if any(n[0] not in cols for n in firsts):
            return None        # d(u(0, t), x) and the like: autograd's error/zero, as before
        seconds = sorted(n for n in wanted if len(n) == 2)
        # auto: forward when every coordinate differentiated along also takes its own second
        # derivative (u_xx, a Laplacian), where it measured 0.7-0.9x the time of reverse mode on
        # CPU.  A first-only derivative riding along (the u_t of heat or Burgers) costs forward
        # mode one more slice through every layer but reverse mode nothing (its first backward
        # pass yields every first derivative): 1.1-1.15x there with the plain second-order rule,
        # but 0.87-0.92x (float32; equal in float64) with tanh's folded one (jets.
        # SECOND_FROM_FIRST), so with tanh any second derivative takes the forward pass
        # (bench/pinn_derivatives.py)
        squared = {n[0] for n in seconds if n[0] == n[1]}
        if (self.derivatives == "auto" and any(n[0] not in squared for n in firsts)
                and not (seconds and self.nets[e.func.__name__].folded_second_order)):
            return None
        seeds = torch.zeros(len(firsts), len(e.args), dtype=torch.float64)
        for k, (c,) in enumerate(firsts):
            seeds[k, cols[c]] = 1.0
        pairs = [(firsts.index(n[:1]), firsts.index(n[1:])) for n in seconds]
        return seeds, pairs, firsts, seconds

    def _wanted(self, e) -> set:
        """Sorted coordinate-name tuples (orders 1 and 2, prefixes of higher orders) of the
        derivatives of ``e`` in the current owner's expressions."""
        got = set()
        for x in _expressions(self.ev.owner):
            for d in x.atoms(sympy.Derivative):
                if d.expr == e:
                    got.add(tuple(sorted(s.name for s, k in d.variable_count for _ in range(int(k))))[:2])
        return got

    def coordinates_need_grad(self, owner, coords: tuple) -> bool:
        """Whether the coordinates of a batch of ``owner``'s points must require gradients:
        some derivative in its expressions is taken by autograd (no forward plan, or beyond
        second order).  When every derivative comes from the forward pass they need not, and
        not tracking them saves about 6% of a step."""
        self.for_owner(owner)
        for x in _expressions(owner):
            for d in x.atoms(sympy.Derivative):
                order = sum(int(k) for _, k in d.variable_count)
                if order > 2 or not isinstance(d.expr, AppliedUndef) or self._jet_plan(d.expr, coords) is None:
                    return True
        return False

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


def _expressions(owner) -> list:
    """The sympy expressions of a constraint (body and bounds) or an objective."""
    return [x for x in (getattr(owner, a, None) for a in ("body", "lower", "upper", "expr"))
            if isinstance(x, sympy.Basic)]


def _applications(owner) -> set:
    """The field applications (``u(x, t)``) in a constraint's or objective's expressions."""
    return {a for x in _expressions(owner) for a in x.atoms(AppliedUndef)}


def _same_plan(p, q) -> bool:
    """Whether two forward plans take the same derivatives."""
    return p[1:] == q[1:] and torch.equal(p[0], q[0])
