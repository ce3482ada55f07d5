"""``ts-ddr``: two-stage deep decision rules over the stages of a model (docs/learn.md, "ts-ddr").

After Rosemberg, Street, Vallada & Van Hentenryck (2024), "Efficiently Training Deep-Learning
Parametric Policies using Lagrangian Duality" (DecisionRules.jl), in its stage-wise rollout
form.  A causal network (a GRU over the stages) maps the inputs seen up to stage t to
*targets* for the ``--targets`` variables of stage t.  Stage t (sliced from the model by
:mod:`.stages`) is then solved with the realised past as data and an L1 pull towards the
targets::

    min  cost_t(x_t) + penalty * |x_target - target|_1   s.t. the stage rows

The rollout is the answer: feasible whenever every stage is, and non-anticipative because
neither the network nor a stage sees data of later stages.

Training minimises the rollout's total stage objective over the training scenarios.  The
gradient with respect to a stage's targets comes from duals, never by differentiating the
solver: the dual of the target rows (``d value_t / d target_t``) plus, where the target was
followed (so the realised state moves with it), the next stage's sensitivity to that state,
``-A_past' y_{t+1}`` from the duals of its rows.  It is back-propagated through the network.

**penalty** (option ``penalty``): following a feasible target is optimal for the stage when
the penalty exceeds the marginal value of the target variables.  ``auto`` takes
``10 * max|c| * max(1, max|A|)`` over the stage costs and coefficients (for the hydrothermal
example 5,000, ten times the deficit cost): an upper bound in practice for models in which
one unit of a state displaces at most ``max|A|`` units of the most expensive column.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import BackendRefusal, LagDataError
from ..lower.instance import max_violation
from ..progress import progress
from .policy import Policy, answer, check_repair
from .stages import ScenarioLowering, Staging, StageSolver, param_stage_axis

#: option -> (default, type, help)
OPTIONS = {
    "penalty": ("auto", float, "L1 penalty on deviating from a target (auto: 10 max|c| max(1, max|A|))"),
    "epochs": (30, int, "passes over the training scenarios"),
    "batch": (32, int, "scenarios per gradient step (one block-diagonal solve per stage)"),
    "lr": (0.01, float, "Adam learning rate"),
    "hidden": (32, int, "GRU width"),
    "valid": (0.15, float, "share of the training scenarios held out for early stopping"),
    "patience": (8, int, "epochs without a better validation cost before stopping"),
    "init": ("none", str, "pre-training of the network: none (random weights), foresight (regress "
             "the targets of full-horizon solves of the training scenarios), mean (the mean-value plan)"),
    "time_limit": (480.0, float, "seconds of training at most (checked after each epoch)"),
    "progress": (True, bool, "a progress bar on stderr (a terminal only)"),
}
INITS = ("none", "foresight", "mean")


def parse_options(options: dict | None) -> dict:
    """The method's options with defaults, each converted to its type (CLI values arrive as
    text); an unknown option or a bad value is refused naming it."""
    out = {k: v[0] for k, v in OPTIONS.items()}
    for k, v in (options or {}).items():
        if k not in OPTIONS:
            import difflib
            close = difflib.get_close_matches(k, list(OPTIONS), n=1)
            raise BackendRefusal("ts-ddr has no option %r; options: %s" % (k, ", ".join(OPTIONS)),
                                 hint="did you mean %s?" % close[0] if close else None)
        if k == "penalty" and v == "auto":
            out[k] = v
            continue
        if OPTIONS[k][1] is bool:
            if str(v).lower() not in ("true", "false", "1", "0"):
                raise BackendRefusal("ts-ddr option %s=%r: expected true or false" % (k, v))
            out[k] = str(v).lower() in ("true", "1")
            continue
        try:
            out[k] = OPTIONS[k][1](v)
        except (TypeError, ValueError):
            raise BackendRefusal("ts-ddr option %s=%r: expected %s" % (k, v, OPTIONS[k][1].__name__)) from None
    if out["init"] not in INITS:
        raise BackendRefusal("ts-ddr option init=%r: one of %s" % (out["init"], ", ".join(INITS)))
    for k in ("epochs", "batch", "hidden", "patience"):
        if out[k] < 1:
            raise BackendRefusal("ts-ddr option %s=%r: at least 1" % (k, out[k]))
    if out["penalty"] != "auto" and not (0 <= out["penalty"] < 1e100):
        raise BackendRefusal("ts-ddr option penalty=%r: a number >= 0 (or auto)" % out["penalty"])
    if not (0 <= out["valid"] < 1) or not (0 < out["lr"] < 1e3) or out["time_limit"] <= 0:
        raise BackendRefusal("ts-ddr options: valid in [0, 1), lr > 0 and time_limit > 0")
    return out


def auto_penalty(staging: Staging, low) -> float:
    """The default penalty (see the module docstring)."""
    c = np.abs(low.c[staging.col_stage >= 0])
    a = np.abs(low.A.data)
    return float(10.0 * max(c.max(initial=0.0), 1.0) * max(1.0, a.max(initial=0.0)))


class Engine:
    """The stages of one model and their solvers: rollouts of a batch of scenarios."""

    def __init__(self, model, stages: str, targets, inputs, penalty):
        self.model = model
        self.lowering = ScenarioLowering(model)
        self.base = self.lowering.base
        self.staging = Staging(model.ir, self.base, stages, targets)
        self.inputs = list(inputs)
        self.penalty = auto_penalty(self.staging, self.base) if penalty == "auto" else float(penalty)
        self._solvers: dict = {}
        self.target_lo = np.stack([self.base.col_lo[c] for c in self.staging.target_cols])
        self.target_hi = np.stack([self.base.col_hi[c] for c in self.staging.target_cols])

    def lower(self, datas) -> list:
        """The :class:`~.stages.Lowered` arrays of each scenario's data."""
        return [self.lowering.lower(d) for d in datas]

    def solvers(self, B: int, penalty: float) -> list[StageSolver]:
        """One solver per stage for batches of ``B`` (built once, then re-solved warm)."""
        key = (B, penalty)
        if key not in self._solvers:
            self._solvers[key] = [StageSolver(self.staging, t, B, penalty, self.base)
                                  for t in range(self.staging.H)]
        return self._solvers[key]

    def rollout(self, lows, targets: np.ndarray | None, B: int | None = None) -> dict:
        """Stage-by-stage solves of the scenarios ``lows`` following ``targets`` (n x H x K;
        None: the myopic policy, no pull), in batches of ``B``.  Returns ``x`` (n x N),
        ``value`` (n x H: stage objectives with the penalty), ``cost`` (n: the model's
        objective in the minimisation sense), ``grad`` (n x H x K: d total value / d target),
        ``ok`` (n: every stage solved)."""
        n = len(lows)
        B = B or n
        out = {k: [] for k in ("x", "value", "grad", "ok")}
        for a in range(0, n, B):
            part = list(lows[a:a + B])
            tg = None if targets is None else targets[a:a + B]
            got = self._batch(part, tg, B)
            for k in out:
                out[k].append(got[k])
        res = {k: np.concatenate(v) for k, v in out.items()}
        res["cost"] = np.array([low.c @ x + low.offset for low, x in zip(lows, res["x"])])
        return res

    def _batch(self, lows, targets, B: int) -> dict:
        """One batch (padded to ``B`` by repeating its first scenario)."""
        st = self.staging
        n, H, K = len(lows), st.H, st.K
        pad = lows + [lows[0]] * (B - n)
        if targets is None:
            penalty, tg = 0.0, np.zeros((B, H, K))
        else:
            penalty = self.penalty
            tg = np.concatenate([targets, np.repeat(targets[:1], B - n, axis=0)]) if B > n else targets
        solvers = self.solvers(B, penalty)
        N = len(st.col_stage)
        X = np.zeros((B, N))
        value = np.zeros((B, H))
        tdual = np.zeros((B, H, K))
        chain = np.zeros((B, H, K))
        followed = np.zeros((B, H, K), dtype=bool)
        ok = np.ones(B, dtype=bool)
        LO = np.stack([low.lo for low in pad])
        HI = np.stack([low.hi for low in pad])
        C = np.stack([low.c for low in pad])
        for t in range(H):
            rows, cols = st.rows[t], st.cols[t]
            Ap, past = st.A_past[t]
            shift = (Ap @ X[:, past].T).T if len(past) else 0.0
            lo, hi = LO[:, rows] - shift, HI[:, rows] - shift
            got = solvers[t].solve(lo, hi, tg[:, t], C[:, cols])
            if not got[0]:
                got = self._one_by_one(t, lo, hi, tg[:, t], C[:, cols], penalty, ok)
            _, x, v, y, yt = got
            X[:, cols] = x
            value[:, t], tdual[:, t] = v, yt
            sel = np.searchsorted(cols, st.target_cols[t])
            followed[:, t] = np.abs(x[:, sel] - tg[:, t]) <= 1e-7 * (1 + np.abs(tg[:, t]))
            if t > 0 and len(past):
                # d value_t / d (realised earlier state) = -A_past' y, at the previous targets
                chain[:, t - 1] = -(st.prev_targets[t].T @ y.T).T
        grad = tdual + followed * chain
        return {"x": X[:n], "value": value[:n], "grad": grad[:n], "ok": ok[:n]}

    def _one_by_one(self, t, lo, hi, tg, costs, penalty, ok):
        """A batch whose stage solve failed, solved instance by instance so that only the
        instances without a solution are marked (their stage values are zeros)."""
        one = self.solvers(1, penalty)[t]
        B = lo.shape[0]
        x = np.zeros((B, one.n))
        v, y, yt = np.zeros(B), np.zeros((B, one.m)), np.zeros((B, one.K))
        for i in range(B):
            good, xi, vi, yi, yti = one.solve(lo[i:i + 1], hi[i:i + 1], tg[i:i + 1], costs[i:i + 1])
            if good:
                x[i], v[i], y[i], yt[i] = xi[0], vi[0], yi[0], yti[0]
            else:
                ok[i] = False
        return True, x, v, y, yt

    def foresight(self, lows) -> tuple[np.ndarray, np.ndarray]:
        """Full-horizon optima of the scenarios: ``(x (n x N), cost (n))`` (the
        perfect-foresight bound; NaN where HiGHS finds no optimum)."""
        import highspy
        X, cost = [], []
        for low in lows:
            h = self._full()
            h.changeRowsBounds(len(low.lo), np.arange(len(low.lo), dtype=np.int32), low.lo, low.hi)
            h.changeColsCost(len(low.c), np.arange(len(low.c), dtype=np.int32), low.c)
            h.clearSolver()         # cold: a degenerate optimum must not depend on the last one
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                x = np.array(h.getSolution().col_value)
                X.append(x)
                cost.append(low.c @ x + low.offset)
            else:                   # no bound for this scenario (its rows have no point)
                X.append(np.full(len(low.c), np.nan))
                cost.append(np.nan)
        return np.array(X), np.array(cost)

    def _full(self):
        """A HiGHS model of the whole horizon in unscaled arrays (built once)."""
        if not hasattr(self, "_full_h"):
            from ..backends.highs.model import new_highs, pass_arrays
            b = self.base
            self._full_h = h = new_highs({})
            pass_arrays(h, b.c, b.col_lo, b.col_hi, b.lo, b.hi, b.A, what="the whole horizon")
        return self._full_h

    def plan_targets(self, x: np.ndarray) -> np.ndarray:
        """The target columns' values of full points ``x`` (n x N) as targets (n x H x K)."""
        return np.stack([x[:, c] for c in self.staging.target_cols], axis=1)


class Features:
    """The network's inputs per stage: each input param's entries of that stage (a param
    not indexed by the stage set is known from the start: all its entries every stage),
    standardised with the training scenarios' mean and spread, then a one-hot stage."""

    def __init__(self, ir, set_name: str, inputs, mean=None, std=None):
        self.ir, self.set_name, self.inputs = ir, set_name, list(inputs)
        self.H = len(ir.sets[set_name])
        self.axes = {n: param_stage_axis(ir, n, set_name) for n in self.inputs}
        self.mean, self.std = mean, std

    def raw(self, lows_params) -> np.ndarray:
        """``lows_params``: per scenario a dict name -> array; returns n x H x F."""
        out = []
        for params in lows_params:
            parts = []
            for n in self.inputs:
                v, ax = np.asarray(params[n], dtype=np.float64), self.axes[n]
                if ax is None:
                    parts.append(np.tile(v.reshape(1, -1), (self.H, 1)))
                else:
                    parts.append(np.moveaxis(v, ax, 0).reshape(self.H, -1))
            out.append(np.concatenate(parts, axis=1) if parts else np.zeros((self.H, 0)))
        return np.stack(out)

    def fit(self, raw: np.ndarray) -> None:
        """Set the standardisation from training features."""
        self.mean = raw.mean(axis=0)
        std = raw.std(axis=0)
        self.std = np.where(std > 1e-9, std, 1.0)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        z = (raw - self.mean) / self.std
        eye = np.broadcast_to(np.eye(self.H), (raw.shape[0], self.H, self.H))
        return np.concatenate([z, eye], axis=2)


def params_of(low, inputs) -> dict:
    """The values of the input params in a scenario's lowered model."""
    return {n: low.inst.model.params[n].values for n in inputs}


def make_net(n_in: int, K: int, hidden: int, lo: np.ndarray, hi: np.ndarray):
    """A causal network: GRU over the stages, then targets in ``[lo, hi]`` (H x K) by a
    scaled sigmoid."""
    import torch

    class CausalTargets(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(n_in, hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, K)
            self.register_buffer("lo", torch.tensor(lo, dtype=torch.float32))
            self.register_buffer("hi", torch.tensor(hi, dtype=torch.float32))

        def forward(self, f):
            h, _ = self.gru(f)
            return self.lo + (self.hi - self.lo) * torch.sigmoid(self.head(h))

    return CausalTargets()


class TsddrPolicy(Policy):
    """A trained ts-ddr policy: the network, the stage set, the targets and the penalty.
    Answers are stage-by-stage rollouts (stage solves by HiGHS)."""

    method = "ts-ddr"

    def __init__(self, model, inputs, engine: Engine, features: Features, net, report=None,
                 options=None, tol: float = 1e-6):
        super().__init__(model, inputs, report, options, tol)
        self.engine, self.features, self.net = engine, features, net

    def targets(self, lows) -> np.ndarray:
        """The network's targets (n x H x K) for scenarios already lowered."""
        import torch
        f = self.features(self.features.raw([params_of(l, self.inputs) for l in lows]))
        with torch.no_grad():
            return self.net(torch.tensor(f, dtype=torch.float32)).double().numpy()

    def solve_batch(self, datas, repair: str = "completion") -> list:
        """The rollouts of ``datas`` (override dicts in the data-file shapes).  ``repair``
        ``completion`` or ``solve`` (both mean the stage solves, which make the answer
        feasible whenever each stage is); ``none`` is refused: a ts-ddr answer is a rollout."""
        check_repair(repair, ("completion", "solve"))
        t0 = time.perf_counter()
        lows = self.engine.lower([d or {} for d in datas])
        # batch sizes are powers of two (the last batch padded), so that few sets of stage
        # solvers are ever built
        B = min(32, 1 << max(0, len(lows) - 1).bit_length())
        roll = self.engine.rollout(lows, self.targets(lows), B=B)
        dt = (time.perf_counter() - t0) / max(1, len(lows))
        out = []
        for low, x, good in zip(lows, roll["x"], roll["ok"]):
            inst = low.inst
            obj = None if inst.objective is None else float(inst.objective.evaluate(x)[0])
            stats = {"stages": self.engine.staging.H, "penalty": self.engine.penalty}
            if not good:
                stats["notes"] = ["a stage solve had no solution: the rollout is not feasible"]
            out.append(answer(self, x, inst.model, objective=obj, max_violation=max_violation(inst, x),
                              repair="stage solves", stats=stats, times={"solve": dt}))
        return out

    def state(self) -> tuple[dict, dict]:
        """The network's weights; the stage set, targets, penalty, sizes and scaling."""
        f = self.features
        meta = {"stages": self.engine.staging.set_name, "targets": self.engine.staging.targets,
                "penalty": self.engine.penalty, "hidden": self.net.head.in_features,
                "feature_mean": f.mean, "feature_std": f.std}
        return {k: v for k, v in self.net.state_dict().items()}, meta


def _read_targets(targets) -> list[str]:
    if targets is None:
        return []
    if isinstance(targets, str):
        return [t.strip() for t in targets.split(",") if t.strip()]
    return list(targets)


def train(model, base_data, scenarios, *, targets, stages, options, seed) -> TsddrPolicy:
    """Train a ts-ddr policy for ``model`` (a :class:`lagdsl.Model` with the base data bound;
    ``base_data`` must be None) on ``scenarios`` (:class:`~lagdsl.sweep.scenarios.
    Scenario` objects or override dicts), with ``stages`` the time set and ``targets`` the
    target variables (names, or a comma-separated string)."""
    import torch
    opts = parse_options(options)
    if not stages:
        raise BackendRefusal("ts-ddr needs --stages SET (the time set the model is sliced along)")
    if base_data is not None:
        raise BackendRefusal("ts-ddr trains on the model with its base data bound "
                             "(lagdsl.load(path, data=...)); base_data must be None")
    datas = [s.data if hasattr(s, "data") else dict(s) for s in scenarios]
    inputs = sorted({k for d in datas for k in d})
    for k in inputs:
        if k not in model.ir.params:
            raise LagDataError("ts-ddr: scenario key %s is not a param of the model (the policy's "
                               "inputs are params)" % k)
    if len(datas) < 2:
        raise LagDataError("ts-ddr: at least 2 training scenarios are needed, got %d" % len(datas))
    t_start = time.perf_counter()
    engine = Engine(model, stages, _read_targets(targets), inputs, opts["penalty"])
    engine.staging.check_causal(engine.lowering, inputs, engine.base)
    lows = engine.lower(datas)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lows))
    n_valid = int(round(opts["valid"] * len(lows))) if len(lows) >= 4 else 0
    valid = [lows[i] for i in order[:n_valid]]
    train_l = [lows[i] for i in order[n_valid:]]
    feats = Features(model.ir, stages, inputs)
    raw = feats.raw([params_of(l, inputs) for l in train_l])
    feats.fit(raw)
    F = torch.tensor(feats(raw), dtype=torch.float32)
    torch.manual_seed(0 if seed is None else int(seed))
    staging = engine.staging
    net = make_net(F.shape[2], staging.K, opts["hidden"], engine.target_lo, engine.target_hi)
    policy = TsddrPolicy(model, inputs, engine, feats, net, options={**opts, "penalty": engine.penalty, "backend": "highs"})
    B = min(opts["batch"], len(train_l))
    history = []
    _pretrain(policy, train_l, F, opts["init"], datas, engine)
    check = valid or train_l
    best = _evaluate(policy, check, B)
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    history.append({"epoch": 0, "valid_cost": best})
    opt = torch.optim.Adam(net.parameters(), lr=opts["lr"])
    stale, stopped = 0, "epochs"
    with progress(opts["epochs"], desc="ts-ddr", enabled=None if opts["progress"] else False) as bar:
        for epoch in range(1, opts["epochs"] + 1):
            perm = rng.permutation(len(train_l))
            losses = []
            for a in range(0, len(perm), B):
                idx = perm[a:a + B]
                pred = net(F[idx])
                roll = engine.rollout([train_l[i] for i in idx], pred.detach().double().numpy(), B=B)
                opt.zero_grad()
                pred.backward(torch.tensor(roll["grad"] / len(idx), dtype=torch.float32))
                opt.step()
                losses.append(float(roll["value"].sum(axis=1).mean()))
            cost = _evaluate(policy, check, B)
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "valid_cost": cost})
            bar.update(1, loss=history[-1]["loss"], valid_cost=cost)
            if cost < best - 1e-9 * abs(best):
                best, stale = cost, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
            if stale >= opts["patience"]:
                stopped = "patience"
                break
            if time.perf_counter() - t_start > opts["time_limit"]:
                stopped = "time_limit"
                break
    net.load_state_dict(best_state)
    t_train = time.perf_counter() - t_start
    policy.report = {"method": "ts-ddr", "train_scenarios": len(train_l), "valid_scenarios": len(valid),
                     "valid_cost": best, "epochs": len(history) - 1, "stopped": stopped,
                     "penalty": engine.penalty, "train_time_s": t_train,
                     "validation": validation(policy, check, train_l, B), "history": history}
    return policy


def validation(policy: TsddrPolicy, lows, train_lows, B: int) -> dict:
    """The policy's rollouts on ``lows`` against the perfect-foresight bound (a
    full-horizon solve per scenario, which knows the future: the gaps are to a bound, not to
    a causal optimum), with the mean-value plan and the myopic policy beside it."""
    roll = policy.engine.rollout(lows, policy.targets(lows), B=B)
    _, pf = policy.engine.foresight(lows)
    gap = (roll["cost"] - pf) / np.maximum(np.abs(pf), 1e-9)
    base = baselines(policy.engine, train_lows, lows, B=B)
    viol = max((max_violation(l.inst, x) for l, x in zip(lows, roll["x"])), default=0.0)
    return {"instances": len(lows), "bound": "perfect foresight", "mean_cost": float(roll["cost"].mean()),
            "mean_gap": float(gap.mean()), "max_gap": float(gap.max()), "violation": float(viol),
            "feasible": float(roll["ok"].mean()), "mean_value_cost": base["mean_value"],
            "myopic_cost": base["myopic"], "foresight_cost": base["foresight"]}


def _evaluate(policy: TsddrPolicy, lows, B: int) -> float:
    """Mean rollout cost (the model's objective, minimisation sense) over ``lows``."""
    roll = policy.engine.rollout(lows, policy.targets(lows), B=B)
    return float(roll["cost"].mean())


def _pretrain(policy: TsddrPolicy, train_l, F, init: str, datas, engine: Engine, steps: int = 300) -> None:
    """Regress the network on starting targets: those of the full-horizon optimum of each
    training scenario (``foresight``) or of the mean-value plan (``mean``); ``none`` keeps
    the random initialisation.  The network stays causal either way: it learns what the
    past predicts of those targets."""
    import torch
    if init == "none":
        return
    if init == "foresight":
        X, _ = engine.foresight(train_l)
        Y = engine.plan_targets(X)
    else:
        Y = np.repeat(mean_plan(engine, train_l)[None], len(train_l), axis=0)
    Yt = torch.tensor(Y, dtype=torch.float32)
    scale = torch.tensor(np.maximum(engine.target_hi - engine.target_lo, 1e-9), dtype=torch.float32)
    opt = torch.optim.Adam(policy.net.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        loss = (((policy.net(F) - Yt) / scale) ** 2).mean()
        loss.backward()
        opt.step()


def mean_plan(engine: Engine, lows) -> np.ndarray:
    """The mean-value plan's targets (H x K): the full-horizon optimum with every row
    bound and cost at its mean over ``lows``."""
    from .stages import Lowered
    b = engine.base
    m = Lowered(b.inst, b.A, np.mean([l.lo for l in lows], axis=0), np.mean([l.hi for l in lows], axis=0),
                np.mean([l.c for l in lows], axis=0), b.offset, b.col_lo, b.col_hi)
    X, _ = engine.foresight([m])
    return engine.plan_targets(X)[0]


def baselines(engine: Engine, train_lows, test_lows, B: int = 32) -> dict:
    """Mean costs on ``test_lows`` of the mean-value plan (targets of one full solve on the
    mean data of ``train_lows``, followed stage by stage), the myopic policy (each stage
    alone, no targets) and the perfect-foresight bound (a full-horizon solve per scenario);
    with the share of feasible rollouts."""
    plan = mean_plan(engine, train_lows)
    mv = engine.rollout(test_lows, np.repeat(plan[None], len(test_lows), axis=0), B=B)
    my = engine.rollout(test_lows, None, B=B)
    _, pf = engine.foresight(test_lows)
    return {"mean_value": float(mv["cost"].mean()), "mean_value_ok": float(mv["ok"].mean()),
            "myopic": float(my["cost"].mean()), "myopic_ok": float(my["ok"].mean()),
            "foresight": float(pf.mean())}


def load(model, manifest, tensors) -> TsddrPolicy:
    """The policy saved by :meth:`TsddrPolicy.save` (``manifest`` and ``tensors`` already
    read safely by :func:`lagdsl.learn.saved.read_policy_dir`)."""
    from .saved import expect
    meta, inputs = manifest["meta"], manifest["inputs"]

    def fail(why):
        return LagDataError("policy file: ts-ddr meta %s" % why,
                            hint="the folder must hold what lagdsl learn --save wrote")
    for k in ("stages", "targets", "penalty", "hidden", "feature_mean", "feature_std"):
        if k not in meta:
            raise fail("lacks %s" % k)
    if not isinstance(meta["stages"], str) or not isinstance(meta["targets"], list) \
            or not all(isinstance(t, str) for t in meta["targets"]):
        raise fail("stages must be a set name and targets a list of variable names")
    hidden = meta["hidden"]
    if not isinstance(hidden, int) or isinstance(hidden, bool) or not 1 <= hidden <= 4096:
        raise fail("hidden must be an integer in 1..4096")
    penalty = meta["penalty"]
    if not isinstance(penalty, (int, float)) or isinstance(penalty, bool) or not 0 <= penalty < 1e100:
        raise fail("penalty must be a number >= 0")
    engine = Engine(model, meta["stages"], meta["targets"], inputs, float(penalty))
    feats = Features(model.ir, meta["stages"], inputs)
    probe = feats.raw([params_of(engine.base, inputs)])
    try:
        mean = np.array(meta["feature_mean"], dtype=np.float64)
        std = np.array(meta["feature_std"], dtype=np.float64)
    except (TypeError, ValueError):
        raise fail("feature_mean/feature_std must be arrays of numbers") from None
    if mean.shape != probe.shape[1:] or std.shape != probe.shape[1:] \
            or not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise fail("feature scaling has the wrong shape or values")
    feats.mean, feats.std = mean, std
    K, H = engine.staging.K, engine.staging.H
    net = make_net(probe.shape[2] + H, K, hidden, engine.target_lo, engine.target_hi)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    expect(tensors, shapes)
    net.load_state_dict(tensors)
    return TsddrPolicy(model, inputs, engine, feats, net, report=None,
                       options=manifest.get("options"), tol=manifest.get("tol", 1e-6))
