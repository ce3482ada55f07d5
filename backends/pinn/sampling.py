"""Collocation points: where each region of a domain is sampled.

A region (``D``, ``interior(D)``, ``boundary(D)``, ``D where COND``) is turned once, at
compile time, into *pieces*: boxes or faces of the domain's box (some coordinates fixed by
``COORD == VALUE``), surfaces given by another equality (``x == t``, ``x^2 + y^2 == 0.25``,
see :mod:`.surfaces`), each with an optional filter for the rest of the condition
(``x <= 0.5``).  Points are scrambled Sobol sequences on each piece, spread over the pieces in
proportion to their measure; a piece of dimension 0 (an end of a 1D interval) is one point.

The data in a condition (``x == L``, ``x == a[k]``) is evaluated first, for every row of the
constraint (:func:`concrete_conditions`): a region that depends on the index of an indexed
constraint (``bc[k in K] on D where x == a[k]``) is one region per row, and
:class:`FamilySampler` draws each row's points.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import sympy
from scipy.stats import qmc
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

from lagdsl.ir.model import DomainDecl, Region
from lagdsl.lower.evaluate import row_context
from lagdsl.lower.rows import Rows
from lagdsl.pretty import expr_text

from .surfaces import Surface, SurfaceError, parametrisations

#: Candidate points per piece that estimate a filtered piece's or a surface's measure.
PILOT = 1024
#: The most candidate points one rejection round draws.
MAX_ROUND = 1 << 16


class RegionError(ValueError):
    """A region the sampler cannot represent (the backend refuses the model with it)."""


@dataclass
class Piece:
    """A box, face or surface of a domain: fixed coordinates, free ones, an optional filter,
    and for a surface the coordinate computed from the free ones."""

    fixed: dict            # coordinate -> value
    free: list             # coordinate names sampled in their interval
    measure: float         # the piece's measure (of dimension len(free))
    cond: object = None    # sympy condition on the coordinates still to hold, or None
    surface: Surface | None = None
    rate: float = 1.0      # the fraction of candidate points a draw keeps (from the pilot)
    cap: float = 1.0       # the largest surface element seen: points are kept in proportion


class RegionSampler:
    """Points of one region of a domain, as ``{coordinate: array}``.

    ``conjuncts`` is the region's condition with its data evaluated (one row's entry of
    :func:`concrete_conditions`); by default it is evaluated here, without index values.
    """

    def __init__(self, dom: DomainDecl, region: Region, ev, conjuncts=None):
        self.dom, self.ev, self.region = dom, ev, region
        self.coords = list(dom.coords)
        if region.kind in ("all", "interior"):
            self.pieces = [self._piece({}, None)]
        elif region.kind == "boundary":
            self.pieces = [self._piece({c: dom.coords[c][k]}, None) for c in self.coords for k in (0, 1)]
        else:
            if conjuncts is None:
                conds, _ = concrete_conditions(region.where, ev, Rows.unit(), self.coords)
                conjuncts = conds[0]
            self.pieces = self._where(conjuncts)
        self.dim = max(len(p.free) for p in self.pieces)

    def _piece(self, fixed: dict, cond, surface: Surface | None = None) -> Piece:
        free = [c for c in self.coords if c not in fixed and (surface is None or c != surface.coord)]
        measure = float(np.prod([self.dom.coords[c][1] - self.dom.coords[c][0] for c in free]))
        p = Piece(fixed, free, measure, cond, surface)
        if cond is not None or surface is not None:
            # the part that passes, weighted by the surface element, from a fixed pilot sample
            pilot = self._candidates(p, PILOT, np.random.default_rng(0))
            keep, element = self._keep(p, pilot)
            p.cap = float(element.max()) if keep.any() else 1.0
            p.measure *= float(np.mean(element))
            p.rate = float(np.mean(element)) / p.cap
        return p

    def _candidates(self, p: Piece, k: int, rng: np.random.Generator) -> dict:
        U = _sobol(len(p.free), k, rng)
        pts = {c: np.full(len(U), v, dtype=np.float64) for c, v in p.fixed.items()}
        for j, c in enumerate(p.free):
            lo, hi = self.dom.coords[c]
            pts[c] = lo + (hi - lo) * U[:, j]
        if p.surface is not None:
            pts[p.surface.coord] = p.surface.solve(pts, len(U))
        return pts

    def _keep(self, p: Piece, pts: dict) -> tuple[np.ndarray, np.ndarray]:
        """Which candidate points lie on the piece, and the surface element at each (1 off
        surfaces, 0 where a point is not kept)."""
        n = len(next(iter(pts.values())))
        keep, element = np.ones(n, dtype=bool), np.ones(n)
        if p.surface is not None:
            keep, element = p.surface.keep(pts, n)
        if p.cond is not None and keep.any():
            # the filter sees only points on the piece (a rejected surface point may be nan)
            keep[keep] = self._passes(p, {c: v[keep] for c, v in pts.items()})
        return keep, np.where(keep, element, 0.0)

    def _passes(self, p: Piece, pts: dict) -> np.ndarray:
        n = len(next(iter(pts.values())))
        rows = Rows(n, {sympy.Symbol(c): v for c, v in pts.items()})
        return np.broadcast_to(np.asarray(self.ev.data(p.cond, rows), dtype=bool), (n,))

    def _where(self, conjuncts) -> list[Piece]:
        """Pieces of ``D where cond``: those of each conjunct of the condition's DNF."""
        pieces = [p for conj in conjuncts for p in self._conjunct(conj)]
        if not pieces:
            raise RegionError("no point of %s satisfies %s" % (self.dom.name, expr_text(self.region.where)))
        return pieces

    def _conjunct(self, rels) -> list[Piece]:
        """The pieces of one conjunct: ``COORD == VALUE`` fixes a coordinate, one other
        equality makes a surface, other relations filter."""
        fixed, eqs, rest = {}, [], []
        for rel in rels:
            coord_value = self._fixing(rel)
            if coord_value is not None:
                c, v = coord_value
                if c in fixed and fixed[c] != v:
                    raise RegionError("the condition fixes %s to both %g and %g" % (c, fixed[c], v))
                fixed[c] = v
            elif isinstance(rel, sympy.Eq):
                eqs.append(rel)
            else:
                rest.append(rel)
        cond = sympy.And(*rest) if rest else None
        if len(eqs) > 1:
            raise RegionError("cannot sample %s: one equality besides COORD == VALUE may hold at "
                              "once" % " and ".join(expr_text(e) for e in eqs))
        if not eqs:
            return [self._piece(fixed, cond)]
        eq = eqs[0].xreplace({sympy.Symbol(c): sympy.Float(v) for c, v in fixed.items()})
        if isinstance(eq, (BooleanTrue, BooleanFalse)):      # every coordinate in it was fixed
            return [self._piece(fixed, cond)] if eq else []
        return self._surface(eq, fixed, cond)

    def _surface(self, eq, fixed: dict, cond) -> list[Piece]:
        """The pieces of the surface ``eq``: of the parametrisation that keeps the most points
        inside the box; pieces the pilot finds empty are dropped."""
        try:
            ways = parametrisations(eq, [c for c in self.coords if c not in fixed], self.dom.coords)
        except SurfaceError as exc:
            raise RegionError(str(exc)) from None
        best, kept = [], -1.0
        for surfaces in ways:
            try:
                pieces = [self._piece(fixed, cond, s) for s in surfaces]
            except SurfaceError as exc:
                raise RegionError("cannot sample the face %s: %s" % (expr_text(eq), exc)) from None
            rate = sum(p.rate for p in pieces)        # the share of candidates kept
            if rate > kept:
                best, kept = [p for p in pieces if p.measure > 0], rate
        return best

    def _fixing(self, rel):
        """``(coord, value)`` when ``rel`` is ``coord == number``, else None."""
        if not isinstance(rel, sympy.Eq):
            return None
        for a, b in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
            if isinstance(a, sympy.Symbol) and a.name in self.coords and b.is_number:
                v = float(b)
                lo, hi = self.dom.coords[a.name]
                if not lo - 1e-12 <= v <= hi + 1e-12:
                    raise RegionError("%s == %g lies outside %s, where %s is in [%g, %g]" % (
                        a.name, v, self.dom.name, a.name, lo, hi))
                return a.name, v
        return None

    def sample(self, n: int, rng: np.random.Generator) -> dict:
        """About ``n`` points of the region (exactly one per 0-dimensional piece)."""
        top = [p for p in self.pieces if len(p.free) == self.dim]
        total = sum(p.measure for p in top) or 1.0
        out = {c: [] for c in self.coords}
        for p in self.pieces:
            if not p.free:
                k = 1
            elif len(p.free) < self.dim:
                k = max(1, n // len(self.pieces))
            else:
                k = max(1, int(round(n * p.measure / total)))
            pts = self._draw(p, k, rng)
            for c in self.coords:
                out[c].append(pts[c])
        return {c: np.concatenate(v) for c, v in out.items()}

    def _draw(self, p: Piece, k: int, rng: np.random.Generator) -> dict:
        got, need = [], k
        filtered = p.cond is not None or p.surface is not None
        for _ in range(50):            # rejection for filtered pieces and surfaces
            size = need if not filtered else min(MAX_ROUND, int(np.ceil(1.25 * need / max(p.rate, 1e-3))) + 8)
            pts = self._candidates(p, size, rng)
            if filtered:
                keep, element = self._keep(p, pts)
                if p.surface is not None:
                    # kept in proportion to the surface element: uniform on the surface, not
                    # over the free coordinates (a steep part of a curve is not thinned out)
                    keep &= rng.random(size) * p.cap <= element
                pts = {c: v[keep] for c, v in pts.items()}
            got.append(pts)
            need -= len(next(iter(pts.values())))
            if need <= 0:
                break
        if need > 0 and need == k:
            raise RegionError("no point of %s satisfies %s" % (self.dom.name, piece_text(p)))
        return {c: np.concatenate([g[c] for g in got])[:k] for c in self.coords}


class FamilySampler:
    """Points of a region for every row of a constraint (one row when it is not indexed).

    ``sample(n)`` gives about ``n`` points per row and the row of each point.  When the
    region's condition does not use the constraint's indices, one :class:`RegionSampler`
    serves all rows and every row gets the same points; otherwise each distinct row region
    (``x == a[k]`` with its ``a[k]``) has its own sampler, and each row draws its points in
    one batch.
    """

    def __init__(self, dom: DomainDecl, region: Region, ev, rows: Rows, indices=()):
        self.rows = rows
        uses_index = region.where is not None and bool(region.where.free_symbols & set(indices))
        if not uses_index:
            self.samplers, self.which = [RegionSampler(dom, region, ev)], None
        else:
            conds, self.which = concrete_conditions(region.where, ev, rows, list(dom.coords))
            self.samplers = []
            for j, conjuncts in enumerate(conds):
                with self.at_row(int(np.flatnonzero(self.which == j)[0])):
                    self.samplers.append(RegionSampler(dom, region, ev, conjuncts))
        self.dim = max(s.dim for s in self.samplers)

    @contextlib.contextmanager
    def at_row(self, r: int):
        """Name row ``r`` (`` (at k=2)``) in a :class:`RegionError` raised inside."""
        try:
            yield
        except RegionError as exc:
            raise RegionError(str(exc) + row_context(self.rows, r)) from None

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """``(row of each point, {coordinate: array})``: about ``n`` points per row."""
        R = self.rows.n
        if self.which is None:
            pts = self.samplers[0].sample(n, rng)
            m = len(next(iter(pts.values())))
            return np.repeat(np.arange(R), m), {c: np.tile(v, R) for c, v in pts.items()}
        parts = []
        for r in range(R):
            with self.at_row(r):
                parts.append(self.samplers[self.which[r]].sample(n, rng))
        counts = [len(next(iter(p.values()))) for p in parts]
        return (np.repeat(np.arange(R), counts),
                {c: np.concatenate([p[c] for p in parts]) for c in parts[0]})


def concrete_conditions(cond, ev, rows: Rows, coords) -> tuple[list, np.ndarray]:
    """``cond`` in disjunctive normal form with its data evaluated, for every row of ``rows``.

    Every largest sub-expression without a coordinate (``a[k]``, ``L / 2``, ``k == 1``) is
    evaluated once for all rows by the data evaluator ``ev`` (so a data error points at it, or
    at the constraint) and replaced by its value.  Returns the distinct conditions — each a
    tuple of conjuncts, each a tuple of relations on coordinates and numbers — and for each
    row the position of its condition; a conjunct with a false relation is left out, a true
    relation dropped.
    """
    coord_syms = {sympy.Symbol(c) for c in coords}
    dnf = sympy.to_dnf(cond)
    conjuncts = [c.args if isinstance(c, sympy.And) else (c,)
                 for c in (dnf.args if isinstance(dnf, sympy.Or) else (dnf,))]
    data = []
    for conj in conjuncts:
        for rel in conj:
            _data_parts(rel, coord_syms, data)
    values = [np.broadcast_to(np.asarray(ev.data(d, rows)), (rows.n,)) for d in data]
    distinct, which = {}, np.empty(rows.n, dtype=np.int64)
    for r in range(rows.n):
        key = tuple(v[r] for v in values)
        if key not in distinct:
            sub = {d: _as_sympy(v) for d, v in zip(data, key)}
            distinct[key] = (len(distinct), _substituted(conjuncts, sub))
        which[r] = distinct[key][0]
    return [c for _, c in distinct.values()], which


def _data_parts(e, coord_syms: set, out: list) -> None:
    """Append the largest sub-expressions of ``e`` without coordinates (numbers aside)."""
    if not (e.free_symbols & coord_syms):
        if not e.is_number and e not in out:
            out.append(e)
        return
    for a in e.args:
        _data_parts(a, coord_syms, out)


def _as_sympy(v):
    """A data value as a sympy atom: a boolean, an integer when integral, else a float."""
    if isinstance(v, (bool, np.bool_)):
        return sympy.true if v else sympy.false
    v = float(v)
    return sympy.Integer(int(v)) if v.is_integer() and abs(v) < 2 ** 53 else sympy.Float(v)


def _substituted(conjuncts, sub: dict) -> tuple:
    """The conjuncts with data replaced: false ones left out, true relations dropped."""
    out = []
    for conj in conjuncts:
        rels = [_replace(rel, sub) for rel in conj]
        if any(isinstance(r, BooleanFalse) for r in rels):
            continue
        out.append(tuple(r for r in rels if not isinstance(r, BooleanTrue)))
    return tuple(out)


def piece_text(p: Piece) -> str:
    """What a piece is, in ``.lag`` syntax: its fixed coordinates, surface and filter."""
    parts = ["%s == %g" % (c, v) for c, v in p.fixed.items()]
    parts += [expr_text(x) for x in (p.surface.eq if p.surface else None, p.cond) if x is not None]
    return " and ".join(parts) or "true"


def _replace(rel, sub: dict):
    """``rel.xreplace(sub)``, without sympy's attempt to decide a relation between coordinates
    (its assumption queries cost milliseconds per row); one between numbers is decided."""
    if rel in sub or not isinstance(rel, sympy.core.relational.Relational):
        return rel.xreplace(sub)
    lhs, rhs = (a.xreplace(sub) for a in rel.args)
    if lhs.free_symbols or rhs.free_symbols:
        return rel.func(lhs, rhs, evaluate=False)
    return rel.func(lhs, rhs)


def _sobol(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` scrambled Sobol points in ``[0, 1)^d`` (``n x 0`` when ``d == 0``)."""
    if d == 0:
        return np.zeros((n, 0))
    m = int(np.ceil(np.log2(max(n, 2))))
    return qmc.Sobol(d, scramble=True, seed=rng).random_base2(m)[:n]


def box_points(dom: DomainDecl, n: int, rng: np.random.Generator) -> dict:
    """``n`` quasi-Monte-Carlo points of the whole box (for ``integral(D)``)."""
    U = _sobol(len(dom.coords), n, rng)
    return {c: lo + (hi - lo) * U[:, j] for j, (c, (lo, hi)) in enumerate(dom.coords.items())}
