"""The qaoa time estimate (backends/qubo/estimate.py): its arithmetic, the line printed before
a long run (plain `lagdsl solve` only) and stats["qaoa_estimate"] (also under --json)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lagdsl
from lagdsl.backend import coerce_options, get_backend
from lagdsl.backends.qubo.estimate import (EVALUATIONS_PER_START, LONG_SECONDS, SECONDS_PER_UNIT,
                                           estimate)


def cli(*extra):
    """``lagdsl`` in a process of its own, as a user runs it: ``(exit, stdout, stderr)``."""
    p = subprocess.run([sys.executable, "-m", "lagdsl", *GRID, *extra], capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr

EX = Path(__file__).resolve().parent.parent / "examples"
GRID = ["solve", str(EX / "mis_petersen.lag"), "--data", str(EX / "mis_grid4x4.json"),
        "--backend", "qubo", "-O", "sampler=qaoa", "-O", "time_limit=0.5", "--seed", "0"]


def defaults(**kw):
    return coerce_options(get_backend("qubo"), dict(sampler="qaoa", **kw))


def test_18_qubits_with_default_options_is_long_and_says_how_to_shorten_it():
    est = estimate(18, defaults())
    per_eval = SECONDS_PER_UNIT * 2 * 18 * 2 ** 18
    assert est.seconds_per_evaluation == pytest.approx(per_eval)
    assert est.evaluations_per_round == EVALUATIONS_PER_START + 1      # restarts=1 by default
    assert est.rounds == 20 and est.long       # max_iter left to convergence: at most 20 rounds
    assert est.seconds_max == pytest.approx(20 * est.evaluations_per_round * per_eval)
    msg = est.message()
    assert msg.startswith("qaoa on 18 qubits (reps=2, restarts=1, simulator=fast): about ")
    for tip in ("reps=1", "max_iter=5", "time_limit=SECONDS", "sampler=anneal"):
        assert "--option " + tip in msg, msg
    assert "restarts=1" not in msg.split("to shorten it")[1]        # already the default
    assert "restarts=1" in estimate(18, defaults(restarts=3)).message().split("to shorten it")[1]


def test_small_or_shortened_runs_are_not_long():
    assert not estimate(10, defaults()).long
    # the shortening the message suggests brings 18 qubits a long way down
    full, short = estimate(18, defaults()), estimate(18, defaults(reps=1, restarts=1, max_iter=5))
    assert short.seconds_max < full.seconds_max / 7         # half the layers, a quarter of the rounds
    # penalty samples one round
    assert estimate(18, defaults(method="penalty")).rounds == 1
    assert estimate(12, defaults()).seconds_max < LONG_SECONDS <= estimate(16, defaults()).seconds_max


def test_the_plain_cli_prints_the_estimate_before_a_long_run():
    code, out, err = cli()
    assert code in (0, 1)
    assert "note: qaoa on 16 qubits (reps=2, restarts=1, simulator=fast): about " in err
    assert "to shorten it: --option reps=1" in err


def test_json_and_quiet_keep_stderr_clean_and_json_has_it_in_stats():
    code, out, err = cli("--json")
    assert code in (0, 1) and "qaoa on 16 qubits" not in err
    est = json.loads(out)["stats"]["qaoa_estimate"]
    assert est["qubits"] == 16 and est["reps"] == 2 and est["long"] is True
    assert est["seconds_at_most"] == pytest.approx(estimate(16, defaults()).seconds_max, abs=0.1)
    code, out, err = cli("--quiet")
    assert code in (0, 1) and "qaoa on 16 qubits" not in err


def test_the_api_stays_silent_but_records_it(capsys):
    m = lagdsl.load(str(EX / "mis_petersen.lag"), data=str(EX / "mis_petersen.json"))
    r = m.solve("qubo", sampler="qaoa", seed=0, max_iter=2, restarts=1)
    assert "qaoa on" not in capsys.readouterr().err
    assert r.stats["qaoa_estimate"]["qubits"] == 10 and r.stats["qaoa_estimate"]["long"] is False
