"""Train the ts-ddr policy of examples/hydrothermal.lag and compare it on the held-out
scenarios with the mean-value plan, the myopic policy and the perfect-foresight bound.

    python examples/hydrothermal_gen.py            # once: the data and scenario files
    python examples/hydrothermal_eval.py [--option K=V ...] [--seed N] [--save DIR]

Prints the training time and, per policy, the mean cost over the held-out scenarios, its
distance to the mean-value plan and to the bound, and the share of feasible rollouts.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lagdsl
from lagdsl.learn import tsddr
from lagdsl.sweep.scenarios import read_scenarios

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> None:
    """Train with the given options, evaluate, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--option", action="append", default=[], metavar="K=V")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default=None)
    a = ap.parse_args(argv)
    options = dict(o.split("=", 1) for o in a.option)
    model = lagdsl.load(os.path.join(HERE, "hydrothermal.lag"), data=os.path.join(HERE, "hydrothermal.json"))
    train = read_scenarios(os.path.join(HERE, "hydrothermal_train.jsonl"))
    test = read_scenarios(os.path.join(HERE, "hydrothermal_test.jsonl"))
    t0 = time.perf_counter()
    policy = tsddr.train(model, None, train, targets="vol", stages="T", options=options, seed=a.seed)
    t_train = time.perf_counter() - t0
    rep = policy.report
    print("trained in %.1f s (%d epochs, stopped by %s; penalty %g; %d train / %d validation scenarios)"
          % (t_train, rep["epochs"], rep["stopped"], rep["penalty"], rep["train_scenarios"], rep["valid_scenarios"]))
    t0 = time.perf_counter()
    answers = policy.solve_batch([s.data for s in test])
    t_answer = time.perf_counter() - t0
    cost = np.array([r.objective for r in answers])
    feasible = np.mean([r.status == "feasible" for r in answers])
    eng = policy.engine
    base = tsddr.baselines(eng, eng.lower([s.data for s in train]), eng.lower([s.data for s in test]))
    mv, pf = base["mean_value"], base["foresight"]
    rows = [("ts-ddr", cost.mean(), feasible), ("mean-value plan", mv, base["mean_value_ok"]),
            ("myopic", base["myopic"], base["myopic_ok"]), ("perfect foresight (bound)", pf, 1.0)]
    print("%d held-out scenarios; ts-ddr answers all in %.2f s" % (len(test), t_answer))
    print("%-26s %12s %14s %12s %9s" % ("policy", "mean cost", "vs mean-value", "vs bound", "feasible"))
    for name, c, ok in rows:
        print("%-26s %12.1f %+13.1f%% %+11.1f%% %8.0f%%" % (name, c, 100 * (c - mv) / abs(mv),
                                                             100 * (c - pf) / abs(pf), 100 * ok))
    print("non-anticipative: %s" % non_anticipative(policy, test[0].data["inflow"]))
    if a.save:
        policy.save(a.save)


def non_anticipative(policy, inflow) -> str:
    """For every k, the inflows after stage k are replaced (by those of stage k + 1 onwards
    scaled by 0.3 and 2.0): the decisions of stages 1..k must not change."""
    flows = np.array(inflow)
    H = flows.shape[1]
    for k in range(1, H):
        datas = [{"inflow": flows.tolist()}]
        for f in (0.3, 2.0):
            other = flows.copy()
            other[:, k:] *= f
            datas.append({"inflow": other.tolist()})
        base, *changed = policy.solve_batch(datas)
        for r in changed:
            for name, vals in base.values.items():
                for key, v in vals.items():
                    if int(key.split(",")[-1]) <= k and abs(r.values[name][key] - v) > 1e-9:
                        return "NO: %s[%s] changed when inflows after stage %d did" % (name, key, k)
    return "yes (decisions of stages 1..k unchanged when the inflows after k change, k = 1..%d)" % (H - 1)


if __name__ == "__main__":
    main()
