"""Fuzz the front end and the IR reader with mutations of the examples (issue 5, class 10).

    python bench/fuzz.py                      # 100,000 inputs, seed 0
    python bench/fuzz.py --n 20000 --seed 3 --cap 2.0

Each input is one of

* ``lag``  — an ``examples/*.lag`` model with its data, its text mutated (tokens deleted,
  duplicated, swapped or replaced by hostile ones: ``1e400``, ``10^12``, deep brackets,
  payload strings ...), run through the parser and the checker;
* ``data`` — an example's JSON data mutated structurally (a value replaced by a hostile one,
  a key dropped or renamed, a list cut) and compiled with its model;
* ``ir``   — an example compiled to IR JSON, then mutated structurally or as text (cut short,
  bytes flipped), read back with ``lagdsl.ir.serialize.from_json``;
* ``options`` — one to three options of a registered backend (a name from its option table,
  now and then a misspelt one) set to hostile values (huge counts, ``1e308``, ``nan``,
  negative numbers, strings, ``__class__``, the payload), as Python values or as the
  ``k=v`` text of the command line, over cheap defaults (tiny networks and budgets, a short
  ``time_limit``), then a solve of a tiny model the backend takes, and ``to_json`` of its result;
* ``saved`` — a folder saved from a tiny trained pinn model (``save_fields``), damaged (a
  configuration value replaced by a hostile one, ``fields.json`` mutated or cut, the weights
  cut, their bytes changed or re-saved with a wrong shape, dtype or NaN, a file replaced by a
  FIFO, a directory, a symbolic link to ``/dev/zero`` or out of the folder, or removed), read
  with ``lagdsl.load_fields`` and the fields evaluated.

Every outcome must be ``ok`` or a ``LagError`` (counted by its kind); anything else is an
*internal error*, and an input that runs longer than ``--cap`` seconds is a *timeout*.  Some
mutations plant a payload that would set an attribute on ``builtins`` if any text from the
input were evaluated; the run fails if it is ever set.  Exit status 1 when there was an
internal error, a timeout or code execution.
"""
from __future__ import annotations

import argparse
import builtins
import copy
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lagdsl.errors import LagError  # noqa: E402
from lagdsl.frontend import compile_text  # noqa: E402
from lagdsl.ir.serialize import from_json, to_dict  # noqa: E402
from lagdsl.limits import limited  # noqa: E402

SENTINEL = "LAGDSL_FUZZ_PWNED"
PAYLOAD = '__import__("builtins").setattr(__import__("builtins"), "%s", 1) or 0' % SENTINEL

TOKEN = re.compile(r'"[^"\n]*"|[A-Za-z_][A-Za-z0-9_.]*|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|\.\.|[<>=!]=|\S')
HOSTILE_TOKENS = ["1e400", "1e-400", "10^12", "9^9^9", "inf", "-inf", "nan", "0", "1/0", "mod 0",
                  "(" * 300 + "x" + ")" * 300, "x" + " + x" * 600, "- " * 600 + "1",
                  "7" * 400, '"%s"' % PAYLOAD.replace('"', "'"), "\x1b[31m", "\x00", "{", "}",
                  "sum", "in", "cross", "1..10^12", "subject to", "var", "param", "set", ":", "[",
                  "]", "(", ")", ",", "..", "==", "<=", ">=", "^", "log(-1)", "sqrt(-1)"]
HOSTILE_VALUES = [None, True, -1, 0, 1, 2 ** 64, 10 ** 400, 1e308, -1e308, 0.5, "inf", "-inf",
                  "nan", "", "x", PAYLOAD, [PAYLOAD], {"__class__": PAYLOAD}, [], {}, [[1, 2], [3]],
                  "1e3", ["sym", PAYLOAD], ["int", "9" * 2000], ["Pow", 0, 0], [0, 1, 2], "1" * 5000,
                  {"range": [1, 10 ** 12]}, {"generator": "complete_graph", "n": 10 ** 6},
                  {"file": "/etc/passwd"}, "../../etc/passwd", [[[[[[[[[[1]]]]]]]]]]]


#: Hostile option values: counts far beyond any budget, the float64 extremes, non-numbers,
#: wrong types and names that look like Python internals.
HOSTILE_OPTIONS = [10 ** 12, 10 ** 18, 2 ** 63, 10 ** 400, 1e308, -1e308, 1e-308, -1, 0, 1, 2, 3, 0.5,
                   -0.5, float("nan"), float("inf"), "nan", "inf", "-inf", "1e400", "", "x", "none",
                   "__class__", "__import__", "true", "false", True, False, None, "1.5", "99999999999999999999",
                   "a=1;b=2", "k=", PAYLOAD, [1], {"a": 1}, "x,y", "\x00", "1e308"]

#: Options that keep one solve of a tiny model cheap, per backend (a fuzzed option overrides).
CHEAP = {
    "pinn": {"epochs": 3, "lbfgs": 2, "points": 8, "boundary_points": 4, "integral_points": 8,
             "width": 4, "depth": 1, "grid": 3, "time_limit": 0.5},
    "lagrangian": {"time_limit": 0.5},
    "qubo": {"time_limit": 0.5},
    "cvxpy": {"time_limit": 0.5},
}

#: Tiny models; each backend is fuzzed on those it accepts.
TINY_MODELS = [
    "var x[1..3] integer >= 0, <= 5\nmaximize s: sum(i in 1..3) x[i]\n"
    "subject to c: x[1] + 2*x[2] + 3*x[3] <= 7\n",
    "var x in [0, 10] start 1\nvar y >= -5, <= 5\nminimize f: (x - 2)^2 + (y + 1)^2 + x*y / 10\n"
    "subject to c: x + y >= 1\n",
    "var b[1..4] binary\nmaximize f: sum(i in 1..4) b[i] - b[1]*b[2]\nsubject to c: sum(i in 1..4) b[i] <= 2\n",
    "domain D: x in [0, 1]\nfield u(x)\nsubject to pde on D: -d(u, x, x) == pi ^ 2 * sin(pi * x)\n"
    "subject to ends on boundary(D): u == 0\n",
    "domain D: x in [0, 1], t in [0, 1]\nfield u(x, t)\nsubject to pde on D: d(u, t) == 0.1 * d(u, x, x)\n"
    "subject to init on D where t == 0: u == sin(pi * x)\nsubject to walls on D where x == 0 or x == 1: u == 0\n",
]


class Timeout(Exception):
    """The per-input time cap ran out."""


def _alarm(signum, frame):
    raise Timeout()


def load_seeds() -> list[tuple[str, str, dict | None, str]]:
    """(name, .lag text, data dict or None, data directory) of every example."""
    seeds = []
    for lag in sorted((ROOT / "examples").glob("*.lag")):
        data_path = lag.with_suffix(".json")
        data = json.loads(data_path.read_text()) if data_path.exists() else None
        seeds.append((lag.name, lag.read_text(), data, str(lag.parent)))
    return seeds


# --- mutations ---------------------------------------------------------------------------------

def mutate_text(rng: random.Random, text: str) -> str:
    """One to three token-level edits of ``text``."""
    toks = TOKEN.findall(text)
    for _ in range(rng.randint(1, 3)):
        if not toks:
            break
        k = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.25:
            del toks[k]
        elif op < 0.45:
            toks.insert(k, toks[rng.randrange(len(toks))])
        elif op < 0.6:
            j = rng.randrange(len(toks))
            toks[k], toks[j] = toks[j], toks[k]
        else:
            toks[k] = rng.choice(HOSTILE_TOKENS)
    out = " ".join(toks)
    # keep statements on their own lines most of the time, as people write them
    for kw in ("set ", "param ", "var ", "graph ", "domain ", "field ", "minimize ", "maximize ",
               "subject to "):
        out = out.replace(" " + kw, "\n" + kw)
    return out


def _paths(obj, prefix=(), out=None, limit=4000):
    """Every (container path) in a JSON value, breadth-limited."""
    out = [] if out is None else out
    stack = [(prefix, obj)]
    while stack and len(out) < limit:
        p, v = stack.pop()
        out.append(p)
        if isinstance(v, dict):
            stack.extend((p + (k,), w) for k, w in v.items())
        elif isinstance(v, list):
            stack.extend((p + (i,), w) for i, w in enumerate(v[:50]))
    return out


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def mutate_json(rng: random.Random, doc):
    """One to three structural edits of a JSON value (a deep copy)."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(doc)
        path = rng.choice(paths[1:] or paths)
        if not path:
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        op = rng.random()
        if op < 0.55:
            parent[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif op < 0.7:
            del parent[key]
        elif op < 0.8 and isinstance(parent, dict):
            parent[key + "_"] = parent.pop(key)
        elif op < 0.9 and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key][: rng.randrange(len(parent[key]))]
        else:
            other = _get(doc, rng.choice(paths))
            parent[key] = copy.deepcopy(other)
    return doc


def mutate_ir_text(rng: random.Random, text: str) -> str:
    """Text-level damage to an IR document: cut short, bytes changed, a span duplicated."""
    op = rng.random()
    if op < 0.4:
        return text[: rng.randrange(len(text))]
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        k = rng.randrange(len(chars))
        if op < 0.8:
            chars[k] = rng.choice('{}[]",:0123456789-eE.ntrufalsNI \\')
        else:
            j = rng.randrange(len(chars))
            chars[k:k] = chars[j: j + rng.randint(1, 40)]
    return "".join(chars)


def fuzz_options(rng: random.Random, backend) -> dict:
    """Cheap defaults for ``backend`` with one to three options set to hostile values (a
    misspelt name now and then), as Python values or as command-line text."""
    opts = dict(CHEAP.get(backend.name, {}))
    opts = {k: v for k, v in opts.items() if k in backend.options}
    names = sorted(backend.options)
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(names) if rng.random() < 0.95 else rng.choice(names) + rng.choice(["_", "s", "X"])
        if name == "time_limit" or "time_limit" in opts and opts["time_limit"] != CHEAP.get(backend.name, {}).get("time_limit"):
            # a fuzzed time limit alone: with it the budgets stay cheap, so that a valid
            # "no limit" (none, 1e308) does not meet a fuzzed 10^12 iterations
            opts = {k: v for k, v in CHEAP.get(backend.name, {}).items() if k in backend.options}
            name = "time_limit"
        if rng.random() < 0.5:
            value = rng.choice(HOSTILE_OPTIONS)
        else:                       # near the default: a plausible value of the right type
            default = backend.options.get(name, (1,))[0]
            value = default * rng.choice([0, 1, 2, 10, 1000]) if isinstance(default, (int, float)) and \
                not isinstance(default, bool) else default
        if rng.random() < 0.5 and not isinstance(value, (list, dict)):
            value = str(value)      # as the CLI hands it over
        opts[name] = value
    return opts


def solve_with_options(payload) -> None:
    """One ``options`` input: compile and solve the tiny model, and write its result."""
    from lagdsl._stdio import stdout_redirected
    model, backend, opts = payload
    with stdout_redirected(False):      # verbose=true: a solver's log is not the fuzzer's output
        model.solve(backend, **opts).to_json()


def make_saved_folders(root: str) -> list[str]:
    """Folders saved from tiny trained pinn models: a 1D field, and a 2D one with Fourier
    features and a periodic coordinate."""
    import lagdsl
    from lagdsl.backends.pinn.results import save_fields
    out = []
    for k, (text, extra) in enumerate([(TINY_MODELS[3], {}),
                                       (TINY_MODELS[4], {"fourier": 2, "periodic": "x", "harmonics": 2})]):
        model = lagdsl.parse(text, path="tiny%d.lag" % k)
        result = model.solve("pinn", **dict(CHEAP["pinn"], **extra))
        path = os.path.join(root, "base%d" % k)
        save_fields(result, model.ir, path)
        out.append(path)
    return out


def mutate_saved(rng: random.Random, base: str, work: str, done: list) -> str:
    """A copy of the saved folder ``base`` under ``work``, damaged one to three times (each
    damage described in ``done``)."""
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    cfg, wts = os.path.join(work, "fields.json"), os.path.join(work, "weights.pt")

    def replace(path, how):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
        if how == "fifo":
            os.mkfifo(path)
        elif how == "dir":
            os.mkdir(path)
        elif how == "zero":
            os.symlink("/dev/zero", path)
        elif how == "out":
            os.symlink(os.path.join(base, os.path.basename(path)), path)
        elif how == "empty":
            open(path, "wb").close()

    for _ in range(rng.randint(1, 3)):
        if not os.path.isfile(cfg) or not os.path.isfile(wts) or os.path.islink(cfg) or os.path.islink(wts):
            break
        try:
            damage(rng, base, cfg, wts, replace, done)
        except Exception:           # noqa: BLE001 — an earlier damage left nothing this one can edit
            continue
    return work


def damage(rng: random.Random, base: str, cfg: str, wts: str, replace, done: list) -> None:
    """One damage of a saved folder's ``fields.json`` or ``weights.pt`` (see :func:`mutate_saved`)."""
    import torch
    op = rng.random()
    if op < 0.35:               # a configuration value replaced by a hostile one
        doc = json.loads(open(cfg).read())
        field = rng.choice(list(doc["fields"].values()) or [{}])
        key = rng.choice(sorted(field) + ["format", "values", "extra"])
        target = field if key in field or key == "extra" else doc
        target[key] = copy.deepcopy(rng.choice(HOSTILE_OPTIONS + HOSTILE_VALUES))
        done.append("fields.json %s = %s" % (key, repr(target[key])[:40]))
        with open(cfg, "w") as f:
            f.write(json.dumps(doc, allow_nan=True))
    elif op < 0.5:
        doc = json.loads(open(cfg).read())
        text = json.dumps(mutate_json(rng, doc)) if rng.random() < 0.6 else mutate_ir_text(rng, json.dumps(doc))
        with open(cfg, "w") as f:
            f.write(text)
        done.append("fields.json mutated: %s" % text[:80])
    elif op < 0.6:              # the weights cut or their bytes changed
        data = bytearray(open(wts, "rb").read())
        if rng.random() < 0.5:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        open(wts, "wb").write(bytes(data))
        done.append("weights.pt cut or changed (%d bytes)" % len(data))
    elif op < 0.8:              # the weights re-saved with a wrong shape, type or values
        states = torch.load(wts, weights_only=True)
        if not isinstance(states, dict) or not states or not all(isinstance(v, dict) and v for v in states.values()):
            return
        name = rng.choice(list(states))
        tensor = rng.choice(sorted(states[name]))
        t = states[name][tensor]
        how = rng.random()
        if how < 0.3:
            states[name][tensor] = torch.zeros(*[rng.randint(0, 4) for _ in range(rng.randint(0, 3))])
        elif how < 0.45:
            states[name][tensor] = t.to(torch.int64)
        elif how < 0.6:
            states[name][tensor] = torch.full(tuple(t.shape), rng.choice([float("nan"), float("inf"), 1e308]),
                                              dtype=torch.float64)
        elif how < 0.7:
            del states[name][tensor]
        elif how < 0.8:
            states[name]["extra"] = torch.zeros(1)
        elif how < 0.9:
            states = {name + "_": states[name]}
        else:
            states = rng.choice([[1, 2], {"u": [1]}, {"u": {"w": 3}}, "x"])
        torch.save(states, wts)
        done.append("weights.pt re-saved (%s %s, case %.2f)" % (name, tensor, how))
    else:                       # a file replaced by something that is not one
        path, how = rng.choice([cfg, wts]), rng.choice(["fifo", "dir", "zero", "out", "empty", "gone"])
        replace(path, how)
        done.append("%s replaced: %s" % (os.path.basename(path), how))


def load_saved(path: str) -> None:
    """One ``saved`` input: load the folder and evaluate each field at a point."""
    import lagdsl
    for fn in lagdsl.load_fields(path).values():
        fn(*[0.5] * len(fn.coords))


# --- running -----------------------------------------------------------------------------------

def _excerpt(payload) -> str:
    """What made an input slow, for the report: the mutated text near a hostile token, or
    the data's values."""
    if isinstance(payload, str):
        return payload[:60] + "..."
    if len(payload) == 3 and isinstance(payload[2], dict) and isinstance(payload[1], str):
        return "backend %s, options %s" % (payload[1], _shown(payload[2]))
    text, data, _ = payload
    for tok in ("^", "1e400", "10^12", "mod", "(" * 20, " + x" * 20):
        k = text.find(tok)
        if k >= 0:
            return repr(text[max(0, k - 40): k + 40])
    return json.dumps(data)[:120]


def _shown(opts: dict) -> str:
    return ", ".join("%s=%s" % (k, repr(v)[:40]) for k, v in opts.items())


def run_one(kind: str, payload, cap: float):
    """The outcome of one input: ``ok``, ``LagError:<kind>``, ``internal:<type>`` or
    ``timeout``, and a short note for internal errors."""
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        if kind == "ir":
            from_json(payload)
        elif kind == "options":
            solve_with_options(payload)
        elif kind == "saved":
            load_saved(payload)
        else:
            text, data, base_dir = payload
            compile_text(text, "fuzz.lag", data=data, base_dir=base_dir)
        return "ok", None
    except Timeout:
        return "timeout", "after %gs: %s" % (cap, _excerpt(payload))
    except LagError as err:
        return "LagError: %s" % err.kind, None
    except Exception as err:  # noqa: BLE001 - counting every other exception is the point
        what = ""
        if kind == "options":
            what = " [backend %s, options %s]" % (payload[1], _shown(payload[2]))
        return "internal: %s" % type(err).__name__, "%s: %s%s" % (type(err).__name__, str(err)[:200], what)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="number of inputs (default 100000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap", type=float, default=2.0, help="seconds per input before it counts as a timeout")
    ap.add_argument("--max-elements", type=int, default=10 ** 6,
                    help="size limit while fuzzing (default 10^6, so refusals are quick)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _alarm)
    seeds = load_seeds()
    with limited(args.max_elements):
        irs = []
        for name, text, data, base_dir in seeds:
            try:
                irs.append(to_dict(compile_text(text, name, data=data, base_dir=base_dir)))
            except LagError:
                pass
    import tempfile
    import lagdsl
    from lagdsl.backend import available, get_backend
    pairs = []                      # (model, backend) for the options kind
    for k, text in enumerate(TINY_MODELS):
        model = lagdsl.parse(text, path="tiny%d.lag" % k)
        for b in available():
            backend = get_backend(b)
            if not backend.accepts(model.ir):
                pairs.append((model, backend))
    with limited(args.max_elements):
        for model, backend in pairs:     # imports and first-call set-up, outside the time cap
            try:
                solve_with_options((model, backend.name, {k: v for k, v in CHEAP.get(backend.name, {}).items()
                                                          if k in backend.options}))
            except LagError:
                pass
    tmp = tempfile.TemporaryDirectory(prefix="lagdsl-fuzz-")
    with limited(args.max_elements):
        bases = make_saved_folders(tmp.name)
    kinds = ("lag", "data", "ir", "options", "saved")
    counts: dict[str, Counter] = {k: Counter() for k in kinds}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    with limited(args.max_elements):
        for i in range(args.n):
            r = rng.random()
            name, text, data, base_dir = rng.choice(seeds)
            done: list = []
            if r < 0.35:
                kind, payload = "lag", (mutate_text(rng, text), data, base_dir)
            elif r < 0.52 and data is not None:
                kind, payload = "data", (text, mutate_json(rng, data), base_dir)
            elif r < 0.85:
                kind = "ir"
                doc = rng.choice(irs)
                payload = (json.dumps(mutate_json(rng, doc)) if rng.random() < 0.7
                           else mutate_ir_text(rng, json.dumps(doc)))
            elif r < 0.95:
                model, backend = rng.choice(pairs)
                kind, payload = "options", (model, backend.name, fuzz_options(rng, backend))
            else:
                base = rng.choice(bases)
                kind, payload = "saved", mutate_saved(rng, base, os.path.join(tmp.name, "work"), done)
            outcome, note = run_one(kind if kind != "data" else "lag", payload, args.cap)
            counts[kind][outcome] += 1
            # the first input of each distinct message (up to 30), so that each bug has a reproducer
            if note and len(notes) < 30 and not any(k[1] == note[:60] for k in notes):
                notes[(outcome, note[:60])] = "%s (input %d, %s%s)" % (note, i, kind, ": " + "; ".join(done) if done else "")
            if hasattr(builtins, SENTINEL):
                print("CODE FROM AN INPUT RAN (input %d, %s)" % (i, kind))
                return 1
            if (i + 1) % 10_000 == 0:
                print("... %d inputs, %.0f s" % (i + 1, time.perf_counter() - t0), file=sys.stderr)
    wall = time.perf_counter() - t0
    outcomes = sorted(set().union(*counts.values()))
    print("bench/fuzz.py --n %d --seed %d --cap %g: %d inputs in %.0f s, %d example models"
          % (args.n, args.seed, args.cap, args.n, wall, len(seeds)))
    print()
    print("| outcome | lag text | data JSON | IR JSON | options | saved folder | total |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for o in outcomes:
        row = [counts[k][o] for k in kinds]
        print("| %s | %d | %d | %d | %d | %d | %d |" % (o, *row, sum(row)))
    tot = [sum(counts[k].values()) for k in kinds]
    print("| **total** | %d | %d | %d | %d | %d | %d |" % (*tot, sum(tot)))
    bad = {o: n for o, n in Counter(sum(counts.values(), Counter())).items()
           if o.startswith("internal") or o == "timeout"}
    print()
    print("internal errors: %d, timeouts: %d, code executed: no"
          % (sum(n for o, n in bad.items() if o != "timeout"), bad.get("timeout", 0)))
    for (o, _), note in sorted(notes.items()):
        print("  first %s: %s" % (o, note))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
