"""Saved pinn folders as untrusted input (``lagdsl.load_fields``, issue 17 class 6).

Each case ``tests/bad_input/saved_folders/<case>/`` holds a damaged folder ``saved/`` (written
by ``make_cases.py`` there), an optional ``setup`` (what git cannot hold: ``fifo PATH``, ``dir
PATH``, ``link PATH TARGET``, ``pad PATH BYTES``, done on a copy at run time) and ``expected``:
the exact text of the :class:`~lagdsl.errors.LagError` that ``load_fields("saved")`` must raise
from the case folder (``LAGDSL_REGOLD=1`` writes it; read it by hand).  No other exception may
escape, and the folder is never read whole when it is not a regular file.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import LagError
from lagdsl.limits import limited

CORPUS = Path(__file__).parent / "bad_input" / "saved_folders"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "saved").is_dir())
GOOD = Path(__file__).parent / "data" / "saved_poisson1d"
REGOLD = os.environ.get("LAGDSL_REGOLD") == "1"


def prepare(case: Path, work: Path) -> None:
    """Copy the case to ``work`` and do its ``setup`` lines there."""
    shutil.copytree(case, work, symlinks=True)
    setup = case / "setup"
    for line in (setup.read_text().splitlines() if setup.exists() else []):
        op, path, *rest = line.split()
        target = work / path
        if op == "pad":
            with open(target, "ab") as f:
                f.write(b" " * int(rest[0]))
            continue
        target.unlink()
        if op == "fifo":
            os.mkfifo(target)
        elif op == "dir":
            target.mkdir()
        elif op == "link":
            os.symlink(rest[0], target)
        else:
            raise ValueError("unknown setup line %r" % line)


def test_corpus_covers_the_classes():
    assert {"fifo_config", "dev_zero_config", "width_1e9", "activation_class", "nan_box"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_saved_folder(name, tmp_path, monkeypatch):
    work = tmp_path / name
    prepare(CORPUS / name, work)
    monkeypatch.chdir(work)
    with pytest.raises(LagError) as info:
        lagdsl.load_fields("saved")
    got = info.value.format() + "\n"
    expected = CORPUS / name / "expected"
    if REGOLD:
        expected.write_text(got)
    assert expected.exists(), "no expected file: run with LAGDSL_REGOLD=1 and read it"
    assert got == expected.read_text()


def test_the_undamaged_folder_loads_and_evaluates():
    u = lagdsl.load_fields(GOOD)["u"]
    assert u.coords == ("x",) and np.isfinite(u(np.linspace(0, 1, 5))).all()


def test_a_symlink_inside_the_folder_is_followed(tmp_path):
    work = tmp_path / "saved"
    shutil.copytree(GOOD, work)
    (work / "weights.pt").rename(work / "w.pt")
    os.symlink("w.pt", work / "weights.pt")
    xs = np.linspace(0, 1, 7)
    assert np.array_equal(lagdsl.load_fields(work)["u"](xs), lagdsl.load_fields(GOOD)["u"](xs))


def test_the_size_limit_is_the_one_in_force():
    # the saved network (width 3, depth 1) has 11 values, plus 4096 for one network's
    # objects (saved.NET_OVERHEAD): 4107 values, 128.3 elements of 32
    with limited(129):
        lagdsl.load_fields(GOOD)
    with limited(128), pytest.raises(LagError, match="would have 4107 float64 values, more than the limit of 4096"):
        lagdsl.load_fields(GOOD)


def test_not_a_folder(tmp_path):
    with pytest.raises(LagError, match="is not a directory"):
        lagdsl.load_fields(GOOD / "fields.json")
    with pytest.raises(LagError, match="cannot be read"):
        lagdsl.load_fields(tmp_path / "nothing")


def test_a_zip_record_of_an_unreadable_version_is_refused(tmp_path):
    """zipfile raises NotImplementedError for a record needing zip version > 6.3 (found by
    bench/fuzz.py): a data error, not an internal one."""
    work = tmp_path / "saved"
    shutil.copytree(GOOD, work)
    data = bytearray((work / "weights.pt").read_bytes())
    at = data.find(b"PK\x01\x02")                  # the first central-directory record
    data[at + 6] = 0xFF                            # "version needed to extract": 25.5
    (work / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(LagError, match="is not a lagdsl weights file: not a torch zip archive"):
        lagdsl.load_fields(work)
