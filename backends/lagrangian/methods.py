"""Dispatch: which method runs on which engine (see the options of the backend)."""
from __future__ import annotations


def engine_for(opts: dict) -> str:
    """``numpy`` or ``torch``: torch when asked, for a GPU, and for the stochastic paths
    (Adam, minibatches) that are written with torch optimisers; numpy otherwise, where a
    small model pays no per-operation framework dispatch."""
    if opts["engine"] != "auto":
        return opts["engine"]
    if opts["device"] == "cuda":
        return "torch"
    if opts["method"] == "alm" and opts["inner"] == "adam":
        return "torch"
    if opts["batch"]:
        return "torch"
    return "numpy"


def run(nlp, opts: dict, history, bar):
    """``(Outcome, engine)`` of the chosen method."""
    import numpy as np
    engine = engine_for(opts)
    if engine == "torch":
        from .oracle import TorchOracle
        oracle = TorchOracle(nlp, opts["device"], opts["batch"])
    else:
        from .oracle import NumpyOracle
        oracle = NumpyOracle(nlp)
    rng = np.random.default_rng(opts["seed"])
    if opts["method"] == "alm":
        from .alm import solve_alm
        return solve_alm(nlp, opts, history, bar, oracle, rng), engine
    from .gda import solve_gda
    return solve_gda(nlp, opts, history, bar, oracle, rng), engine
