"""When an iterative backend is done: a plateau of its loss and of every residual.

Every iterative backend (``pinn``'s Adam and L-BFGS stages, ``lagrangian``'s ``gda`` path, the
``qubo`` multiplier loops, QAOA's angle training) measures a few scalars at each *check* (an
epoch block, an L-BFGS chunk, a multiplier round) and stops when none of them moves any more::

    plateau = Plateau(rtol=1e-3, window=3)
    for ...:
        ...
        if plateau.update(loss=L, pde=r1, bc=r2):
            stop_reason = plateau.reason
            break

A metric has settled when, over its last ``window + 1`` values, ``max - min <= rtol * max|v| +
atol`` (a relative change, robust to the oscillation of stochastic steps; ``atol`` for values
already at the level of a tolerance or of rounding, which cannot plateau in relative terms);
the run has converged when every metric has.  The count options of a backend stay caps
on top of this (``stop_reason`` is then ``"budget"``), and ``time_limit`` stops it earlier
(``"time_limit"``): :func:`stop_reason` is the one wording of all three for ``stats``.
"""
from __future__ import annotations

import math
from collections import deque

#: ``stats["stop_reason"]`` when a count option (epochs, lbfgs, max_iter, ...) ended the run
BUDGET = "budget"
#: ``stats["stop_reason"]`` when ``time_limit`` ended the run
TIME_LIMIT = "time_limit"


class Plateau:
    """A plateau detector over named scalar metrics (see the module docstring)."""

    def __init__(self, rtol: float, window: int = 3, atol: float = 0.0, what: str = "loss and residuals"):
        if not rtol >= 0 or not atol >= 0 or window < 1:
            raise ValueError("Plateau needs rtol >= 0, atol >= 0 and window >= 1")
        self.rtol, self.window, self.atol, self.what = float(rtol), int(window), float(atol), what
        self._values: dict[str, deque] = {}
        self.checks = 0

    def reset(self) -> None:
        """Forget every value (a new stage whose metrics are not comparable with the last)."""
        self._values.clear()
        self.checks = 0

    def update(self, **metrics: float) -> bool:
        """Record one check's values; True when every metric has settled.  A metric that is
        not finite never settles; ``rtol=0`` never converges (the detector is off)."""
        self.checks += 1
        for name, v in metrics.items():
            q = self._values.setdefault(name, deque(maxlen=self.window + 1))
            q.append(float(v))
        return self.converged

    @property
    def converged(self) -> bool:
        """Whether the last ``window + 1`` values of every metric lie within the tolerance."""
        if self.rtol <= 0 or not self._values:
            return False
        return all(self._settled(q) for q in self._values.values())

    def _settled(self, q: deque) -> bool:
        if len(q) < self.window + 1 or not all(math.isfinite(v) for v in q):
            return False
        big = max(abs(v) for v in q)
        return max(q) - min(q) <= self.rtol * big + self.atol

    @property
    def reason(self) -> str:
        """``stats["stop_reason"]`` of a converged run."""
        span = "check" if self.window == 1 else "%d checks" % self.window
        return "converged: %s changed < %g over the last %s" % (self.what, self.rtol, span)


def stop_reason(converged: Plateau | str | None, time_limit: bool) -> str:
    """The one wording of ``stats["stop_reason"]``: ``"time_limit"`` when the time limit ended
    the run, the plateau's reason (or a given text) when it converged, else ``"budget"``."""
    if time_limit:
        return TIME_LIMIT
    if isinstance(converged, Plateau):
        return converged.reason if converged.converged else BUDGET
    return converged or BUDGET
