"""The lagrangian backend: continuous nonlinear models by primal-dual first-order methods.

Pipeline (:meth:`LagrangianBackend.compile`)::

    Model --Evaluator + TapeAlgebra (once)--> tape --problem.lower--> NLP:
          min s*f(x)  s.t.  h(x) = 0, g(x) <= 0, lb <= x <= ub
    solve: alm  (augmented Lagrangian; inner L-BFGS-B on the numpy tape, or Adam in torch)
           gda  (simultaneous descent-ascent, optional extragradient; numpy or torch)

Every body is walked by the :class:`~lagdsl.lower.evaluate.Evaluator` once, at compile time;
each iteration replays the recorded vector operations (:mod:`.tape`) in numpy with exact
reverse-mode gradients, or in torch (:mod:`.torch_algebra`) where ``engine=torch`` or
``device=cuda`` asks for it.  Duals follow the cvxpy backend's sign convention (shadow
prices in the user's sense, :mod:`.results`).  Status ``optimal`` means violation <= ``tol``,
KKT stationarity <= ``stationarity_tol * max(1, |grad f|)``, finite values and gradients,
and no lower point found by the second-order probe (:mod:`.escape`; a saddle is left for a
lower point instead); ``feasible`` a stationary point not shown to be a local minimum (with
a note); ``unbounded`` an objective still falling far out at a feasible point; otherwise
``limit`` with the best point found.
"""
from __future__ import annotations

import time

import numpy as np

from lagdsl.backend import Backend, Program, Refusal, coerce_options, fields_refusal
from lagdsl.errors import BackendRefusal
from lagdsl.history import History
from lagdsl.ir.classify import classify
from lagdsl.ir.model import Model
from lagdsl.options import boolean, choice, integer, number, optional
from lagdsl.progress import progress
from lagdsl.result import Result

from .problem import NLP, lower
from .results import build_result


class LagrangianProgram(Program):
    """A model lowered to its tape; :meth:`solve` may be called more than once."""

    backend = "lagrangian"

    def __init__(self, model: Model, nlp: NLP, opts: dict, t_lower: float, kind: str):
        self.model, self.nlp, self.opts, self.t_lower, self.kind = model, nlp, opts, t_lower, kind

    def solve(self) -> Result:
        """Run the chosen method and report in the user's names and sense."""
        from .methods import run
        opts, nlp = self.opts, self.nlp
        t0 = time.perf_counter()
        history = History()
        desc = opts["method"] if opts["method"] == "gda" else "alm"
        with progress(None, desc=desc) as bar:
            outcome, engine = run(nlp, opts, history, bar)
        t_solve = time.perf_counter() - t0
        self.last_x = outcome.x     # the warm start of a re-solve (rebind)
        stats = {"solver": opts["method"], "inner": opts["inner"] if opts["method"] == "alm" else None,
                 "engine": engine, "class": self.kind, "unknowns": nlp.N,
                 "rows": int(len(nlp.c_lo)), "equalities": nlp.m_eq, "inequalities": nlp.m_in,
                 "tape_nodes": len(nlp.tape.nodes)}
        if stats["inner"] is None:
            del stats["inner"]
        relax = opts["relax"] and any(v.domain != "real" for v in self.model.vars.values())
        if relax:
            stats["notes"] = ["relax=true: integer and binary variables were solved as continuous; "
                              "values and max_violation are those of the relaxation"]
        res = build_result(nlp, outcome, stats, history, relax)
        res.times.update({"lower": self.t_lower, "solve": t_solve, "total": self.t_lower + t_solve})
        return res


    def rebind(self, model: Model, changed: frozenset[str]) -> bool:
        """New data: the tape folds data into constants, so the model is lowered again; the
        next solve starts from the previous answer (clipped into the new bounds) instead of
        the declared start.  The multipliers start afresh."""
        t0 = time.perf_counter()
        nlp = lower(model)
        last = getattr(self, "last_x", None)
        if last is not None and last.shape == nlp.x0.shape and np.isfinite(last).all():
            nlp.x0 = np.clip(last, nlp.lb, nlp.ub)
        self.model, self.nlp, self.t_lower = model, nlp, time.perf_counter() - t0
        self.rebind_info = {"lowered_again": True, "warm_start": last is not None}
        return True


class LagrangianBackend(Backend):
    """Continuous (nonconvex) models by augmented-Lagrangian and primal-dual methods."""

    name = "lagrangian"
    description = ("continuous nonlinear models by augmented Lagrangian (L-BFGS-B / Adam) or "
                   "gradient descent-ascent; numpy tape or PyTorch")
    records_history = True
    options = {
        "method": ("alm", "alm (augmented Lagrangian) or gda (gradient descent-ascent)",
                   choice("alm", "gda")),
        "inner": ("lbfgs", "alm's inner solver: lbfgs (scipy L-BFGS-B) or adam (torch, takes batch)",
                  choice("lbfgs", "adam")),
        "engine": ("auto", "evaluation: numpy tape, torch, or auto (torch for adam, gda with "
                           "batch, or device=cuda; numpy otherwise)", choice("auto", "numpy", "torch")),
        "device": ("cpu", "torch device: cpu or cuda", choice("cpu", "cuda")),
        "tol": (1e-6, "largest constraint violation of an optimal answer", number(0, low_open=True)),
        "stationarity_tol": (1e-6, "KKT stationarity tolerance, relative to max(1, |grad f|)",
                             number(0, low_open=True)),
        "max_iter": (None, "outer iterations (alm, default 100) or steps (gda, default: until the tolerances are met or "
                     "the objective, violation and multipliers plateau, at most 20000)",
                     optional(integer(1))),
        "max_inner": (2000, "inner iterations per outer iteration (alm)", integer(1)),
        "rho": (10.0, "initial penalty parameter", number(0, low_open=True)),
        "rho_factor": (10.0, "penalty growth when the violation stalls", number(1, low_open=True)),
        "rho_max": (1e8, "cap on the penalty parameter", number(0, low_open=True)),
        "lr": (None, "Adam step size of inner=adam and gda (default 1e-2)",
               optional(number(0, low_open=True))),
        "dual_lr": (None, "gda's multiplier step (default 0.1)", optional(number(0, low_open=True))),
        "extragradient": (False, "gda: extrapolate before each step (damps oscillation)", boolean()),
        "batch": (0, "rows of each constraint family sampled per step (adam, gda); 0: all rows",
                  integer(0)),
        "seed": (0, "random seed of the minibatch sampler", integer()),
        "time_limit": (None, "seconds; none for no limit", optional(number(0, low_open=True))),
        "relax": (False, "solve integer and binary variables as continuous (the relaxation)",
                  boolean()),
    }

    def accepts(self, model: Model) -> list[Refusal]:
        """Reasons not to take ``model``: fields, and integer/binary variables (which
        ``relax=true`` lets through, see :meth:`accepts_with`)."""
        return self.accepts_with(model, None)

    def accepts_with(self, model: Model, options: dict | None) -> list[Refusal]:
        """:meth:`accepts` knowing the options (``relax``)."""
        out = []
        fields = fields_refusal(model)
        if fields is not None:
            return [fields]
        relax = bool((options or {}).get("relax", False))
        if not relax:
            for v in model.vars.values():
                if v.domain != "real":
                    line = " (line %d)" % v.span.line if v.span is not None else ""
                    out.append(Refusal("variable %s%s is %s; the lagrangian backend solves continuous "
                                       "models (--option relax=true solves the continuous relaxation)"
                                       % (v.name, line, v.domain), v.span))
        return out

    def compile(self, model: Model, options: dict | None = None) -> LagrangianProgram:
        """Record the model's bodies on a tape and put it in normal form."""
        opts = coerce_options(self, options)
        if opts["batch"] and opts["method"] == "alm" and opts["inner"] == "lbfgs":
            raise BackendRefusal("backend lagrangian: option batch=%d samples rows for stochastic "
                                 "steps; use it with inner=adam or method=gda (L-BFGS needs exact "
                                 "gradients)" % opts["batch"])
        if opts["batch"] and opts["engine"] == "numpy":
            raise BackendRefusal("backend lagrangian: option batch needs engine=torch (or auto)")
        if opts["device"] == "cuda":
            import torch
            if not torch.cuda.is_available():
                raise BackendRefusal("backend lagrangian: device=cuda, but torch %s sees no CUDA device "
                                     "(use device=cpu)" % torch.__version__)
        reasons = self.accepts_with(model, opts)
        if reasons:
            raise self.refusal(reasons[0].reason, reasons[0].span, source=model.source)
        t0 = time.perf_counter()
        nlp = lower(model)
        return LagrangianProgram(model, nlp, opts, time.perf_counter() - t0, classify(model).kind)


BACKEND = LagrangianBackend()
