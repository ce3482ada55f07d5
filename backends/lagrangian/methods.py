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
    # log(0), 0*log(0), 1/0 at trial points are expected and handled (a non-finite value is
    # "too far" for a line search, see hazard.py), so numpy's warnings about them would only
    # be noise in the notes; the final point is evaluated outside, where they still show
    with np.errstate(divide="ignore", invalid="ignore"):
        if opts["method"] == "alm":
            from .alm import solve_alm
            return solve_alm(nlp, opts, history, bar, oracle, rng), engine
        from .gda import solve_gda
        return solve_gda(nlp, opts, history, bar, oracle, rng), engine
