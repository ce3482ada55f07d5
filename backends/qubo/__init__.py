"""The ``qubo`` backend: binary and bounded-integer models as QUBO / Ising Hamiltonians,
with slack-free Lagrangian constraint handling, solved by QAOA on qiskit simulators or by
classical samplers.

Modules: :mod:`.form` (the QUBO and its Ising form), :mod:`.lowering` (model -> objective,
exact penalties, relaxed rows, the slack baseline), :mod:`.methods` (penalty, dual ascent,
augmented Lagrangian, bundle, cutting planes), :mod:`.samplers` (exact, anneal),
:mod:`.qaoa` (QAOA and its fast statevector), :mod:`.repair` (greedy repair-and-improve),
:mod:`.export` (qubo / bqm / qasm / QuadraticProgram), :mod:`.program` (solve -> Result).

The model must have binary or bounded integer variables only, an objective that is a
polynomial of degree <= 2 (or none) and linear constraints; anything else is refused with
the construct's position.
"""
from __future__ import annotations

from lagdsl.backend import Backend, Refusal, coerce_options, fields_refusal
from lagdsl.ir.classify import classify
from lagdsl.ir.model import Model
from lagdsl.lower.poly import NotPolynomial
from lagdsl.options import boolean, choice, integer, number, optional
from lagdsl.passes.base import PassError

from .methods import METHODS

#: The largest ``penalty`` or ``rho``: squared rows times it must stay finite in float64,
#: and the annealer's temperature range (``1 / largest energy change``) must not underflow.
MAX_WEIGHT = 1e100


class QuboBackend(Backend):
    """Slack-free Lagrangian QUBO with QAOA (qiskit) and classical samplers."""

    name = "qubo"
    description = ("binary/bounded-integer models as QUBO: slack-free multiplier methods or the "
                   "slack penalty baseline; QAOA (qiskit), exact enumeration or simulated annealing")
    options = {
        "method": ("augmented-lagrangian", "constraint handling: " + ", ".join(METHODS),
                   choice(*METHODS)),
        "sampler": ("anneal", "anneal (dwave-samplers), exact (enumeration, <= 24 qubits) or qaoa",
                    choice("anneal", "exact", "qaoa")),
        "max_iter": (None, "multiplier iterations, each sampling one QUBO (none: until the best feasible "
                           "objective and the dual bound plateau, at most 20)", optional(integer(1))),
        "penalty": (None, "strength of exact and slack penalties (none: qiskit-optimization's "
                          "1 + sum |objective coefficients|)", optional(number(0, MAX_WEIGHT, low_open=True))),
        "rho": (None, "initial quadratic weight of the augmented Lagrangian (none: automatic)",
                optional(number(0, MAX_WEIGHT, low_open=True))),
        "repair": (True, "greedy repair-and-improve of samples (false: raw samples only)", boolean()),
        "repair_samples": (16, "lowest-energy samples repaired per iteration", integer(0)),
        "bound_qubits": (20, "largest model enumerated for an exact dual bound", integer(0, 26)),
        "seed": (0, "random seed (samplers, QAOA starts and shots)", integer()),
        "time_limit": (None, "wall-clock seconds: the multiplier loop, the annealer (between "
                             "reads) and QAOA's angle training stop there, keeping the best "
                             "feasible sample so far; none for no limit",
                       optional(number(0, low_open=True))),
        "export": ("exact", "what --emit qubo|bqm|qasm writes: exact (the model exactly: exact "
                            "penalties, slack bits for other inequalities) or relaxed (the "
                            "method's multiplier form at its current multipliers, marked as such)",
                   choice("exact", "relaxed")),
        "num_reads": (100, "anneal: annealing runs per iteration", integer(1)),
        "num_sweeps": (1000, "anneal: sweeps per run", integer(1)),
        "num_samples": (64, "exact: lowest-energy states returned per iteration", integer(1)),
        "reps": (2, "qaoa: layers p", integer(1, 20)),
        "shots": (1024, "qaoa: samples drawn from the final state", integer(1)),
        "simulator": ("fast", "qaoa: fast (exact numpy statevector), statevector (qiskit) or aer "
                              "(shots, optional noise)", choice("fast", "statevector", "aer")),
        "restarts": (1, "qaoa: starts of the angle training (the schedule-based start: depth 1 from a linear "
                        "ramp, each further layer interpolated from the depth below; then random ones)",
                     integer(1)),
        "train_iter": (60, "qaoa: optimiser iterations per start (BFGS; COBYLA for "
                           "simulator=statevector)", integer(1)),
        "cvar": (1.0, "qaoa: CVaR fraction trained on (1: the expectation)",
                 number(0, 1, low_open=True)),
        "noise": (0.0, "qaoa with simulator=aer: depolarising error per one-qubit gate "
                       "(twice that per two-qubit gate)", number(0, 0.5)),
    }
    emits = ("qubo", "bqm", "qasm")
    records_history = True

    def accepts(self, model: Model) -> list[Refusal]:
        """Reasons not to take ``model``: fields, continuous or unbounded integer variables,
        a non-quadratic objective, non-linear constraints."""
        out = []
        fields = fields_refusal(model)
        if fields is not None:
            return [fields]
        for v in model.vars.values():
            if v.domain == "real":
                out.append(Refusal("variable %s is continuous; the qubo backend takes binary and "
                                   "bounded integer variables only" % v.name, v.span))
            elif v.domain == "integer":
                r = _integer_refusal(v)
                if r is not None:
                    out.append(r)
        cls = classify(model)
        obj = cls.details.get("objective")
        if obj is not None and (obj["atoms"] or obj["degree"] is None or obj["degree"] > 2):
            out.append(Refusal("objective %s is not a polynomial of degree <= 2 in the unknowns"
                               % model.objective.name, model.objective.span))
        for name, info in cls.details.get("constraints", {}).items():
            if info["atoms"] or info["degree"] is None or info["degree"] > 1:
                out.append(Refusal("constraint %s is not linear; the qubo backend relaxes or "
                                   "penalises linear constraints only" % name,
                                   model.constraints[name].span))
        return out

    def compile(self, model: Model, options: dict | None = None):
        """Lower ``model`` to QUBO parts (refusing it with a positioned reason)."""
        from .program import QuboProgram
        opts = coerce_options(self, options)
        self.refuse_unless_accepted(model)
        from .lowering import label_collision, lower, row_label_collision
        hit = label_collision(model)
        if hit is not None:
            name, a, b, label, span = hit
            raise self.refusal("variable %s has the elements %s and %s, which both print as %s; "
                               "qubit names, the qubo/bqm exports and results key elements by "
                               "that label, so it must be unique (make the data's elements "
                               "distinct as text)" % (name, a, b, label), span, source=model.source)
        try:
            low = lower(model)
        except (NotPolynomial, PassError) as exc:
            raise self.refusal(getattr(exc, "message", str(exc)), getattr(exc, "span", None),
                               source=model.source) from None
        hit = row_label_collision(low.binst)
        if hit is not None:
            name, a, b, label, span = hit
            raise self.refusal("constraint %s has the rows %s and %s, which both print as %s; "
                               "results key rows by that label, so it must be unique" %
                               (name, a, b, label), span, source=model.source)
        return QuboProgram(self, model, low, opts)


#: The widest integer range encoded (``2^53``: every bit weight and every sum of them is an
#: exact float64; wider ranges would round the encoding and overflow int64 at 2^63).
MAX_INTEGER_RANGE = 2.0 ** 53


def _integer_refusal(v) -> Refusal | None:
    """Why integer variable ``v`` cannot be binary-expanded: no finite bounds, or a range
    wider than :data:`MAX_INTEGER_RANGE` (refused at the declaration, before anything is
    allocated for its bits)."""
    import numpy as np
    lo, up = np.asarray(v.lower, dtype=np.float64), np.asarray(v.upper, dtype=np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(up))):
        return Refusal("integer variable %s has no finite bounds; a QUBO needs "
                       "`integer in L..U`" % v.name, v.span)
    with np.errstate(over="ignore"):
        width = np.floor(up) - np.ceil(lo)
    k = int(np.argmax(width)) if width.size else 0
    if width.size and width.flat[k] > MAX_INTEGER_RANGE:
        return Refusal("integer variable %s has the range %.15g..%.15g (%.3g values); the qubo "
                       "backend encodes an integer in at most 53 qubits (a range of at most "
                       "2^53, where float64 sums of the bit weights are exact)"
                       % (v.name, float(lo.flat[k]), float(up.flat[k]), width.flat[k] + 1), v.span)
    return None


BACKEND = QuboBackend()
