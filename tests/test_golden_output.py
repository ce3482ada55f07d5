"""Golden outputs (MiniZinc-style): each ``tests/golden/output/NAME.lag`` prints exactly
``NAME.txt`` (``lagdsl show``), ``NAME.tex`` (``show --latex``) and ``NAME.lp``
(``compile --emit lp``).

The expected files were checked by hand; to add a case write the ``.lag``, run
``LAGDSL_WRITE_GOLDEN=1 pytest tests/test_golden_output.py``, read the new files critically,
and commit them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lagdsl.export import emit
from lagdsl.frontend import compile_text
from lagdsl.pretty import to_latex, to_text

GOLDEN = Path(__file__).parent / "golden" / "output"
CASES = sorted(p.stem for p in GOLDEN.glob("*.lag"))
RENDER = {"txt": to_text, "tex": to_latex, "lp": lambda m: emit(m, "lp")}


@pytest.mark.parametrize("ext", sorted(RENDER))
@pytest.mark.parametrize("name", CASES)
def test_golden_output(name, ext):
    model = compile_text((GOLDEN / (name + ".lag")).read_text(), name + ".lag")
    got = RENDER[ext](model).rstrip("\n") + "\n"
    path = GOLDEN / ("%s.%s" % (name, ext))
    if os.environ.get("LAGDSL_WRITE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text()


def test_cases_exist():
    assert len(CASES) >= 3
