"""``lagdsl sweep`` and ``lagdsl.sweep``: rows equal one-by-one solves, bad scenarios become
rows, Ctrl-C then the same command gives each id once, the three executors agree, the output
formats round-trip, and a mistake in the command, model or data runs nothing (exit 2)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import lagdsl
from lagdsl.sweep import run as sweep_run
from lagdsl.sweep.store import Store
from test_process import SLOW as SLOW_MILP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

#: Demand scenarios for examples/transport (supply is 350 + 600 = 950 cases).
DEMANDS = [[325, 300, 275], [300, 300, 300], [100, 200, 300], [400, 300, 250], [0, 0, 0]]
#: Only the objective, status and collected values count; time_s differs run to run.
SAME = ("id", "status", "objective", "max_violation", "error", "variables", "duals")


@pytest.fixture
def transport(tmp_path):
    """A directory with the transport model, its data and a scenario file."""
    for f in ("transport.lag", "transport.json"):
        shutil.copy(os.path.join(EXAMPLES, f), tmp_path / f)
    lines = [json.dumps({"id": "d%d" % i, "demand": d}) for i, d in enumerate(DEMANDS)]
    (tmp_path / "scen.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def lagdsl_cli(*args, cwd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lagdsl", *map(str, args)], cwd=cwd, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, **kw)


def _same(rows) -> dict:
    return {r["id"]: {k: r[k] for k in SAME} for r in rows}


def _read(path) -> list[dict]:
    fmt = os.path.splitext(str(path))[1].lstrip(".")
    return list(Store.open(str(path), "jsonl" if fmt == "jsonl" else fmt).rows.values())


def _ids_in_file(path) -> list[str]:
    return [json.loads(line)["id"] for line in open(path) if line.strip()]


# --- results ----------------------------------------------------------------------------------

def test_rows_equal_one_by_one_solves(transport):
    out = transport / "rows.jsonl"
    rows = lagdsl.sweep(str(transport / "transport.lag"), str(transport / "scen.jsonl"),
                        data=str(transport / "transport.json"), backend="cvxpy", workers=2,
                        collect=["ship", "meet_demand"], out=str(out))
    assert [r["id"] for r in rows] == ["d%d" % i for i in range(len(DEMANDS))]
    base = json.loads((transport / "transport.json").read_text())
    for r, d in zip(rows, DEMANDS):
        one = lagdsl.load(str(transport / "transport.lag"), data=dict(base, demand=d)).solve(backend="cvxpy")
        assert r["status"] == one.status == "optimal"
        assert r["objective"] == pytest.approx(one.objective, rel=1e-9, abs=1e-9)
        assert r["error"] is None and r["time_s"] > 0
        assert r["variables"]["ship"] == pytest.approx(dict(one.values["ship"].items()), abs=1e-7)
        assert r["duals"]["meet_demand"] == pytest.approx(dict(one.duals["meet_demand"]), abs=1e-7)
    assert rows[0]["objective"] == pytest.approx(153.675)      # the published optimum
    assert rows[4]["objective"] == pytest.approx(0.0)
    assert _same(_read(out)) == _same(rows)                    # the file holds the same rows
    df = rows.to_pandas()
    assert list(df["id"]) == [r["id"] for r in rows] and df["objective"].iloc[0] == rows[0]["objective"]


def test_bad_scenarios_become_rows_with_status_and_message(transport):
    (transport / "bad.jsonl").write_text(
        '{"id": "ok", "demand": [325, 300, 275]}\n'
        '{"id": "short", "demand": [1, 2]}\n'
        '{"id": "typo", "demnd": [1, 2, 3]}\n'
        '{"id": "too-much", "demand": [900, 300, 275]}\n'
        '{"id": "nan", "demand": [1, "x", 3]}\n')
    r = lagdsl_cli("sweep", "transport.lag", "--data", "transport.json", "--scenarios", "bad.jsonl",
                   "-o", "rows.jsonl", "--backend", "cvxpy", "--workers", "1", cwd=transport)
    assert r.returncode == 1, r.stderr                 # every row written, some not solved
    rows = {row["id"]: row for row in _read(transport / "rows.jsonl")}
    assert list(rows) == ["ok", "short", "typo", "too-much", "nan"]
    assert rows["ok"]["status"] == "optimal" and rows["ok"]["error"] is None
    short = rows["short"]
    assert short["status"] == "error" and short["objective"] is None
    assert short["error"].startswith("transport.lag:15:7: data error: param demand[Markets]: "
                                     "data has 2 entries but Markets has 3 elements\n")
    assert "    param demand[Markets]" in short["error"] and "^~~~~~" in short["error"]
    typo = rows["typo"]
    assert typo["status"] == "error"
    assert typo["error"] == ('bad.jsonl:3: data error: data key "demnd" names nothing in the model\n'
                             "hint: did you mean demand?")
    assert rows["too-much"]["status"] == "infeasible"
    assert "infeasible" in rows["too-much"]["error"]
    assert rows["nan"]["status"] == "error" and "demand" in rows["nan"]["error"]
    # the summary table
    assert "  error       3" in r.stdout and "  optimal     1" in r.stdout and "  infeasible  1" in r.stdout
    assert "objective  min 153.675  median 153.675  max 153.675  (1 solved rows)" in r.stdout


def test_a_failing_scenario_does_not_stop_the_others_on_a_worker(transport):
    rows = lagdsl.sweep(str(transport / "transport.lag"),
                        [{"demand": [1, 2]}, {"demand": [10, 20, 30]}],
                        data=str(transport / "transport.json"), backend="cvxpy", workers=1)
    assert [(r["id"], r["status"]) for r in rows] == [("1", "error"), ("2", "optimal")]


# --- Ctrl-C and resumption ------------------------------------------------------------------

#: test_process's bin-packing MILP that HiGHS does not finish, its capacity a parameter that
#: scenarios change
SLOW = "param capacity = 45\n" + SLOW_MILP.replace("45*y[j]", "capacity*y[j]")
assert "capacity*y[j]" in SLOW


def test_ctrl_c_keeps_whole_rows_and_the_same_command_finishes_each_id_once(tmp_path):
    # a MILP that HiGHS does not finish: each scenario stops at its time limit, so the sweep
    # lasts long enough to be interrupted whatever the machine
    (tmp_path / "slow.lag").write_text(SLOW)
    n = 24
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"id": "c%02d" % i, "capacity": 45 + i}) + "\n"
                                              for i in range(n)))
    cmd = [sys.executable, "-m", "lagdsl", "sweep", "slow.lag", "--scenarios", "s.jsonl", "-o",
           "rows.jsonl", "--backend", "cvxpy", "--option", "time_limit=0.2", "--workers", "2"]
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "rows.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if out.exists() and out.stat().st_size > 0:
                break
            time.sleep(0.05)
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        _, err = p.communicate(timeout=60)
        waited = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    assert waited < 10, waited
    assert err.rstrip().endswith("interrupted") and "Traceback" not in err
    first = _ids_in_file(out)                           # every line whole, parsable
    assert 0 < len(first) < n and len(set(first)) == len(first)
    r = subprocess.run(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300)
    assert r.returncode == 1, r.stderr                  # status "limit" is not solved
    ids = _ids_in_file(out)
    assert sorted(ids) == ["c%02d" % i for i in range(n)]      # each id exactly once
    assert ids[:len(first)] == first                    # the first run's rows are kept as they were
    assert "%d run now, %d already in rows.jsonl" % (n - len(first), len(first)) in r.stdout
    rows = _read(out)
    assert {row["status"] for row in rows} == {"limit"}


def test_a_torn_last_row_is_dropped_and_its_scenario_runs_again(transport, capsys):
    out = transport / "rows.jsonl"
    lagdsl.sweep(str(transport / "transport.lag"), str(transport / "scen.jsonl"),
                 data=str(transport / "transport.json"), backend="cvxpy", workers=1, out=str(out))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])          # killed inside the third row
    rows = lagdsl.sweep(str(transport / "transport.lag"), str(transport / "scen.jsonl"),
                        data=str(transport / "transport.json"), backend="cvxpy", workers=1, out=str(out))
    assert "dropped an incomplete last row (25 bytes)" in capsys.readouterr().err
    ids = _ids_in_file(out)
    assert sorted(ids) == sorted("d%d" % i for i in range(len(DEMANDS))) and len(rows) == len(DEMANDS)
    assert out.read_text().startswith("".join(lines[:2]))


def test_ctrl_c_during_a_write_waits_for_the_batch_and_never_repeats_it(tmp_path, monkeypatch):
    from lagdsl.sweep import store as store_mod
    rows = [{"id": "r%d" % i, "status": "optimal", "objective": 1.0, "max_violation": 0.0,
             "time_s": 0.1, "error": None, "variables": {}, "duals": {}} for i in range(3)]
    real_write = os.write
    calls = []

    def write_a_little(fd, data):          # one byte per call, Ctrl-C after the first
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real_write(fd, bytes(data[:1]))

    batcher = store_mod.Batcher(Store.open(str(tmp_path / "r.jsonl"), "jsonl"))
    batcher.pending = list(rows)
    monkeypatch.setattr(store_mod.os, "write", write_a_little)
    with pytest.raises(KeyboardInterrupt):
        batcher.flush()
    monkeypatch.setattr(store_mod.os, "write", real_write)
    batcher.flush()                         # what the sweep does on Ctrl-C: nothing twice
    assert _ids_in_file(tmp_path / "r.jsonl") == ["r0", "r1", "r2"] and len(calls) > 3


def test_a_torn_csv_row_inside_a_quoted_message_is_dropped(tmp_path):
    whole = ('id,status,objective,max_violation,time_s,error,variables,duals\n'
             'a,optimal,1.0,0.0,0.1,,{},{}\n'
             'b,error,,,0.1,"line one\nline two",{},{}\n')
    torn = 'c,error,,,0.1,"x.lag:1:1: data error\n'        # cut after a newline inside quotes
    (tmp_path / "r.csv").write_text(whole + torn)
    store = Store.open(str(tmp_path / "r.csv"), "csv")
    assert list(store.rows) == ["a", "b"] and store.rows["b"]["error"] == "line one\nline two"
    assert (tmp_path / "r.csv").read_text() == whole and "(%d bytes)" % len(torn) in store.note


def test_restart_keeps_the_old_rows_as_a_backup(transport):
    def again(restart=False):
        return lagdsl.sweep(str(transport / "transport.lag"), str(transport / "scen.jsonl"),
                            data=str(transport / "transport.json"), backend="cvxpy", workers=1,
                            out=str(transport / "rows.jsonl"), restart=restart)
    again()
    first = (transport / "rows.jsonl").read_text()
    assert len(again()) == len(DEMANDS)                 # nothing left to run: nothing written
    assert (transport / "rows.jsonl").read_text() == first
    r = lagdsl_cli("sweep", "transport.lag", "--data", "transport.json", "--scenarios", "scen.jsonl",
                   "-o", "rows.jsonl", "--backend", "cvxpy", "--workers", "1", "--quiet", "--restart",
                   cwd=transport)
    assert r.returncode == 0 and "kept the previous results as rows.jsonl.bak" in r.stderr
    assert (transport / "rows.jsonl.bak").read_text() == first
    assert sorted(_ids_in_file(transport / "rows.jsonl")) == sorted(_ids_in_file(transport / "rows.jsonl.bak"))
    again(restart=True)
    assert (transport / "rows.jsonl.bak").read_text() == first and (transport / "rows.jsonl.bak.1").exists()


# --- executors and formats -------------------------------------------------------------------

def _sweep_with(transport, executor, out):
    return lagdsl.sweep(str(transport / "transport.lag"), str(transport / "scen.jsonl"),
                        data=str(transport / "transport.json"), backend="cvxpy", executor=executor,
                        workers=2, collect="ship,meet_demand", out=str(transport / out))


def test_process_and_dask_give_the_same_rows(transport):
    pytest.importorskip("distributed")
    a = _sweep_with(transport, "process", "p.jsonl")
    b = _sweep_with(transport, "dask", "d.jsonl")
    assert _same(a) == _same(b) == _same(_read(transport / "d.jsonl"))
    assert len(a) == len(DEMANDS)


def test_ray_gives_the_same_rows_as_process(transport):
    pytest.importorskip("ray")
    a = _sweep_with(transport, "process", "p.jsonl")
    b = _sweep_with(transport, "ray", "r.jsonl")
    assert _same(a) == _same(b) == _same(_read(transport / "r.jsonl"))


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_csv_and_parquet_round_trip(transport, ext):
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    (transport / "scen.jsonl").open("a").write('{"id": "bad", "demand": [1]}\n')
    rows = _sweep_with(transport, "process", "rows." + ext)
    back = _read(transport / ("rows." + ext))
    assert _same(back) == _same(rows)
    assert {r["id"]: r["time_s"] for r in back} == {r["id"]: r["time_s"] for r in rows}
    assert "\n" in next(r for r in back if r["id"] == "bad")["error"]     # a multi-line message
    # resuming a csv/parquet file adds only the new scenario
    (transport / "scen.jsonl").open("a").write('{"id": "new", "demand": [5, 5, 5]}\n')
    more = _sweep_with(transport, "process", "rows." + ext)
    assert [r["id"] for r in more][-1] == "new" and len(_read(transport / ("rows." + ext))) == len(rows) + 1


def test_scenario_directory(transport):
    d = transport / "scen"
    d.mkdir()
    (d / "low.json").write_text('{"demand": [1, 1, 1]}')
    (d / "high.json").write_text('{"demand": [300, 300, 300]}')
    rows = lagdsl.sweep(str(transport / "transport.lag"), str(d), data=str(transport / "transport.json"),
                        backend="cvxpy", workers=1)
    assert [(r["id"], r["status"]) for r in rows] == [("high", "optimal"), ("low", "optimal")]


def test_plot(transport):
    pytest.importorskip("matplotlib")
    r = lagdsl_cli("sweep", "transport.lag", "--data", "transport.json", "--scenarios", "scen.jsonl",
                   "-o", "rows.jsonl", "--backend", "cvxpy", "--workers", "1", "--plot", "s.png",
                   cwd=transport)
    assert r.returncode == 0, r.stderr
    assert (transport / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert sweep_run.first_varying(sweep_run.read_scenarios(str(transport / "scen.jsonl")))[0] == "demand[0]"


# --- mistakes: exit 2, nothing run -------------------------------------------------------------

def _cli(transport, *extra, scen="scen.jsonl", out="rows.jsonl"):
    from lagdsl.cli import main
    cwd = os.getcwd()
    os.chdir(transport)
    try:
        return main(["sweep", "transport.lag", "--data", "transport.json", "--scenarios", scen,
                     "-o", out, "--backend", "cvxpy", *extra])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("extra, scen_text, message", [
    ((), '{"id": "a", "demand": [1, 2, 3]}\n{"id": "b", "demand": [1, 2, 3],}\n',
     "scen.jsonl:2:33: data error: invalid JSON in a scenario line: Expecting property name"),
    ((), '{"id": "a"}\n{"id": "a"}\n', 'scen.jsonl:2:2: data error: scenario id "a" is given twice (first on line 1)'),
    ((), '{"id": 7}\n', "scen.jsonl:1:2: data error: the scenario id must be a non-empty string, not 7"),
    ((), '[1, 2]\n', "scen.jsonl:1:1: data error: a scenario line must hold one JSON object"),
    (("--collect", "shipp"), None, "error: --collect shipp: the model has no variable or constraint shipp\n"
                                   "hint: did you mean ship?"),
    (("--option", "nosuch=1"), None, "backend cvxpy has no option 'nosuch'"),
    (("--backend", "nosuch"), None, "unknown backend 'nosuch'"),
    (("--executor", "dask", "--address", "x", "--workers", "0"), None, "--workers 0: a positive number"),
])
def test_mistakes_exit_2_and_run_nothing(transport, capsys, extra, scen_text, message):
    if scen_text is not None:
        (transport / "scen.jsonl").write_text(scen_text)
    assert _cli(transport, *extra) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (transport / "rows.jsonl").exists()


def test_a_bad_model_or_base_data_exits_2_and_runs_nothing(transport, capsys):
    (transport / "transport.json").write_text('{"Plants": ["a"], "Markets": ["b"], "supply": [1, 2]}')
    assert _cli(transport) == 2
    assert "data error: param supply[Plants]: data has 2 entries but Plants has 1 elements" \
        in capsys.readouterr().err
    (transport / "transport.json").write_text('{"Plants": ["a"],\n "Markts": ["b"]}')
    assert _cli(transport) == 2
    assert 'transport.json:2:2: data error: data key "Markts" names nothing in the model' \
        in capsys.readouterr().err
    (transport / "transport.lag").write_text("set Plants\nparam x[Plants\n")
    assert _cli(transport) == 2
    assert "transport.lag:2:" in capsys.readouterr().err
    assert not (transport / "rows.jsonl").exists()


@pytest.mark.parametrize("out, message", [
    ("transport.lag", "-o transport.lag: unknown output format '.lag'"),
    ("scen.jsonl", "-o scen.jsonl: is the scenario file of this run"),
    ("link.jsonl", "is a symbolic link"),
    ("rows.txt", "unknown output format '.txt'"),
    ("nodir/rows.jsonl", "the directory nodir does not exist"),
])
def test_output_rules(transport, capsys, out, message):
    os.symlink("elsewhere.jsonl", transport / "link.jsonl")
    assert _cli(transport, out=out) == 2
    assert message in capsys.readouterr().err
    assert not (transport / "elsewhere.jsonl").exists()


def test_a_plot_path_is_checked_before_running(transport, capsys):
    pytest.importorskip("matplotlib")
    assert _cli(transport, "--plot", "s.xyz") == 2
    assert "--plot s.xyz: unknown plot format 'xyz'" in capsys.readouterr().err
    assert _cli(transport, "--plot", "scen.jsonl") == 2
    assert "--plot scen.jsonl: is the scenario file of this run" in capsys.readouterr().err
    assert not (transport / "rows.jsonl").exists()


def test_an_output_that_is_not_a_sweep_file_is_refused_untouched(transport, capsys):
    (transport / "notes.jsonl").write_text("my notes\n")
    assert _cli(transport, out="notes.jsonl") == 2
    assert "notes.jsonl:1:1: not a sweep row" in capsys.readouterr().err
    assert (transport / "notes.jsonl").read_text() == "my notes\n"


def test_a_missing_extra_names_it(monkeypatch):
    import importlib.util
    from lagdsl.errors import LagError
    from lagdsl.sweep.executors import require
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(LagError, match=r"--executor ray needs ray: pip install 'lagdsl\[ray\]'"):
        require("ray")


def test_parquet_without_pyarrow_names_the_extra(transport, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)      # import pyarrow -> ImportError
    assert _cli(transport, out="rows.parquet") == 2
    assert "-o *.parquet needs pyarrow: pip install 'lagdsl[parquet]'" in capsys.readouterr().err
    assert not (transport / "rows.parquet").exists()


def test_lagdsl_sweep_is_the_function_whatever_was_imported_first():
    import lagdsl.sweep.rows  # noqa: F401 - binds the package as lagdsl.sweep
    assert callable(lagdsl.sweep)
    assert lagdsl.sweep.Rows is lagdsl.sweep.rows.Rows
