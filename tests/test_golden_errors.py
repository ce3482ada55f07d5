"""Golden error messages (MiniZinc-style): each ``tests/golden/errors/NAME.lag`` must fail to
compile with exactly the message in ``NAME.err`` (position, source line, caret and hint).

A ``NAME.json`` beside the model, when present, is its data.  To add a case, write the
``.lag``, check the message by hand, and save it as the ``.err``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lagdsl.errors import LagError
from lagdsl.frontend import compile_text

GOLDEN = Path(__file__).parent / "golden" / "errors"
CASES = sorted(p.stem for p in GOLDEN.glob("*.lag"))


def formatted_error(name: str) -> str:
    """The formatted error of case ``name`` (the model is named by its file name only, so
    the expected text does not depend on where the repository lives)."""
    text = (GOLDEN / (name + ".lag")).read_text()
    data_file = GOLDEN / (name + ".json")
    data = json.loads(data_file.read_text()) if data_file.exists() else None
    with pytest.raises(LagError) as info:
        compile_text(text, name + ".lag", data=data)
    return info.value.format()


def test_every_case_has_its_expected_message():
    assert CASES, "no golden cases found"
    missing = [n for n in CASES if not (GOLDEN / (n + ".err")).exists()]
    assert not missing


@pytest.mark.parametrize("name", CASES)
def test_golden_error(name):
    expected = (GOLDEN / (name + ".err")).read_text().rstrip("\n")
    assert formatted_error(name) == expected
