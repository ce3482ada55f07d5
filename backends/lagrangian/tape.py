"""A model's bodies recorded once as a tape of vector operations, replayed per iteration.

:class:`TapeAlgebra` is an :class:`~lagdsl.lower.evaluate.Algebra`: the
:class:`~lagdsl.lower.evaluate.Evaluator` walks each sympy body *once* with it, and every
operation on unknowns becomes one :class:`Node` over all rows of its family (data sub-trees
are folded into numpy constants on the spot).  The tape is then replayed every iteration
without sympy:

* :class:`NumpyTape` evaluates it in numpy and differentiates it in reverse mode (one
  backward sweep gives the gradient of any weighted sum of the outputs: exactly what the
  augmented Lagrangian needs).  A small model costs a few microseconds per node, with no
  framework dispatch; a large one costs a handful of vectorised numpy calls per node;
* :func:`replay` runs it in any other algebra, e.g.
  :class:`~lagdsl.backends.lagrangian.torch_algebra.TorchAlgebra` for autograd on a GPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lagdsl.ir.atoms import ATOMS
from lagdsl.lower.evaluate import reduce_data


@dataclass(frozen=True)
class Ref:
    """A value on the tape: node ``id`` holding ``n`` per-row values."""

    id: int
    n: int


@dataclass
class Node:
    """One vector operation: ``op`` applied to ``args`` (:class:`Ref` or numpy constants)."""

    op: str
    args: tuple
    data: object = None     # var: flat columns; pow: -; func: name; take: idx; reduce: (kind, parent)
    n: int = 0


def _is_ref(a) -> bool:
    return isinstance(a, Ref)


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


class TapeAlgebra:
    """Records operations on unknowns as nodes; operations on data alone stay numpy."""

    def __init__(self, offsets: dict[str, tuple[int, int]]):
        self.offsets = offsets
        self.nodes: list[Node] = []

    def _push(self, op: str, args: tuple, data, n: int) -> Ref:
        self.nodes.append(Node(op, args, data, int(n)))
        return Ref(len(self.nodes) - 1, int(n))

    @staticmethod
    def _len(a) -> int:
        return a.n if _is_ref(a) else int(np.size(a))

    def const(self, values):
        return _f64(values)

    def var(self, name, flat):
        cols = self.offsets[name][0] + np.asarray(flat, dtype=np.int64)
        return self._push("var", (), cols, len(cols))

    def add(self, a, b):
        if not _is_ref(a) and not _is_ref(b):
            return _f64(a) + _f64(b)
        return self._push("add", (a, b), None, max(self._len(a), self._len(b)))

    def mul(self, a, b):
        if not _is_ref(a) and not _is_ref(b):
            return _f64(a) * _f64(b)
        return self._push("mul", (a, b), None, max(self._len(a), self._len(b)))

    def pow(self, a, p):
        if not _is_ref(a) and not _is_ref(p):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.power(_f64(a), _f64(p))
        if not _is_ref(p):
            p = _f64(p)
            if p.size and np.all(p == 1):
                return a
        return self._push("pow", (a, p), None, max(self._len(a), self._len(p)))

    def func(self, name, args):
        if not any(_is_ref(a) for a in args):
            from lagdsl.lower.numeric import NumericAlgebra
            return NumericAlgebra.func(None, name, [_f64(a) for a in args])
        return self._push("func", tuple(args), name, max(self._len(a) for a in args))

    def take(self, a, idx):
        idx = np.asarray(idx, dtype=np.int64)
        if not _is_ref(a):
            return _f64(a)[idx]
        return self._push("take", (a,), idx, len(idx))

    def reduce(self, kind, values, parent, n):
        if not _is_ref(values):
            return reduce_data(kind, _f64(values), np.asarray(parent, dtype=np.int64), n)
        return self._push("reduce", (values,), (kind, np.asarray(parent, dtype=np.int64)), n)


def replay(nodes: list[Node], alg, outputs: list):
    """Values of ``outputs`` (:class:`Ref` or constants) computed in algebra ``alg``: the
    recorded operations called again, in order, on ``alg``'s values (``alg.gather(columns)``
    reads the unknowns at flat columns)."""
    vals: list = [None] * len(nodes)

    def arg(a):
        return vals[a.id] if _is_ref(a) else alg.const(a)

    for i, nd in enumerate(nodes):
        op = nd.op
        if op == "var":
            vals[i] = alg.gather(nd.data)
        elif op == "add":
            vals[i] = alg.add(arg(nd.args[0]), arg(nd.args[1]))
        elif op == "mul":
            vals[i] = alg.mul(arg(nd.args[0]), arg(nd.args[1]))
        elif op == "pow":
            vals[i] = alg.pow(arg(nd.args[0]), arg(nd.args[1]))
        elif op == "func":
            vals[i] = alg.func(nd.data, [arg(a) for a in nd.args])
        elif op == "take":
            vals[i] = alg.take(arg(nd.args[0]), nd.data)
        else:
            kind, parent = nd.data
            vals[i] = alg.reduce(kind, arg(nd.args[0]), parent, nd.n)
    return [arg(o) for o in outputs]


# --- numpy forward and reverse mode -------------------------------------------------------

_FWD = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "abs": np.abs, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def _ties(mask: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    """``mask`` divided by the number of tied entries of each segment (a subgradient that
    spreads evenly over the maximisers)."""
    cnt = np.bincount(parent, weights=mask.astype(np.float64), minlength=n)
    return mask / np.maximum(cnt, 1.0)[parent]


def _reduce_grad(kind: str, v: np.ndarray, out: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    """d out[parent[k]] / d v[k] for each inner entry ``k``."""
    if kind == "sum":
        return np.ones_like(v)
    if kind == "sumsq":
        return 2.0 * v
    if kind == "norm1":
        return np.sign(v)
    if kind == "norm2":
        o = out[parent]
        return np.divide(v, o, out=np.zeros_like(v), where=o > 0)
    if kind == "logsumexp":
        return np.exp(v - out[parent])
    if kind in ("max", "min"):
        return _ties(v == out[parent], parent, n)
    if kind == "norminf":
        return np.sign(v) * _ties(np.abs(v) == out[parent], parent, n)
    if kind == "prod":
        zero = v == 0
        zeros = np.bincount(parent, weights=zero.astype(np.float64), minlength=n)
        nz = np.where(zero, 1.0, v)
        p_nz = np.ones(n)
        np.multiply.at(p_nz, parent, nz)
        z = zeros[parent]
        return np.where(zero, np.where(z == 1, p_nz[parent], 0.0),
                        np.where(z == 0, p_nz[parent] / nz, 0.0))
    raise KeyError(kind)


class NumpyTape:
    """A tape compiled into two straight-line numpy functions (generated once, at compile
    time): ``forward(x)`` gives every node's value and ``backward(values, seeds)`` the
    gradient of ``sum(seed . output)`` over the ``outputs`` named at construction.

    The generated code only names nodes and constants (``v3 = v1 * K2``); every array is
    passed in a constants table, so nothing from a model is ever compiled as text.  Straight
    lines instead of a loop over nodes remove the per-node dispatch that dominates a
    4-unknown problem.
    """

    def __init__(self, nodes: list[Node], N: int, outputs: list):
        self.nodes = nodes
        self.N = N
        self.outputs = [o for o in outputs if isinstance(o, Ref)]
        self._zeros = [np.zeros(o.n) for o in self.outputs]
        self._forward, self._backward = _generate(nodes, N, self.outputs)

    def forward(self, x: np.ndarray) -> list:
        """Values of every node at ``x``."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._forward(x)

    @staticmethod
    def value(vals, out) -> np.ndarray:
        """The value of one output (a :class:`Ref` or a constant)."""
        return vals[out.id] if isinstance(out, Ref) else out

    def backward(self, vals, seeds: dict) -> np.ndarray:
        """Gradient w.r.t. the unknowns of ``sum(w . output)``; ``seeds`` maps an output's
        node id (``Ref.id``) to its weights ``w`` (missing outputs weigh zero)."""
        ws = [seeds.get(o.id, z) for o, z in zip(self.outputs, self._zeros)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._backward(vals, ws)


def _minmax_grad(args: list, out: np.ndarray, k: int, n: int) -> np.ndarray:
    """0/1 mask: where argument ``k`` is the first to attain an elementwise min/max."""
    taken = np.zeros(n, dtype=bool)
    for j, v in enumerate(args):
        hit = (np.broadcast_to(v, (n,)) == out) & ~taken
        if j == k:
            return hit.astype(np.float64)
        taken |= hit
    return np.zeros(n)


_DERIV = {   # d/da of f(a) with value v, times the adjoint d
    "exp": "{d} * {v}", "log": "{d} / {a}", "sin": "{d} * np.cos({a})",
    "cos": "-{d} * np.sin({a})", "tan": "{d} * (1.0 + {v} * {v})",
    "tanh": "{d} * (1.0 - {v} * {v})", "abs": "{d} * np.sign({a})",
    "sigmoid": "{d} * {v} * (1.0 - {v})",
}


def _generate(nodes: list[Node], N: int, outputs: list[Ref]):
    """Source of the forward and backward functions of a tape, compiled with ``exec``."""
    K: list = []                      # constants table

    def const(a) -> str:
        K.append(a)
        return "K[%d]" % (len(K) - 1)

    def name(a) -> str:
        return "v%d" % a.id if isinstance(a, Ref) else const(a)

    fwd = ["def forward(x):"]
    argn: list[list[str]] = []
    for i, nd in enumerate(nodes):
        a = [name(r) for r in nd.args]
        argn.append(a)
        op = nd.op
        if op == "var":
            e = "x[%s]" % const(nd.data)
        elif op == "add":
            e = "%s + %s" % tuple(a)
        elif op == "mul":
            e = "%s * %s" % tuple(a)
        elif op == "pow":
            p = nd.args[1]
            if not isinstance(p, Ref) and p.size and np.all(p == 2):
                e = "%s * %s" % (a[0], a[0])
            else:
                e = "np.power(%s, %s)" % tuple(a)
        elif op == "func":
            if nd.data in ("min", "max"):
                e = "np.%s.reduce(np.broadcast_arrays(%s))" % (
                    "minimum" if nd.data == "min" else "maximum", ", ".join(a))
            elif nd.data in ATOMS:
                e = "%s(%s)" % (const(ATOMS[nd.data].numpy), ", ".join(a))
            else:
                e = "%s(%s)" % (const(_FWD[nd.data]), a[0])
        elif op == "take":
            e = "%s[%s]" % (a[0], const(nd.data))
        else:
            kind, parent = nd.data
            e = "reduce_data(%r, %s, %s, %d)" % (kind, a[0], const(parent), nd.n)
        fwd.append("    v%d = %s" % (i, e))
    fwd.append("    return [%s]" % ", ".join("v%d" % i for i in range(len(nodes))))

    # reverse sweep: contributions to each node, summed when the sweep reaches it
    needed = [False] * len(nodes)
    for o in outputs:
        needed[o.id] = True
    for i in range(len(nodes) - 1, -1, -1):
        if needed[i]:
            for r in nodes[i].args:
                if isinstance(r, Ref):
                    needed[r.id] = True
    contrib: list[list[str]] = [[] for _ in nodes]
    seed_of = {o.id: k for k, o in enumerate(outputs)}
    bwd = ["def backward(V, S):"]
    if nodes:
        bwd.append("    %s, = V" % ", ".join("v%d" % i for i in range(len(nodes))) if len(nodes) == 1
                   else "    %s = V" % ", ".join("v%d" % i for i in range(len(nodes))))
    var_cols, var_adj = [], []
    for i in range(len(nodes) - 1, -1, -1):
        if not needed[i]:
            continue
        nd = nodes[i]
        terms = list(contrib[i])
        if i in seed_of:
            k = seed_of[i]
            terms.append("S[%d]" % k)
        if not terms:
            continue
        bwd.append("    d%d = %s" % (i, " + ".join(terms)))
        d, a, v = "d%d" % i, argn[i], "v%d" % i
        op = nd.op

        def give(r, expr, rowwise=True):
            if not isinstance(r, Ref):
                return
            if rowwise and r.n != nd.n:                # a one-row value broadcast over the rows
                expr = "np.atleast_1d(np.sum(%s))" % expr
            t = "t%d_%d" % (r.id, len(contrib[r.id]))
            bwd.append("    %s = %s" % (t, expr))
            contrib[r.id].append(t)

        if op == "var":
            var_cols.append(const(nd.data))
            var_adj.append(d)
        elif op == "add":
            give(nd.args[0], d)
            give(nd.args[1], d)
        elif op == "mul":
            give(nd.args[0], "%s * %s" % (d, a[1]))
            give(nd.args[1], "%s * %s" % (d, a[0]))
        elif op == "pow":
            p = nd.args[1]
            if isinstance(p, Ref):
                give(nd.args[0], "%s * %s * np.power(%s, %s - 1.0)" % (d, a[1], a[0], a[1]))
                give(p, "%s * %s * np.log(%s)" % (d, v, a[0]))
            elif p.size and np.all(p == 2):
                give(nd.args[0], "2.0 * %s * %s" % (d, a[0]))
            else:
                give(nd.args[0], "%s * %s * np.power(%s, %s)" % (d, a[1], a[0], const(p - 1.0)))
        elif op == "func":
            if nd.data in ("min", "max"):
                for k, r in enumerate(nd.args):
                    give(r, "%s * _minmax_grad([%s], %s, %d, %d)" % (d, ", ".join(a), v, k, nd.n))
            elif nd.data in ATOMS:
                # the atom's own partials: infinite on the boundary, 0 where the adjoint is
                for k, r in enumerate(nd.args):
                    give(r, "%s(%d, %s, %s)" % (const(ATOMS[nd.data].numpy_grad), k, d, ", ".join(a)))
            else:
                give(nd.args[0], _DERIV[nd.data].format(d=d, a=a[0], v=v))
        elif op == "take":
            r = nd.args[0]
            if isinstance(r, Ref):
                give(r, "np.bincount(%s, weights=%s, minlength=%d)" % (const(nd.data), d, r.n),
                     rowwise=False)
        else:
            kind, parent = nd.data
            P = const(parent)
            dd = "%s[%s]" % (d, P)
            if kind == "sum":
                give(nd.args[0], dd, False)
            elif kind == "sumsq":
                give(nd.args[0], "2.0 * %s * %s" % (dd, a[0]), False)
            else:
                give(nd.args[0], "%s * _reduce_grad(%r, %s, %s, %s, %d)" % (dd, kind, a[0], v, P, nd.n), False)
    if var_cols:
        if len(var_cols) == 1:
            bwd.append("    return np.bincount(%s, weights=%s, minlength=%d)" % (var_cols[0], var_adj[0], N))
        else:
            bwd.append("    return np.bincount(np.concatenate([%s]), weights=np.concatenate([%s]), minlength=%d)"
                       % (", ".join(var_cols), ", ".join(var_adj), N))
    else:
        bwd.append("    return np.zeros(%d)" % N)
    env = {"np": np, "K": K, "reduce_data": reduce_data, "_reduce_grad": _reduce_grad,
           "_minmax_grad": _minmax_grad}
    exec(compile("\n".join(fwd) + "\n\n" + "\n".join(bwd) + "\n", "<lagrangian tape>", "exec"), env)
    return env["forward"], env["backward"]


# --- minibatches: a family's tape restricted to some of its rows ---------------------------


def restrict(nodes: list[Node], out: Ref, rows: np.ndarray) -> tuple[list[Node], Ref]:
    """The nodes that compute rows ``rows`` (sorted, unique) of output ``out``, re-indexed
    into a tape of their own.

    Each family's body is a tree (the evaluator records every sub-expression of a family
    once), so every node has one consumer and one row subset: element-wise operations keep
    their consumer's rows, a variable gathers its columns at those rows, ``take`` narrows to
    the entries it reads, and an aggregate to the inner rows whose parent is kept.  Work and
    memory are proportional to the batch, not to the family.
    """
    need: dict[int, np.ndarray] = {out.id: np.asarray(rows, dtype=np.int64)}
    order = []
    stack = [out.id]
    while stack:                              # the sub-tree of ``out``, consumers first
        i = stack.pop()
        order.append(i)
        R = need[i]
        nd = nodes[i]
        if nd.op == "take":
            a = nd.args[0]
            if isinstance(a, Ref):
                need[a.id] = np.unique(nd.data[R])
                stack.append(a.id)
        elif nd.op == "reduce":
            a = nd.args[0]
            if isinstance(a, Ref):
                parent = nd.data[1]
                need[a.id] = np.flatnonzero(np.isin(parent, R))
                stack.append(a.id)
        else:
            for a in nd.args:
                if isinstance(a, Ref):
                    need[a.id] = R
                    stack.append(a.id)
    order.sort()
    new_id = {i: k for k, i in enumerate(order)}
    out_nodes = []

    def arg(a, R):
        if isinstance(a, Ref):
            return Ref(new_id[a.id], len(need[a.id]))
        a = np.asarray(a)
        return a[R] if a.size > 1 else a

    for i in order:
        nd, R = nodes[i], need[i]
        if nd.op == "var":
            out_nodes.append(Node("var", (), nd.data[R], len(R)))
        elif nd.op == "take":
            a = nd.args[0]
            if isinstance(a, Ref):
                idx = np.searchsorted(need[a.id], nd.data[R])
                out_nodes.append(Node("take", (arg(a, R),), idx, len(R)))
            else:
                out_nodes.append(Node("take", (np.asarray(a)[nd.data[R]],), np.arange(len(R)), len(R)))
        elif nd.op == "reduce":
            kind, parent = nd.data
            a = nd.args[0]
            inner = need[a.id] if isinstance(a, Ref) else np.flatnonzero(np.isin(parent, R))
            new_parent = np.searchsorted(R, parent[inner])
            src = arg(a, inner) if isinstance(a, Ref) else np.asarray(a)[inner]
            out_nodes.append(Node("reduce", (src,), (kind, new_parent), len(R)))
        else:
            out_nodes.append(Node(nd.op, tuple(arg(a, R) for a in nd.args), nd.data, len(R)))
    return out_nodes, Ref(new_id[out.id], len(rows))
