"""The built wheel works on its own: installed in a fresh venv, outside the source tree."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)


def test_wheel_installs_and_solves_an_example(tmp_path):
    # Build from a copy of the tracked files: setuptools leaves build/ behind, and a stale
    # build/lib in the source tree would put deleted modules into the wheel.
    src = tmp_path / "src"
    files = _run(["git", "ls-files"], cwd=ROOT).stdout.split()
    assert "pyproject.toml" in files
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f, follow_symlinks=False)   # the corpus holds links (to folders too)
    dist = tmp_path / "dist"
    r = _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
              "-q", "-w", str(dist)])
    assert r.returncode == 0, r.stderr
    wheel = next(dist.glob("lagdsl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "lagdsl/grammar/lag.lark" in names
    assert "lagdsl/backends/cvxpy/__init__.py" in names and "lagdsl/backends/cvxpy/program.py" in names
    assert "lagdsl/backends/lagrangian/__init__.py" in names and "lagdsl/backends/lagrangian/tape.py" in names
    assert "lagdsl/backends/pinn/__init__.py" in names and "lagdsl/backends/pinn/train.py" in names
    assert "lagdsl/backends/qubo/__init__.py" in names and "lagdsl/backends/highs/program.py" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)

    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)])
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    # Dependencies come from this environment through a plain path entry (a .pth line that
    # names a directory does not run that directory's own .pth files, so the editable
    # lagdsl of this environment stays invisible); lagdsl itself comes from the wheel.
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "deps.pth").write_text("\n".join({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}) + "\n")
    r = _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    assert r.returncode == 0, r.stderr

    work = tmp_path / "work"
    work.mkdir()
    for name in ("transport.lag", "transport.json"):
        shutil.copy(ROOT / "examples" / name, work / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    r = _run([str(py), "-c", "import lagdsl; print(lagdsl.__file__)"], cwd=work, env=env)
    assert str(venv) in r.stdout, r.stdout + r.stderr
    r = _run([str(venv / "bin" / "lagdsl"), "solve", "transport.lag", "--data", "transport.json", "--json"],
             cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "optimal"
    assert out["backend"] == "highs"             # auto: an LP goes to highs
