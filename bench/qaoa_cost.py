"""The cost model of backends/qubo/estimate.py: seconds of one value-and-gradient evaluation
of the fast QAOA simulator by qubits and layers (median of 5), and the constant
``SECONDS_PER_UNIT`` it implies (seconds / (reps * qubits * 2**qubits)).

    .venv/bin/python bench/qaoa_cost.py [QUBITS ...]
"""
import sys
import time

import numpy as np

from lagdsl.backends.qubo.estimate import SECONDS_PER_UNIT
from lagdsl.backends.qubo.qaoa import fast_value_grad


def main(sizes):
    fast_value_grad(np.zeros(2 ** 8), np.ones(4), 8, np.arange(2 ** 8), 1.0)   # warm up
    print("qubits reps  median_s  per_unit  (estimate.py uses %.2e)" % SECONDS_PER_UNIT)
    for n in sizes:
        E = np.random.default_rng(0).normal(size=2 ** n)
        order = np.argsort(E)
        for p in (1, 2, 4):
            a = np.linspace(0.1, 0.9, 2 * p)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                fast_value_grad(E, a, n, order, 1.0)
                ts.append(time.perf_counter() - t0)
            t = sorted(ts)[2]
            print("%6d %4d  %8.3g  %8.3g" % (n, p, t, t / (p * n * 2 ** n)), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [12, 14, 16, 18])
