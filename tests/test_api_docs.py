"""Every ```python block of docs/api.md runs (each in a fresh namespace, from the repository
root), so the page's examples and the numbers in its asserts stay true."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "api.md"


def blocks() -> list[tuple[int, str]]:
    """``(line, code)`` of each python block of the page."""
    text = PAGE.read_text()
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)]


def test_the_page_has_the_examples_the_docs_promise():
    codes = [c for _, c in blocks()]
    assert len(codes) >= 4
    for needle in ('ModelBuilder("knapsack")', 'r.duals["meet_demand"]', 'b.field("u"', "prog.solve(data=",
                   'prog.emit("lp")'):
        assert any(needle in c for c in codes), needle


@pytest.mark.parametrize("line,code", blocks(), ids=lambda v: "line%d" % v if isinstance(v, int) else "")
def test_block_runs(line, code, monkeypatch):
    monkeypatch.chdir(ROOT)
    # padded so that a failing line is reported with its line number on the page
    exec(compile("\n" * (line - 1) + code, str(PAGE), "exec"), {"__name__": "api_docs"})
