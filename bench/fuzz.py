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
  bytes flipped), read back with ``lagdsl.ir.serialize.from_json``.

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


# --- running -----------------------------------------------------------------------------------

def _excerpt(payload) -> str:
    """What made an input slow, for the report: the mutated text near a hostile token, or
    the data's values."""
    if isinstance(payload, str):
        return payload[:60] + "..."
    text, data, _ = payload
    for tok in ("^", "1e400", "10^12", "mod", "(" * 20, " + x" * 20):
        k = text.find(tok)
        if k >= 0:
            return repr(text[max(0, k - 40): k + 40])
    return json.dumps(data)[:120]


def run_one(kind: str, payload, cap: float):
    """The outcome of one input: ``ok``, ``LagError:<kind>``, ``internal:<type>`` or
    ``timeout``, and a short note for internal errors."""
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        if kind == "ir":
            from_json(payload)
        else:
            text, data, base_dir = payload
            compile_text(text, "fuzz.lag", data=data, base_dir=base_dir)
        return "ok", None
    except Timeout:
        return "timeout", "after %gs: %s" % (cap, _excerpt(payload))
    except LagError as err:
        return "LagError: %s" % err.kind, None
    except Exception as err:  # noqa: BLE001 - counting every other exception is the point
        return "internal: %s" % type(err).__name__, "%s: %s" % (type(err).__name__, str(err)[:200])
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
    counts: dict[str, Counter] = {"lag": Counter(), "data": Counter(), "ir": Counter()}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    with limited(args.max_elements):
        for i in range(args.n):
            r = rng.random()
            name, text, data, base_dir = rng.choice(seeds)
            if r < 0.4:
                kind, payload = "lag", (mutate_text(rng, text), data, base_dir)
            elif r < 0.6 and data is not None:
                kind, payload = "data", (text, mutate_json(rng, data), base_dir)
            else:
                kind = "ir"
                doc = rng.choice(irs)
                payload = (json.dumps(mutate_json(rng, doc)) if rng.random() < 0.7
                           else mutate_ir_text(rng, json.dumps(doc)))
            outcome, note = run_one(kind if kind != "data" else "lag", payload, args.cap)
            counts[kind][outcome] += 1
            if note and outcome not in notes:
                notes[outcome] = "%s (input %d, %s)" % (note, i, kind)
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
    print("| outcome | lag text | data JSON | IR JSON | total |")
    print("|---|---:|---:|---:|---:|")
    for o in outcomes:
        row = [counts[k][o] for k in ("lag", "data", "ir")]
        print("| %s | %d | %d | %d | %d |" % (o, *row, sum(row)))
    tot = [sum(counts[k].values()) for k in ("lag", "data", "ir")]
    print("| **total** | %d | %d | %d | %d |" % (*tot, sum(tot)))
    bad = {o: n for o, n in Counter(sum(counts.values(), Counter())).items()
           if o.startswith("internal") or o == "timeout"}
    print()
    print("internal errors: %d, timeouts: %d, code executed: no"
          % (sum(n for o, n in bad.items() if o != "timeout"), bad.get("timeout", 0)))
    for o, note in sorted(notes.items()):
        print("  first %s: %s" % (o, note))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
