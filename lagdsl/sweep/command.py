"""``lagdsl sweep``: the command line over :mod:`lagdsl.sweep.run`.

Exit status: 0 every row ``optimal``/``feasible``; 1 every row written, some not; 2 a mistake
in the command, model, base data, scenario file or output (nothing run); 130 Ctrl-C (the
rows finished so far are in the output, whole; the same command finishes the rest).
"""
from __future__ import annotations

import sys
import time

from ..errors import LagError


def add_arguments(p) -> None:
    """The ``sweep`` subcommand's own arguments (``MODEL``, ``--data``, ``--set`` ... come
    from the shared model arguments)."""
    p.add_argument("--scenarios", "-s", required=True, metavar="FILE.jsonl|DIR",
                   help="one JSON object per line ({\"id\": ..., param: value}), or a directory of JSON files")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="rows by extension: .jsonl (default), .csv, .parquet; an existing OUT is resumed")
    p.add_argument("--backend", "-b", default=None, help="backend (default: as lagdsl solve)")
    p.add_argument("--option", "-O", metavar="K=V", action="append", default=[], dest="options",
                   help="backend option (repeatable)")
    p.add_argument("--seed", type=int, help="random seed for backends that use one")
    p.add_argument("--executor", "-x", default="process", choices=("process", "dask", "ray"),
                   help="process (a local pool, default), dask or ray")
    p.add_argument("--workers", "-w", type=int, default=None, metavar="N",
                   help="workers (default: the number of cores)")
    p.add_argument("--address", metavar="ADDR",
                   help="an existing Dask scheduler (tcp://host:8786) or Ray cluster (host:6379, auto)")
    p.add_argument("--collect", metavar="NAME,...", default="",
                   help="variables (values) and constraints (duals) to put in each row")
    p.add_argument("--restart", action="store_true",
                   help="start over: the existing OUT is kept as OUT.bak, never overwritten")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the objective's distribution and the objective against the first "
                        "varying parameter (needs matplotlib: the plot extra)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")


def run(args, options: dict, params: dict) -> int:
    """Run ``lagdsl sweep`` with parsed ``args``; returns the exit status."""
    from .._stdio import stdout_redirected
    from ..progress import showing_progress
    from .run import exit_code, execute, prepare, save_sweep_plot, summary
    if args.plot:
        from ..plot import require_matplotlib
        require_matplotlib()
        from ..outputs import check_plot_format
        from .store import check_output
        check_output(args.plot, [("model file", args.model), ("data file", args.data),
                                 ("scenario file", args.scenarios), ("output", args.output)], what="--plot")
        check_plot_format(args.plot)
    if args.workers is not None and args.workers < 1:
        raise LagError("--workers %d: a positive number of workers" % args.workers)
    plan = prepare(args.model, args.scenarios, args.data, params=params, backend=args.backend,
                   options=options, seed=args.seed, executor=args.executor, workers=args.workers,
                   address=args.address, collect=args.collect, out=args.output,
                   restart=args.restart, allow_dirs=args.allow_dirs, max_elements=args.max_elements)
    if plan.backup:
        print("kept the previous results as %s" % plan.backup, file=sys.stderr)
    before = len(plan.rows)
    t0 = time.perf_counter()
    bar = not args.quiet and sys.stderr.isatty()
    with stdout_redirected(to_stderr=True), showing_progress(bar):
        rows = execute(plan, show_progress=bar)
    seconds = time.perf_counter() - t0
    if not args.quiet:
        print(summary(plan, rows, len(rows) - before, seconds))
        print("rows in %s" % args.output, file=sys.stderr)
    if args.plot:
        save_sweep_plot(plan, rows, args.plot)
        if not args.quiet:
            print("wrote %s" % args.plot, file=sys.stderr)
    return exit_code(rows)
