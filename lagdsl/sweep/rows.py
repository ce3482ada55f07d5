"""One result row per scenario, and the list of rows the Python API returns.

A row is a dict with the columns :data:`COLUMNS`::

    id, status, objective, max_violation, time_s, error, variables, duals

``status`` is a :data:`lagdsl.result.STATUSES` value (a scenario whose data is wrong, or whose
solve raised, is ``error``); ``error`` is the message (the positioned text a data file's
mistake gets) or the solver's reason for a status that is not ``optimal``/``feasible``, else
None; ``variables`` and ``duals`` hold the ``--collect`` names in ``solve --json``'s shapes.
"""
from __future__ import annotations

import math

from ..result import SOLVED, Result

COLUMNS = ("id", "status", "objective", "max_violation", "time_s", "error", "variables", "duals")


def _float(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def result_row(sid: str, result: Result, time_s: float, collect: dict) -> dict:
    """The row of scenario ``sid`` solved to ``result``; ``collect`` maps each collected name
    to ``"variables"`` or ``"duals"``."""
    wanted = Result(result.status,
                    values={n: result.values[n] for n, k in collect.items()
                            if k == "variables" and n in result.values},
                    duals={n: result.duals[n] for n, k in collect.items()
                           if k == "duals" and n in result.duals}).to_json_dict()
    return {"id": sid, "status": result.status, "objective": _float(result.objective),
            "max_violation": _float(result.max_violation), "time_s": float(time_s),
            "error": None if result.status in SOLVED else status_reason(result),
            "variables": {n: wanted["variables"].get(n) for n, k in collect.items() if k == "variables"},
            "duals": {n: wanted["duals"].get(n) for n, k in collect.items() if k == "duals"}}


def error_row(sid: str, message: str, time_s: float, collect: dict) -> dict:
    """The row of a scenario that could not be solved (wrong data, a solver that raised)."""
    return {"id": sid, "status": "error", "objective": None, "max_violation": None,
            "time_s": float(time_s), "error": message,
            "variables": {n: None for n, k in collect.items() if k == "variables"},
            "duals": {n: None for n, k in collect.items() if k == "duals"}}


def status_reason(result: Result) -> str:
    """Why a solve did not end ``optimal``/``feasible``: the backend's message, else the
    status with what the backend said about it."""
    st = result.stats
    for key in ("message", "reason", "error"):
        if st.get(key):
            return "%s: %s" % (result.status, st[key])
    said = ", ".join("%s %s" % (k, st[k]) for k in ("solver", "solver_status", "cvxpy_status")
                     if st.get(k))
    return "the solver reports the scenario %s%s" % (result.status, " (%s)" % said if said else "")


def solved(row: dict) -> bool:
    """Whether the row's status counts as solved (exit 0)."""
    return row.get("status") in SOLVED


class Rows(list):
    """The rows of a sweep (plain dicts, in scenario order); :meth:`to_pandas` gives a
    DataFrame with one column per :data:`COLUMNS` entry."""

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame`` (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            from ..errors import LagError
            raise LagError("Rows.to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(list(self), columns=list(COLUMNS))

    def by_id(self) -> dict:
        """``{id: row}``."""
        return {r["id"]: r for r in self}
