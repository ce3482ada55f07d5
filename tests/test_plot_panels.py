"""--plot's figure checked on the matplotlib objects (issue 18, item 8): losses and residuals
on a log axis, the switch from Adam to L-BFGS marked, the qubo objective panel with the best
feasible answer, the round's samples and the dual bound on one axis, legends at loc="best"."""
from __future__ import annotations

import os

import numpy as np
import pytest

import lagdsl
from lagdsl.history import History
from lagdsl.result import Result

pytest.importorskip("matplotlib")

EX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def panels(result):
    """``{title: Axes}`` of the figure --plot would write (the figure closed afterwards)."""
    import matplotlib.pyplot as plt
    from lagdsl.plot import figure
    fig, count = figure(result)
    out = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    plt.close(fig)
    assert len(out) == count
    return out


def vertical_lines(ax):
    return [ln for ln in ax.get_lines() if len(set(np.asarray(ln.get_xdata(), dtype=float))) == 1
            and len(ln.get_xdata()) == 2]


def test_pinn_loss_and_residuals_on_log_axes_with_the_switch_to_lbfgs_marked():
    m = lagdsl.load(os.path.join(EX, "poisson1d.lag"))
    r = m.solve("pinn", epochs=30, lbfgs=10, points=32, boundary_points=2, width=8, depth=2, log_every=1)
    assert r.stats["phase_starts"]["L-BFGS"] == 30
    ax = panels(r)
    for name in ("loss", "pde", "ends"):                 # the loss and both residuals
        assert ax[name].get_yscale() == "log", name
        marks = vertical_lines(ax[name])
        assert marks and float(marks[0].get_xdata()[0]) == 30.0
        assert marks[0].get_label() == "L-BFGS from step 30"
        assert ax[name].get_legend()._loc == 0           # "best": where it covers no curve
    assert ax["lambda.ends"].get_yscale() == "linear"    # a multiplier, not a residual


def test_qubo_objective_panel_shows_incumbent_samples_and_dual_bound_on_one_axis():
    m = lagdsl.load(os.path.join(EX, "mknap1.lag"), data=os.path.join(EX, "mknap1.json"))
    r = m.solve("qubo", sampler="exact", seed=0, max_iter=6)
    ax = panels(r)
    assert "dual bound" not in ax and "dual_bound" not in ax      # drawn in the objective panel
    obj = ax["objective"]
    lines = {ln.get_label(): ln for ln in obj.get_lines()}
    assert {"best feasible", "dual bound"} <= set(lines)
    best, bound = (np.asarray(lines[k].get_ydata(), dtype=float) for k in ("best feasible", "dual bound"))
    assert best[-1] == r.objective and bound[-1] == pytest.approx(r.stats["dual_bound"])
    assert np.all(bound[np.isfinite(bound)] >= 3800.0 - 1e-9)      # a bound above the maximum
    dots = obj.collections
    assert dots and sum(len(c.get_offsets()) for c in dots) > r.stats["iterations"]
    labels = obj.get_legend_handles_labels()[1]
    assert "feasible samples" in labels and obj.get_legend()._loc == 0
    assert ax["violation"].get_yscale() == "log"                   # zeros masked, not dropped panels
    assert ax["feasible fraction"].get_yscale() == "linear"


def test_history_rules_shared_by_every_backend():
    h = History()
    for k in range(10):
        h.record(k, objective=-5.0 + k, violation=10.0 ** -k, multiplier_norm=float(k))
    ax = panels(Result("limit", backend="test", stats={"history": h.to_dict(), "phase_starts": {"phase 2": 4}}))
    assert ax["objective"].get_yscale() == "linear" and ax["violation"].get_yscale() == "log"
    assert ax["multiplier norm"].get_yscale() == "linear"
    assert all(vertical_lines(a) for a in ax.values())
