"""Convex-modelling atoms from CVXPY's library: ``entr xlogx kl_div rel_entr quad_over_lin
inv_pos huber``.

Each atom declares here, once, everything the rest of lagdsl asks of it:

* its DCP properties — curvature, sign, monotonicity per argument, domain — and the cone a
  conic solver needs (``exp`` or ``soc``, for :mod:`lagdsl.ir.classify`);
* its value and partial derivatives, written once over an array module ``xp`` (numpy for the
  evaluator, the numeric algebra and the lagrangian numpy tape; torch for the lagrangian
  torch engine and the pinn backend, through :mod:`lagdsl.lower.torch_atoms`);
* the CVXPY expression it maps to (:meth:`Atom.cvxpy`), so that the cvxpy backend's DCP check
  decides curvature with CVXPY's own rules;
* the arguments that must be data (``huber``'s threshold) and the data outside its domain
  (:meth:`Atom.domain_error`), reported as positioned data errors.

Values follow CVXPY's extended-value convention outside the domain (``+inf`` for a convex
atom, ``-inf`` for the concave ``entr``) and its limits on the boundary: ``entr(0) =
xlogx(0) = 0``, ``kl_div(0, y) = y``, ``rel_entr(0, y) = 0``.  There the first derivative is
the one-sided limit, infinite for ``entr`` (``+inf``), ``xlogx``, ``kl_div`` and
``rel_entr`` (``-inf`` in ``x``); a gradient whose adjoint is 0 is 0 (never ``0 * inf``).

In the IR an atom is a sympy function of its class below (``entr(x)``); ``huber(x)`` is
stored as ``huber(x, 1)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy


def _where(xp, cond, a, b):
    return xp.where(cond, a, b)


def _safe(xp, x, ok):
    """``x`` where ``ok``, else 1: the argument of a log or a quotient computed only where
    it is defined (the other branch of a ``where`` must not be nan)."""
    return xp.where(ok, x, xp.ones_like(x))


# --- values and partials, over an array module ``xp`` (numpy or torch) ----------------------

def _entr(xp, x):
    pos = x > 0
    xs = _safe(xp, x, pos)
    return _where(xp, pos, -xs * xp.log(xs), _where(xp, x == 0, xp.zeros_like(x), xp.full_like(x, -math.inf)))


def _entr_d(xp, x):
    return (-(xp.log(x) + 1),)


def _xlogx(xp, x):
    pos = x > 0
    xs = _safe(xp, x, pos)
    return _where(xp, pos, xs * xp.log(xs), _where(xp, x == 0, xp.zeros_like(x), xp.full_like(x, math.inf)))


def _xlogx_d(xp, x):
    return (xp.log(x) + 1,)


def _rel_entr(xp, x, y):
    x, y = _broadcast(xp, x, y)
    inside = (x > 0) & (y > 0)
    xs, ys = _safe(xp, x, inside), _safe(xp, y, inside)
    edge = (x == 0) & (y >= 0)
    return _where(xp, inside, xs * (xp.log(xs) - xp.log(ys)),
                  _where(xp, edge, xp.zeros_like(x), xp.full_like(x, math.inf)))


def _rel_entr_d(xp, x, y):
    x, y = _broadcast(xp, x, y)
    zero = x == 0
    return (xp.log(x) - xp.log(y) + 1, _where(xp, zero, xp.zeros_like(x), -x / _safe(xp, y, ~zero)))


def _kl_div(xp, x, y):
    x, y = _broadcast(xp, x, y)
    inside = (x > 0) & (y > 0)
    xs, ys = _safe(xp, x, inside), _safe(xp, y, inside)
    edge = (x == 0) & (y >= 0)
    return _where(xp, inside, xs * (xp.log(xs) - xp.log(ys)) - xs + ys,
                  _where(xp, edge, y, xp.full_like(x, math.inf)))


def _kl_div_d(xp, x, y):
    x, y = _broadcast(xp, x, y)
    zero = x == 0
    return (xp.log(x) - xp.log(y), _where(xp, zero, xp.ones_like(x), 1 - x / _safe(xp, y, ~zero)))


def _quad_over_lin(xp, x, y):
    x, y = _broadcast(xp, x, y)
    pos = y > 0
    return _where(xp, pos, x * x / _safe(xp, y, pos), xp.full_like(x, math.inf))


def _quad_over_lin_d(xp, x, y):
    x, y = _broadcast(xp, x, y)
    r = x / y
    return (2 * r, -r * r)


def _inv_pos(xp, x):
    pos = x > 0
    return _where(xp, pos, 1 / _safe(xp, x, pos), xp.full_like(x, math.inf))


def _inv_pos_d(xp, x):
    return (-1 / (x * x),)


def _huber(xp, x, m):
    x, m = _broadcast(xp, x, m)
    ax = xp.abs(x)
    return _where(xp, ax <= m, x * x, 2 * m * ax - m * m)


def _huber_d(xp, x, m):
    x, m = _broadcast(xp, x, m)
    ax = xp.abs(x)
    return (2 * xp.clip(x, -m, m), _where(xp, ax > m, 2 * (ax - m), xp.zeros_like(x)))


def _broadcast(xp, a, b):
    """Two per-row arguments at one length (a one-row value broadcast over the rows)."""
    if xp is np:
        return np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return xp.broadcast_tensors(a, b)


# --- data outside the domain --------------------------------------------------------------

#: what each kind of argument domain refuses, and how the message says it
_ARG_RULES = {"nonneg": (lambda v: v < 0, "of a negative number"),
              "positive": (lambda v: v <= 0, "needs %s > 0")}


def _check_args(atom: "Atom", args: list):
    """``(mask, message)`` for the first data argument outside its domain (``None`` in
    ``args`` stands for an argument with unknowns), then for a pair of data arguments
    that only together leave the domain (``kl_div(1, 0)`` is ``+inf``)."""
    names = atom.signature.split(", ")
    for k, (rule, v) in enumerate(zip(atom.arg_domain, args)):
        if rule is None or v is None:
            continue
        test, words = _ARG_RULES[rule]
        bad = test(v)
        if np.any(bad):
            if rule == "nonneg":
                return bad, "%s %s (its domain is %s)" % (atom.name, words, atom.domain)
            return bad, "%s %s" % (atom.name, words % names[k])
    if atom.name in ("kl_div", "rel_entr") and all(v is not None for v in args):
        x, y = np.broadcast_arrays(*args)
        bad = (x > 0) & (y == 0)
        if np.any(bad):
            return bad, "%s(x, 0) with x > 0 is +inf" % atom.name
    return None


@dataclass(frozen=True)
class Atom:
    """One atom: its DCP properties, its numeric forms and its CVXPY mapping."""

    name: str
    nargs: tuple                 # (least, most) arguments
    curvature: str               # "convex" | "concave"
    sign: str                    # "nonnegative" | "positive" | "unknown"
    monotonicity: tuple          # one phrase per argument
    domain: str                  # the domain, as the docs and refusals say it
    cone: str                    # "exp" | "soc": what a conic solver needs (classify)
    meaning: str                 # the formula, for the docs
    value: Callable              # value(xp, *args)
    partials: Callable           # partials(xp, *args) -> one array per argument
    arg_domain: tuple            # per argument: "nonneg", "positive" or None
    data_args: tuple = ()        # positions that must be data (no unknowns)
    defaults: tuple = ()         # values of trailing arguments that may be left out

    @property
    def signature(self) -> str:
        """The arguments as the docs write them: ``x``, ``x, y``, ``x, M``."""
        names = ("x", "M") if self.data_args else ("x", "y")
        return ", ".join(names[:self.nargs[1]])

    def numpy(self, *args) -> np.ndarray:
        """The value on numpy arrays (warnings off: the extended value, ``±inf``, is meant)."""
        with np.errstate(all="ignore"):
            return self.value(np, *[np.asarray(a, dtype=np.float64) for a in args])

    def numpy_partials(self, *args) -> tuple:
        """The partial derivatives on numpy arrays."""
        with np.errstate(all="ignore"):
            return self.partials(np, *[np.asarray(a, dtype=np.float64) for a in args])

    def numpy_grad(self, k: int, adjoint, *args) -> np.ndarray:
        """``adjoint * d value / d arg k``, 0 where the adjoint is 0 (not ``0 * inf``)."""
        p = self.numpy_partials(*args)[k]
        with np.errstate(all="ignore"):
            return np.where(adjoint == 0, 0.0, adjoint * p)

    def domain_error(self, args):
        """``(mask, message)`` for data arguments outside the domain, else None; an
        argument given as None has unknowns and is not checked."""
        with np.errstate(all="ignore"):
            return _check_args(self, [None if a is None else np.asarray(a, dtype=np.float64)
                                      for a in args])

    def cvxpy(self, cp, args):
        """The CVXPY expression of the atom (``args``: cvxpy expressions or numpy arrays of
        one length, data arguments checked already)."""
        return _CVXPY[self.name](cp, *args)


def _cp_quad_over_lin(cp, x, y):
    if not isinstance(y, cp.Expression):
        # y is data (checked > 0): x^2 / y row by row
        return cp.multiply(cp.square(x), 1.0 / np.asarray(y, dtype=np.float64))
    n = y.shape[0] if y.shape else 1
    if n == 1:
        return cp.reshape(cp.quad_over_lin(x, y), (1,), order="C")
    # CVXPY's quad_over_lin takes a scalar y: one atom per row, as logsumexp segments are
    return cp.hstack([cp.quad_over_lin(x[k], y[k]) for k in range(n)])


def _cp_huber(cp, x, m):
    m = np.asarray(m, dtype=np.float64)
    if m.size and np.all(m == m.flat[0]):
        return cp.huber(x, float(m.flat[0]))
    # huber(x, M) = M^2 huber(x / M, 1): one atom for thresholds that differ by row
    return cp.multiply(m * m, cp.huber(cp.multiply(1.0 / m, x), 1))


_CVXPY = {
    "entr": lambda cp, x: cp.entr(x),
    "xlogx": lambda cp, x: -cp.entr(x),
    "kl_div": lambda cp, x, y: cp.kl_div(x, y),
    "rel_entr": lambda cp, x, y: cp.rel_entr(x, y),
    "quad_over_lin": _cp_quad_over_lin,
    "inv_pos": lambda cp, x: cp.inv_pos(x),
    "huber": _cp_huber,
}

ATOMS: dict[str, Atom] = {a.name: a for a in (
    Atom("entr", (1, 1), "concave", "unknown", ("non-monotone",), "x >= 0", "exp",
         "-x log x (0 at x = 0)", _entr, _entr_d, ("nonneg",)),
    Atom("xlogx", (1, 1), "convex", "unknown", ("non-monotone",), "x >= 0", "exp",
         "x log x (0 at x = 0)", _xlogx, _xlogx_d, ("nonneg",)),
    Atom("kl_div", (2, 2), "convex", "nonnegative", ("non-monotone", "non-monotone"),
         "x >= 0, y >= 0", "exp", "x log(x / y) - x + y", _kl_div, _kl_div_d, ("nonneg", "nonneg")),
    Atom("rel_entr", (2, 2), "convex", "unknown", ("non-monotone", "decreasing"),
         "x >= 0, y >= 0", "exp", "x log(x / y)", _rel_entr, _rel_entr_d, ("nonneg", "nonneg")),
    Atom("quad_over_lin", (2, 2), "convex", "nonnegative",
         ("increasing for x >= 0, decreasing for x <= 0", "decreasing"), "y > 0", "soc",
         "x^2 / y", _quad_over_lin, _quad_over_lin_d, (None, "positive")),
    Atom("inv_pos", (1, 1), "convex", "positive", ("decreasing",), "x > 0", "soc",
         "1 / x", _inv_pos, _inv_pos_d, ("positive",)),
    Atom("huber", (1, 2), "convex", "nonnegative",
         ("increasing for x >= 0, decreasing for x <= 0", "data"), "M > 0 (data)", "soc",
         "x^2 for |x| <= M, else 2M|x| - M^2 (M = 1 by default)", _huber, _huber_d,
         (None, "positive"), data_args=(1,), defaults=(1,)),
)}


# --- the atoms in the IR: sympy functions ---------------------------------------------------

class AtomFunction(sympy.Function):
    """A sympy function whose meaning is :data:`ATOMS` ``[type(self).__name__]``."""

    @property
    def atom(self) -> Atom:
        return ATOMS[type(self).__name__]

    def fdiff(self, argindex=1):
        return _SYMPY_PARTIALS[type(self).__name__](*self.args)[argindex - 1]

    def _eval_evalf(self, prec):
        if all(a.is_number for a in self.args):
            vals = [float(a.evalf(prec)) for a in self.args]
            return sympy.Float(float(self.atom.numpy(*vals)), prec)
        return None

    def _latex(self, printer):
        return r"\operatorname{%s}\left(%s\right)" % (
            type(self).__name__.replace("_", r"\_"), ", ".join(printer._print(a) for a in self.args))


def _function(name: str, nargs) -> type:
    return type(name, (AtomFunction,), {"nargs": nargs, "__module__": __name__,
                                        "__doc__": "The atom %s: %s." % (name, ATOMS[name].meaning)})


entr = _function("entr", 1)
xlogx = _function("xlogx", 1)
kl_div = _function("kl_div", 2)
rel_entr = _function("rel_entr", 2)
quad_over_lin = _function("quad_over_lin", 2)
inv_pos = _function("inv_pos", 1)
huber = _function("huber", 2)

#: .lag name -> sympy class
ATOM_FUNCTIONS = {"entr": entr, "xlogx": xlogx, "kl_div": kl_div, "rel_entr": rel_entr,
                  "quad_over_lin": quad_over_lin, "inv_pos": inv_pos, "huber": huber}


def _sym_huber_d(x, m):
    return (2 * sympy.Max(-m, sympy.Min(m, x)), 2 * (sympy.Abs(x) - sympy.Min(sympy.Abs(x), m)))


_SYMPY_PARTIALS = {
    "entr": lambda x: (-(sympy.log(x) + 1),),
    "xlogx": lambda x: (sympy.log(x) + 1,),
    "kl_div": lambda x, y: (sympy.log(x) - sympy.log(y), 1 - x / y),
    "rel_entr": lambda x, y: (sympy.log(x) - sympy.log(y) + 1, -x / y),
    "quad_over_lin": lambda x, y: (2 * x / y, -x ** 2 / y ** 2),
    "inv_pos": lambda x: (-1 / x ** 2,),
    "huber": _sym_huber_d,
}


def atom_of(e) -> Atom | None:
    """The :class:`Atom` of a sympy node, or None when it is not one."""
    return e.atom if isinstance(e, AtomFunction) else None
