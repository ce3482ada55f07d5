"""Collocation points: where each region of a domain is sampled.

A region (``D``, ``interior(D)``, ``boundary(D)``, ``D where COND``) is turned once, at
compile time, into *pieces*: boxes or faces of the domain's box (some coordinates fixed by
``COORD == VALUE``) with an optional data filter for the rest of the condition (``x <= 0.5``).
Points are scrambled Sobol sequences on each piece, spread over the pieces in proportion to
their measure; a piece of dimension 0 (an end of a 1D interval) is one point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy
from scipy.stats import qmc

from lagdsl.ir.model import DomainDecl, Region
from lagdsl.lower.rows import Rows


class RegionError(ValueError):
    """A region the sampler cannot represent (the backend refuses the model with it)."""


@dataclass
class Piece:
    """A box or face of a domain: fixed coordinates, free ones, an optional filter."""

    fixed: dict            # coordinate -> value
    free: list             # coordinate names sampled in their interval
    measure: float         # product of the free intervals' lengths
    cond: object = None    # sympy condition on the coordinates still to hold, or None


class RegionSampler:
    """Points of one region of a domain, as ``{coordinate: array}``."""

    def __init__(self, dom: DomainDecl, region: Region, ev):
        self.dom, self.ev = dom, ev
        self.coords = list(dom.coords)
        if region.kind in ("all", "interior"):
            self.pieces = [self._piece({}, None)]
        elif region.kind == "boundary":
            self.pieces = [self._piece({c: dom.coords[c][k]}, None) for c in self.coords for k in (0, 1)]
        else:
            self.pieces = self._where(region.where)
        top = max(len(p.free) for p in self.pieces)
        self.dim = top

    def _piece(self, fixed: dict, cond) -> Piece:
        free = [c for c in self.coords if c not in fixed]
        measure = float(np.prod([self.dom.coords[c][1] - self.dom.coords[c][0] for c in free]))
        p = Piece(fixed, free, measure, cond)
        if cond is not None:
            # the filtered part's measure, by the fraction of a fixed pilot sample that passes
            pilot = self._candidates(p, 1024, np.random.default_rng(0))
            p.measure *= float(np.mean(self._passes(p, pilot)))
        return p

    def _candidates(self, p: Piece, k: int, rng: np.random.Generator) -> dict:
        U = _sobol(len(p.free), k, rng)
        pts = {c: np.full(len(U), v, dtype=np.float64) for c, v in p.fixed.items()}
        for j, c in enumerate(p.free):
            lo, hi = self.dom.coords[c]
            pts[c] = lo + (hi - lo) * U[:, j]
        return pts

    def _passes(self, p: Piece, pts: dict) -> np.ndarray:
        n = len(next(iter(pts.values())))
        rows = Rows(n, {sympy.Symbol(c): v for c, v in pts.items()})
        return np.broadcast_to(np.asarray(self.ev.data(p.cond, rows), dtype=bool), (n,))

    def _where(self, cond) -> list[Piece]:
        """Pieces of ``D where cond``: one per disjunct of the condition's DNF."""
        pieces = []
        dnf = sympy.to_dnf(cond)
        for conj in (dnf.args if isinstance(dnf, sympy.Or) else (dnf,)):
            fixed, rest = {}, []
            for rel in (conj.args if isinstance(conj, sympy.And) else (conj,)):
                coord_value = self._fixing(rel)
                if coord_value is None:
                    rest.append(rel)
                    continue
                c, v = coord_value
                if c in fixed and fixed[c] != v:
                    raise RegionError("the condition fixes %s to both %g and %g" % (c, fixed[c], v))
                fixed[c] = v
            pieces.append(self._piece(fixed, sympy.And(*rest) if rest else None))
        return pieces

    def _fixing(self, rel):
        """``(coord, value)`` when ``rel`` is ``coord == data``, else None (a filter)."""
        if not isinstance(rel, sympy.Eq):
            if rel.free_symbols - {sympy.Symbol(c) for c in self.coords}:
                raise RegionError("the condition %s may use only the coordinates %s" % (rel, ", ".join(self.coords)))
            return None
        for a, b in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
            if isinstance(a, sympy.Symbol) and a.name in self.coords and not (b.free_symbols & {sympy.Symbol(c) for c in self.coords}):
                v = float(self.ev.data(b, Rows.unit()))
                lo, hi = self.dom.coords[a.name]
                if not lo - 1e-12 <= v <= hi + 1e-12:
                    raise RegionError("%s == %g lies outside %s, where %s is in [%g, %g]" % (
                        a.name, v, self.dom.name, a.name, lo, hi))
                return a.name, v
        raise RegionError("cannot sample the face %s: write COORD == VALUE" % rel)

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
        for _ in range(50):            # rejection for filtered pieces, with growing batches
            pts = self._candidates(p, max(need, 1) * (1 if p.cond is None else 4), rng)
            if p.cond is not None:
                keep = self._passes(p, pts)
                pts = {c: v[keep] for c, v in pts.items()}
            got.append(pts)
            need -= len(next(iter(pts.values())))
            if need <= 0:
                break
        if need > 0 and need == k:
            raise RegionError("no point of %s satisfies %s" % (self.dom.name, p.cond))
        return {c: np.concatenate([g[c] for g in got])[:k] for c in self.coords}


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
