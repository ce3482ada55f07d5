"""The ``lagdsl`` command line (also ``python -m lagdsl``).

::

    lagdsl check MODEL [--data F] [--allow-dir D] [--set k=v]...   sizes, class, backends
    lagdsl show MODEL [--latex]                         the model as text or LaTeX
    lagdsl compile MODEL [--backend B] --emit FORMAT [-o FILE]
    lagdsl solve MODEL [--backend B|auto] [--option k=v]... [--seed N] [--json] [--quiet] [--plot F] [--save DIR [--overwrite]]
    lagdsl backends                                     registered backends and their options
    lagdsl sweep MODEL --scenarios F.jsonl -o OUT [--executor process|dask|ray]   many data scenarios
    lagdsl learn MODEL --data B --scenarios F.jsonl --method pdl|supervised --save DIR   a learned policy
    lagdsl solve|sweep ... --policy DIR [--repair completion|solve|none]   answers from a policy

Exit status: 0 solved (optimal or feasible) or command done; 1 solved but infeasible,
unbounded, stopped at a limit or ended in error; 2 a user error (the message, positioned where
possible, on stderr), or output that cannot be written (closed stdout, full disk); 3 an
internal error of lagdsl (``--debug`` shows the traceback); 130 interrupted (Ctrl-C, at once
even while a solver in C runs).  ``solve --json`` prints exactly one JSON object on stdout;
anything a solver prints goes to stderr, and Python warnings become ``note:`` lines there.
With ``--json`` an error is also one JSON object on stdout (:func:`_json_error`).  Output
paths (``-o``, ``--plot``, ``--save``) are checked before anything is solved
(:mod:`lagdsl.outputs`).
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import traceback
from collections.abc import Mapping

from .errors import printable
from .jsonnum import dumps
from ._stdio import (abandoned_work, reserve_std_fds, run_interruptible, stdout_redirected,
                     warnings_as_notes)

EXIT_OK, EXIT_NOT_SOLVED, EXIT_USER, EXIT_INTERNAL = 0, 1, 2, 3

#: How many non-zero entries of one variable family the summary prints.
SHOW_VALUES = 10


class UsageError(Exception):
    """A mistake on the command line (bad ``k=v``, missing file) found before compiling."""


# --- argument parsing ------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, remembering its last error message (for ``--json``: :func:`main`)."""

    last_error: str | None = None

    def error(self, message):
        _Parser.last_error = "%s: %s" % (self.prog, message)
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lagdsl", description="Compile and solve .lag models with interchangeable backends.",
        epilog="Exit status: 0 solved, 1 infeasible/unbounded/limit, 2 user error, 3 internal error.")
    from . import __version__
    p.add_argument("--version", action="version", version="lagdsl " + __version__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    model_args = argparse.ArgumentParser(add_help=False, parents=[common])
    model_args.add_argument("model", metavar="MODEL", help=".lag file (or IR JSON from --emit ir)")
    model_args.add_argument("--data", metavar="FILE", help="JSON data file (relative to the current directory)")
    model_args.add_argument("--allow-dir", metavar="DIR", action="append", default=[], dest="allow_dirs",
                            help="a directory that graph files named in the data may also come from "
                                 "(by default only the data file's own directory; repeatable)")
    model_args.add_argument("--set", metavar="K=V", action="append", default=[], dest="overrides",
                            help="override a data entry, e.g. --set n=20 or --set w=[1,2,3] (repeatable)")
    model_args.add_argument("--max-elements", metavar="N", type=_positive_int, default=None,
                            help="refuse any set or declaration larger than N elements "
                                 "(default: from available memory; see docs/security.md)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", parents=[model_args], help="sizes, class, and which backends accept the model")
    c.add_argument("--json", action="store_true", help="print the report as one JSON object")

    s = sub.add_parser("show", parents=[model_args], help="print the model back as text or LaTeX")
    s.add_argument("--latex", action="store_true", help="LaTeX align* of objective and constraints")

    k = sub.add_parser("compile", parents=[model_args], help="write the model in a format (ir, lp, mps, ...)")
    k.add_argument("--backend", "-b", default=None,
                   help="backend whose program writes FORMAT (lp and mps need none)")
    k.add_argument("--emit", "-e", required=True, metavar="FORMAT",
                   help="ir (lossless JSON), text, latex, or a backend format such as lp or mps")
    k.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    k.add_argument("--option", "-O", metavar="K=V", action="append", default=[], dest="options",
                   help="backend option (repeatable)")
    k.add_argument("--all", action="store_true", help="list every reason of a refusal")

    v = sub.add_parser("solve", parents=[model_args], help="solve the model with a backend")
    v.add_argument("--backend", "-b", default="auto",
                   help="backend (default auto: by model class, as `lagdsl check` shows; "
                        "see `lagdsl backends`)")
    v.add_argument("--option", "-O", metavar="K=V", action="append", default=[], dest="options",
                   help="backend option (repeatable), e.g. --option time_limit=10; "
                        "`lagdsl backends` lists each backend's options")
    v.add_argument("--seed", metavar="N",
                   help="random seed for backends that use one (an integer in [0, 2^32 - 1])")
    v.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    v.add_argument("--quiet", "-q", action="store_true", help="print only the status line")
    v.add_argument("--all", action="store_true",
                   help="print every non-zero value (no truncation) and every reason of a refusal")
    v.add_argument("--duals", action="store_true", help="also print the duals")
    v.add_argument("--save", metavar="DIR",
                   help="write the trained fields (weights and configuration) and the model's IR to DIR "
                        "(field backends such as pinn); lagdsl.load_fields(DIR) reads them back. "
                        "DIR must be new or empty unless --overwrite is given")
    v.add_argument("--overwrite", action="store_true",
                   help="with --save: replace lagdsl's own files in a non-empty DIR (never others)")
    v.add_argument("--plot", metavar="FILE.png",
                   help="draw the backend's convergence history (and fields, samples) into FILE "
                        "(needs matplotlib: the plot extra)")

    w = sub.add_parser("sweep", parents=[model_args], help="solve the model once per data scenario (docs/sweep.md)")
    from .sweep.command import add_arguments
    add_arguments(w)
    from .learn.command import add_arguments as learn_arguments, add_policy_arguments
    add_policy_arguments(w)
    add_policy_arguments(v)
    lr = sub.add_parser("learn", parents=[model_args], help="train a decision policy over data scenarios (docs/learn.md)")
    learn_arguments(lr)

    b = sub.add_parser("backends", parents=[common], help="list the registered backends")
    b.add_argument("--json", action="store_true", help="print the list as one JSON object")
    return p


def _positive_int(text: str) -> int:
    """argparse type of ``--max-elements``: a positive integer (``1e6`` too)."""
    t = text.strip()
    try:
        n = int(t) if t.isdigit() else int(float(t)) if float(t).is_integer() else 0
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError("%r is not a positive integer" % text) from None
    if n < 1 or n > 10 ** 15:
        raise argparse.ArgumentTypeError("%r is not a positive integer up to 10^15" % text)
    return n


def _seed(text: str | None) -> int | None:
    """The value of ``--seed``, checked by the shared seed validator (:data:`lagdsl.options.SEED`)."""
    from .options import OptionError, SEED
    if text is None:
        return None
    try:
        return SEED("--seed", text)
    except OptionError:
        raise UsageError("--seed %s: expected %s" % (_quoted(text), SEED.describe())) from None


def _parse_kv(items: list[str], what: str) -> dict:
    """``["k=v", ...]`` -> dict; ``--set`` values parse as JSON when they can, else stay
    strings; ``--option`` values stay strings for ``coerce_options`` to check.  A missing
    ``=``, an empty name or value, or a name given twice is a usage error."""
    example = "--set n=20" if what == "--set" else "--option time_limit=10"
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError("%s %s: expected NAME=VALUE (e.g. %s)" % (what, _quoted(item), example))
        k, v = (t.strip() for t in item.split("=", 1))
        if not k or not k.replace("_", "a").replace(".", "a").isalnum():
            raise UsageError("%s %s: %s is not a name (e.g. %s)" % (what, _quoted(item), _quoted(k), example))
        if not v:
            raise UsageError("%s %s: the value is empty (e.g. %s)" % (what, _quoted(item), example))
        if k in out:
            raise UsageError("%s %s: %s is given twice" % (what, _quoted(item), k))
        if what == "--option":
            out[k] = v  # coerce_options converts to the option's declared type
        else:
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError as exc:
                if v[:1] in '[{"':     # meant as JSON: a list, an object or a quoted string
                    raise UsageError("%s %s: the value is not valid JSON: %s at character %d"
                                     % (what, _quoted(item), exc.msg, exc.pos + 1)) from None
                out[k] = v      # a bare word such as north is a string
            except ValueError:  # an integer beyond Python's 4300-digit conversion limit
                raise UsageError("%s %s: a number too long to read; values must fit a float64 "
                                 "(at most about 1.8e308)" % (what, _quoted(item))) from None
    return out


def _quoted(text: str) -> str:
    """A command-line word in a message: quoted, control characters escaped, at most 60."""
    shown = json.dumps(text, ensure_ascii=False)
    return printable(shown if len(shown) <= 60 else shown[:57] + '..."', False)


# --- helpers ---------------------------------------------------------------------------------

def _load(args):
    from .api import load
    path = args.model
    if not os.path.exists(path):
        raise UsageError("model file not found: %s" % path)
    if args.data and not os.path.exists(args.data):
        raise UsageError("data file not found: %s" % args.data)
    for d in args.allow_dirs:
        if not os.path.isdir(d):
            raise UsageError("--allow-dir %s: not a directory" % d)
    params = _parse_kv(args.overrides, "--set")
    return load(path, data=args.data or None, params=params or None, max_elements=args.max_elements,
                allow_dirs=args.allow_dirs)


def _error_reason(result) -> str:
    """Why a solve ended in status ``error``: the backend's message, else what is known."""
    st = result.stats
    for key in ("message", "reason", "error"):
        if st.get(key):
            return str(st[key])
    what = ", ".join("%s %s" % (k, st[k]) for k in ("solver", "cvxpy_status") if st.get(k))
    return "the backend gave no message" + (" (%s)" % what if what else "")


def _fmt_gap(gap) -> str:
    g = float(gap)
    return "%.3g%%" % (100 * g) if g == g and g != float("inf") else str(g)


def _plural(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _fmt_num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return "%.12g" % v     # enough digits that the printed optimum is the optimum


def _nonzero(val, limit: int | None) -> tuple[list, int]:
    """Up to ``limit`` non-zero ``(label, value)`` pairs of a family, and how many there are;
    a :class:`FamilyValues` is scanned with numpy and only the shown entries get labels."""
    import numpy as np
    from .result import FamilyValues
    if isinstance(val, FamilyValues):
        pos = np.flatnonzero(~(np.abs(val.array) <= 1e-9))
        shown = pos if limit is None else pos[:limit]
        return [(val.label_at(int(p)), float(val.array[p])) for p in shown], len(pos)
    nz = [(k, x) for k, x in val.items() if x is None or not isinstance(x, (int, float)) or abs(x) > 1e-9]
    return (nz if limit is None else nz[:limit]), len(nz)


def _print_values(name: str, val, limit: int | None, out) -> None:
    name = printable(name, False)
    if not isinstance(val, Mapping):
        out.write("  %s = %s\n" % (name, _fmt_num(val)))
        return
    shown, n_nz = _nonzero(val, limit)
    if not n_nz:
        out.write("  %s: all %d entries are 0\n" % (name, len(val)))
        return
    for k, x in shown:
        out.write("  %s[%s] = %s\n" % (name, printable(str(k), False), _fmt_num(x)))
    if len(shown) < n_nz:
        out.write("  ... %d more non-zero value%s of %s not shown (%d of %d entries are non-zero; --all or --json for all)\n"
                  % (n_nz - len(shown), "" if n_nz - len(shown) == 1 else "s", name, n_nz, len(val)))
    elif n_nz < len(val):
        out.write("  (%d other entries of %s are zero)\n" % (len(val) - n_nz, name))


# --- commands --------------------------------------------------------------------------------

def _say(text: str) -> None:
    """Print one line of a report that may hold a user's text (labels, paths), escaped."""
    print(printable(text, False))


def cmd_check(args) -> int:
    model = _load(args)
    with stdout_redirected(to_stderr=True):
        info = model.check()
    if args.json:
        print(dumps(info))
        return EXIT_OK
    s = info["sizes"]
    _say("model %s%s" % (info["model"], " (%s)" % info["source"] if info["source"] else ""))
    _say("  " + ", ".join(_plural(s[k], w) for k, w in (
        ("sets", "set"), ("params", "param"), ("variables", "variable"))) +
        " (%s), " % _plural(s["unknowns"], "unknown") +
        ", ".join(_plural(s[k], w) for k, w in (("constraints", "constraint"), ("fields", "field"))))
    cls = info["class"]
    _say("  class: %s" % (cls["kind"] or "unknown"))
    for r in cls["reasons"]:
        _say("    - %s" % r)
    _say("backends:")
    width = max((len(n) for n in info["backends"]), default=0)
    for name, e in info["backends"].items():
        if e["accepts"]:
            _say("  %-*s  accepts" % (width, name))
        else:
            _say("  %-*s  refuses: %s" % (width, name, e["reasons"][0] if e["reasons"] else "(no reason given)"))
            for r in e["reasons"][1:]:
                _say("  %-*s           %s" % (width, "", r))
    auto = info["auto"]
    _say("auto: %s (%s)" % (auto["backend"], auto["reason"]) if auto["backend"]
         else "auto: none (%s)" % auto["reason"])
    return EXIT_OK


def cmd_show(args) -> int:
    model = _load(args)
    # Set elements from data may hold terminal escapes: shown escaped, like every message.
    sys.stdout.write(printable(model.to_latex() + "\n" if args.latex else model.to_text()))
    return EXIT_OK


def cmd_compile(args) -> int:
    from .outputs import check_output_path, model_inputs, write_file
    model = _load(args)
    options = _parse_kv(args.options, "--option")
    if args.output:     # before emitting: a large export is not computed to be refused
        check_output_path(args.output, model_inputs(), "-o")
    with stdout_redirected(to_stderr=True):
        text = model.emit(args.emit, backend=args.backend, **options)
    if str(args.emit).lower().lstrip(".") in ("text", "lag", "latex", "tex"):
        text = printable(text)      # as `show`: data strings may hold terminal escapes
    if args.output:
        try:
            write_file(args.output, text, model_inputs(), "-o")
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.output, exc.strerror or exc))
        print("wrote %s (%s)" % (args.output, args.emit), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_solve(args) -> int:
    from .outputs import check_plot_path, check_save_dir, model_inputs
    from .progress import showing_progress
    if args.overwrite and not args.save:
        raise UsageError("--overwrite: only with --save DIR (it lets --save replace lagdsl's own files)")
    if args.policy:
        return _solve_with_policy(args)
    auto = args.backend == "auto"
    if args.plot:
        _check_plot(None if auto else args.backend)
    if args.save and not auto:
        _check_save(args.backend)
    options = _parse_kv(args.options, "--option")
    seed = _seed_of(args.seed, options)
    model = _load(args)
    backend = args.backend
    if auto and (args.plot or args.save):      # what auto picks decides whether they work
        from .backend import choose_backend
        backend = choose_backend(model.ir, options).backend
        if args.plot:
            _check_plot(backend)
        if args.save:
            _check_save(backend)
    # Every output path, against every file the model loaded, before anything is solved.
    if args.plot:
        check_plot_path(args.plot, model_inputs(), "--plot")
    if args.save:
        from .backend import get_backend
        check_save_dir(args.save, get_backend(backend).saved_files, model_inputs(), args.overwrite)
    with stdout_redirected(to_stderr=True), showing_progress(not (args.quiet or args.json)):
        # In a worker thread: Ctrl-C is seen at once even while a solver in C runs.
        # Model.solve itself turns the warnings raised meanwhile into stats["notes"].
        result = run_interruptible(model.solve, args.backend, seed=seed, **options)
    for note in result.stats.get("notes", ()):
        print("note: %s" % printable(str(note), False), file=sys.stderr)
    code = EXIT_OK if result.solved else EXIT_NOT_SOLVED
    _print_result(args, model, result)
    args.result_printed = True      # --json: a later failure (writing --plot) adds no second object
    if args.plot:       # after the result is out: a failing plot never costs the user the answer
        from .plot import save_plot
        try:
            save_plot(result, args.plot, inputs=model_inputs())
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.plot, exc.strerror or exc))
        if not args.json:
            print("wrote %s" % args.plot, file=sys.stderr)
    if args.save:
        from .backend import get_backend
        try:
            get_backend(result.backend or backend).save_fields(result, model.ir, args.save,
                                                              overwrite=args.overwrite, inputs=model_inputs())
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.save, exc.strerror or exc))
        if not args.json:
            print("wrote %s" % args.save, file=sys.stderr)
    return code


def _solve_with_policy(args) -> int:
    """``lagdsl solve MODEL --data D --policy DIR``: the learned policy's answer."""
    from .learn.command import solve_with_policy
    for flag, given in (("--save", args.save), ("--plot", args.plot), ("--option", args.options),
                        ("--backend", args.backend != "auto" and args.backend), ("--seed", args.seed)):
        if given:
            raise UsageError("%s: not with --policy (the policy answers; see docs/learn.md)" % flag)
    model = _load(args)
    result = solve_with_policy(args, model)
    _print_result(args, model, result)
    return EXIT_OK if result.solved else EXIT_NOT_SOLVED


def _seed_of(seed: str | None, options: dict) -> int | None:
    """The one seed of a solve: ``--seed N`` or ``--option seed=N`` (not both), checked by the
    shared seed validator (``--option seed`` when it reaches the backend)."""
    seed = _seed(seed)
    if "seed" in options:
        if seed is not None:
            raise UsageError("--option seed=%s: the seed is given twice (also --seed %d)"
                             % (options["seed"], seed))
        return options.pop("seed")
    return seed


def _check_save(backend_name: str) -> None:
    """Refuse ``--save`` before solving for a backend that trains no fields."""
    from .backend import get_backend
    b = get_backend(backend_name)
    if not b.saves_fields:
        raise UsageError("--save: backend %s trains no fields to save (use --backend pinn)" % b.name)


def _check_plot(backend_name: str | None) -> None:
    """Refuse ``--plot`` before solving when it cannot work: no matplotlib, or a backend
    that records no history."""
    from .backend import get_backend
    from .plot import require_matplotlib
    require_matplotlib()
    if backend_name is None:        # auto: checked again once the model says which
        return
    b = get_backend(backend_name)
    if not b.records_history:
        from .backend import REGISTRY
        able = [n for n in REGISTRY if n != b.name and _records_history(n)]
        raise UsageError("--plot: backend %s records no history to plot%s" % (
            b.name, " (backends that do: %s)" % ", ".join(able) if able else ""))


def _records_history(name: str) -> bool:
    from .backend import get_backend
    from .errors import LagError
    try:
        return get_backend(name).records_history
    except LagError:
        return False


def _print_result(args, model, result) -> None:
    """The solve summary (or the JSON object) on stdout."""
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
        return
    out = sys.stdout
    ob = model.ir.objective
    line = "status: %s" % result.status
    if result.objective is not None:
        line += "    objective: %s" % _fmt_num(result.objective)
        if ob is not None:
            line += " (%s %s)" % (ob.sense, ob.name)
    out.write(line + "\n")
    if result.status == "error":
        out.write("reason: %s\n" % printable(_error_reason(result), False))
    if result.stats.get("mip_gap") is not None:
        out.write("stopped with a MIP gap of %s to the bound %s\n" % (
            _fmt_gap(result.stats["mip_gap"]), _fmt_num(result.stats.get("bound"))))
    if args.quiet:
        return
    extra = ["backend: %s" % (result.backend or args.backend)]
    if result.max_violation is not None:
        extra.append("max violation: %.3g" % result.max_violation)
    wall = result.times.get("wall")
    if wall is not None:
        extra.append("time: %.3gs" % wall)
    out.write(", ".join(extra) + "\n")
    if result.values:
        out.write("values (non-zero):\n")
        for name, val in result.values.items():
            _print_values(name, val, None if args.all else SHOW_VALUES, out)
    if args.duals and result.duals:
        out.write("duals:\n")
        for name, val in result.duals.items():
            _print_values(name, val, None if args.all else SHOW_VALUES, out)
    elif args.duals and getattr(result.duals, "reason", None):
        out.write("duals: none: %s\n" % result.duals.reason)


def _allowed(spec: tuple, name: str = "") -> str | None:
    """What an option accepts, as ``lagdsl backends`` shows it."""
    from .options import validator_of
    check = validator_of(spec, name)
    return check.describe() if check is not None else None


def cmd_backends(args) -> int:
    from . import backend as B
    from .errors import LagError
    rows = {}
    for name in B.available():
        entry = {"installed": True, "description": "", "options": {}, "formats": ["ir"]}
        try:
            with stdout_redirected(to_stderr=True):
                b = B.get_backend(name)
            entry["description"] = b.description
            entry["options"] = {k: {"default": spec[0], "help": spec[1], "allowed": _allowed(spec, k)}
                                for k, spec in b.options.items()}
            entry["formats"] = ["ir"] + list(b.emits)
        except LagError as exc:
            entry["installed"] = False
            entry["description"] = exc.message
        rows[name] = entry
    if args.json:
        print(dumps(rows, default=str))
        return EXIT_OK
    for name, e in rows.items():
        print("%s%s — %s" % (name, "" if e["installed"] else " (not installed)", e["description"]))
        if e["options"]:
            print("  options:")
            for k, o in e["options"].items():
                print("    %s = %s%s" % (k, o["default"], "    # " + o["help"] if o["help"] else ""))
                if o["allowed"] and o["allowed"] != "text":
                    print("        (%s)" % o["allowed"])
        print("  formats: %s" % ", ".join(e["formats"]))
    return EXIT_OK


def cmd_sweep(args) -> int:
    from .sweep.command import run
    if args.policy:
        from .learn.command import sweep_with_policy
        return sweep_with_policy(args, _parse_kv(args.overrides, "--set"))
    return run(args, _parse_kv(args.options, "--option"), _parse_kv(args.overrides, "--set"))


def cmd_learn(args) -> int:
    from .learn.command import run_learn
    return run_learn(args, _load, _parse_kv, _seed_of)


COMMANDS = {"check": cmd_check, "show": cmd_show, "compile": cmd_compile, "solve": cmd_solve,
            "backends": cmd_backends, "sweep": cmd_sweep, "learn": cmd_learn}


class OutputError(OSError):
    """Writing the command's output to stdout failed (closed, full disk, broken pipe)."""


class _Stdout:
    """``sys.stdout`` for the duration of a command: a failed write or flush becomes an
    :class:`OutputError`, told apart from any other ``OSError``; a process started without a
    stdout gets one whose every write fails that way."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if self._stream is None:
            raise OutputError(9, "it is closed")
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror or str(exc)) from None

    def flush(self):
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror or str(exc)) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    closed_fds = reserve_std_fds()
    closed = 1 in closed_fds or sys.stdout is None
    if 2 in closed_fds or sys.stderr is None:
        # print(file=None) would write messages to stdout, into the JSON a caller parses
        sys.stderr = open(os.devnull, "w")
    real = sys.stdout
    sys.stdout = _Stdout(None if closed else real)
    try:
        _Parser.last_error = None
        try:
            args = _parser().parse_args(argv)      # --help and --version print to stdout
        except OutputError as exc:
            return _output_failed(exc)
        except SystemExit as exc:
            # a command-line mistake (printed by argparse): with --json, also as JSON
            if exc.code == EXIT_USER and "--json" in (sys.argv[1:] if argv is None else argv) \
                    and _Parser.last_error:
                return _json_error(argparse.Namespace(json=True), EXIT_USER, _Parser.last_error)
            raise
        with warnings_as_notes() as notes:
            code = _run(args)
        for note in notes:
            print("note: %s" % printable(note, False), file=sys.stderr)
        try:
            sys.stdout.flush()
        except OutputError as exc:
            code = _output_failed(exc)
    finally:
        cur = sys.stdout
        if isinstance(cur, _Stdout):    # devnull after a failed write, else the original
            sys.stdout = cur._stream if cur._stream is not None else real
    return code


def _output_failed(exc: OSError) -> int:
    """A result that could not be written (stdout closed, disk full): one line, exit 2; the
    unwritten rest is dropped so that Python's own flush at exit does not fail again.  A
    broken pipe (``lagdsl show M | head``: the reader is done) is no error."""
    code = EXIT_OK
    if exc.errno != errno.EPIPE:
        print("error: cannot write to standard output: %s" % str(exc.strerror or exc).lower(),
              file=sys.stderr)
        code = EXIT_USER
    with contextlib.suppress(OSError):
        sys.stdout = _Stdout(open(os.devnull, "w"))
    return code


def _run(args) -> int:
    debug = getattr(args, "debug", False)
    try:
        from .errors import LagError
    except Exception:  # pragma: no cover - a broken install
        LagError = ()  # type: ignore[assignment]
    try:
        from .frontend.files import recording_inputs
        from .limits import limited
        # the limit holds for the whole command: loading, and the backend's own sizes (a pinn
        # family's points) while compiling and solving; every file read is noted, so that no
        # output lands on it (lagdsl.outputs)
        with limited(getattr(args, "max_elements", None)), recording_inputs():
            return COMMANDS[args.command](args)
    except UsageError as exc:
        print("error: %s" % printable(str(exc)), file=sys.stderr)
        return _json_error(args, EXIT_USER, str(exc))
    except LagError as exc:  # type: ignore[misc]
        if getattr(args, "all", False) and getattr(exc, "others", None):
            exc = exc.every_reason()            # --all: every reason of a refusal
        print(exc.format(), file=sys.stderr)
        if debug:
            traceback.print_exc()
        return _json_error(args, EXIT_USER, exc.message, exc.span, exc.hint)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print("error: %s" % printable(str(exc)), file=sys.stderr)
        return _json_error(args, EXIT_USER, str(exc))
    except UnicodeDecodeError as exc:
        text = "%s is not UTF-8 text (%s)" % (getattr(args, "model", "input"), exc.reason)
        print("error: %s" % printable(text), file=sys.stderr)
        return _json_error(args, EXIT_USER, text)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        with contextlib.suppress(OutputError):
            _json_error(args, 130, "interrupted")
            sys.stdout.flush()
        if abandoned_work():
            # A solver in C is still running in a worker thread: waiting for it, or letting
            # the interpreter tear it down under it, would hang or abort.  Nothing is left
            # half-written (files are written whole), so end here.
            sys.stderr.flush()
            os._exit(130)
        return 130
    except OutputError as exc:      # writing the result: a closed stdout, a full disk
        return _output_failed(exc)
    except Exception as exc:  # a bug in lagdsl, not the user's fault
        print("internal error in lagdsl (please report): %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return _json_error(args, EXIT_INTERNAL, "internal error in lagdsl (please report; "
                           "stderr has the details)")


def _json_error(args, code: int, message: str, span=None, hint: str | None = None) -> int:
    """With ``--json``, the error as one JSON object on stdout as well (the text stays on
    stderr): ``{"status": "error", "error": {"message", "file", "line", "col", "hint"}}``,
    so that scripts read a failure like a result.  Returns ``code``."""
    if not getattr(args, "json", False) or getattr(args, "result_printed", False):
        return code
    err = {"message": message, "file": getattr(span, "file", None), "line": getattr(span, "line", None),
           "col": getattr(span, "col", None), "hint": hint}
    try:
        sys.stdout.write(json.dumps({"status": "error", "exit": code, "error": err}) + "\n")
    except OutputError as exc:
        return _output_failed(exc)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
