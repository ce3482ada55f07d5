"""The ``pinn`` backend: physics-informed training of the fields of a ``.lag`` model.

Each ``field u(x, t)`` becomes a network (:mod:`.nets`); each constraint ``on`` a region a
residual on points sampled from it (:mod:`.sampling`, :mod:`.terms`), evaluated by a torch
walk of its sympy body with derivatives by autograd or a forward Taylor pass (:mod:`.lower`,
:mod:`.jets`); scalar ``var``s are
trainable parameters (inverse problems).  The constraints are enforced by a penalty or by an
augmented Lagrangian with adaptive penalties (PECANN/CAPU) or per-point multipliers (hPINN),
trained by Adam and then L-BFGS, which ends in float64 (:mod:`.train`).  Results (:mod:`.results`): the
fields as callables, scalar unknowns in ``values``, residual statistics, multipliers, the
loss history and the L-BFGS stages (``lbfgs_iterations``, ``lbfgs_float32_iterations``,
``lbfgs_stops``: why each stage ended; ``stop_reason``: why training ended, converged, budget or
time_limit; ``phase_starts``: the steps where L-BFGS and its float64 stage began) in ``stats``,
field grids for ``--json``, plots for ``--plot``.  Left at their defaults, ``epochs`` and
``lbfgs`` end on a plateau of the loss and every constraint residual on a held-out point set
(:mod:`.train`); given, they are caps.

Status: ``feasible`` when every constraint's root-mean-square residual on fresh points is at
most ``tol`` times its scale, ``max(1, rms of its right-hand side)`` (a trained network is never certified ``optimal``), ``limit`` when training ended
on its budget above it or was stopped by ``time_limit`` (checked before every Adam step and
every L-BFGS evaluation; ``stats["time_limit_reached"]`` says which), ``error`` when the loss became NaN or infinite.
``max_violation`` is the largest absolute residual of any constraint on those points.
"""
from __future__ import annotations

import time

import numpy as np

from lagdsl.backend import Backend, Program, Refusal
from lagdsl.ir.classify import classify
from lagdsl.ir.model import Model
from lagdsl.lower.instance import unflatten
from lagdsl.lower.rows import Rows
from lagdsl.options import boolean, choice, integer, number, optional, text
from lagdsl.result import Result

import torch  # noqa: E402  (after the lagdsl imports: a missing torch reads "not installed")

from .lower import Batch, TorchEvaluator, Unsupported
from .nets import ACTIVATIONS, build_net
from .results import SAVED_FILES, FieldFunction, field_panels, grid_values, save_fields
from .sizes import check_domains, check_grid, check_networks, check_passes
from .terms import build_terms
from .train import Trainer


#: The most torch threads ``threads=`` may ask for (each is an OS thread; tens of thousands
#: exhaust the process's address space).
MAX_THREADS = 256


class PinnBackend(Backend):
    name = "pinn"
    description = "physics-informed neural networks for field models (PyTorch; penalty or augmented Lagrangian)"
    records_history = True
    saves_fields = True
    saved_files = SAVED_FILES
    options = {
        "method": ("alm", "constraint handling: alm (PECANN/CAPU augmented Lagrangian) or penalty",
                   choice("alm", "penalty")),
        "multipliers": ("auto", "alm multipliers: one per constraint (CAPU), one per point (hPINN), or auto: "
                        "per constraint without a model objective, per point with one", choice("auto", "constraint", "point")),
        # step counts are capped where no run reaches (time_limit ends long runs), so that the
        # budget arithmetic (evaluations = 1.25 x iterations) stays in float64
        "epochs": (None, "Adam steps (none: until the loss and every constraint residual on held-out points "
                   "change by less than 25% over a check of 100 steps, at most 2000)",
                   optional(integer(0, 10 ** 9))),
        "lbfgs": (None, "L-BFGS iterations after Adam, ending in float64, see precision (none: until the "
                  "held-out loss and residuals change by less than stall over two chunks of 50, at most 1000)",
                  optional(integer(0, 10 ** 9))),
        "stall": (1e-3, "stop L-BFGS when 50 iterations lower the loss by less than this fraction, and (default "
                  "lbfgs) when the held-out loss and residuals change by less than it (0: never)",
                  number(0, 1)),
        "lr": (1e-3, "Adam learning rate", number(0, low_open=True)),
        "width": (32, "neurons per hidden layer (the networks with their optimiser state, about depth * width^2 "
                  "values each, are checked against --max-elements)", integer(1)),
        "depth": (3, "hidden layers", integer(1)),
        "activation": ("tanh", "activation function", choice(*ACTIVATIONS)),
        "fourier": (0, "random Fourier features per network (0: none)", integer(0)),
        "fourier_scale": (1.0, "standard deviation of the Fourier frequencies", number(0, low_open=True)),
        "periodic": ("", "coordinates (comma-separated) embedded periodically over their interval", text()),
        "harmonics": (1, "harmonics of the periodic embedding", integer(1)),
        "points": (2000, "collocation points per constraint on a full domain (one pass over all terms' points is "
                   "checked against --max-elements)", integer(1)),
        "boundary_points": (200, "points per constraint on a face or boundary", integer(1)),
        "resample": (100, "redraw collocation points every N Adam steps (0: never)", integer(0)),
        "integral_points": (4096, "quasi-Monte-Carlo points per integral(D)", integer(1)),
        "weight": (1.0, "penalty weight of the constraints (method=penalty)", number(0, low_open=True)),
        "rounds": (5, "outer multiplier rounds during Adam (multipliers=point)", integer(1)),
        "precision": ("mixed", "mixed: Adam and L-BFGS in float32 until it stalls, then L-BFGS in float64; "
                      "float64: float64 throughout",
                      choice("mixed", "float64")),
        "tol": (1e-2, "a constraint counts as met when its root-mean-square residual is at most tol * "
                "max(1, rms of its right-hand side)", number(0, low_open=True)),
        "grid": (21, "points per axis of each field's grid in --json (grid^dimension points, checked against "
                 "--max-elements)", integer(2)),
        "log_every": (10, "history: record every N steps", integer(1)),
        "time_limit": (None, "wall-clock seconds for training, checked before every Adam step and L-BFGS evaluation "
                       "(status limit, best weights kept)", optional(number(0, low_open=True))),
        "derivatives": ("auto", "field derivatives: reverse (nested autograd), forward (value and derivatives "
                        "in one Taylor-mode pass) or auto (forward where a residual takes a second derivative and the "
                        "activation is tanh, or where every coordinate differentiated along takes its own second "
                        "derivative, as in u_xx or a Laplacian)",
                        choice("auto", "reverse", "forward")),
        "share_passes": (True, "evaluate a field once for several terms' points where that saves time "
                         "(same results; off: one network pass per term)", boolean()),
        "threads": (1, "torch CPU threads while training (small networks run fastest on one; at most 256)",
                    integer(1, MAX_THREADS)),
        "seed": (0, "random seed (weights, points)", integer(0)),
    }

    def save_fields(self, result, model, directory, overwrite=False, inputs=None):
        """Write the trained weights and the model's IR (see :func:`.results.save_fields`)."""
        return save_fields(result, model, directory, overwrite, inputs)

    def accepts(self, model: Model) -> list[Refusal]:
        if not model.fields:
            span = model.objective.span if model.objective is not None else next(
                (c.span for c in model.constraints.values()), None)
            return [Refusal("the pinn backend trains fields and this model has none (class %s); "
                            "`lagdsl check` lists the backends that take it" % classify(model).kind, span)]
        out = []
        for name, v in model.vars.items():
            if v.domain != "real":
                out.append(Refusal("variable %s is %s; the pinn backend trains real unknowns only" % (name, v.domain), v.span))
        if out:
            return out
        try:
            PinnProgram(model, dict(self.coerce({"points": 8, "boundary_points": 4, "integral_points": 8,
                                                 "width": 2, "depth": 1}))).dry_run()
        except Unsupported as exc:
            return [Refusal(exc.message, exc.span)]
        return []

    def coerce(self, options: dict | None) -> dict:
        from lagdsl.backend import coerce_options
        return coerce_options(self, options or {})

    def compile(self, model: Model, options: dict | None = None) -> Program:
        """Networks, unknowns and loss terms for ``model`` (the API has called ``accepts``;
        a direct caller with a model without fields gets the same refusal)."""
        if not model.fields:
            self.refuse_unless_accepted(model)
        try:
            return PinnProgram(model, self.coerce(options))
        except Unsupported as exc:
            raise self.refusal(exc.message, exc.span, source=model.source)


class PinnProgram(Program):
    """A field model with its networks, unknowns and loss terms, ready to train."""

    backend = "pinn"

    def __init__(self, model: Model, opts: dict):
        self.model, self.opts = model, opts
        self.rng = np.random.default_rng(opts["seed"])     # points; weights draw from their own generators
        periodic = [c.strip() for c in opts["periodic"].split(",") if c.strip()]
        # everything the options size is checked before anything is built (.sizes)
        check_domains(model)
        check_networks(model, opts, periodic)
        check_grid(model, opts)
        self.nets = {}
        for k, (name, f) in enumerate(model.fields.items()):
            dom = model.domains[f.domain]
            bad = [c for c in periodic if c not in dom.coords]
            if bad:
                from lagdsl.errors import BackendRefusal
                raise BackendRefusal("option periodic=%s: %s is not a coordinate (coordinates: %s)" % (
                    opts["periodic"], bad[0], ", ".join(dom.coords)))
            config = {"coords": list(f.coords), "box": [list(dom.coords[c]) for c in f.coords],
                      "width": opts["width"], "depth": opts["depth"], "activation": opts["activation"],
                      "fourier": opts["fourier"], "fourier_scale": opts["fourier_scale"],
                      "periodic": [c for c in periodic if c in f.coords], "harmonics": opts["harmonics"]}
            # torch seeds are 64-bit; any seed= maps into them, small ones unchanged
            self.nets[name] = build_net(config, (opts["seed"] * 1000 + k) % (1 << 63))
        self.params, self.bounds = {}, {}
        for name, v in model.vars.items():
            start = v.start if v.start is not None else np.zeros_like(v.lower)
            start = np.clip(start, v.lower, v.upper)
            self.params[name] = torch.nn.Parameter(torch.as_tensor(start, dtype=torch.float64).clone())
            if np.isfinite(v.lower).any() or np.isfinite(v.upper).any():
                self.bounds[name] = (torch.as_tensor(v.lower), torch.as_tensor(v.upper))
        ev = TorchEvaluator(model, self.nets, self.params, torch.float64, opts["integral_points"], self.rng)
        self.terms = build_terms(model, ev, opts["points"], opts["boundary_points"])
        check_passes(model, self.terms, opts, periodic)

    def rebind(self, model: Model, changed: frozenset[str]) -> bool:
        """New data: the loss terms are built again on it; the trained networks and scalar
        unknowns are kept, so the next solve warm-starts from the previous weights."""
        ev = TorchEvaluator(model, self.nets, self.params, torch.float64, self.opts["integral_points"],
                            self.rng)
        self.terms = build_terms(model, ev, self.opts["points"], self.opts["boundary_points"])
        self.model = model
        self.rebind_info = {"warm_start": "the previous solve's network weights and unknowns"}
        return True

    def dry_run(self) -> None:
        """Evaluate every term and the objective once (finds what cannot be lowered)."""
        ev = TorchEvaluator(self.model, self.nets, self.params, torch.float64, 8, self.rng)
        for t in self.terms:
            t.residual(ev, t.batch(ev, self.rng))
        if self.model.objective is not None:
            ev.for_owner(self.model.objective).value(self.model.objective.expr, Batch(Rows.unit()))

    def solve(self) -> Result:
        t0 = time.perf_counter()
        trainer = Trainer(self.model, self.nets, self.params, self.bounds, self.terms, self.opts, self.rng)
        error = None
        threads = torch.get_num_threads()
        torch.set_num_threads(self.opts["threads"])
        try:
            trainer.run()
        except FloatingPointError as exc:
            error = str(exc)
            trainer.set_dtype(torch.float64)
        finally:
            torch.set_num_threads(threads)
        t1 = time.perf_counter()
        return self.result(trainer, error, {"train": t1 - t0})

    def result(self, trainer: Trainer, error: str | None, times: dict) -> Result:
        """Measure every constraint on fresh points and assemble the :class:`Result`."""
        ev = TorchEvaluator(self.model, self.nets, self.params, torch.float64,
                            4 * self.opts["integral_points"], np.random.default_rng(self.opts["seed"] + 1))
        rng = np.random.default_rng(self.opts["seed"] + 1)
        residuals, worst = {}, 0.0
        for t in self.terms:
            r = t.residual(ev, t.batch(ev, rng, 2 * t.points)).detach().numpy()
            r = np.broadcast_to(r, (max(1, r.size),))
            residuals[t.name] = {"rms": float(np.sqrt(np.mean(r * r))), "scale": t.scale(ev, rng),
                                 "mean_abs": float(np.mean(np.abs(r))),
                                 "max_abs": float(np.max(np.abs(r))), "points": int(r.size),
                                 "role": "pde" if t.role == "objective" else "constraint"}
            worst = max(worst, residuals[t.name]["max_abs"])
        objective = None
        if self.model.objective is not None:
            with torch.enable_grad():
                objective = float(ev.for_owner(self.model.objective).value(
                    self.model.objective.expr, Batch(Rows.unit())).reshape(-1)[0].detach())
        x = np.concatenate([p.detach().numpy().reshape(-1) for p in self.params.values()]) if self.params else np.zeros(0)
        finite = all(np.isfinite(v["rms"]) for v in residuals.values())
        if error is not None or not finite:
            status = "error"
        elif trainer.hit_limit:
            status = "limit"        # training was cut short, whatever the residuals say
        elif all(v["rms"] <= self.opts["tol"] * v["scale"] for v in residuals.values()):
            status = "feasible"
        else:
            status = "limit"
        notes = []
        if error is not None:
            notes.append(error)
        if trainer.hit_limit:
            notes.append("training stopped at the time limit of %g s" % self.opts["time_limit"])
        unmet = [k for k, v in residuals.items() if not v["rms"] <= self.opts["tol"] * v["scale"]]
        if unmet and error is None:
            notes.append("residual above tol=%g for %s; train longer (epochs=, lbfgs=) or widen the network"
                         % (self.opts["tol"], ", ".join(unmet)))
        fields = {k: FieldFunction(k, net) for k, net in self.nets.items()}
        final = {k: v[-1] for k, v in trainer.history.to_dict().items() if k != "step" and v and v[-1] is not None}
        stats = {"solver": "pinn", "method": self.opts["method"], "class": "PDE",
                 "epochs": int(trainer.adam_steps), "lbfgs_iterations": int(max(0, trainer.step - trainer.adam_steps)),
                 "stop_reason": trainer.stop_reason,
                 "lbfgs_float32_iterations": int(trainer.float32_iterations),
                 "lbfgs_stops": ["%s: %s" % st for st in trainer.stops],
                 "time_limit_reached": bool(trainer.hit_limit),
                 "final_loss": final.get("loss"), "residuals": residuals,
                 "history": trainer.history.to_dict(), "notes": notes}
        if stats["lbfgs_iterations"] > 0:
            # where --plot marks the switch from Adam to L-BFGS (and from float32 to float64)
            stats["phase_starts"] = {"L-BFGS": stats["epochs"]}
            if 0 < trainer.float32_iterations < stats["lbfgs_iterations"]:
                stats["phase_starts"]["L-BFGS float64"] = stats["epochs"] + trainer.float32_iterations
        if self.opts["method"] == "alm":
            if trainer.per_point:
                stats["multipliers"] = {t.name: {"mean": float(trainer.point_lam[t.name].mean()),
                                                 "max_abs": float(trainer.point_lam[t.name].abs().max())}
                                        for t in trainer.cons}
                stats["mu"] = trainer.point_mu
            else:
                stats["multipliers"] = {t.name: float(trainer.lam[i]) for i, t in enumerate(trainer.cons)}
                stats["mu"] = {t.name: float(trainer.mu[i]) for i, t in enumerate(trainer.cons)}
        res = Result(status=status, objective=objective, values=unflatten(self.model, x),
                     max_violation=worst if finite else None, backend="pinn", stats=stats,
                     times=times, fields=fields)
        res.panels.update(field_panels(fields))
        res.grids = {k: grid_values(fn, self.opts["grid"]) for k, fn in fields.items()}
        return res


BACKEND = PinnBackend()
