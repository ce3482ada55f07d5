"""The ``highs`` backend's options (validated by :mod:`lagdsl.options`) and how each becomes
a HiGHS setting."""
from __future__ import annotations

from lagdsl.options import boolean, choice, integer, number

#: ``method`` -> HiGHS's ``solver`` option (HiGHS 1.x: ``choose``, ``simplex``, ``ipm``,
#: ``pdlp``; MILPs always use branch and bound, whose LPs this does not change).
METHODS = {"auto": "choose", "simplex": "simplex", "ipm": "ipm", "pdlp": "pdlp"}

OPTIONS = {
    "time_limit": (0.0, "seconds; 0 means no limit", number(0)),
    "mip_gap": (1e-4, "relative MIP gap at which a mixed-integer solve stops as optimal",
                number(0, 1, high_open=True)),
    "threads": (0, "threads HiGHS may use; 0 lets HiGHS choose", integer(0, 1024)),
    "presolve": (True, "run HiGHS's presolve (false: presolve=off)", boolean()),
    "method": ("auto", "LP/QP algorithm: auto (HiGHS chooses), simplex (dual simplex; keeps a "
                       "basis for warm re-solves), ipm (interior point), pdlp (first-order)",
               choice(*METHODS)),
    "seed": (0, "HiGHS's random_seed (branching and heuristics)", integer(0, 2**31 - 1)),
    "verbose": (False, "show HiGHS's log (on stderr; stdout stays clean)", boolean()),
}


def settings(opts: dict, integer_model: bool) -> dict:
    """``{HiGHS option: value}`` for coerced ``opts`` (defaults left to HiGHS)."""
    out = {"output_flag": bool(opts["verbose"]), "random_seed": int(opts["seed"]),
           "presolve": "choose" if opts["presolve"] else "off",
           "solver": METHODS[opts["method"]]}
    if opts["time_limit"]:
        out["time_limit"] = float(opts["time_limit"])
    if opts["threads"]:
        out["threads"] = int(opts["threads"])
    if integer_model:
        out["mip_rel_gap"] = float(opts["mip_gap"])
    return out
