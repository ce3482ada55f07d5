"""Faces given by an equality between coordinates: ``D where x == t``, ``x + t == 1``,
``x^2 + y^2 == 0.25``, ``t == sin(pi * x)``.

An equality ``F == 0`` that is not ``COORD == VALUE`` is a hypersurface of the box.  It is
sampled as the graph of one coordinate ``c`` over the others (the *free* ones): the free
coordinates are drawn in their intervals, ``c`` is computed, and points whose ``c`` leaves the
box are rejected.  ``c`` must be explicit: ``F`` of degree 1 in ``c`` (``c = -a0 / a1``) or 2
(two *branches*, the roots of ``a2 c^2 + a1 c + a0``), with coefficients any functions of the
other coordinates.

* An affine ``F`` is a graph over any coordinate with a nonzero coefficient; every choice is
  offered (:func:`parametrisations`) and the sampler keeps the one with the most points inside
  the box.
* Otherwise each coordinate ``F`` can be solved for takes the part of the surface where it is
  *dominant* — where ``|L_c dF/dc|`` is the largest, ``L_c`` its interval's length — so that
  every part is a graph of bounded slope: a circle is four arcs, none of them steep.

A piece's measure is its (d-1)-dimensional measure: the integral over the free coordinates of
the surface element ``sqrt(1 + |grad c|^2) = |grad F| / |dF/dc|``, so that pieces of a region
are weighted by their true size.

Everything here works on *concrete* equalities: data already replaced by numbers
(:func:`.sampling.concrete_conditions`), coordinates as the only symbols.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy

from lagdsl.ir.sym import sigmoid
from lagdsl.pretty import expr_text

#: What a refusal says can be sampled.
SUPPORTED = ("an equality must be affine in the coordinates (x == t, x + 2 * t == 1) or of "
             "degree at most 2 in one of them (x^2 + y^2 == 0.25, t == sin(pi * x))")


class SurfaceError(ValueError):
    """An equality that cannot be sampled (the sampler turns it into a region error)."""


_NUMPY = {
    sympy.exp: np.exp, sympy.log: np.log, sympy.sin: np.sin, sympy.cos: np.cos,
    sympy.tan: np.tan, sympy.tanh: np.tanh, sympy.Abs: np.abs, sympy.sign: np.sign,
    sigmoid: lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    # the derivatives of abs, min and max
    sympy.Heaviside: lambda z: np.heaviside(z, 0.5),
}


def numeric(e, pts: dict, n: int) -> np.ndarray:
    """``e`` (numbers and coordinates only) at the ``n`` points ``pts``: a float array, nan
    where the value is not real (the square root of a negative discriminant), so that such
    points are rejected rather than reported as data errors."""
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(_numeric(e, pts), dtype=np.float64), (n,))


def _numeric(e, pts: dict):
    if e.is_number:
        try:
            v = complex(e)
        except TypeError:                  # zoo and the like
            return np.nan
        return v.real if v.imag == 0 else np.nan
    if isinstance(e, sympy.Symbol):
        return pts[e.name]
    args = [np.asarray(_numeric(a, pts), dtype=np.float64) for a in e.args]
    if isinstance(e, sympy.Add):
        return functools.reduce(np.add, args)
    if isinstance(e, sympy.Mul):
        return functools.reduce(np.multiply, args)
    if isinstance(e, sympy.Pow):
        return np.power(args[0], args[1])      # nan for a negative base and a fractional power
    if isinstance(e, (sympy.Min, sympy.Max)):
        return functools.reduce(np.minimum if isinstance(e, sympy.Min) else np.maximum, args)
    f = _NUMPY.get(type(e))
    if f is None:
        raise SurfaceError("cannot evaluate %s on a face" % expr_text(e))
    return f(args[0])


@dataclass
class Surface:
    """One branch of ``F == 0`` as the graph of ``coord`` over the free coordinates."""

    eq: sympy.Eq       # the equality, as the region says it (fixed coordinates substituted)
    coord: str
    coeffs: tuple      # (a2, a1, a0): F = a2 coord^2 + a1 coord + a0, a2 = 0 for degree 1
    branch: int        # +1 or -1: which root of a quadratic; 0 for degree 1
    grad: dict         # coordinate -> dF/dcoordinate, over coord and the free ones in F
    rivals: tuple      # coordinates whose own graphs take the points where they dominate
    box: dict          # coordinate -> (lo, hi), the domain's

    def solve(self, pts: dict, n: int) -> np.ndarray:
        """``coord`` at the free points (nan where this branch has no real root)."""
        a2, a1, a0 = (numeric(a, pts, n) for a in self.coeffs)
        with np.errstate(all="ignore"):
            if self.branch == 0:
                return -a0 / a1
            # the two roots without cancellation: q = -(a1 + sign(a1) sqrt(disc)) / 2 is one
            # root times a2, a0 / q the other; which is which depends on the sign of a1
            s = np.where(a1 >= 0, 1.0, -1.0)
            q = -0.5 * (a1 + s * np.sqrt(a1 * a1 - 4 * a2 * a0))
            big, small = q / a2, a0 / q
            plus, minus = np.where(s > 0, small, big), np.where(s > 0, big, small)
            return plus if self.branch > 0 else minus

    def keep(self, pts: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Which points (``coord`` already solved) lie on this piece — inside the box, where
        no rival dominates — and the surface element at each; ``coord`` is clipped into its
        interval (it may overshoot by rounding)."""
        lo, hi = self.box[self.coord]
        c = pts[self.coord]
        tol = 1e-12 * max(1.0, hi - lo)
        ok = np.isfinite(c) & (c >= lo - tol) & (c <= hi + tol)
        pts[self.coord] = np.clip(c, lo, hi)
        g = {v: numeric(d, pts, n) for v, d in self.grad.items()}
        scaled = np.abs(g[self.coord]) * (hi - lo)
        for v in self.rivals:
            other = np.abs(g[v]) * (self.box[v][1] - self.box[v][0])
            # ties go to the coordinate first in the domain: each point to one piece
            ok &= scaled > other if list(self.box).index(v) < list(self.box).index(self.coord) else scaled >= other
        with np.errstate(all="ignore"):
            element = np.sqrt(sum(x * x for x in g.values())) / np.abs(g[self.coord])
        ok &= np.isfinite(element)
        return ok, np.where(ok, element, 0.0)


def parametrisations(eq: sympy.Eq, free: list, box: dict) -> list[list[Surface]]:
    """The ways to sample ``eq`` (coordinates ``free`` not fixed): each a list of
    :class:`Surface` pieces that together cover it.  An affine equality has one way per
    coordinate with a nonzero coefficient (the caller keeps the best); any other one way, the
    dominance partition over the coordinates it can be solved for."""
    syms = {c: sympy.Symbol(c, real=True) for c in free}
    # real symbols, so that d|x|/dx is sign(x) rather than an expression in re(x) and im(x)
    F = (eq.lhs - eq.rhs).xreplace({sympy.Symbol(c): s for c, s in syms.items()})
    present = [c for c in free if syms[c] in F.free_symbols]
    grad = {c: F.diff(syms[c]) for c in present}
    curv = {c: grad[c].diff(syms[c]) for c in present}
    # degree 1 or 2 in c: the third derivative vanishes (derivatives, not Poly: ten times faster,
    # and a family builds one sampler per row)
    solvable = [c for c in present if curv[c].diff(syms[c]) == 0]
    if not solvable:
        raise SurfaceError("cannot sample the face %s: %s" % (expr_text(eq), SUPPORTED))
    affine = all(grad[c].diff(syms[v]) == 0 for c in present for v in present)

    def branches(c: str, rivals: tuple) -> list[Surface]:
        # F = a2 c^2 + a1 c + a0 with a2 = F''/2, a1 = F'(0), a0 = F(0), free of c
        x = syms[c]
        coeffs = (curv[c] / 2, grad[c].subs(x, 0), F.subs(x, 0))
        signs = (0,) if coeffs[0] == 0 else (1, -1)
        return [Surface(eq, c, coeffs, s, grad, rivals, box) for s in signs]

    if affine:
        return [branches(c, ()) for c in solvable]
    return [[s for c in solvable for s in branches(c, tuple(v for v in solvable if v != c))]]
