"""The ``highs`` backend in live processes: Ctrl-C from the CLI and from the Python API, and
the MIP progress bar in a terminal (and nowhere else)."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

from test_process import SLOW, interrupted

API_SCRIPT = """\
import sys, threading, time
import lagdsl
model = lagdsl.parse(open("slow.lag").read())
print("solving", flush=True)
t0 = time.perf_counter()
try:
    model.solve("highs")
except KeyboardInterrupt:
    print("interrupted %.3f" % (time.perf_counter() - t0), flush=True)
    # the model is still usable after an interrupt
    r = lagdsl.parse("var x >= 0\\nminimize f: x + 1\\nsubject to c: x >= 2\\n").solve("highs")
    print("after", r.status, r.objective, flush=True)
"""

# HiGHS inside a sub-MIP heuristic asks no interrupt callback for seconds: with no grace at all
# the interrupt is raised while HiGHS still runs, and the compiled program waits for it before
# it touches its HiGHS object again.
PENDING_SCRIPT = """\
import threading
import lagdsl
from lagdsl.backends.highs import progress
progress.GRACE = 0.0
prog = lagdsl.parse(open("slow.lag").read()).compile("highs", time_limit=2.5)
print("solving", flush=True)
try:
    prog.solve()
except KeyboardInterrupt:
    print("interrupted", flush=True)
text = prog.emit("lp")
print("emitted", int("c3659" in text), "threads=%d" % threading.active_count(), flush=True)
r = prog.solve()        # runs to its time limit: the interrupt is not left behind in HiGHS
print("again", r.status, r.times["solver"] > 2.0, r.stats["highs_status"], flush=True)
"""


@pytest.fixture
def slow(tmp_path):
    (tmp_path / "slow.lag").write_text(SLOW)
    return tmp_path


def test_cli_ctrl_c_exits_130_within_a_second(slow):
    code, waited, out, err = interrupted(
        [sys.executable, "-m", "lagdsl", "solve", "slow.lag", "--backend", "highs", "--option",
         "verbose=true"], slow, "Solving MIP model", on_stderr=True)
    assert code == 130
    assert waited < 1.0, waited
    assert err.rstrip().endswith("interrupted") and "Traceback" not in err
    assert out == ""


def test_api_ctrl_c_stops_highs_and_raises_keyboard_interrupt(slow):
    (slow / "run.py").write_text(API_SCRIPT)
    code, waited, out, err = interrupted([sys.executable, "run.py"], slow, "solving", on_stderr=False,
                                          until="interrupted")
    assert code == 0, err
    assert "after optimal 3.0" in out
    assert waited < 1.0, waited


def test_api_ctrl_c_leaves_no_solve_running_on_the_kept_highs_object(slow):
    (slow / "run.py").write_text(PENDING_SCRIPT)
    code, waited, out, err = interrupted([sys.executable, "run.py"], slow, "solving", on_stderr=False,
                                          until="interrupted")
    assert code == 0, err
    assert waited < 1.0, waited
    # emit waited for the interrupted HiGHS run to stop: the model is whole, the worker is gone
    line = next(l for l in out.splitlines() if l.startswith("emitted"))
    assert line.endswith("threads=1") and line.split()[1] == "1", line
    assert "again limit True kTimeLimit" in out, out


def _run_with_stderr_on_a_terminal(args, cwd) -> tuple[int, str]:
    master, slave = pty.openpty()
    # a fresh pseudo-terminal is 0 columns wide, where a bar has no room at all
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "lagdsl", *args], cwd=cwd, stdout=subprocess.PIPE,
                         stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:          # the terminal's other end closed
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_mip_progress_shows_in_a_terminal_only(slow):
    code, err = _run_with_stderr_on_a_terminal(
        ["solve", "slow.lag", "--backend", "highs", "--option", "time_limit=3"], slow)
    assert code == 1, err             # limit: not solved
    assert "highs mip" in err and "incumbent=" in err and "bound=" in err and "gap=" in err
    assert "nodes=" in err and "elapsed=" in err
    # --quiet: no bar even in a terminal
    code, err = _run_with_stderr_on_a_terminal(
        ["solve", "slow.lag", "--backend", "highs", "--option", "time_limit=2", "-q"], slow)
    assert "highs mip" not in err
    # stderr not a terminal: no bar
    p = subprocess.run([sys.executable, "-m", "lagdsl", "solve", "slow.lag", "--backend", "highs",
                        "--option", "time_limit=2"], cwd=slow, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "highs mip" not in p.stderr


# A small LP runs in the main thread (no thread hand-off for quick re-solves): a SIGINT handler
# only sets the flag that HiGHS's simplex callback reads.  The LP (300 x 300 transport with
# supply just above demand, ~1,000 simplex iterations) takes a few tenths of a second at least.
SMALL_LP_SCRIPT = """\\
import os, signal, threading, time
import numpy as np
import lagdsl
from lagdsl.backends.highs import progress
from lagdsl.ir.builder import ModelBuilder
m = n = 300
rng = np.random.default_rng(0)
b = ModelBuilder("t")
S, D = b.set("S", range(m)), b.set("D", range(n))
c = b.param("c", [S, D], rng.uniform(1, 100, (m, n)))
sup, dem = b.param("sup", [S], np.full(m, 30.0)), b.param("dem", [D], np.full(n, 29.99))
x = b.var("x", [S, D], lower=0)
i, j = b.index("i j")
b.minimize("cost", b.sum([(i, S), (j, D)], c[i, j] * x[i, j]))
b.subject_to("s", b.sum([(j, D)], x[i, j]) <= sup[i], over=[(i, S)])
b.subject_to("d", b.sum([(i, S)], x[i, j]) >= dem[j], over=[(j, D)])
prog = lagdsl.Model(b.build()).compile("highs")
started = threading.Event()
here = progress.Runner._run_here
def run_here(self, watch):
    started.set()
    return here(self, watch)
progress.Runner._run_here = run_here
sent = []
def ctrl_c():
    started.wait()
    time.sleep(0.05)
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=ctrl_c, daemon=True).start()
t0 = time.perf_counter()
try:
    prog.solve()
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted after %.3f s, threads=%d" % (time.perf_counter() - sent[0], threading.active_count()))
print("handler restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
r = prog.solve()
print("again", r.status, r.stats["simplex_iterations"] > 0)
r = prog.solve()
print("warm", r.status, r.objective == prog.solve().objective)
"""


def test_api_ctrl_c_stops_a_small_lp_in_the_main_thread(tmp_path):
    (tmp_path / "run.py").write_text(SMALL_LP_SCRIPT)
    p = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("interrupted after") and lines[0].endswith("threads=1"), p.stdout
    assert float(lines[0].split()[2]) < 1.0, p.stdout
    assert lines[1:] == ["handler restored True", "again optimal True", "warm optimal True"], p.stdout
