"""The bad-input corpus (``tests/bad_input/<class>/<case>/``, see its README): each case runs
the CLI once and must exit with the expected code and print exactly the expected stderr (and
stdout, where the case pins it).  ``LAGDSL_REGOLD=1`` writes the expectations instead of
checking them — read every one by hand before committing it."""
from __future__ import annotations

import contextlib
import io
import os
import shlex
from pathlib import Path

import pytest

from lagdsl.cli import main

CORPUS = Path(__file__).parent / "bad_input"
CASES = sorted(p.parent.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*/args"))
REGOLD = os.environ.get("LAGDSL_REGOLD") == "1"


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
        expected.write_text("exit: %d\n---\n%s" % (code, err))
    assert expected.exists(), "no expected file: run with LAGDSL_REGOLD=1 and read it"
    head, _, want_err = expected.read_text().partition("---\n")
    assert head.strip() == "exit: %d" % code, err
    assert err == want_err
    if (case / "stdout").exists():
        assert out == (case / "stdout").read_text()
    assert "Traceback" not in err and "internal error" not in err
