"""Write the benchmark data files (deterministic): bench/data/transport_M.json, knapsack_N.json."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def transport(m: int, seed: int = 0) -> Path:
    """A balanced-feasible transport instance with m sources and m sinks."""
    rng = np.random.default_rng(seed)
    demand = rng.integers(10, 50, m)
    supply = rng.integers(10, 50, m)
    supply = supply + max(0, int(demand.sum() - supply.sum())) // m + 1   # total supply >= demand
    cost = np.round(rng.uniform(1, 100, (m, m)), 2)
    path = DATA / ("transport_%d.json" % m)
    data = {"S": list(range(1, m + 1)), "D": list(range(1, m + 1)), "supply": supply.tolist(),
            "demand": demand.tolist(), "cost": cost.tolist()}
    path.write_text(json.dumps(data))
    return path


def knapsack(n: int, seed: int = 0) -> Path:
    """A knapsack LP instance with n items and capacity a third of the total weight."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(1, 100, n)
    value = rng.integers(1, 100, n)
    path = DATA / ("knapsack_%d.json" % n)
    data = {"I": list(range(1, n + 1)), "value": value.tolist(), "weight": weight.tolist(),
            "capacity": int(weight.sum() // 3)}
    path.write_text(json.dumps(data))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--transport", type=int, default=700)
    ap.add_argument("--knapsack", type=int, default=1_000_000)
    a = ap.parse_args()
    DATA.mkdir(exist_ok=True)
    print(transport(a.transport))
    print(knapsack(a.knapsack))


if __name__ == "__main__":
    main()
