"""The compiled ``qubo`` program: sampler choice, solve -> :class:`~lagdsl.result.Result`,
exports.

Results: ``values`` in the model's names (integers rebuilt from their bits), ``objective``
in the user's sense, ``max_violation`` measured on the model's own rows, ``duals`` the final
multipliers of the relaxed rows as shadow prices in the user's sense (the cvxpy backend's
convention: ``-s * lam`` for an upper bound, ``s * lam`` for a lower bound, ``s = +1`` when
minimising and ``-1`` when maximising; rows handled by an exact penalty, and every row
under ``penalty``, carry no multiplier and are NaN, printed as null).

Statuses: ``optimal`` only when the dual bound proves the best feasible sample optimal;
``feasible`` for the best feasible sample otherwise; without a feasible sample
``infeasible`` when enumeration proved that none exists, else ``limit`` (exit 1).
"""
from __future__ import annotations

import sys

import numpy as np

from lagdsl.backend import Program
from lagdsl.errors import BackendRefusal
from lagdsl.lower.instance import max_violation, per_row, unflatten
from lagdsl.result import Result

from . import export
from .form import Qubo
from .lowering import FractionalSlack, Lowered, slack_form
from .methods import (NonFiniteQubo, TooManyQubits, check_finite, check_sizes, default_rho, run_method,
                      stop_reason)
from .samplers import AnnealSampler, ExactSampler

#: Internal constants of the multiplier methods (not user options).
INTERNAL = {"rho_max_factor": 10.0, "prox": 10.0, "max_cuts": 200}


class QuboProgram(Program):
    """A model lowered to QUBO parts, ready to sample."""

    backend = "qubo"

    def __init__(self, backend, model, low: Lowered, opts: dict):
        self._backend, self.model, self.low = backend, model, low
        self.opts = dict(opts, **INTERNAL)
        # options that size arrays or loops are checked now, before anything is sampled
        # (the penalty method checks again with its slack qubits)
        check_sizes(self.opts, low.n, low.G.shape[0])
        self.sampler = self._sampler()
        self.run = None
        self.estimate = None                 # the last qaoa run's time estimate

    def _sampler(self):
        o = self.opts
        if o["sampler"] == "exact":
            return ExactSampler(o["num_samples"])
        if o["sampler"] == "anneal":
            return AnnealSampler(o["num_reads"], o["num_sweeps"])
        from .qaoa import QaoaSampler      # scipy.optimize and qiskit only when asked for
        return QaoaSampler(o["reps"], o["shots"], o["simulator"], o["restarts"], o["train_iter"],
                           o["cvar"], o["noise"])

    # --- the QUBO the method samples first ------------------------------------------------

    @property
    def strength(self) -> float:
        return self.opts["penalty"] if self.opts["penalty"] is not None else self.low.strength

    def first_qubo(self) -> tuple[Qubo, list[str]]:
        """The QUBO sampled first, and its variable names (slack qubits ``_slack[k]``)."""
        low = self.low
        if self.opts["method"] == "penalty":
            form = slack_form(low, self.strength)
            return form.qubo, low.names + low.slack_names(form.slack)
        q = low.lagrangian(np.zeros(low.G.shape[0]), self.strength)
        if self.opts["method"] == "augmented-lagrangian" and low.G.shape[0]:
            rho = self.opts["rho"] if self.opts["rho"] is not None else default_rho(low)
            q = q + low.squared(np.full(low.G.shape[0], rho / 2.0))
        return q, list(low.names)

    def exact_qubo(self) -> tuple[Qubo, list[str], dict]:
        """An exact encoding of the model: the objective plus ``penalty`` times the exact
        penalties, and slack bits (``_slack[k]``) for the inequalities that have none; its
        ground states are the model's optima whenever ``info["ground_state_exact"]``
        (integer constraint data and a penalty above the objective's range, so that every
        violation costs more than any gain in the objective)."""
        low, P = self.low, self.strength
        if low.G.shape[0] or self.opts["method"] == "penalty":
            try:
                form = slack_form(low, P)
            except FractionalSlack as exc:
                raise self._backend.refusal(
                    "no exact QUBO for this model: %s; write the relaxed multiplier form with "
                    "--option export=relaxed" % exc, source=self.model.source) from None
            q, k = form.qubo, form.slack
        else:
            q, k = low.objective + low.exact.scaled(P), 0
        data = np.concatenate([low.A.data, low.lo[np.isfinite(low.lo)], low.hi[np.isfinite(low.hi)]])
        span = float(np.abs(low.objective.linear).sum() + np.abs(low.objective.quad).sum())
        exact = bool(np.all(data == np.round(data))) and P > span
        info = {"form": "exact", "method": self.opts["method"], "penalty": P, "slack_qubits": k,
                "ground_state_exact": exact,
                "note": ("every bitstring that violates a constraint has a higher energy than the "
                         "model's optimum: the ground state is an optimum" if exact else
                         "the penalty is not proven to dominate the objective (fractional "
                         "constraint data or a penalty below the objective's range %g): a "
                         "ground state may violate a constraint" % span)}
        return q, low.names + low.slack_names(k), info

    def relaxed_qubo(self) -> tuple[Qubo, list[str], dict]:
        """The multiplier method's form ``f + P e + lam . (G x - h)`` (plus ``rho/2 |G x -
        h|^2`` for ``augmented-lagrangian``) at the last solve's multipliers, or zero before
        a solve: its ground state need not be feasible."""
        if self.opts["method"] == "penalty":
            raise self._backend.refusal("export=relaxed needs a multiplier method; the penalty "
                                        "method's form is the exact slack encoding (export=exact)")
        low = self.low
        m = low.G.shape[0]
        lam = np.zeros(m) if self.run is None or self.run.lam is None else np.asarray(self.run.lam, float)
        q = low.lagrangian(lam, self.strength)
        rho = None
        if self.opts["method"] == "augmented-lagrangian" and m:
            rho = self.opts["rho"] if self.opts["rho"] is not None else default_rho(low)
            q = q + low.squared(np.full(m, rho / 2.0))
        info = {"form": "relaxed", "method": self.opts["method"], "penalty": self.strength,
                "multipliers": lam.tolist(), "rho": rho,
                "note": "a relaxation: the rows of `relaxed` enter with these multipliers, so "
                        "a ground state may violate them"}
        return q, list(low.names), info

    def export_qubo(self) -> tuple[Qubo, list[str], dict]:
        """The QUBO ``--emit`` writes: :meth:`exact_qubo`, or :meth:`relaxed_qubo` with
        ``export=relaxed`` (announced on stderr with its multipliers)."""
        try:
            q, names, info = self.relaxed_qubo() if self.opts["export"] == "relaxed" else self.exact_qubo()
            check_finite(q, self.strength)
        except NonFiniteQubo as exc:
            raise self._backend.refusal(str(exc), source=self.model.source) from None
        if info["form"] == "relaxed":
            lam = info["multipliers"]
            shown = ", ".join("%.6g" % v for v in lam[:8]) + (", ..." if len(lam) > 8 else "")
            print("note: writing the relaxed %s form at multipliers [%s]%s; its ground state "
                  "may violate the relaxed rows" % (info["method"], shown,
                  "" if info["rho"] is None else " and rho=%.6g" % info["rho"]), file=sys.stderr)
        elif not info["ground_state_exact"]:
            print("note: %s" % info["note"], file=sys.stderr)
        return q, names, info

    def emit(self, fmt: str) -> str:
        """``qubo``, ``bqm`` or ``qasm`` text (see :mod:`.export`)."""
        if fmt == "qasm":
            return self._qasm()
        if fmt in ("qubo", "bqm"):
            q, names, info = self.export_qubo()
            if fmt == "qubo":
                return export.qubo_json(self.low, q, names, info)
            return export.bqm_json(q, names, info)
        return super().emit(fmt)

    def _qasm(self) -> str:
        """The QAOA circuit: trained after a ``qaoa`` solve, else of the exported QUBO with
        free angles; refused, as a solve is, above the simulator's qubit limit."""
        s = self.sampler
        if s.name == "qaoa" and s.bound_circuit() is not None:
            return export.qasm(s.bound_circuit())
        from .qaoa import MAX_QUBITS, build_circuit
        limit = MAX_QUBITS[self.opts["simulator"]]

        def refuse(n: int, more: str = ""):
            return self._backend.refusal(
                "the QAOA circuit needs %s%d qubits; simulator=%s holds at most %d (a solve with "
                "sampler=qaoa refuses the same model)" % (more, n, self.opts["simulator"], limit),
                source=self.model.source)
        if self.low.n > limit:          # before building the QUBO and its slack rows
            raise refuse(self.low.n, "at least ")
        q, _, _ = self.export_qubo()
        if q.n > limit:
            raise refuse(q.n)
        circ, _, _ = build_circuit(q, self.opts["reps"], q.scale())
        return export.qasm(circ)

    def quadratic_program(self):
        """The binary model as a qiskit-optimization ``QuadraticProgram`` (needs the
        ``qiskit-optimization`` package, a bench peer, not a lagdsl dependency)."""
        try:
            return export.quadratic_program(self.low, self.model.name or "lagdsl")
        except ImportError as exc:
            raise BackendRefusal("QuadraticProgram export needs qiskit-optimization: "
                                 "pip install qiskit-optimization (%s)" % exc)

    # --- solving ------------------------------------------------------------------------

    def solve(self) -> Result:
        """Run the method with the sampler and return the best feasible sample."""
        if len(self.low.impossible):
            return self._impossible()
        self.estimate = None
        if self.opts["sampler"] == "qaoa":
            self.estimate = self._announce()
        try:
            run = run_method(self.opts["method"], self.low, self.sampler, self.opts)
        except TooManyQubits as exc:
            raise self._backend.refusal(
                "the model needs %d qubits%s; sampler %s%s holds at most %d" % (
                    exc.qubits, "" if self.opts["method"] != "penalty" else " with slack",
                    self.opts["sampler"],
                    " (simulator=%s)" % self.opts["simulator"] if self.opts["sampler"] == "qaoa" else "",
                    exc.sampler.max_qubits)) from None
        except FractionalSlack as exc:
            raise self._backend.refusal("%s; use a slack-free method" % exc,
                                        source=self.model.source) from None
        except NonFiniteQubo as exc:
            raise self._backend.refusal(str(exc), source=self.model.source) from None
        self.run = run
        return self._result(run)

    def _announce(self):
        """The QAOA run's time estimate (:mod:`.estimate`); a long one is printed on stderr
        first, with how to shorten it, where progress is shown (``lagdsl solve`` without
        ``--quiet`` or ``--json``)."""
        from lagdsl.progress import progress_enabled

        from .estimate import estimate
        qubits = self.low.n
        if self.opts["method"] == "penalty":
            try:
                qubits = self.first_qubo()[0].n
            except FractionalSlack:
                return None                 # refused by the run itself, with the reason
        est = estimate(qubits, self.opts)
        if est.long and progress_enabled() and qubits <= self.sampler.max_qubits:
            print("note: " + est.message(), file=sys.stderr, flush=True)
        return est

    def _impossible(self) -> Result:
        """``infeasible`` without sampling: some row holds for no 0/1 values (notes say which)."""
        low = self.low
        notes = list(low.notes) + [low.impossible_note(r) for r in low.impossible[:10].tolist()]
        if len(low.impossible) > 10:
            notes.append("... and %d more rows that can never hold" % (len(low.impossible) - 10))
        return Result(status="infeasible", backend="qubo",
                      stats={"method": self.opts["method"], "sampler": self.opts["sampler"],
                             "model_binaries": low.n, "samples": 0, "stopped": "infeasible rows",
                             "stop_reason": "infeasible rows",
                             "notes": notes})

    def _result(self, run) -> Result:
        low, inst = self.low, self.low.inst
        stats = {"method": self.opts["method"], "sampler": self.opts["sampler"],
                 "qubits": run.qubits, "slack_qubits": run.slack_qubits,
                 "model_binaries": low.n, "iterations": run.iterations,
                 "samples": run.drawn, "feasible_fraction": run.feasible / max(run.drawn, 1),
                 "repaired": run.repaired, "penalty": self.strength,
                 "exact_rows": int(np.isin(low.kind, ("eq", "amo", "cover", "imp")).sum()),
                 "relaxed_rows": int(low.G.shape[0]),
                 "dual_bound": None if run.dual_bound is None else low.sign * run.dual_bound,
                 "seconds": run.seconds, "history": run.history.to_dict(), "stopped": run.stopped,
                 "stop_reason": stop_reason(run.stopped, self.opts["method"]),
                 "notes": list(low.notes) + list(run.notes)}
        if self.sampler.name == "qaoa":
            stats.update(circuit_depth=self.sampler.depth, reps=self.opts["reps"],
                         simulator=self.opts["simulator"], shots=self.opts["shots"],
                         circuit_evaluations=self.sampler.evaluations)
            if self.estimate is not None:
                stats["qaoa_estimate"] = self.estimate.to_dict()
        if run.stopped == "time_limit":
            stats["notes"].append("stopped at the time limit of %g s after %d iteration(s)"
                                  % (self.opts["time_limit"], run.iterations))
        res = Result(status="limit", backend="qubo", stats=stats)
        res.panels["objective"] = self._objective_panel(run)
        res.panels["final samples"] = self._panel(run)
        if run.x is None:
            res.status = "infeasible" if run.infeasible else "limit"
            stats["notes"].append("no feasible sample found")
            return res
        x = low.to_model(run.x)
        res.status = "optimal" if run.optimal else "feasible"
        res.values = unflatten(self.model, x)
        res.objective = float(inst.objective.evaluate(x)[0]) if inst.objective is not None else 0.0
        res.max_violation = max_violation(inst, x)
        if stats["dual_bound"] is not None and res.objective is not None:
            stats["gap"] = abs(res.objective - stats["dual_bound"]) / max(1.0, abs(res.objective))
        res.duals = self._duals(run)
        return res

    def _duals(self, run) -> dict:
        low = self.low
        if self.opts["method"] == "penalty" or run.lam is None or not len(run.lam):
            return {}
        per = np.full(low.A.shape[0], np.nan)
        val = -low.sign * low.g_sign * run.lam
        per[low.g_row] = np.where(np.isnan(per[low.g_row]), 0.0, per[low.g_row])
        np.add.at(per, low.g_row, val)
        out = {}
        for k, b in enumerate(low.binst.blocks):
            rows = low.row_block == k
            if not np.isfinite(per[rows]).any():
                continue
            out[b.name] = per_row(b.keys(), per[rows], not b.constraint.binding)
        return out

    def _objective_panel(self, run):
        """--plot's objective panel: each round's samples (dots: feasible green, infeasible
        red), the best feasible objective so far and the dual bound, on one axis so that the
        gap shows; it replaces the history's own objective and dual-bound panels."""
        sign = self.low.sign

        def draw(ax):
            labelled = set()
            for k, (f, feas) in enumerate(run.rounds):
                for mask, colour, label in ((feas, "tab:green", "feasible samples"),
                                            (~feas, "tab:red", "infeasible samples")):
                    if mask.any():
                        ax.scatter(np.full(int(mask.sum()), k), sign * f[mask], s=6, alpha=0.35, color=colour,
                                   label=None if label in labelled else label)
                        labelled.add(label)
            h = run.history
            steps = h.steps
            if "objective" in h.names and np.isfinite(h.series("objective")).any():
                ax.step(steps, h.series("objective"), where="post", lw=1.6, color="k", label="best feasible")
            if "dual_bound" in h.names and np.isfinite(h.series("dual_bound")).any():
                ax.step(steps, h.series("dual_bound"), where="post", lw=1.4, ls="--", color="tab:blue",
                        label="dual bound")
            ax.set_xlabel("round")
            ax.set_ylabel("objective")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=7)
        draw.replaces = ("objective", "dual_bound")
        return draw

    def _panel(self, run):
        sign = self.low.sign

        def draw(ax):
            if run.last is None:
                return
            f, feas, counts = run.last
            vals = sign * f
            for mask, label, colour in ((feas, "feasible", "tab:green"), (~feas, "infeasible", "tab:red")):
                if mask.any():
                    ax.hist(vals[mask], weights=counts[mask], bins=30, alpha=0.7, label=label, color=colour)
            ax.set_xlabel("objective of the last round's samples")
            ax.tick_params(axis="x", labelrotation=30)
            ax.set_ylabel("count")
            ax.legend(loc="best", fontsize=7)
        return draw
