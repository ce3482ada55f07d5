"""Size limits: how many elements one set, declaration or stored file may hold.

A model, data or IR file is untrusted input; ``set I = 1..10^12`` must be refused before
anything is allocated, not after the machine runs out of memory.  One number bounds it: the
most elements (set members, entries of a parameter or variable family, rows of a product or
filter) that one object may have.  The default comes from the memory available when lagdsl
starts, so that the arrays of the largest allowed object fit in a fraction of it; the
``--max-elements N`` option of every CLI command that loads a model, and
``lagdsl.load(..., max_elements=N)``, change it for one load.
"""
from __future__ import annotations

import contextlib
import contextvars
import os

from .errors import LagError

#: Bytes one element costs, roughly: a Python object in a set's element list and index dict
#: plus the float64 arrays (bounds, start, values) lowering builds for it.
BYTES_PER_ELEMENT = 256

#: The share of available memory the largest single object may take.
MEMORY_FRACTION = 0.25

#: Bounds of the default whatever the machine reports.
MIN_DEFAULT, MAX_DEFAULT = 10 ** 6, 10 ** 9

#: The most nodes an expression read from an IR file may expand to (a DAG of shared
#: sub-expressions counted as the tree every traversal walks).
MAX_EXPRESSION_NODES = 10 ** 7

#: The deepest expression (sympy tree levels after n-ary chains are flattened) a body may
#: have: sympy's printers and simplifications, classification and lowering recurse once per
#: level; 200 levels pass all of them (measured: about 300 breaks the pretty printer).
MAX_EXPRESSION_DEPTH = 200

#: The most bits an exact power of two rational numbers may have (sympy evaluates
#: ``9^9^9`` digit by digit when it is built).
MAX_POW_BITS = 100_000

_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("lagdsl_max_elements",
                                                                      default=None)


class SizeLimitError(LagError):
    """An object whose size would exceed :func:`max_elements`."""

    kind = "size error"


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of ``/proc/meminfo``, else the
    physical pages the OS reports free), or None when the platform says neither."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_max_elements() -> int:
    """The limit when none is set: a quarter of available memory at
    :data:`BYTES_PER_ELEMENT` per element, clamped to ``[10^6, 10^9]``."""
    mem = available_memory()
    if mem is None:
        return MIN_DEFAULT * 10
    return int(min(MAX_DEFAULT, max(MIN_DEFAULT, mem * MEMORY_FRACTION // BYTES_PER_ELEMENT)))


#: An environment variable that sets the default (tests pin it so messages do not depend on
#: the machine's memory).
ENV_VAR = "LAGDSL_MAX_ELEMENTS"


def max_elements() -> int:
    """The limit in force: the one set by :func:`limited`, else ``$LAGDSL_MAX_ELEMENTS``,
    else :func:`default_max_elements`."""
    n = _override.get()
    if n is not None:
        return n
    env = os.environ.get(ENV_VAR, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return default_max_elements()


def check_max_elements(n) -> int:
    """Validate a user-given limit (a positive integer)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LagError("max_elements must be a positive integer, got %r" % (n,))
    return n


@contextlib.contextmanager
def limited(n: int | None):
    """Use ``n`` as the limit inside the block (None keeps the current one)."""
    if n is None:
        yield
        return
    token = _override.set(check_max_elements(n))
    try:
        yield
    finally:
        _override.reset(token)


def check_size(n: int, what: str, span=None, hint_option: bool = True, source=None) -> None:
    """Refuse ``what`` (e.g. ``"set I"``) when its ``n`` elements exceed the limit; call it
    with the size computed from the bounds, *before* allocating anything."""
    limit = max_elements()
    if n > limit:
        raise SizeLimitError(
            "%s would have %s elements, more than the limit of %s" % (what, _count(n), _count(limit)),
            span, "raise the limit with --max-elements N (or lagdsl.load(..., max_elements=N)) "
                  "if the machine has the memory" if hint_option else None, source)


#: float64 values one element stands for in the budget of tensors an option sizes (a network's
#: weights, a batch of activations): an element is :data:`BYTES_PER_ELEMENT` bytes.
FLOATS_PER_ELEMENT = BYTES_PER_ELEMENT // 8


def check_option_size(n: int, option: str, what: str, unit: str = "elements", per_element: int = 1,
                      span=None, source=None) -> None:
    """Refuse a backend option (``option``: the setting as the user gave it, e.g.
    ``"width=100000, depth=3"``) whose allocation ``what`` would have ``n`` ``unit``s, more
    than :func:`max_elements` times ``per_element`` (e.g. :data:`FLOATS_PER_ELEMENT` for float64
    tensors); call it with the size computed from the options, *before* allocating."""
    limit = max_elements() * per_element
    if n > limit:
        names = ", ".join(dict.fromkeys(part.split("=")[0].strip() for part in option.split(",")))
        raise SizeLimitError(
            "option %s: %s would have %s %s, more than the limit of %s%s" % (
                option, what, _count(n), unit, _count(limit),
                "" if per_element == 1 else " (%s elements x %d)" % (_count(max_elements()), per_element)),
            span, "lower %s, or raise the limit with --max-elements N (or $LAGDSL_MAX_ELEMENTS) if "
                  "the machine has the memory" % names, source)


def _count(n: int) -> str:
    """An element count people can read: ``1000000000000 (1.0e+12)``."""
    if n < 10 ** 7:
        return str(n)
    if n < 10 ** 300:
        short = "%.1e" % n
    else:                           # beyond float64 (an option of 10^400): from the digits
        digits = str(n)
        short = "%s.%se+%d" % (digits[0], digits[1], len(digits) - 1)
    return "%d (%s)" % (n, short) if n < 10 ** 30 else short


def check_graph_generator(name: str, gen: str, kwargs: dict, span=None, source=None) -> None:
    """Refuse a graph generator call whose graph would exceed the limit, from its arguments
    alone: the nodes are at most the product of its integer arguments (``n``, ``m`` ...,
    not ``seed``), and a complete graph, or a random one with edge probability ``p``, has
    about ``p * nodes^2 / 2`` edges."""
    ints = [v for k, v in kwargs.items() if k != "seed" and isinstance(v, int) and not isinstance(v, bool)]
    nodes = 1
    for v in ints:
        nodes *= max(v, 1)
    if not ints:
        return
    probs = [float(v) for k, v in kwargs.items() if isinstance(v, float) and 0 < v <= 1]
    dense = 1.0 if "complete" in str(gen) else max(probs, default=0.0)
    est = nodes + int(dense * nodes * (nodes - 1) / 2)
    check_size(est, "graph %s (generator %s)" % (name, gen), span, source=source)


def power_too_large(base, exp) -> bool:
    """Whether the exact power ``base ** exp`` of two sympy rationals would exceed
    :data:`MAX_POW_BITS` (or need a root of degree above 64): refuse it before sympy
    builds it.  Anything not a pair of rationals is never too large here."""
    import sympy
    if not (isinstance(base, sympy.Rational) and isinstance(exp, sympy.Rational)):
        return False
    bits = max(abs(base.p).bit_length(), abs(base.q).bit_length(), 1)
    return abs(base.p) > 1 and (abs(exp.p) * bits > MAX_POW_BITS or exp.q > 64)


def expression_depth(expr) -> int:
    """Levels of a sympy expression (a leaf is 1), walked without recursion; shared
    sub-expressions are measured once."""
    depth: dict[int, int] = {}
    keep = []
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in depth:
            continue
        args = getattr(e, "args", ())
        if not ready and any(id(a) not in depth for a in args):
            stack.append((e, True))
            stack.extend((a, False) for a in args if id(a) not in depth)
            continue
        keep.append(e)
        depth[id(e)] = 1 + max((depth[id(a)] for a in args), default=0)
    return depth[id(expr)]
