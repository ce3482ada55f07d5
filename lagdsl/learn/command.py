"""The command line of learned policies: ``lagdsl learn``, and ``--policy DIR`` for ``lagdsl
solve`` and ``lagdsl sweep`` (docs/learn.md).

Exit status of ``lagdsl learn``: 0 trained and saved; 2 a mistake in the command, model,
data, scenario file or save directory, or a model the method cannot take (nothing trained).
"""
from __future__ import annotations

import sys
import time

from ..errors import LagDataError, LagError


def add_arguments(p) -> None:
    """The ``learn`` subcommand's own arguments (``MODEL``, ``--data`` ... are shared)."""
    p.add_argument("--scenarios", "-s", required=True, metavar="FILE.jsonl|DIR",
                   help="training scenarios, as lagdsl sweep reads them; the params they give are the policy's inputs")
    p.add_argument("--method", "-m", default="pdl", metavar="METHOD",
                   help="pdl (default), supervised, or another registered method")
    p.add_argument("--targets", metavar="VAR,...", default="",
                   help="variables whose values the policy targets (ts-ddr)")
    p.add_argument("--stages", metavar="SET", default=None, help="a time set for stage-wise policies (ts-ddr)")
    p.add_argument("--option", "-O", metavar="K=V", action="append", default=[], dest="options",
                   help="method option (repeatable; docs/learn.md lists them)")
    p.add_argument("--seed", metavar="N", help="random seed (default 0)")
    p.add_argument("--save", required=True, metavar="DIR", help="new or empty directory for the policy")
    p.add_argument("--overwrite", action="store_true", help="let --save replace lagdsl's own files in DIR")
    p.add_argument("--plot", metavar="FILE.png", help="the training curves (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the validation report as one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")


def add_policy_arguments(p) -> None:
    """``--policy DIR`` and ``--repair`` for ``solve`` and ``sweep``."""
    p.add_argument("--policy", metavar="DIR",
                   help="answer with the learned policy saved in DIR (lagdsl learn --save) instead of a solver")
    p.add_argument("--repair", default="completion", choices=("completion", "solve", "none"),
                   help="with --policy: completion (default), solve (warm-start the exact backend), none")


def _names(text: str, what: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()] if text else []
    return names


def run_learn(args, load_model, parse_kv, seed_of) -> int:
    """``lagdsl learn`` with parsed ``args``; ``load_model``/``parse_kv``/``seed_of`` are the
    CLI's own helpers (model and data loading, ``K=V`` parsing, ``--seed``)."""
    from .._stdio import stdout_redirected
    from ..outputs import check_plot_format, check_plot_path, check_save_dir, model_inputs
    from ..progress import showing_progress
    from ..sweep.scenarios import read_scenarios
    from . import method_module
    from .policy import FILES
    options = parse_kv(args.options, "--option")
    seed = seed_of(args.seed, options)
    mod = method_module(args.method)
    if args.plot:
        from ..plot import require_matplotlib
        require_matplotlib()
        check_plot_format(args.plot)
    model = load_model(args)
    targets = _names(args.targets, "--targets")
    for t in targets:
        if t not in model.ir.vars:
            import difflib
            close = difflib.get_close_matches(t, list(model.ir.vars), n=1)
            raise LagError("--targets %s: the model has no variable %s" % (t, t),
                           hint=("did you mean %s?" % close[0]) if close else
                           "variables: %s" % ", ".join(model.ir.vars))
    if args.stages is not None and args.stages not in model.ir.sets:
        raise LagError("--stages %s: the model has no set %s" % (args.stages, args.stages),
                       hint="sets: %s" % ", ".join(model.ir.sets))
    scenarios = read_scenarios(args.scenarios)
    guard = model_inputs()          # every file read so far: model, data, scenarios
    check_save_dir(args.save, FILES, model_inputs(), args.overwrite)
    if args.plot:
        check_plot_path(args.plot, model_inputs(), "--plot")
    t0 = time.perf_counter()
    with stdout_redirected(to_stderr=True), showing_progress(not (args.quiet or args.json)):
        policy = mod.train(model, None, scenarios, targets=targets or None, stages=args.stages,
                           options=options, seed=0 if seed is None else seed)
    seconds = time.perf_counter() - t0
    policy.save(args.save, overwrite=args.overwrite, inputs=guard)
    if args.json:
        import json
        rep = {k: v for k, v in policy.report.items() if k != "history"}
        from .policy import _plain
        sys.stdout.write(json.dumps(_plain(rep)) + "\n")
    elif not args.quiet:
        print(summary(policy, seconds, args.save))
    if args.plot:
        save_training_plot(policy, args.plot, model_inputs())
        if not args.quiet and not args.json:
            print("wrote %s" % args.plot, file=sys.stderr)
    return 0


def summary(policy, seconds: float, where: str) -> str:
    """What ``lagdsl learn`` prints: the method, the inputs, time and validation metrics."""
    rep = policy.report
    val = rep.get("validation") or {}
    lines = ["learned: %s policy for %s (inputs: %s) in %.3g s; %s" % (
        policy.method, policy.model.name, ", ".join(policy.inputs), seconds, rep.get("stopped", ""))]
    if val:
        lines.append("validation on %d held-out scenarios (exact: backend %s):" % (
            val.get("instances", 0), policy.options.get("backend", "?")))
        fmt = lambda v: "-" if v is None else "%.3g" % v    # noqa: E731
        lines.append("  mean gap %s   max gap %s   max violation %s (before repair %s)" % (
            fmt(val.get("mean_gap")), fmt(val.get("max_gap")), fmt(val.get("violation")),
            fmt(val.get("violation_before_repair"))))
        if "mean_dual_gap" in val:
            lines.append("  dual bound: mean gap %s   max gap %s" % (fmt(val["mean_dual_gap"]),
                                                                   fmt(val["max_dual_gap"])))
    lines.append("saved in %s" % where)
    return "\n".join(lines)


def save_training_plot(policy, path: str, inputs) -> None:
    """``--plot``: the training history (loss, violation, validation gap ...) per step, by
    the shared plot helper."""
    from ..history import History
    from ..plot import save_plot
    from ..result import Result
    hist = History()
    for rec in policy.report.get("history", []):
        step = rec.get("outer", rec.get("epoch", len(hist) + 1))
        hist.record(step, **{k: v for k, v in rec.items() if k not in ("outer", "epoch")
                             and isinstance(v, (int, float))})
    r = Result("feasible", backend="policy:" + policy.method, stats={"history": hist.to_dict()})
    save_plot(r, path, title="lagdsl learn: %s on %s" % (policy.method, policy.model.name), inputs=inputs)


def check_same_model(policy, model) -> dict:
    """The overrides that make ``policy``'s saved base instance into ``model``'s (the
    values of its inputs); refused when ``model`` differs from the saved one otherwise
    (another structure, or another value of a param the policy was trained with fixed)."""
    import numpy as np
    saved, ir = policy.model.ir, model.ir
    if list(saved.vars) != list(ir.vars) or saved.num_unknowns != ir.num_unknowns:
        raise LagDataError("the model's variables differ from those of the policy's model (%s); "
                           "--policy answers the model it was trained on" % saved.name)
    for name, pv in saved.params.items():
        if name in policy.inputs:
            continue
        other = ir.params.get(name)
        if other is None or other.values.shape != pv.values.shape or not np.array_equal(other.values, pv.values):
            raise LagDataError("param %s differs from the value the policy was trained with (it is "
                               "not one of the policy's inputs: %s)" % (name, ", ".join(policy.inputs)),
                               ir.decl_spans.get(name), source=ir.source)
    return {n: ir.params[n].values for n in policy.inputs}


def solve_with_policy(args, model):
    """``lagdsl solve MODEL --data D --policy DIR``: the policy's answer for the model's data."""
    from . import load_policy
    policy = load_policy(args.policy)
    data = check_same_model(policy, model)
    return policy.solve(data, repair=args.repair)


def sweep_with_policy(args, params) -> int:
    """``lagdsl sweep ... --policy DIR``: one row per scenario from the policy's batched
    answers, written as a sweep writes them (resumed likewise)."""
    import os

    from ..api import load
    from ..sweep.rows import result_row, solved
    from ..sweep.run import exit_code
    from ..sweep.scenarios import read_scenarios
    from ..sweep.store import Store, backup, check_output, output_format
    from . import load_policy
    out = os.fspath(args.output)
    fmt = output_format(out)
    check_output(out, [("model file", args.model), ("data file", args.data), ("scenario file", args.scenarios)])
    model = load(args.model, data=args.data, params=params or None)
    policy = load_policy(args.policy)
    check_same_model(policy, model)
    found = read_scenarios(args.scenarios)
    if args.restart:
        backup(out)
    store = Store.open(out, fmt)
    todo = [s for s in found if s.id not in store.rows]
    t0 = time.perf_counter()
    rows = []
    chunk = 1024
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        t1 = time.perf_counter()
        results = policy.solve_batch([s.data for s in part], repair=args.repair)
        per = (time.perf_counter() - t1) / max(1, len(part))
        new = [result_row(s.id, r, per, {}) for s, r in zip(part, results)]
        store.append(new)
        rows += new
    seconds = time.perf_counter() - t0
    every = [store.rows.get(s.id) for s in found if s.id in store.rows] + rows
    if not args.quiet:
        ok = sum(1 for r in rows if solved(r))
        print("sweep with policy %s (%s, repair=%s): %d scenario%s answered in %.3g s, %d feasible; rows in %s"
              % (args.policy, policy.method, args.repair, len(rows), "" if len(rows) == 1 else "s",
                 seconds, ok, out))
    return exit_code(every)
