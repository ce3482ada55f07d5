"""Write DC3's convex QP task as lagdsl data: the base data and scenario files.

    python examples/dc3_qp_gen.py OUTDIR [--train 2000] [--test 200] [--n 100 --neq 50 --nineq 50] [--seed 17]

writes ``OUTDIR/dc3_qp.json`` (Q, p, A, G, h and x = 0), ``OUTDIR/train.jsonl`` and
``OUTDIR/test.jsonl`` (one scenario per line: ``{"id": "t17", "x": [...]}``, x ~ U[-1,1]),
the inputs of ``lagdsl learn examples/dc3_qp.lag --data OUTDIR/dc3_qp.json --scenarios
OUTDIR/train.jsonl`` (docs/learn.md).  As in DC3: Q = diag(U[0,1]), p ~ U[0,1], A, G ~ N(0,1),
h = sum_j |(G A+)_ij|.  Numbers are rounded to 10 significant digits before h is computed,
so the files are exactly the instances solved.  The same seed gives the same files:
``examples/dc3_qp.json`` is the base data of the default arguments.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np


def _r(a):
    return np.asarray([float("%.10g" % v) for v in np.ravel(a)]).reshape(np.shape(a))


def generate(n=100, neq=50, nineq=50, train=2000, test=200, seed=17):
    """``(base, train_scenarios, test_scenarios)``: the base data dict and two lists of
    ``{"id", "x"}`` scenarios."""
    rng = np.random.default_rng(seed)
    Q = _r(rng.uniform(0, 1, n))
    p = _r(rng.uniform(0, 1, n))
    A = _r(rng.normal(size=(neq, n)))
    G = _r(rng.normal(size=(nineq, n)))
    h = _r(np.abs(G @ np.linalg.pinv(A)).sum(axis=1))
    base = {"n": n, "neq": neq, "nineq": nineq, "Q": Q.tolist(), "p": p.tolist(),
            "A": A.tolist(), "G": G.tolist(), "h": h.tolist(), "x": [0.0] * neq}

    def draw(k, prefix):
        X = _r(rng.uniform(-1, 1, (k, neq)))
        return [{"id": "%s%d" % (prefix, i), "x": X[i].tolist()} for i in range(k)]

    return base, draw(train, "t"), draw(test, "v")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--neq", type=int, default=50)
    ap.add_argument("--nineq", type=int, default=50)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args(argv)
    base, tr, te = generate(a.n, a.neq, a.nineq, a.train, a.test, a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "dc3_qp.json"), "w") as f:
        json.dump(base, f)
        f.write("\n")
    for name, rows in (("train.jsonl", tr), ("test.jsonl", te)):
        with open(os.path.join(a.outdir, name), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print("wrote %s: %d train, %d test scenarios" % (a.outdir, len(tr), len(te)))


if __name__ == "__main__":
    main()
