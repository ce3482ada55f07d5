"""Free-format MPS text of a linear (or quadratic-objective) instance.

Free MPS: fields are separated by whitespace, so names may be longer than 8 characters but
hold no spaces -- :mod:`lagdsl.export.names` guarantees that (and the same names as the LP
writer).  Sections::

    NAME          <model>
    OBJSENSE                      (only when maximising)
        MAX
    ROWS
     N  <obj>
     L/G/E  <row>
    COLUMNS                       (column-major; integers between MARKER INTORG / INTEND)
        x(a,1)  <obj>  3
        x(a,1)  cap(a)  1
    RHS
        RHS  <obj>  -7            (minus the objective constant: CPLEX/HiGHS convention)
        RHS  cap(a)  4
    RANGES
        RNG  band  3              (a ranged row is a G row at its lower bound, range = upper - lower)
    BOUNDS
     BV BND b                     (binaries; FR free, FX fixed, MI -inf lower, PL +inf upper,
     LO BND k -5                   LO / UP finite; an integer always gets explicit bounds,
     UP BND k 7                    since old readers make a bound-less integer binary)
    QUADOBJ                       (quadratic objective: 1/2 x'Qx, one triangle of Q)
        x  y  1
    ENDATA

Every unknown appears in COLUMNS (one that is in no row and not in the objective gets an
explicit ``0`` objective entry), and rows with both bounds infinite are left out.
"""
from __future__ import annotations

import numpy as np

from .lp import Flat, _comment, _free_list, flatten
from .names import fmt_numbers


def _columns_text(f: Flat) -> str:
    N = f.N
    # the objective is row 0 of the stacked matrix; empty columns get an explicit 0 there
    present = np.zeros(N, dtype=bool)
    present[f.A.indices] = True
    obj_cols = np.flatnonzero((f.c != 0) | ~present)
    # sort entries column-major by hand so that explicit zeros in the objective row survive
    A = f.A.tocoo()
    rows = np.concatenate([np.zeros(len(obj_cols), np.int64), A.row.astype(np.int64) + 1])
    cols = np.concatenate([obj_cols, A.col.astype(np.int64)])
    vals = np.concatenate([f.c[obj_cols], A.data])
    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    rnames = np.concatenate([np.array([f.obj_name], dtype=object), f.row_names])
    colpre = "    " + f.col_names + " "
    rowpre = rnames + " "
    lines = colpre[cols] + rowpre[rows] + fmt_numbers(vals)
    # integer runs between markers
    integer = f.kind != "C"
    if integer.any():
        first = np.searchsorted(cols, np.arange(N), side="left")
        last = np.searchsorted(cols, np.arange(N), side="right") - 1
        prev = np.concatenate([[False], integer[:-1]])
        nxt = np.concatenate([integer[1:], [False]])
        starts = np.flatnonzero(integer & ~prev)
        ends = np.flatnonzero(integer & ~nxt)
        for s, e in zip(starts, ends):
            lines[first[s]] = "    MARKER 'MARKER' 'INTORG'\n" + lines[first[s]]
            lines[last[e]] = lines[last[e]] + "\n    MARKER 'MARKER' 'INTEND'"
    return "\n".join(lines.tolist()) + "\n"


def _bounds_text(f: Flat) -> str:
    lb, ub, names = f.lb, f.ub, f.col_names
    lines = np.full(f.N, "", dtype=object)
    integer = f.kind == "I"
    binary = f.kind == "B"
    lo_inf, hi_inf = np.isneginf(lb), np.isposinf(ub)
    lbs, ubs = fmt_numbers(lb), fmt_numbers(ub)
    rest = ~binary
    free = rest & lo_inf & hi_inf
    fixed = rest & ~free & (lb == ub)
    general = rest & ~free & ~fixed
    lines[binary] = " BV BND " + names[binary] + "\n"
    lines[free] = " FR BND " + names[free] + "\n"
    lines[fixed] = " FX BND " + names[fixed] + " " + lbs[fixed] + "\n"
    # lower part: MI for -inf, LO when not the default 0 (or for integers, or before a negative UP)
    mi = general & lo_inf
    lo = general & ~lo_inf & ((lb != 0) | integer | (ub < 0))
    lines[mi] = " MI BND " + names[mi] + "\n"
    lines[lo] = " LO BND " + names[lo] + " " + lbs[lo] + "\n"
    up = general & ~hi_inf
    pl = general & hi_inf & integer  # explicit +inf upper for integers only
    lines[up] = lines[up] + " UP BND " + names[up] + " " + ubs[up] + "\n"
    lines[pl] = lines[pl] + " PL BND " + names[pl] + "\n"
    return "".join(lines.tolist())


def write_mps(inst) -> str:
    """Free MPS text of an instance (see the module docstring)."""
    f = flatten(inst, "MPS")
    eq, ranged, _ge, le = f.row_kinds()
    types = np.full(f.m, " G  ", dtype=object)
    types[eq] = " E  "
    types[le] = " L  "
    rhs = np.where(le, f.hi, f.lo)

    out = ["NAME %s\n" % _mps_name(f.name)]
    if f.free:
        out.append("* %d row%s without a finite bound (free) left out: %s\n" % (
            len(f.free), "" if len(f.free) == 1 else "s", _free_list(f.free)))
    if f.sense == "maximize":
        out.append("OBJSENSE\n    MAX\n")
    out.append("ROWS\n N  %s\n" % f.obj_name)
    if f.m:
        out.append("".join((types + f.row_names + "\n").tolist()))
    out += ["COLUMNS\n", _columns_text(f)]
    out.append("RHS\n")
    if f.c0 != 0:
        out.append("    RHS %s %s\n" % (f.obj_name, fmt_numbers(np.array([-f.c0]))[0]))
    nz = np.flatnonzero(rhs != 0)
    if len(nz):
        out.append("".join(("    RHS " + f.row_names[nz] + " " + fmt_numbers(rhs[nz]) + "\n").tolist()))
    rr = np.flatnonzero(ranged)
    if len(rr):
        out.append("RANGES\n")
        out.append("".join(("    RNG " + f.row_names[rr] + " " + fmt_numbers(f.hi[rr] - f.lo[rr]) + "\n").tolist()))
    bounds = _bounds_text(f)
    if bounds:
        out += ["BOUNDS\n", bounds]
    if len(f.qv):
        qv = np.where(f.qi == f.qj, 2.0 * f.qv, f.qv)
        out.append("QUADOBJ\n")
        out.append("".join(("    " + f.col_names[f.qi] + " " + f.col_names[f.qj] + " "
                            + fmt_numbers(qv) + "\n").tolist()))
    out.append("ENDATA\n")
    return "".join(out)


def _mps_name(s: str) -> str:
    return "_".join(_comment(s).split()) or "model"
