"""The ``lagdsl`` command line (also ``python -m lagdsl``).

::

    lagdsl check MODEL [--data F] [--set k=v]...        sizes, class, which backends take it
    lagdsl show MODEL [--latex]                         the model as text or LaTeX
    lagdsl compile MODEL [--backend B] --emit FORMAT [-o FILE]
    lagdsl solve MODEL [--backend B] [--option k=v]... [--seed N] [--json] [--quiet] [--plot F] [--save DIR]
    lagdsl backends                                     registered backends and their options

Exit status: 0 solved (optimal or feasible) or command done; 1 solved but infeasible,
unbounded or stopped at a limit; 2 a user error (the message, positioned where possible, on
stderr); 3 an internal error of lagdsl (``--debug`` shows the traceback).  ``solve --json``
prints exactly one JSON object on stdout; anything a solver prints goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping

from ._stdio import stdout_redirected

EXIT_OK, EXIT_NOT_SOLVED, EXIT_USER, EXIT_INTERNAL = 0, 1, 2, 3

#: How many non-zero entries of one variable family the summary prints.
SHOW_VALUES = 10


class UsageError(Exception):
    """A mistake on the command line (bad ``k=v``, missing file) found before compiling."""


# --- argument parsing ------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lagdsl", description="Compile and solve .lag models with interchangeable backends.",
        epilog="Exit status: 0 solved, 1 infeasible/unbounded/limit, 2 user error, 3 internal error.")
    from . import __version__
    p.add_argument("--version", action="version", version="lagdsl " + __version__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    model_args = argparse.ArgumentParser(add_help=False, parents=[common])
    model_args.add_argument("model", metavar="MODEL", help=".lag file (or IR JSON from --emit ir)")
    model_args.add_argument("--data", metavar="FILE", help="JSON data file (relative to the current directory)")
    model_args.add_argument("--set", metavar="K=V", action="append", default=[], dest="overrides",
                            help="override a scalar parameter, e.g. --set n=20 (repeatable)")
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

    v = sub.add_parser("solve", parents=[model_args], help="solve the model with a backend")
    v.add_argument("--backend", "-b", default="cvxpy", help="backend (default cvxpy; see `lagdsl backends`)")
    v.add_argument("--option", "-O", metavar="K=V", action="append", default=[], dest="options",
                   help="backend option (repeatable), e.g. --option method=alm")
    v.add_argument("--seed", type=int, help="random seed for backends that use one")
    v.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    v.add_argument("--quiet", "-q", action="store_true", help="print only the status line")
    v.add_argument("--all", action="store_true", help="print every non-zero value (no truncation)")
    v.add_argument("--duals", action="store_true", help="also print the duals")
    v.add_argument("--save", metavar="DIR",
                   help="write the trained fields (weights and configuration) and the model's IR to DIR "
                        "(field backends such as pinn); lagdsl.load_fields(DIR) reads them back")
    v.add_argument("--plot", metavar="FILE.png",
                   help="draw the backend's convergence history (and fields, samples) into FILE "
                        "(needs matplotlib: the plot extra)")

    b = sub.add_parser("backends", parents=[common], help="list the registered backends")
    b.add_argument("--json", action="store_true", help="print the list as one JSON object")
    return p


def _parse_kv(items: list[str], what: str) -> dict:
    """``["k=v", ...]`` -> dict; values parse as JSON when they can, else stay strings."""
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError("%s %r: expected NAME=VALUE (e.g. %s)" % (
                what, item, "--set n=20" if what == "--set" else "--option max_iter=500"))
        k, v = (t.strip() for t in item.split("=", 1))
        if not k or not k.replace("_", "a").replace(".", "a").isalnum():
            raise UsageError("%s %r: %r is not a name" % (what, item, k))
        if what == "--option":
            out[k] = v  # coerce_options converts to the option's declared type
        else:
            try:
                out[k] = json.loads(v)
            except ValueError:
                out[k] = v
    return out


# --- helpers ---------------------------------------------------------------------------------

def _load(args):
    from .api import load
    path = args.model
    if not os.path.exists(path):
        raise UsageError("model file not found: %s" % path)
    data = None
    if args.data:
        data = os.path.abspath(args.data)
        if not os.path.exists(data):
            raise UsageError("data file not found: %s" % args.data)
    params = _parse_kv(args.overrides, "--set")
    return load(path, data=data, params=params or None)


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
    if not isinstance(val, Mapping):
        out.write("  %s = %s\n" % (name, _fmt_num(val)))
        return
    shown, n_nz = _nonzero(val, limit)
    if not n_nz:
        out.write("  %s: all %d entries are 0\n" % (name, len(val)))
        return
    for k, x in shown:
        out.write("  %s[%s] = %s\n" % (name, k, _fmt_num(x)))
    if len(shown) < n_nz:
        out.write("  ... %d more non-zero value%s of %s not shown (%d of %d entries are non-zero; --all or --json for all)\n"
                  % (n_nz - len(shown), "" if n_nz - len(shown) == 1 else "s", name, n_nz, len(val)))
    elif n_nz < len(val):
        out.write("  (%d other entries of %s are zero)\n" % (len(val) - n_nz, name))


# --- commands --------------------------------------------------------------------------------

def cmd_check(args) -> int:
    model = _load(args)
    with stdout_redirected(to_stderr=True):
        info = model.check()
    if args.json:
        print(json.dumps(info))
        return EXIT_OK
    s = info["sizes"]
    print("model %s%s" % (info["model"], " (%s)" % info["source"] if info["source"] else ""))
    print("  " + ", ".join(_plural(s[k], w) for k, w in (
        ("sets", "set"), ("params", "param"), ("variables", "variable"))) +
        " (%s), " % _plural(s["unknowns"], "unknown") +
        ", ".join(_plural(s[k], w) for k, w in (("constraints", "constraint"), ("fields", "field"))))
    cls = info["class"]
    print("  class: %s" % (cls["kind"] or "unknown"))
    for r in cls["reasons"]:
        print("    - %s" % r)
    print("backends:")
    width = max((len(n) for n in info["backends"]), default=0)
    for name, e in info["backends"].items():
        if e["accepts"]:
            print("  %-*s  accepts" % (width, name))
        else:
            print("  %-*s  refuses: %s" % (width, name, e["reasons"][0] if e["reasons"] else "(no reason given)"))
            for r in e["reasons"][1:]:
                print("  %-*s           %s" % (width, "", r))
    return EXIT_OK


def cmd_show(args) -> int:
    model = _load(args)
    sys.stdout.write(model.to_latex() + "\n" if args.latex else model.to_text())
    return EXIT_OK


def cmd_compile(args) -> int:
    model = _load(args)
    options = _parse_kv(args.options, "--option")
    with stdout_redirected(to_stderr=True):
        text = model.emit(args.emit, backend=args.backend, **options)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.output, exc.strerror or exc))
        print("wrote %s (%s)" % (args.output, args.emit), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_solve(args) -> int:
    from .progress import showing_progress
    if args.plot:
        _check_plot(args.backend)
    if args.save:
        _check_save(args.backend)
    model = _load(args)
    options = _parse_kv(args.options, "--option")
    with stdout_redirected(to_stderr=True), showing_progress(not (args.quiet or args.json)):
        result = model.solve(args.backend, seed=args.seed, **options)
    code = EXIT_OK if result.solved else EXIT_NOT_SOLVED
    _print_result(args, model, result)
    if args.plot:       # after the result is out: a failing plot never costs the user the answer
        from .plot import save_plot
        try:
            save_plot(result, args.plot)
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.plot, exc.strerror or exc))
        if not args.json:
            print("wrote %s" % args.plot, file=sys.stderr)
    if args.save:
        from .backends.pinn.results import save_fields
        try:
            save_fields(result, model.ir, args.save)
        except OSError as exc:
            raise UsageError("cannot write %s: %s" % (args.save, exc.strerror or exc))
        if not args.json:
            print("wrote %s" % args.save, file=sys.stderr)
    return code


def _check_save(backend_name: str) -> None:
    """Refuse ``--save`` before solving for a backend that trains no fields."""
    from .backend import get_backend
    b = get_backend(backend_name)
    if not getattr(b, "saves_fields", False):
        raise UsageError("--save: backend %s trains no fields to save (use --backend pinn)" % b.name)


def _check_plot(backend_name: str) -> None:
    """Refuse ``--plot`` before solving when it cannot work: no matplotlib, or a backend
    that records no history."""
    from .backend import get_backend
    from .plot import require_matplotlib
    require_matplotlib()
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


def _allowed(spec: tuple) -> str | None:
    """What an option accepts, as ``lagdsl backends`` shows it."""
    from .options import validator_of
    check = validator_of(spec)
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
            entry["options"] = {k: {"default": spec[0], "help": spec[1], "allowed": _allowed(spec)}
                                for k, spec in b.options.items()}
            entry["formats"] = ["ir"] + list(b.emits)
        except LagError as exc:
            entry["installed"] = False
            entry["description"] = exc.message
        rows[name] = entry
    if args.json:
        print(json.dumps(rows, default=str))
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


COMMANDS = {"check": cmd_check, "show": cmd_show, "compile": cmd_compile, "solve": cmd_solve,
            "backends": cmd_backends}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        from .errors import LagError
    except Exception:  # pragma: no cover - a broken install
        LagError = ()  # type: ignore[assignment]
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return EXIT_USER
    except LagError as exc:  # type: ignore[misc]
        print(exc.format(), file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_USER
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return EXIT_USER
    except UnicodeDecodeError as exc:
        print("error: %s is not UTF-8 text (%s)" % (getattr(args, "model", "input"), exc.reason), file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `lagdsl show M | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:  # pragma: no cover
            pass
        return EXIT_OK
    except Exception as exc:  # a bug in lagdsl, not the user's fault
        print("internal error in lagdsl (please report): %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
