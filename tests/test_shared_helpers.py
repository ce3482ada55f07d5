"""The helpers every iterative backend shares: option validation, progress bars, histories
and ``--plot``."""
from __future__ import annotations

import io
import math

import pytest

from lagdsl import options as O
from lagdsl.backend import coerce_options, get_backend
from lagdsl.cli import main
from lagdsl.errors import BackendRefusal, LagError
from lagdsl.history import History
from lagdsl.progress import progress, progress_enabled, showing_progress
from lagdsl.result import Result


# --- options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("check, value, want", [
    (O.choice("alm", "gda"), " gda", "gda"),
    (O.boolean(), "TRUE", True), (O.boolean(), "off", False), (O.boolean(), False, False),
    (O.number(0), "2.5", 2.5), (O.number(0, 1, high_open=True), 0, 0.0),
    (O.integer(1), "3", 3), (O.integer(1), 3.0, 3),
    (O.optional(O.number(0)), "none", None), (O.optional(O.number(0)), "4", 4.0),
])
def test_validators_convert(check, value, want):
    got = check("k", value)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("check, value, message", [
    (O.choice("alm", "gda"), "sgd", "option k=sgd: expected one of alm, gda"),
    (O.boolean(), "maybe", "option k=maybe: expected true or false"),
    (O.boolean(), 2, "option k=2: expected true or false"),
    (O.number(0), "nan", "option k=nan: expected a finite number >= 0"),
    (O.number(0), "inf", "option k=inf: expected a finite number >= 0"),
    (O.number(0), "-1", "option k=-1: expected a finite number >= 0"),
    (O.number(0, 1, high_open=True), "1", "option k=1: expected a finite number in [0, 1)"),
    (O.number(0, low_open=True), 0.0, "option k=0.0: expected a finite number > 0"),
    (O.integer(1), "2.5", "option k=2.5: expected an integer >= 1"),
    (O.integer(1), "0", "option k=0: expected an integer >= 1"),
    (O.integer(), True, "option k=True: expected an integer"),
    (O.text(), 3, "option k=3: expected text"),
])
def test_validators_refuse_with_what_is_allowed(check, value, message):
    with pytest.raises(BackendRefusal) as info:
        check("k", value)
    assert info.value.message == message


def test_options_without_a_validator_get_one_from_their_default():
    b = get_backend("cvxpy")
    with pytest.raises(BackendRefusal, match="verbose=maybe: expected true or false"):
        coerce_options(b, {"verbose": "maybe"})
    with pytest.raises(BackendRefusal, match="expected a finite number"):
        coerce_options(b, {"time_limit": "nan"})
    assert coerce_options(b, {"verbose": "true"})["verbose"] is True


# --- progress --------------------------------------------------------------------------------

def test_progress_is_off_unless_asked_for(capsys):
    assert not progress_enabled()
    with progress(3, "x") as bar:
        bar.update(objective=1.0)
    assert capsys.readouterr().err == ""


def test_progress_shows_metrics_on_stderr_when_on(monkeypatch, capsys):
    import lagdsl.progress as P
    monkeypatch.setattr(P, "DELAY", 0.0)
    monkeypatch.setattr(P, "REDRAW", 0.0)
    with showing_progress(True):
        assert progress_enabled()
        with progress(2, "alm") as bar:
            bar.update(objective=1.23456, violation=1e-7)
            bar.update(objective=1.0)
    assert not progress_enabled()
    err = capsys.readouterr().err
    assert "alm" in err and "objective=1.23" in err and "violation=1e-07" in err


# --- history ---------------------------------------------------------------------------------

def test_history_records_missing_metrics_as_none_and_round_trips():
    h = History()
    h.record(0, objective=3.0)
    h.record(1, objective=2.0, violation=0.5)
    d = h.to_dict()
    assert d == {"step": [0, 1], "objective": [3.0, 2.0], "violation": [None, 0.5]}
    back = History.from_dict(d)
    assert back.names == ["objective", "violation"]
    assert math.isnan(back.series("violation")[0]) and back.last("objective") == 2.0


def test_history_keeps_the_order_metrics_are_given_in():
    # the --plot panels follow it: loss first, then the terms, then the multipliers
    names = ["loss", "pde", "initial", "walls", "lambda.initial", "lambda.walls"]
    h = History()
    h.record(0, **{n: 1.0 for n in names})
    h.record(1, **{n: 1.0 for n in names + ["late"]})
    assert h.names == names + ["late"]
    assert list(h.to_dict()) == ["step"] + names + ["late"]


def test_history_is_thinned_keeping_first_and_last():
    h = History(max_points=10)
    for k in range(1000):
        h.record(k, loss=float(k))
    d = h.to_dict()
    assert len(d["step"]) == 10 and d["step"][0] == 0 and d["step"][-1] == 999
    assert d["loss"] == [float(s) for s in d["step"]]


# --- plot ------------------------------------------------------------------------------------

def test_save_plot_draws_history_and_panels(tmp_path):
    from lagdsl.plot import save_plot
    h = History()
    for k in range(20):
        h.record(k, objective=1.0 / (k + 1), violation=10.0 ** -k)
    drawn = []
    r = Result("optimal", backend="test", stats={"history": h.to_dict()},
               panels={"samples": lambda ax: drawn.append(ax.bar([0, 1], [3, 4]))})
    out = tmp_path / "h.png"
    assert save_plot(r, str(out)) == 3
    assert drawn and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]      # no temporary left behind


def test_save_plot_refuses_a_result_without_history(tmp_path):
    from lagdsl.plot import save_plot
    with pytest.raises(LagError, match="backend cvxpy recorded no history to plot"):
        save_plot(Result("optimal", backend="cvxpy"), str(tmp_path / "x.png"))


def test_cli_plot_is_refused_before_solving_for_a_backend_without_history(tmp_path, capsys):
    code = main(["solve", "examples/knapsack.lag", "--data", "examples/knapsack.json",
                 "--plot", str(tmp_path / "k.png")])
    assert code == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "--plot: backend highs records no history to plot" in cap.err
    assert not (tmp_path / "k.png").exists()
