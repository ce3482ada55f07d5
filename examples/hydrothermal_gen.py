"""Write the data of examples/hydrothermal.lag: the base data and two scenario files.

    python examples/hydrothermal_gen.py [--train 300] [--test 100] [--stages 24] [--seed 16] [--out examples]

Inflows follow a seasonal mean times a log-normal AR(1) factor per reservoir,
``z[t] = phi z[t-1] + sqrt(1 - phi^2) e[t]`` with ``e`` correlated across reservoirs
(``corr``), ``inflow = mean[t] exp(sigma z[t] - sigma^2 / 2)`` (so the mean is kept).  The
base data holds the mean inflows; each scenario line (the sweep format, docs/sweep.md)
overrides ``inflow`` only.  The same seed gives the same files.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

RESERVOIRS = ["north", "south"]
UNITS = ["coal", "gas", "oil"]
PHI, SIGMA, CORR = 0.8, 0.6, 0.5


def seasonal_means(stages: int) -> np.ndarray:
    """Mean inflow per reservoir and stage (a wet and a dry season per 12 stages)."""
    t = np.arange(stages)
    season = 1.0 + 0.7 * np.sin(2 * np.pi * t / 12.0)
    return np.vstack([30.0 * season, 14.0 * np.roll(season, 2)])


def base_data(stages: int) -> dict:
    """The base data: the system and the mean inflows."""
    demand = 100.0 + 15.0 * np.cos(2 * np.pi * np.arange(stages) / 12.0)
    return {
        "H": stages, "R": RESERVOIRS, "G": UNITS,
        "inflow": np.round(seasonal_means(stages), 3).tolist(),
        "demand": np.round(demand, 3).tolist(),
        "v0": [120.0, 40.0], "vmin": [10.0, 5.0], "vmax": [250.0, 90.0],
        "qmax": [60.0, 35.0], "rho": [1.0, 0.9],
        "gmax": [35.0, 25.0, 20.0], "gcost": [12.0, 31.0, 67.0],
        "deficit_cost": 500.0, "spill_cost": 0.01, "water_value": [28.0, 25.0],
    }


def inflows(rng: np.random.Generator, n: int, stages: int) -> np.ndarray:
    """``n`` inflow scenarios, shape (n, reservoirs, stages)."""
    k = len(RESERVOIRS)
    cov = np.full((k, k), CORR) + (1 - CORR) * np.eye(k)
    e = rng.multivariate_normal(np.zeros(k), cov, size=(n, stages))     # (n, stages, k)
    z = np.empty_like(e)
    z[:, 0] = e[:, 0]
    for t in range(1, stages):
        z[:, t] = PHI * z[:, t - 1] + np.sqrt(1 - PHI ** 2) * e[:, t]
    factor = np.exp(SIGMA * z - SIGMA ** 2 / 2).transpose(0, 2, 1)
    return seasonal_means(stages)[None] * factor


def write_scenarios(path: str, prefix: str, flows: np.ndarray) -> None:
    """One JSON line per scenario: its id and its inflows."""
    with open(path, "w", encoding="utf-8") as fh:
        for i, f in enumerate(flows):
            fh.write(json.dumps({"id": "%s%d" % (prefix, i), "inflow": np.round(f, 3).tolist()}) + "\n")


def main(argv=None) -> None:
    """Write hydrothermal.json, hydrothermal_train.jsonl and hydrothermal_test.jsonl."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--stages", type=int, default=24)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.out, "hydrothermal.json"), "w", encoding="utf-8") as fh:
        json.dump(base_data(a.stages), fh, indent=1)
        fh.write("\n")
    write_scenarios(os.path.join(a.out, "hydrothermal_train.jsonl"), "train", inflows(rng, a.train, a.stages))
    write_scenarios(os.path.join(a.out, "hydrothermal_test.jsonl"), "test", inflows(rng, a.test, a.stages))


if __name__ == "__main__":
    main()
