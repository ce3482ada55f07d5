"""``lagdsl solve ... --plot FILE.png``: one figure for any backend that records a history.

The figure has one panel per metric of ``Result.stats["history"]`` (see
:mod:`lagdsl.history`) — objective, violation, multiplier norm, penalty, losses … — and then
one panel per entry of ``Result.panels``, drawings a backend adds itself (a trained field, a
sample distribution).  matplotlib is the optional ``plot`` extra; this module is imported only
when plotting.
"""
from __future__ import annotations

import io
import math

import numpy as np

from .errors import LagError
from .history import History

#: Panels per row of the figure.
COLUMNS = 3


def require_matplotlib() -> None:
    """Raise a user error naming the extra when matplotlib is missing (checked before a solve,
    so that a long run is not wasted)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise LagError("--plot needs matplotlib: pip install 'lagdsl[plot]'")


def _positive(y: np.ndarray) -> bool:
    y = y[np.isfinite(y)]
    return y.size > 1 and bool((y > 0).all()) and y.max() / y.min() > 100


def save_plot(result, path: str, title: str | None = None, inputs=()) -> int:
    """Draw ``result``'s history and panels into ``path`` (a format matplotlib writes, named
    by its extension: :func:`lagdsl.outputs.check_plot_path`, never onto ``inputs``);
    returns the number of panels.  A result with nothing to draw is a :class:`LagError`
    naming its backend."""
    from .outputs import check_plot_path, write_file
    require_matplotlib()
    fmt = check_plot_path(path, inputs, "--plot")
    import matplotlib
    matplotlib.use("Agg")          # files only; never open a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    hist = History.from_dict(result.stats["history"]) if result.stats.get("history") else None
    names = [n for n in (hist.names if hist else []) if np.isfinite(hist.series(n)).any()]
    extra = dict(getattr(result, "panels", {}) or {})
    count = len(names) + len(extra)
    if not count:
        raise LagError("backend %s recorded no history to plot" % (result.backend or "?"))
    cols = min(COLUMNS, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax, name in zip(flat, names):
        y = hist.series(name)
        ax.plot(hist.steps, y, lw=1.2)
        if _positive(y):
            ax.set_yscale("log")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))     # steps are whole numbers
        ax.grid(alpha=0.3)
    for ax, (name, draw) in zip(flat[len(names):], extra.items()):
        draw(ax)
        ax.set_title(name)
    for ax in flat[count:]:
        ax.set_visible(False)
    fig.suptitle(title or "%s: %s" % (result.backend, result.status))
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    # Whole or not at all, and never a rename over a device such as /dev/stdout.
    write_file(path, buf.getvalue(), inputs, "--plot")
    return count
