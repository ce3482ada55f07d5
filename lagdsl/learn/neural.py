"""What ``pdl`` and ``supervised`` share: a network policy over a parametric family, its
options, its training data (inputs, a validation split solved exactly), its answers
(completion, repair, measurement, dual bound) and its saved state.

A :class:`NetPolicy` maps scaled inputs to the free variables of a
:class:`~lagdsl.learn.completion.Completion` (the rest come from the equalities); ``pdl``
adds a dual network whose multipliers give each answer a proven dual bound
(:mod:`lagdsl.learn.dual`).
"""
from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from ..errors import BackendRefusal, LagDataError
from ..options import boolean, choice, integer, number, validator_of
from .completion import Completion
from .dual import DualBound
from .family import build_family, input_names
from .policy import TOL, Policy, answer, check_repair

#: Options every network method takes: name -> (default, help, validator).
COMMON_OPTIONS = {
    "width": (128, "hidden units per layer", integer(1, 1 << 16)),
    "depth": (2, "hidden layers", integer(1, 16)),
    "batch": (200, "instances per gradient step", integer(1, 1 << 20)),
    "lr": (1e-3, "Adam learning rate", number(0, 1, low_open=True)),
    "validation": (100, "training scenarios held out and solved exactly to measure the gap "
                   "(early stopping, report)", integer(0, 1 << 20)),
    "patience": (4, "validations without a better gap before training stops", integer(1, 1000)),
    "repair_steps": (10, "correction steps of repair=completion", integer(0, 1000)),
    "dual_steps": (50, "projected gradient-ascent steps on the dual function from the predicted "
                   "multipliers (closed-form case: positive definite objective, free unknowns)",
                   integer(0, 100000)),
    "tol": (TOL, "feasibility tolerance of answers (max violation)", number(0, 1)),
    "backend": ("highs", "exact backend (labels, validation, repair=solve)", choice("highs", "cvxpy")),
    "device": ("cpu", "torch device: cpu or cuda", choice("cpu", "cuda")),
    "threads": (1, "torch CPU threads (0: torch's default; these networks are small, and more "
                "threads than free cores slow them down many times)", integer(0, 1024)),
    "time_limit": (600.0, "seconds of training at most", number(0, None, low_open=True)),
    "progress": (True, "a progress bar on stderr (a terminal only)", boolean()),
}


def coerce(method: str, declared: dict, options: dict) -> dict:
    """Options with defaults filled and each value checked; an unknown name is refused
    with the known ones (and a did-you-mean)."""
    out = {k: spec[0] for k, spec in declared.items()}
    for k, v in (options or {}).items():
        if k not in declared:
            import difflib
            close = difflib.get_close_matches(str(k), list(declared), n=1, cutoff=0.6)
            raise BackendRefusal("method %s has no option %r; %soptions: %s" % (
                method, k, "did you mean %s? " % close[0] if close else "", ", ".join(sorted(declared))))
        check = validator_of(declared[k], k)
        out[k] = check(k, v) if check is not None else v
    return out


def torch_setup(opts: dict):
    """torch, the device and dtype for ``opts`` (``device=cuda`` refused where there is no GPU)."""
    import torch
    if opts["device"] == "cuda" and not torch.cuda.is_available():
        raise BackendRefusal("option device=cuda: torch sees no CUDA device here",
                             hint="use device=cpu (the default)")
    return torch, torch.device(opts["device"]), torch.float64


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's CPU threads set to ``n`` (0: unchanged) inside the block, restored after."""
    import torch
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def mlp(torch, n_in: int, width: int, depth: int, n_out: int):
    """A ReLU multilayer perceptron in float32 (its outputs are taken to float64 before
    completion, repair and measurement, so float32 costs no feasibility)."""
    layers, d = [], n_in
    for _ in range(depth):
        layers += [torch.nn.Linear(d, width), torch.nn.ReLU()]
        d = width
    layers.append(torch.nn.Linear(d, n_out))
    return torch.nn.Sequential(*layers).float()


class Prepared:
    """A model's family, completion and data for training: the scaled training inputs, the
    validation split with its exact optima, the base-data solution."""

    def __init__(self, model, scenarios, opts, seed):
        if not scenarios:
            raise LagDataError("the scenario file holds no scenario: a policy needs training instances")
        ir = model.ir
        self.inputs = input_names(ir, scenarios)
        datas = [s.data for s in scenarios]
        names = ["scenario %s (%s)" % (s.id, s.where or "?") for s in scenarios]
        self.fam = build_family(ir, self.inputs, datas[:2], names[:2])
        self.comp = Completion(self.fam)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(datas))
        nval = min(opts["validation"], max(0, len(datas) // 5))
        self.val_idx, self.train_idx = order[:nval], order[nval:]
        self.theta = self.fam.thetas(datas, names)
        self.datas = datas
        self.exact = None
        t0 = time.perf_counter()
        from .exact import Exact
        self.exact = Exact(model, opts["backend"])
        base_X, base_obj, st, _ = self.exact.solve([{}])
        if st[0] not in ("optimal", "feasible"):
            raise BackendRefusal("the model with the base data is %s; a policy is trained around "
                                 "a solvable base instance" % st[0])
        self.base_y = base_X[0]
        self.fscale = max(1.0, abs(float(base_obj[0])))
        self.val_X, self.val_obj, self.val_status, self.val_secs = self.exact.solve(
            [datas[i] for i in self.val_idx])
        self.t_exact = time.perf_counter() - t0
        mean = self.theta[self.train_idx].mean(axis=0) if len(self.train_idx) else self.fam.theta0
        std = self.theta[self.train_idx].std(axis=0) if len(self.train_idx) > 1 else np.ones(self.fam.P)
        self.in_mean, self.in_std = mean, np.where(std > 1e-12, std, 1.0)
        comp = self.comp
        free = ~(comp.boxZ | comp.loZ | comp.hiZ)
        self.out_center = np.where(free, self.base_y[comp.Z], 0.0)
        self.out_scale = np.ones(comp.nZ)


class NetPolicy(Policy):
    """A network policy over a parametric family (see the module docstring).  ``primal``
    maps scaled inputs to the free variables' raw values; ``dual`` (or None) to the
    multipliers of the completion's inequality rows."""

    method = ""

    def __init__(self, model, inputs, fam, comp, primal, dual, scaling: dict, report=None,
                 options=None, tol=TOL):
        super().__init__(model, inputs, report, options, tol)
        self.fam, self.comp = fam, comp
        self.primal, self.dual = primal, dual
        self.scaling = {k: np.asarray(v, dtype=np.float64) for k, v in scaling.items()}
        self.bound = DualBound(comp) if dual is not None else None
        self._exact = self._cold = None

    # --- the network's answer -------------------------------------------------------------
    def _tensors(self, torch, dev):
        dt = torch.float64
        t = {k: torch.as_tensor(v, dtype=dt, device=dev) for k, v in self.scaling.items()}
        t["T"] = torch.as_tensor(self.comp.T, dtype=dt, device=dev)
        t["S"] = torch.as_tensor(self.comp.S, dtype=dt, device=dev)
        return t

    def predict(self, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, steps: int):
        """``(Y, lam)``: completed answers after ``steps`` correction steps, and the dual
        network's multipliers (None without one), for ``(B, P)`` inputs."""
        import torch
        dev = next(self.primal.parameters()).device
        t = self._tensors(torch, dev)
        with torch.no_grad():
            x = ((torch.as_tensor(theta, dtype=torch.float64, device=dev) - t["in_mean"]) / t["in_std"]).float()
            yZ = self.comp.bounded(t["out_center"] + t["out_scale"] * self.primal(x).double(), torch)
            b = torch.as_tensor(self.comp.b(lo), dtype=torch.float64, device=dev)
            if steps:
                hc = torch.as_tensor(self.comp.hc(lo, hi), dtype=torch.float64, device=dev)
                yZ = self.comp.correct(yZ, b, hc, steps, torch)
            Y = self.comp.complete(yZ, b, t["T"], t["S"])
            lam = None
            if self.dual is not None:
                lam = torch.relu(self.dual(x).double()) * t["dual_scale"]
        return Y.cpu().numpy(), None if lam is None else lam.cpu().numpy()

    def solve_batch(self, datas, repair: str = "completion"):
        """Answers for many instances at once (see :class:`~lagdsl.learn.policy.Policy`)."""
        check_repair(repair)
        t0 = time.perf_counter()
        datas = list(datas)
        fam = self.fam
        theta = fam.thetas([d if d is not None else {} for d in datas])
        c, off, lo, hi = fam.arrays(theta)
        steps = int(self.options.get("repair_steps", 10)) if repair == "completion" else 0
        with torch_threads(self.options.get("threads", 1)):
            Y, lam = self.predict(theta, lo, hi, steps)
        obj = fam.objective(Y, c, off)
        viol = fam.violation(Y, lo, hi)
        bound = (self.bound.bound(lam, Y, c, off, lo, hi, int(self.options.get("dual_steps", 0)))
                 if self.bound is not None else None)
        t2 = time.perf_counter()
        per = (t2 - t0) / max(1, len(datas))
        if repair == "solve":
            return self._solve_exact(datas, Y, obj, viol, per)
        out = []
        for k in range(len(datas)):
            stats = {"inputs": list(self.inputs)}
            if bound is not None:
                stats["dual_bound"] = float(bound[k])
                stats["gap_bound"] = _rel(obj[k], bound[k], fam.sense) if viol[k] <= self.tol else None
            elif self.bound is None:
                stats["dual_bound_reason"] = "method %s predicts no multipliers" % self.method
            else:
                stats["dual_bound_reason"] = self.bound.reason
            out.append(answer(self, Y[k], self.model.ir, objective=float(obj[k]),
                              max_violation=float(viol[k]), repair=repair, stats=stats,
                              times={"policy": per, "batch": t2 - t0}))
        return out

    def _solve_exact(self, datas, Y, obj, viol, per):
        """repair=solve: each prediction warm-starts the exact backend; the stats compare the
        solve with the same backend's re-solve without the prediction (a second compiled
        program that sees the same instances in the same order, so both start from the
        previous instance's solver state and only the prediction differs)."""
        from .exact import Exact
        if self._exact is None:
            backend = self.options.get("backend", "highs")
            self._exact, self._cold = Exact(self.model, backend), Exact(self.model, backend)
        out = []
        for k, d in enumerate(datas):
            prog = self._exact.prog
            warm_given = _warm_start(prog, Y[k])
            t0 = time.perf_counter()
            r = prog.solve(data=d or {})
            t_warm = time.perf_counter() - t0
            t1 = time.perf_counter()
            self._cold.prog.solve(data=d or {})
            t_cold = time.perf_counter() - t1
            r.stats["policy"] = {"method": self.method, "repair": "solve"}
            r.stats["predicted"] = {"objective": float(obj[k]), "max_violation": float(viol[k])}
            r.stats["warm_start"] = {"given": warm_given, "seconds": t_warm, "cold_seconds": t_cold,
                                     "saved_seconds": t_cold - t_warm}
            r.times["policy"] = per
            out.append(r)
        return out

    # --- saving -------------------------------------------------------------------------
    def state(self):
        """Weights of both networks and the scaling, as plain tensors; sizes in ``meta``."""
        import torch
        tensors = {"primal." + k: v for k, v in self.primal.state_dict().items()}
        if self.dual is not None:
            tensors.update({"dual." + k: v for k, v in self.dual.state_dict().items()})
        tensors.update({"scaling." + k: torch.as_tensor(v) for k, v in self.scaling.items()})
        meta = {"width": self.options["width"], "depth": self.options["depth"],
                "n_in": self.fam.P, "n_out": self.comp.nZ, "n_dual": self.comp.m if self.dual is not None else 0}
        return tensors, meta


def restore(cls, model, manifest, tensors):
    """A :class:`NetPolicy` subclass ``cls`` rebuilt from a saved folder (the family is
    lowered again from the saved IR; every tensor's name and shape is checked first)."""
    import torch

    from .saved import expect
    meta, options = manifest["meta"], dict(manifest["options"])
    for k in ("width", "depth", "n_in", "n_out", "n_dual"):
        v = meta.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > (1 << 20):
            raise LagDataError("policy file: meta.%s must be a whole number (got %r)" % (k, v))
    width, depth = meta["width"], meta["depth"]
    for k in ("width", "depth"):
        try:
            validator_of(COMMON_OPTIONS[k], k)(k, meta[k])      # the trainer's own ranges
        except BackendRefusal as exc:
            raise LagDataError("policy file: meta.%s: %s" % (k, exc.message)) from None
    options["width"], options["depth"] = width, depth
    from ..limits import check_size
    values = network_values(meta["n_in"], width, depth, meta["n_out"]) + (
        network_values(meta["n_in"], width, depth, meta["n_dual"]) if meta["n_dual"] else 0)
    check_size(values, "the saved policy's networks")       # before building them
    fam = build_family(model.ir, manifest["inputs"])
    comp = Completion(fam)
    if fam.P != meta["n_in"] or comp.nZ != meta["n_out"] or meta["n_dual"] not in (0, comp.m):
        raise LagDataError("policy file: the saved sizes (inputs %d, outputs %d) do not match the "
                           "saved model's (%d, %d)" % (meta["n_in"], meta["n_out"], fam.P, comp.nZ))
    primal = mlp(torch, fam.P, width, depth, comp.nZ)
    dual = mlp(torch, fam.P, width, depth, comp.m) if meta["n_dual"] else None
    shapes = {"primal." + k: tuple(v.shape) for k, v in primal.state_dict().items()}
    if dual is not None:
        shapes.update({"dual." + k: tuple(v.shape) for k, v in dual.state_dict().items()})
    scal = {"in_mean": fam.P, "in_std": fam.P, "out_center": comp.nZ, "out_scale": comp.nZ}
    if dual is not None:
        scal["dual_scale"] = comp.m
    shapes.update({"scaling." + k: (n,) for k, n in scal.items()})
    expect(tensors, shapes)
    primal.load_state_dict({k[7:]: v.float() for k, v in tensors.items() if k.startswith("primal.")})
    if dual is not None:
        dual.load_state_dict({k[5:]: v.float() for k, v in tensors.items() if k.startswith("dual.")})
    primal.eval()
    scaling = {k: tensors["scaling." + k].double().numpy() for k in scal}
    return cls(model, manifest["inputs"], fam, comp, primal, dual, scaling, None, options,
               manifest["tol"])


def network_values(n_in: int, width: int, depth: int, n_out: int) -> int:
    """Weights and biases of :func:`mlp` with these sizes."""
    d, n = n_in, 0
    for _ in range(depth):
        n += d * width + width
        d = width
    return n + d * n_out + n_out


def _warm_start(prog, y) -> bool:
    """Give the exact backend ``y`` as a starting point where it takes one."""
    h = getattr(getattr(prog, "program", None), "h", None)
    if h is None:
        return False
    try:
        import highspy
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, y))
        sol.value_valid = True
        h.setSolution(sol)
        return True
    except Exception:           # noqa: BLE001 — a highspy without setSolution: start cold
        return False


def _rel(obj: float, bound: float, sense: float):
    """The relative gap a bound proves for an objective value (minimising sense)."""
    if not math.isfinite(bound):
        return None
    return float(max(0.0, sense * (obj - bound)) / max(abs(obj), 1e-9))


def score(metrics: dict, tol: float) -> float:
    """What early stopping minimises: the validation gap after repair, any policy whose
    repaired answers are all feasible ranking before every one whose are not."""
    gap = metrics.get("mean_gap")
    if gap is None:
        return np.inf
    return gap if metrics["violation"] <= tol else 1.0 + gap + metrics["violation"]


class EarlyStop:
    """Early stopping on the validation :func:`score`: keeps the best state of ``nets``
    (restored by :meth:`restore`), and says when to stop (``stopped`` says why)."""

    def __init__(self, nets, opts: dict, t_start: float, what: str):
        self.nets, self.opts, self.t_start, self.what = nets, opts, t_start, what
        self.best, self.best_score, self.stale, self.at = None, np.inf, 0, None
        self.stopped = None

    def check(self, metrics: dict, step: int) -> bool:
        """Record validation ``metrics`` at ``step``; True when training should stop."""
        import copy
        if metrics.get("mean_gap") is not None:
            sc = score(metrics, self.opts["tol"])
            if sc < self.best_score:
                self.best_score, self.stale, self.at = sc, 0, step
                self.best = [copy.deepcopy(n.state_dict()) for n in self.nets]
            else:
                self.stale += 1
                if self.stale >= self.opts["patience"]:
                    self.stopped = "early stop: no better validation gap in %d %s" % (self.stale, self.what)
                    return True
        if time.perf_counter() - self.t_start > self.opts["time_limit"]:
            self.stopped = "time limit"
            return True
        return False

    def restore(self) -> None:
        """Load the best states kept (if any validation ran)."""
        if self.best is not None:
            for n, st in zip(self.nets, self.best):
                n.load_state_dict(st)


def evaluate(policy: NetPolicy, prep: Prepared, idx=None, steps=None) -> dict:
    """Validation metrics of ``policy`` on the validation split: mean and max relative gap
    to the exact optima, max violation before and after repair, mean dual-bound gap."""
    idx = prep.val_idx if idx is None else idx
    if not len(idx):
        return {}
    fam = prep.fam
    th = prep.theta[idx]
    c, off, lo, hi = fam.arrays(th)
    steps = policy.options["repair_steps"] if steps is None else steps
    Y0, lam = policy.predict(th, lo, hi, 0)
    Y, _ = policy.predict(th, lo, hi, steps)
    obj = fam.objective(Y, c, off)
    opt = prep.val_obj
    ok = np.isfinite(opt)
    gap = fam.sense * (obj[ok] - opt[ok]) / np.maximum(np.abs(opt[ok]), 1e-9)
    out = {"instances": int(ok.sum()),
           "mean_gap": float(np.mean(np.abs(gap))) if ok.any() else None,
           "max_gap": float(np.max(np.abs(gap))) if ok.any() else None,
           "violation_before_repair": float(fam.violation(Y0, lo, hi).max()),
           "violation": float(fam.violation(Y, lo, hi).max())}
    if policy.bound is not None and policy.bound.mode is not None:
        bnd = policy.bound.bound(lam, Y, c, off, lo, hi, int(policy.options.get("dual_steps", 0)))
        dg = fam.sense * (opt[ok] - bnd[ok]) / np.maximum(np.abs(opt[ok]), 1e-9)
        out["mean_dual_gap"] = float(np.mean(dg))
        out["max_dual_gap"] = float(np.max(dg))
        raw = policy.bound.bound(lam, Y, c, off, lo, hi, 0)      # the network's multipliers alone
        out["mean_dual_gap_predicted"] = float(np.mean(fam.sense * (opt[ok] - raw[ok])
                                                       / np.maximum(np.abs(opt[ok]), 1e-9)))
    return out
