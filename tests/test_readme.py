"""The README's first two commands are what CI and a new user run: keep them true."""
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    run, test = readme_commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == test
    assert "pytest" in test and "-c constraints.txt" in test


def test_readme_main_command_names_files_that_exist():
    run = readme_commands()[0]
    assert "-c constraints.txt" in run
    words = shlex.split(run.split("&&")[-1])
    assert words[1] == "solve"
    for w in words:
        if w.endswith((".lag", ".json")):
            assert (ROOT / w).is_file(), w


def test_constraints_pin_cpu_torch():
    lines = [l.strip() for l in (ROOT / "constraints.txt").read_text().splitlines()]
    assert "torch==2.13.0" in lines
