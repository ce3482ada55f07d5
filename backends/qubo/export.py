"""Exports of the ``qubo`` backend: QUBO JSON, a dimod BQM, OpenQASM 3, a qiskit-optimization
``QuadraticProgram``.

* ``qubo`` — ``{"variables", "linear", "quadratic", "offset", "encoding", "relaxed",
  "sense", "form", "method", "penalty", ...}``, energies in the minimisation sense.  By
  default (``export=exact``) an exact encoding of the model: the objective, ``penalty``
  times the exact penalties and, where an inequality has none, the slack encoding (slack
  qubits ``_slack[k]``); ``form`` is ``exact`` and ``ground_state_exact`` says whether its
  ground states are provably the model's optima.  With ``export=relaxed`` the multiplier
  method's form ``f + P e + lam . (G x - h)`` (plus ``rho/2 |G x - h|^2`` for
  ``augmented-lagrangian``) at the last solve's multipliers, ``form`` ``relaxed`` with
  ``multipliers`` and ``rho``.  The rows the multiplier methods relax, ``G x <= h``, are
  listed under ``relaxed`` so that users can run their own multiplier loop;
* ``bqm`` — the same QUBO as dimod's ``BinaryQuadraticModel.to_serializable()`` JSON, the
  variables in qubit order and the same description in its ``info`` (load it with
  ``dimod.BinaryQuadraticModel.from_serializable(json.loads(text))``);
* ``qasm`` — the QAOA circuit of that QUBO (``reps`` layers) as OpenQASM 3: with the trained
  angles after a ``qaoa`` solve of the same program, else with free ``input`` angles.
"""
from __future__ import annotations

import json
import re

import numpy as np

from lagdsl.jsonnum import dumps

from .form import Qubo
from .lowering import Lowered
from .qiskit_home import qiskit_ready


def qubo_json(low: Lowered, q: Qubo, names: list[str], extra: dict) -> str:
    """The QUBO as JSON text (see module docstring)."""
    G = low.G.tocoo()
    d = {"variables": names,
         "linear": {names[k]: float(v) for k, v in enumerate(q.linear) if v != 0},
         "quadratic": [[names[a], names[b], float(v)] for a, b, v in zip(q.i.tolist(), q.j.tolist(), q.quad)],
         "offset": float(q.offset),
         "sense": "minimize",
         "encoding": low.encoding,
         "relaxed": {"rows": G.shape[0], "G": [[int(r), names[c], float(v)] for r, c, v in
                                                zip(G.row.tolist(), G.col.tolist(), G.data)],
                     "h": low.h.tolist()}}
    d.update(extra)
    return dumps(d, indent=1) + "\n"      # inf/nan (an open relaxed row) as lagdsl's JSON strings


def qubo_from_json(text: str) -> tuple[Qubo, list[str]]:
    """The :class:`~.form.Qubo` and variable names of a ``qubo`` export (for tests and users)."""
    d = json.loads(text)
    names = d["variables"]
    pos = {v: k for k, v in enumerate(names)}
    lin = np.zeros(len(names))
    for v, c in d["linear"].items():
        lin[pos[v]] = c
    quad = d["quadratic"]
    return Qubo.build(len(names), lin, [pos[a] for a, _, _ in quad], [pos[b] for _, b, _ in quad],
                      [c for _, _, c in quad], d["offset"]), names


def bqm_json(q: Qubo, names: list[str], info: dict | None = None) -> str:
    """A dimod BQM (variables named as the qubits, in qubit order) as serializable JSON,
    with ``info`` in its ``info`` field."""
    from .samplers import to_bqm
    bqm = to_bqm(q).relabel_variables(dict(enumerate(names)), inplace=False)
    d = bqm.to_serializable()
    # dimod sorts sortable labels as text (x[10] before x[2]); put them back in qubit order
    # by renumbering the label list and the interaction ends
    pos = {v: k for k, v in enumerate(names)}
    perm = np.array([pos[v] for v in d["variable_labels"]], dtype=np.int64)
    if not np.array_equal(perm, np.arange(len(perm))):
        lin = np.empty(len(perm))
        lin[perm] = d["linear_biases"]
        d["variable_labels"] = list(names)
        d["linear_biases"] = lin.tolist()
        d["quadratic_head"] = perm[np.asarray(d["quadratic_head"], dtype=np.int64)].tolist()
        d["quadratic_tail"] = perm[np.asarray(d["quadratic_tail"], dtype=np.int64)].tolist()
    d["info"] = dict(info or {})
    return json.dumps(d) + "\n"


def qasm(circuit) -> str:
    """OpenQASM 3 text of a circuit (decomposed to standard gates first)."""
    qiskit_ready()
    from qiskit import qasm3, transpile
    qc = transpile(circuit, basis_gates=["h", "rx", "rz", "rzz", "cx"], optimization_level=0)
    return qasm3.dumps(qc) + "\n"


def _qp_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def quadratic_program(low: Lowered, name: str = "lagdsl"):
    """The binary model (integers expanded to their qubits) as a qiskit-optimization
    ``QuadraticProgram`` in the user's sense, constraints as linear rows."""
    qiskit_ready()
    from qiskit_optimization import QuadraticProgram
    qp = QuadraticProgram(name)
    names = [_qp_name(n) for n in low.names]
    for v in names:
        qp.binary_var(v)
    obj = low.objective.scaled(low.sign)
    quad = {(names[a], names[b]): float(c) for a, b, c in zip(obj.i.tolist(), obj.j.tolist(), obj.quad)}
    lin = {names[k]: float(c) for k, c in enumerate(obj.linear) if c != 0}
    if low.sign < 0:
        qp.maximize(constant=obj.offset, linear=lin, quadratic=quad)
    else:
        qp.minimize(constant=obj.offset, linear=lin, quadratic=quad)
    A = low.A.tocsr()
    blocks = low.block_names
    for r in range(A.shape[0]):
        row = A[r]
        coefs = {names[c]: float(v) for c, v in zip(row.indices.tolist(), row.data)}
        base = "%s_%d" % (_qp_name(blocks[low.row_block[r]]), low.row_pos[r])
        lo, hi = low.lo[r], low.hi[r]
        if lo == hi:
            qp.linear_constraint(coefs, "==", float(hi), base)
            continue
        if np.isfinite(hi):
            qp.linear_constraint(coefs, "<=", float(hi), base + ("_up" if np.isfinite(lo) else ""))
        if np.isfinite(lo):
            qp.linear_constraint(coefs, ">=", float(lo), base + ("_lo" if np.isfinite(hi) else ""))
    return qp
