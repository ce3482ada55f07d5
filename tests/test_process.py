"""The process around a command (issue 5, class 8), with live processes: Ctrl-C during a solve,
a closed stdout, a full disk, FIFOs, warnings as notes, files written whole.  The bad-input
corpus (``tests/bad_input/``) covers what a single in-process run can show."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lagdsl import _stdio

#: A bin-packing MILP that HiGHS does not finish within a minute (measured: > 60 s).
SLOW = """\
set I = 1..60
set J = 1..60
param w[i in I] = 1 + (i*37 mod 23)
param c[i in I, j in J] = (i*17 + j*31) mod 29
var x[I, J] binary
var y[J] binary
minimize cost: sum(i in I, j in J) c[i,j]*x[i,j] + sum(j in J) 40*y[j]
subject to assign[i in I]: sum(j in J) x[i,j] == 1
subject to cap[j in J]: sum(i in I) w[i]*x[i,j] <= 45*y[j]
"""

SMALL = "set I = 1..3\nvar x[I] >= 0, <= 1\nmaximize s: sum(i in I) x[i]\n"


def lagdsl(*args, cwd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "lagdsl", *map(str, args)], cwd=cwd,
                          text=True, timeout=120, **kw)


@pytest.fixture
def slow(tmp_path):
    (tmp_path / "slow.lag").write_text(SLOW)
    return tmp_path


@pytest.fixture
def small(tmp_path):
    (tmp_path / "m.lag").write_text(SMALL)
    return tmp_path


def interrupted(cmd: list[str], cwd, marker: str, on_stderr: bool, until: str | None = None,
                settle: float = 1.5) -> tuple[int, float, str, str]:
    """Run ``cmd``, wait for ``marker`` (on stderr or stdout), let the solve run ``settle``
    seconds, send SIGINT:
    ``(exit code, seconds from SIGINT to exit — or to a stdout line starting with ``until`` —,
    stdout, stderr)``."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in (p.stderr if on_stderr else p.stdout):
            seen.append(line)
            if marker in line:
                break
        assert p.poll() is None, "".join(seen)
        time.sleep(settle)
        p.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        early = ""
        if until is not None:
            for line in p.stdout:
                early += line
                if line.startswith(until):
                    break
        else:
            p.wait(timeout=30)
        waited = time.perf_counter() - t0
        p.wait(timeout=30)
        return p.returncode, waited, early + p.stdout.read(), p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_ctrl_c_during_a_solve_in_c_exits_130_within_two_seconds(slow):
    # HiGHS's log (on stderr) says the solve is under way
    code, waited, out, err = interrupted(
        [sys.executable, "-m", "lagdsl", "solve", "slow.lag", "--option", "verbose=true"], slow,
        "Solving MIP model", on_stderr=True, settle=0.5)
    assert code == 130
    assert waited < 2.0, waited
    assert err.rstrip().endswith("interrupted")
    assert "Traceback" not in err and "terminate called" not in err
    assert out == ""


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "out.lp"

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(_stdio.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _stdio.write_atomic(str(target), "x" * 100000)
    assert os.listdir(tmp_path) == []


def test_write_keeps_the_old_file_until_the_new_one_is_whole(tmp_path):
    target = tmp_path / "out.lp"
    target.write_text("old")
    _stdio.write_atomic(str(target), "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.lp"]
    _stdio.write_atomic(str(target), b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG" and os.listdir(tmp_path) == ["out.lp"]


def test_compile_output_is_written_whole(small):
    r = lagdsl("compile", "m.lag", "--emit", "lp", "-o", "m.lp", cwd=small)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(small)) == ["m.lag", "m.lp"]
    assert (small / "m.lp").read_text().startswith("\\")


def test_compile_to_a_full_disk_is_one_line_and_keeps_the_device(small):
    r = lagdsl("compile", "m.lag", "--emit", "lp", "-o", "/dev/full", cwd=small)
    assert r.returncode == 2
    assert r.stderr == "error: cannot write /dev/full: No space left on device\n"
    assert not os.path.isfile("/dev/full")


def test_closed_stdout_is_one_line(small):
    r = lagdsl("show", "m.lag", cwd=small, stdout=None, preexec_fn=lambda: os.close(1))
    assert r.returncode == 2
    assert r.stderr == "error: cannot write to standard output: it is closed\n"


def test_full_disk_on_stdout_is_one_line(small):
    with open("/dev/full", "w") as full:
        r = lagdsl("show", "m.lag", cwd=small, stdout=full)
    assert r.returncode == 2
    assert r.stderr == "error: cannot write to standard output: no space left on device\n"


def test_broken_pipe_is_quiet(small):
    p = subprocess.Popen([sys.executable, "-m", "lagdsl", "show", "m.lag"], cwd=small,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                  # the reader is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0, err
    assert err == ""


@pytest.mark.parametrize("role", ["model", "data", "graph"])
def test_a_fifo_is_refused_without_hanging(tmp_path, role):
    (tmp_path / "m.lag").write_text("graph G\nvar x[G.nodes] >= 0\nminimize s: sum(v in G.nodes) x[v]\n")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "d.json").write_text('{"G": "pipe.txt"}' if role == "graph" else '{"G": {"edges": [[1, 2]]}}')
    args = {"model": ["show", "pipe.txt"], "data": ["show", "m.lag", "--data", "pipe.txt"],
            "graph": ["show", "m.lag", "--data", "d.json"]}[role]
    r = lagdsl(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    what = {"model": "model file pipe.txt", "data": "data file pipe.txt", "graph": "graph file pipe.txt"}[role]
    assert "%s is a named pipe (FIFO), not a regular file" % what in r.stderr


def test_warnings_become_notes_and_a_time_limited_mip_reports_its_gap(slow, capfd, monkeypatch):
    from lagdsl.cli import main
    monkeypatch.chdir(slow)
    # cvxpy (which warns about the inaccurate answer); highs says the same without a warning
    assert main(["solve", "slow.lag", "--backend", "cvxpy", "--option", "time_limit=0.5", "--json"]) == 1
    out, err = capfd.readouterr()
    res = json.loads(out)
    assert res["status"] == "limit"
    notes = res["stats"]["notes"]
    assert any(n.startswith("Solution may be inaccurate.") and n.endswith("(UserWarning)")
               for n in notes), notes
    assert "note: Solution may be inaccurate." in err
    assert "UserWarning:" not in err and "warn(" not in err     # nothing printed raw
    gap, bound = res["stats"]["mip_gap"], res["stats"]["bound"]
    assert 0 < gap < 1 and bound < res["objective"]
    # HiGHS's relative gap is (incumbent - bound) / incumbent for a positive minimum
    assert gap == pytest.approx((res["objective"] - bound) / res["objective"], rel=1e-6)
    assert main(["solve", "slow.lag", "--backend", "cvxpy", "--option", "time_limit=0.5", "-q"]) == 1
    lines = capfd.readouterr().out.splitlines()
    assert lines[0].startswith("status: limit    objective: ")
    assert lines[1].startswith("stopped with a MIP gap of ") and " to the bound " in lines[1]


def test_the_solve_thread_sees_the_callers_context():
    from lagdsl.progress import progress_enabled, showing_progress
    with showing_progress(True):
        assert _stdio.run_interruptible(progress_enabled) is True
    assert _stdio.run_interruptible(progress_enabled) is False
    with pytest.raises(ZeroDivisionError):
        _stdio.run_interruptible(lambda: 1 / 0)


def test_mip_progress_is_in_the_users_sense():
    from types import SimpleNamespace

    from lagdsl.backends.cvxpy import mip_progress
    info = SimpleNamespace(mip_gap=0.25, mip_dual_bound=-120.0, objective_function_value=-100.0)
    # maximize f = 100 + 5 (constant): cvxpy minimises -f, HiGHS's incumbent -100, bound -120
    assert mip_progress(SimpleNamespace(extra_stats=info), 105.0, True) == {"mip_gap": 0.25, "bound": 125.0}
    assert mip_progress(SimpleNamespace(extra_stats=info), -95.0, False) == {"mip_gap": 0.25, "bound": -115.0}
    assert mip_progress(SimpleNamespace(extra_stats={"status": "x"}), 1.0, False) == {}
    assert mip_progress(None, 1.0, False) == {}


def test_closed_stderr_keeps_stdout_clean(small):
    r = lagdsl("solve", "m.lag", "--set", "n=3", "--json", cwd=small, stderr=None,
               preexec_fn=lambda: os.close(2))
    # the human text went nowhere, not to stdout; stdout holds only the --json error object
    assert r.returncode == 2 and r.stdout.count("\n") == 1
    assert json.loads(r.stdout)["error"]["message"] == "--set n names nothing in the model"


def test_api_turns_warnings_into_notes(monkeypatch, recwarn):
    import warnings

    import lagdsl
    from lagdsl.result import Result

    class Program:
        def solve(self):
            warnings.warn("the solver\nwobbled", RuntimeWarning)
            warnings.warn("the solver\nwobbled", RuntimeWarning)       # once in the notes
            return Result("optimal", stats={"notes": ["set by the backend"]})

    m = lagdsl.parse(SMALL)
    monkeypatch.setattr(lagdsl.Model, "compile", lambda self, *a, **k: Program())
    r = m.solve()
    assert r.stats["notes"] == ["set by the backend", "the solver wobbled (RuntimeWarning from test_process.py)"]
    assert len(recwarn) == 0


def test_an_error_status_always_has_a_reason():
    from lagdsl.cli import _error_reason
    from lagdsl.result import Result
    assert _error_reason(Result("error", stats={"message": "solver crashed"})) == "solver crashed"
    assert _error_reason(Result("error", stats={"solver": "HIGHS", "cvxpy_status": "solver_error"})) == \
        "the backend gave no message (solver HIGHS, cvxpy_status solver_error)"
    assert _error_reason(Result("error")) == "the backend gave no message"


def test_written_files_keep_the_usual_mode_and_never_follow_links(tmp_path):
    new = tmp_path / "new.lp"
    _stdio.write_atomic(str(new), "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (new.stat().st_mode & 0o777) == 0o666 & ~mask
    target = tmp_path / "target.lp"
    target.write_text("old")
    target.chmod(0o640)
    _stdio.write_atomic(str(target), "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    # a symbolic link is never written through (docs/security.md, output paths)
    (tmp_path / "link.lp").symlink_to("target.lp")
    with pytest.raises(OSError) as info:
        _stdio.write_atomic(str(tmp_path / "link.lp"), "newer")
    assert info.value.errno == errno.ELOOP and target.read_text() == "new"
    assert (tmp_path / "link.lp").is_symlink() and not list(tmp_path.glob(".*.part"))


def test_notes_leave_out_what_python_hides_by_default():
    import warnings
    with _stdio.warnings_as_notes() as notes:
        warnings.warn("old api", DeprecationWarning)
        warnings.warn("overflow in exp", RuntimeWarning)
    assert notes == ["overflow in exp (RuntimeWarning from test_process.py)"]
