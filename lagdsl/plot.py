"""``lagdsl solve ... --plot FILE.png``: one figure for any backend that records a history.

The figure has one panel per metric of ``Result.stats["history"]`` (see
:mod:`lagdsl.history`) — objective, violation, multiplier norm, penalty, losses … — and then
one panel per entry of ``Result.panels``, drawings a backend adds itself (a trained field, a
sample distribution).  matplotlib is the optional ``plot`` extra; this module is imported only
when plotting.

Conventions every backend gets from here:

* losses and residuals (a metric whose recorded values are all >= 0, some > 0, and not one of
  :data:`LINEAR` — fractions, multipliers, objectives) are drawn on a log axis, zeros masked;
* ``stats["phase_starts"]`` (``{label: step}``, e.g. pinn's ``{"L-BFGS": 700}``) draws a
  dashed vertical line at each step in every history panel, labelled, so that the switch from
  Adam to L-BFGS is visible;
* a backend panel (a function in ``Result.panels``) with an attribute ``replaces`` (metric
  names) takes the place of those metrics' own panels — the qubo backend's objective panel
  draws the best feasible objective, the round's samples and the dual bound on one axis;
* legends go where they cover no curve (``loc="best"``).
"""
from __future__ import annotations

import io
import math

import numpy as np

from .errors import LagError
from .history import History

#: Panels per row of the figure.
COLUMNS = 3

#: History metrics never drawn on a log axis: fractions, multipliers, weights and objectives
#: (an objective's size says nothing about convergence; its sign may change).
LINEAR = ("objective", "feasible_fraction", "multiplier_norm", "rho", "dual_bound", "penalty")


def require_matplotlib() -> None:
    """Raise a user error naming the extra when matplotlib is missing (checked before a solve,
    so that a long run is not wasted)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise LagError("--plot needs matplotlib: pip install 'lagdsl[plot]'")


def log_axis(name: str, y: np.ndarray) -> bool:
    """Whether history metric ``name`` is a loss or residual for a log axis: not in
    :data:`LINEAR` nor a multiplier (``lambda.*``), every finite value >= 0 and some > 0."""
    if name in LINEAR or name.startswith("lambda."):
        return False
    y = y[np.isfinite(y)]
    return y.size > 0 and bool((y >= 0).all()) and bool((y > 0).any())


def mark_phases(ax, phases: dict) -> None:
    """Dashed vertical lines at the steps where a backend's phases start (``phase_starts``)."""
    for k, (label, step) in enumerate(phases.items()):
        ax.axvline(step, ls="--", lw=1.0, color="C%d" % (k + 3), label="%s from step %d" % (label, step))


def figure(result, title: str | None = None):
    """The matplotlib figure of ``result`` (history panels, then the backend's panels) and its
    number of panels; a result with nothing to draw is a :class:`LagError` naming its backend.
    The caller closes the figure."""
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")          # files only; never open a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    hist = History.from_dict(result.stats["history"]) if result.stats.get("history") else None
    extra = dict(getattr(result, "panels", {}) or {})
    replaced = {m for draw in extra.values() for m in getattr(draw, "replaces", ())}
    names = [n for n in (hist.names if hist else []) if n not in replaced and np.isfinite(hist.series(n)).any()]
    phases = dict(result.stats.get("phase_starts") or {})
    count = len(names) + len(extra)
    if not count:
        raise LagError("backend %s recorded no history to plot" % (result.backend or "?"))
    cols = min(COLUMNS, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax, name in zip(flat, names):
        y = hist.series(name)
        ax.plot(hist.steps, y, lw=1.2, label=name.replace("_", " "))
        if log_axis(name, y):
            ax.set_yscale("log", nonpositive="mask")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))     # steps are whole numbers
        ax.grid(alpha=0.3)
        if phases:
            mark_phases(ax, phases)
            ax.legend(loc="best", fontsize=7)
    for ax, (name, draw) in zip(flat[len(names):], extra.items()):
        draw(ax)
        ax.set_title(name)
    for ax in flat[count:]:
        ax.set_visible(False)
    fig.suptitle(title or "%s: %s" % (result.backend, result.status))
    fig.tight_layout()
    return fig, count


def save_plot(result, path: str, title: str | None = None, inputs=()) -> int:
    """Draw ``result``'s history and panels into ``path`` (a format matplotlib writes, named
    by its extension: :func:`lagdsl.outputs.check_plot_path`, never onto ``inputs``);
    returns the number of panels.  A result with nothing to draw is a :class:`LagError`
    naming its backend."""
    from .outputs import check_plot_path, write_file
    require_matplotlib()
    fmt = check_plot_path(path, inputs, "--plot")
    fig, count = figure(result, title)
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    # Whole or not at all, and never a rename over a device such as /dev/stdout.
    write_file(path, buf.getvalue(), inputs, "--plot")
    return count
