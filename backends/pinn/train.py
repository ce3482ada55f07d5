"""Training: Adam, then L-BFGS ending in float64, under a penalty or an augmented Lagrangian.

Methods (``method=``):

* ``penalty`` — ``J + w * sum_i C_i`` with ``C_i`` the mean squared residual of constraint i
  (DeepXDE's default loss when ``w = 1``);
* ``alm`` — PECANN with the adaptive penalty CAPU (Basir & Senocak 2023; REFERENCES.md):
  ``J + sum_i lambda_i C_i + 1/2 sum_i mu_i C_i^2`` with ``lambda = mu = 1`` at the start, a
  running average ``v_i <- 0.99 v_i + 0.01 C_i^2`` and, whenever the loss stalls (``L >= 0.999
  L_prev``), ``lambda_i <- lambda_i + mu_i C_i`` and ``mu_i <- max(eta / sqrt(v_i), mu_i)``
  with ``eta = 0.01``;
* ``alm`` with ``multipliers=point`` (the default, ``auto``, when the model has an objective) — hPINN (Lu et al. 2021): one multiplier per collocation
  point (points fixed), ``J + sum_i mean(lambda_i r_i) + mu/2 sum_i mean(r_i^2)``, ``mu = 2``
  at the start, and ``rounds`` outer rounds ``lambda_i <- lambda_i + mu r_i``, ``mu <- 2 mu``.

``J`` is the model's objective (negated for ``maximize``) or, without one, the sum of the mean
squared PDE residuals (:mod:`.terms`).  Adam runs ``epochs`` steps (full batch, collocation
points redrawn every ``resample`` steps) in the working precision; L-BFGS then runs up to
``lbfgs`` iterations on fixed points (float32 until it stalls, then float64, under
``precision=mixed``), with a strong-Wolfe line search, 100 curvature pairs and the search
direction from their compact form (:mod:`.lbfgs`).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from lagdsl.history import History
from lagdsl.plateau import Plateau, stop_reason
from lagdsl.progress import progress

from lagdsl.lower.rows import Rows

from .lbfgs import CompactLBFGS
from .lower import Batch, TorchEvaluator

ETA, OMEGA, ALPHA = 0.01, 0.999, 0.99       # CAPU constants (REFERENCES.md)
HPINN_MU0, HPINN_BETA = 2.0, 2.0
LBFGS_HISTORY = 100                         # curvature pairs kept by L-BFGS
PROBE = 10                                  # L-BFGS iterations of a float64 stage's first chunk
# Budgets left at their defaults end on convergence, judged on a held-out point set: Adam's
# stage when the held-out PDE loss (or objective) and every constraint's mean squared residual
# changed by less than ADAM_RTOL over the last ADAM_WINDOW checks of CHECK_EVERY steps (Adam
# only has to bring the weights into L-BFGS's basin, which then converges far faster per
# step), each L-BFGS stage when they changed by less than `stall` over the last LBFGS_WINDOW
# chunks.  The former fixed counts stay as caps.
AUTO_EPOCHS, AUTO_LBFGS = 2000, 1000
CHECK_EVERY = 100
ADAM_RTOL, ADAM_WINDOW = 0.25, 1
LBFGS_WINDOW = 2


class _TimeUp(Exception):
    """Raised inside an L-BFGS evaluation when the time limit has passed."""


def _move_state(opt: CompactLBFGS, dtype) -> None:
    """Convert an L-BFGS optimiser's state (directions, steps, curvature) to ``dtype`` in
    place, so that a float64 stage continues the float32 stage's curvature model."""
    for st in opt.state.values():
        for k, v in st.items():
            if torch.is_tensor(v) and v.is_floating_point():
                st[k] = v.to(dtype)
            elif isinstance(v, list):
                st[k] = [x.to(dtype) if torch.is_tensor(x) and x.is_floating_point() else x for x in v]


class Trainer:
    """Holds the networks, the scalar unknowns, the terms and the multipliers of one run."""

    def __init__(self, model, nets, params, bounds, terms, opts, rng):
        self.model, self.nets, self.params, self.bounds = model, nets, params, bounds
        self.terms, self.opts, self.rng = terms, opts, rng
        self.terms_by_name = {t.name: t for t in terms}
        self.cons = [t for t in terms if t.role == "constraint"]
        self.pdes = [t for t in terms if t.role == "objective"]
        self.method = opts["method"]
        # CAPU's multipliers weigh squared residuals, whose gradient vanishes at feasibility: fine
        # when the objective is itself a residual (zero at the solution), but against a real
        # objective (an energy, a misfit) they meet the constraints only as lambda -> infinity.
        # Signed per-point multipliers (hPINN) converge there, so "auto" picks them.
        mult = opts["multipliers"]
        if mult == "auto":
            mult = "point" if model.objective is not None else "constraint"
        self.per_point = self.method == "alm" and mult == "point"
        k = len(self.cons)
        self.lam = np.ones(k)
        self.mu = np.ones(k)
        self.vbar = np.zeros(k)
        self.history = History()
        self.step = 0
        self.deadline = None if opts["time_limit"] is None else time.perf_counter() + opts["time_limit"]
        self.hit_limit = False
        self.float32_iterations = 0       # L-BFGS iterations of the float32 stage
        self.stops = []                   # (dtype, why) of each L-BFGS stage
        # None: a default budget, which ends on convergence (capped at the former count)
        self.auto_epochs, self.auto_lbfgs = opts["epochs"] is None, opts["lbfgs"] is None
        self.epochs = AUTO_EPOCHS if self.auto_epochs else opts["epochs"]
        self.lbfgs_iters = AUTO_LBFGS if self.auto_lbfgs else opts["lbfgs"]
        self.adam_plateau = Plateau(ADAM_RTOL, ADAM_WINDOW)
        self.lbfgs_plateau = Plateau(opts["stall"], LBFGS_WINDOW)
        self.adam_steps = 0
        self.converged = None             # why a stage converged (the last one to)
        self.set_dtype(torch.float64 if opts["precision"] == "float64" else torch.float32)
        self.batches = self.draw()
        self.heldout = None
        if self.auto_epochs or self.auto_lbfgs:
            # never trained on: its own generator, so the training points stay those of the seed
            hrng = np.random.default_rng(np.random.SeedSequence([int(opts["seed"]), 2]))
            self.heldout = {t.name: t.batch(self.ev, hrng) for t in self.terms}
        if self.per_point:
            self.point_lam = {t.name: torch.zeros(self.batches[t.name].n, dtype=torch.float64) for t in self.cons}
            self.point_mu = HPINN_MU0

    # --- set-up ----------------------------------------------------------------------
    def set_dtype(self, dtype) -> None:
        """Move networks and unknowns to ``dtype`` (float32 for Adam, float64 for L-BFGS)."""
        self.dtype = dtype
        for net in self.nets.values():
            net.to(dtype)
        for name, p in self.params.items():
            p.data = p.data.to(dtype)
        self.ev = TorchEvaluator(self.model, self.nets, self.params, dtype,
                                 self.opts["integral_points"], self.rng, self.opts["derivatives"])
        self._coordinate_grad = {}       # term name -> whether its coordinates require grad

    def parameters(self) -> list:
        ps = [p for net in self.nets.values() for p in net.parameters()]
        return ps + list(self.params.values())

    def draw(self, only_resampled: bool = False) -> dict:
        """Batches for every term (points redrawn; rows kept)."""
        out = dict(getattr(self, "batches", {})) if only_resampled else {}
        for t in self.terms:
            if only_resampled and (not t.resampled or (self.per_point and t.role == "constraint")):
                out[t.name] = Batch(out[t.name].rows, {c: v.detach().to(self.dtype).requires_grad_(True)
                                                        for c, v in out[t.name].coords.items()})
                continue
            out[t.name] = t.batch(self.ev, self.rng)
        return out

    def fresh(self, batches: dict) -> dict:
        """The same points with empty caches and the current dtype (a new autograd graph)."""
        out = {}
        for k, b in batches.items():
            grad = self._coordinate_grad.get(k)
            if grad is None:
                grad = self._coordinate_grad[k] = self.ev.coordinates_need_grad(
                    self.terms_by_name[k].constraint, tuple(sorted(b.coords)))
            out[k] = Batch(b.rows, {c: v.detach().to(self.dtype).requires_grad_(grad) for c, v in b.coords.items()})
        return out

    def project(self) -> None:
        """Clip scalar unknowns into their bounds (``var kappa >= 0``)."""
        with torch.no_grad():
            for name, (lo, hi) in self.bounds.items():
                p = self.params[name]
                p.copy_(torch.clamp(p, torch.as_tensor(lo, dtype=p.dtype), torch.as_tensor(hi, dtype=p.dtype)))

    def heldout_metrics(self) -> dict:
        """The PDE loss (or objective) and every constraint's mean squared residual on the
        held-out points, at the current weights (what the plateau tests judge)."""
        with torch.enable_grad():
            J, res, mse = self.parts(self.fresh(self.heldout))
        out = {"objective": float(J.detach())}
        out.update({t.name: float(mse[t.name].detach()) for t in self.cons})
        return out

    # --- loss ------------------------------------------------------------------------
    def parts(self, batches: dict):
        """``J`` (a scalar tensor), the residual vectors of the constraints, and per-term MSEs."""
        if self.opts["share_passes"]:
            self.ev.share_passes([(t.constraint, batches[t.name]) for t in self.terms])
        res = {t.name: t.residual(self.ev, batches[t.name]) for t in self.terms}
        mse = {k: (r * r).mean() for k, r in res.items()}
        if self.model.objective is not None:
            ob = self.model.objective
            self.ev.for_owner(ob)
            J = self.ev.value(ob.expr, Batch(Rows.unit())).reshape(-1)[0]
            J = -J if ob.sense == "maximize" else J
        else:
            J = sum((mse[t.name] for t in self.pdes), torch.zeros((), dtype=self.dtype))
        return J, res, mse

    def loss(self, batches: dict):
        J, res, mse = self.parts(batches)
        C = [mse[t.name] for t in self.cons]
        if self.method == "penalty":
            L = J + self.opts["weight"] * sum(C, torch.zeros((), dtype=self.dtype))
        elif self.per_point:
            L = J
            for t in self.cons:
                r = res[t.name]
                L = L + (self.point_lam[t.name].to(self.dtype) * r).mean() + 0.5 * self.point_mu * (r * r).mean()
        else:
            L = J
            for i, c in enumerate(C):
                L = L + float(self.lam[i]) * c + 0.5 * float(self.mu[i]) * c * c
        return L, J, res, mse

    # --- multiplier updates --------------------------------------------------------------
    def capu(self, C: np.ndarray, stalled: bool) -> None:
        """The CAPU update: running average every step, multipliers when the loss stalls."""
        self.vbar = ALPHA * self.vbar + (1 - ALPHA) * C ** 2
        if stalled:
            self.lam = self.lam + self.mu * C
            self.mu = np.maximum(ETA / (np.sqrt(self.vbar) + 1e-300), self.mu)

    def hpinn_round(self, res: dict) -> None:
        """One outer round of hPINN: per-point multipliers move by ``mu r``, ``mu`` doubles."""
        for t in self.cons:
            self.point_lam[t.name] = self.point_lam[t.name] + self.point_mu * res[t.name].detach().to(torch.float64)
        self.point_mu *= HPINN_BETA

    # --- phases ------------------------------------------------------------------------
    def out_of_time(self) -> bool:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.hit_limit = True
        return self.hit_limit

    def record(self, L, J, mse, bar, always: bool = False) -> None:
        """History (every ``log_every`` steps, and always for an L-BFGS chunk) and the bar."""
        mse = {k: v.detach() for k, v in mse.items()}
        metrics = {"loss": float(L), "objective" if self.model.objective is not None else "pde": float(J)}
        metrics.update({t.name: float(mse[t.name]) for t in self.terms})
        if self.method == "alm" and not self.per_point:
            metrics.update({"lambda." + t.name: float(self.lam[i]) for i, t in enumerate(self.cons)})
        if always or (self.step - 1) % self.opts["log_every"] == 0:
            self.history.record(self.step - 1, **metrics)
        bar.update(1, **{k: v for k, v in metrics.items() if not k.startswith("lambda.")})

    def adam(self, bar) -> None:
        """``epochs`` Adam steps with resampling and (for ``alm``) multiplier updates; with the
        default budget, until the held-out plateau (at most ``AUTO_EPOCHS``)."""
        epochs, every = self.epochs, self.opts["resample"]
        params = self.parameters()
        # foreach: one batched update for all tensors (a per-tensor loop costs ~0.3 ms a step)
        opt = torch.optim.Adam(params, lr=self.opts["lr"], foreach=True)
        rounds = max(1, self.opts["rounds"])
        prev = math.inf
        for k in range(epochs):
            if self.out_of_time():
                return
            if every and k and k % every == 0:
                self.batches = self.draw(only_resampled=True)
            batches = self.fresh(self.batches)
            opt.zero_grad(set_to_none=True)
            L, J, res, mse = self.loss(batches)
            if not torch.isfinite(L.detach()):
                raise FloatingPointError("the loss became %s at Adam step %d" % (float(L.detach()), k))
            # inputs=: gradients of the weights only, not of the coordinate tensors (which need
            # requires_grad for the field derivatives): ~7% of a step saved
            L.backward(inputs=params)
            opt.step()
            self.project()
            self.step += 1
            self.record(L.detach(), J.detach(), mse, bar)
            if self.method == "alm" and not self.per_point and self.cons:
                C = np.array([float(mse[t.name].detach()) for t in self.cons])
                self.capu(C, float(L.detach()) >= OMEGA * prev)
            elif self.per_point and (k + 1) % max(1, epochs // rounds) == 0 and k + 1 < epochs:
                self.hpinn_round(res)
            prev = float(L.detach())
            self.adam_steps = k + 1
            if self.auto_epochs and (k + 1) % CHECK_EVERY == 0 and self.adam_plateau.update(**self.heldout_metrics()):
                self.converged = self.adam_plateau.reason
                return

    def lbfgs(self, bar) -> None:
        """L-BFGS on fixed points, in chunks of 50 iterations of one optimiser (its curvature
        history carries over); bounds are projected and the time limit checked between chunks,
        hPINN's outer rounds (which change the loss) restart it.  A stage stops when a chunk
        ends on a tolerance (gradient, step, change, or no descent direction left) or lowers the
        loss by less than the fraction ``stall`` of it; the run stops when its evaluations
        (1.25 per iteration of the budget, line searches included) are spent.  Under
        ``precision=mixed`` the first stage runs in float32, where an evaluation costs half as
        much; when it stops, the optimiser and its history move to float64, which finishes the
        budget (float32 cannot resolve the last digits of a loss near the network's floor,
        float64 can)."""
        iters = self.lbfgs_iters
        if iters <= 0:
            return
        stages = [torch.float32, torch.float64] if self.opts["precision"] == "mixed" else [torch.float64]
        done, opt, last = 0, None, None
        # the evaluations of the whole run, as torch's default for one call of `iters`
        # iterations (and DeepXDE's): a chunk that spends its line searches' evaluations has
        # not converged, so the budget is the run's, not the chunk's
        self.evals_left = int(iters * 1.25)
        for dtype in stages:
            self.set_dtype(dtype)
            if opt is not None:
                _move_state(opt, dtype)
            # the float64 stage's first chunk is judged against the float32 stage's last loss,
            # so that a stage that gains nothing stops after one chunk, not two
            done, opt, last = self._lbfgs_stage(bar, done, iters, opt, last)
            if done >= iters or self.evals_left <= 0 or self.out_of_time():
                break

    def _lbfgs_stage(self, bar, done: int, iters: int, opt, last: float | None):
        """L-BFGS chunks in the current dtype until a stop rule, the first judged against the
        loss ``last`` (None: not judged); returns ``(done, optimiser, last loss)``."""
        batches = self.batches
        params = self.parameters()
        chunk = 50
        start = done
        # a stage that continues another starts with a short probe: where float32 already
        # reached the network's floor, float64 gains next to nothing, and 10 iterations say so
        # at a fifth of the cost of a full chunk
        probe = opt is not None
        self.lbfgs_plateau.reset()
        while done < iters and self.evals_left > 0 and not self.out_of_time():
            n = min(PROBE if probe else chunk, iters - done)
            probe = False
            if opt is None:
                # 100 pairs (DeepXDE's too): at the bench budget, half the error of 50 on Burgers
                # and 2D Poisson; the compact form keeps the larger history cheap (.lbfgs)
                opt = CompactLBFGS(self.parameters(), lr=1.0, max_iter=n, history_size=LBFGS_HISTORY,
                                   tolerance_grad=1e-12, tolerance_change=1e-15)
            for group in opt.param_groups:
                group["max_iter"], group["max_eval"] = n, self.evals_left
            state = {"evals": 0}
            best = {"L": math.inf, "weights": None}

            def closure():
                # the time limit is checked before every evaluation (a chunk of 50 iterations
                # and their line searches may take long); the first one of a chunk always runs
                if state["evals"] and self.out_of_time():
                    raise _TimeUp()
                state["evals"] += 1
                opt.zero_grad(set_to_none=True)
                L, J, res, mse = self.loss(self.fresh(batches))
                if torch.isfinite(L.detach()):
                    L.backward(inputs=params)
                    if float(L.detach()) < best["L"]:
                        best.update(L=float(L.detach()), J=J.detach(), mse={k: v.detach() for k, v in mse.items()},
                                    weights=[p.detach().clone() for p in params])
                state.update(L=L.detach(), J=J.detach(), mse={k: v.detach() for k, v in mse.items()}, res=res)
                return L

            before = opt.state[opt._params[0]].get("n_iter", 0)
            try:
                opt.step(closure)
            except _TimeUp:
                # stopped inside a line search: keep the best point this chunk evaluated (the
                # points and the loss are fixed within it), not the trial point
                with torch.no_grad():
                    for p, w in zip(params, best["weights"]):
                        p.copy_(w)
                self.project()
                used = opt.state[opt._params[0]].get("n_iter", before) - before
                self.evals_left -= state["evals"]
                done += used
                self.step += used
                if self.dtype == torch.float32:
                    self.float32_iterations = done - start
                self.record(torch.tensor(best["L"]), best["J"], best["mse"], bar, always=True)
                self.stops.append((str(self.dtype)[6:], "time"))
                return done, None, best["L"]
            self.project()
            used = max(1, opt.state[opt._params[0]].get("n_iter", before + n) - before)
            why = opt.state[opt._params[0]].get("stop")
            self.evals_left -= state["evals"]
            done += used
            self.step += used
            if not torch.isfinite(state["L"]):
                raise FloatingPointError("the loss became %s during L-BFGS" % float(state["L"]))
            self.record(state["L"], state["J"], state["mse"], bar, always=True)
            bar.update(used - 1)
            if self.per_point:
                self.hpinn_round({k: v.detach() for k, v in state["res"].items()})
                opt = None
            loss = float(state["L"])
            if self.auto_lbfgs and self.lbfgs_plateau.update(**self.heldout_metrics()):
                self.stops.append((str(self.dtype)[6:], "converged"))
                self.converged = self.lbfgs_plateau.reason
                last = loss
                break
            if why == "evaluations":  # the run's evaluations are spent
                self.stops.append((str(self.dtype)[6:], "budget"))
                last = loss
                break
            if why not in (None, "iterations"):   # converged: gradient, step, change or direction
                self.stops.append((str(self.dtype)[6:], "converged"))
                self.converged = "converged: L-BFGS reached its tolerance (%s)" % why
                last = loss
                break
            if last is not None and not self.per_point and last - loss <= self.opts["stall"] * abs(last):
                self.stops.append((str(self.dtype)[6:], "stalled"))
                self.converged = ("converged: %d L-BFGS iterations lowered the loss by less than "
                                  "stall=%g of it" % (used, self.opts["stall"]))
                last = loss
                break             # stalled: a whole chunk gained less than the fraction `stall`
            last = loss
        else:
            self.stops.append((str(self.dtype)[6:], "time" if self.hit_limit else "budget"))
        if self.dtype == torch.float32:
            self.float32_iterations = done - start
        return done, opt, last

    @property
    def stop_reason(self) -> str:
        """Why training stopped (``stats["stop_reason"]``): converged (and how), ``budget`` or
        ``time_limit``."""
        last = self.stops[-1][1] if self.stops else None
        if self.lbfgs_iters > 0 and self.stops and last in ("budget", "time"):
            return stop_reason(None, last == "time")
        return stop_reason(self.converged, self.hit_limit)

    def run(self) -> None:
        total = self.epochs + max(0, self.lbfgs_iters)
        if self.terms or self.model.objective is not None:
            # (without either — every constraint an empty family — there is nothing to train)
            with progress(total, "pinn " + self.method) as bar:
                self.adam(bar)
                self.lbfgs(bar)
        if self.dtype != torch.float64:
            self.set_dtype(torch.float64)
