"""The bad-input corpus (``tests/bad_input/<class>/<case>/``, see its README): each case runs
the CLI once and must exit with the expected code and print exactly the expected stderr (and
stdout, where the case pins it; and the objective in stdout, where an ``answer`` file gives it).
``LAGDSL_REGOLD=1`` writes the expectations instead of checking them — read every one by hand
before committing it.

An expectation names what depends on the installation through a placeholder, so that the
corpus passes whatever optional packages are present: ``{cvxpy_solvers}`` stands for cvxpy's
installed solvers as the cvxpy backend lists them (the ``bench`` extra adds IPOPT)."""
from __future__ import annotations

import contextlib
import io
import os
import shlex
from pathlib import Path

import re

import pytest

from lagdsl.cli import main

CORPUS = Path(__file__).parent / "bad_input"
CASES = sorted(p.parent.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*/args"))
REGOLD = os.environ.get("LAGDSL_REGOLD") == "1"


def _placeholders() -> dict[str, str]:
    """Placeholder -> its text on this installation."""
    out = {}
    try:
        import cvxpy as cp
    except ImportError:        # pragma: no cover - cvxpy is a core dependency
        return out
    out["{cvxpy_solvers}"] = ", ".join(sorted(cp.installed_solvers()))
    return out


def expand(text: str) -> str:
    """``text`` with every placeholder replaced by its value here."""
    for key, value in _placeholders().items():
        text = text.replace(key, value)
    return text


def generalise(text: str) -> str:
    """The inverse of :func:`expand`, for writing expectations."""
    for key, value in _placeholders().items():
        text = text.replace(value, key)
    return text


def check_answer(case: Path, out: str) -> None:
    """A case's ``answer`` file holds ``objective: VALUE TOLERANCE``: stdout must report it."""
    want = dict(line.split(":", 1) for line in (case / "answer").read_text().splitlines() if line)
    value, tol = (float(v) for v in want["objective"].split())
    found = re.search(r"objective: (\S+)", out)
    assert found, out
    assert abs(float(found.group(1)) - value) <= tol, out


def run_case(case: Path) -> tuple[int, str, str]:
    """Run the case's command line in its folder; (exit code, stdout, stderr)."""
    argv = shlex.split((case / "args").read_text().strip())
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(case)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:      # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def test_corpus_is_not_empty():
    assert CASES


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name):
    case = CORPUS / name
    code, out, err = run_case(case)
    expected = case / "expected"
    if REGOLD:
        expected.write_text("exit: %d\n---\n%s" % (code, generalise(err)))
    assert expected.exists(), "no expected file: run with LAGDSL_REGOLD=1 and read it"
    head, _, want_err = expected.read_text().partition("---\n")
    assert head.strip() == "exit: %d" % code, err
    assert err == expand(want_err)
    if (case / "stdout").exists():
        assert out == (case / "stdout").read_text()
    if (case / "answer").exists():
        check_answer(case, out)
    assert "Traceback" not in err and "internal error" not in err
