"""Value and gradient of the augmented Lagrangian, from the numpy tape or from torch.

Both oracles answer ``lagrangian(x, lam, mu, rho) -> Eval`` with

    L_rho(x) = f + lam.h + (rho/2)|h|^2 + (1/2rho) sum(max(0, mu + rho g)^2 - mu^2)

(``rho = 0`` gives the plain Lagrangian ``f + lam.h + mu.g``), and ``residuals(x)`` with the
full ``(f, h, g)``.  :class:`TorchOracle` can sample ``batch`` rows of every constraint
family per call (:func:`~.tape.restrict`): the constraint terms of the sampled rows are scaled
by ``rows / batch`` so that ``L`` and its gradient are unbiased estimates, and ``Eval.eq`` /
``Eval.ineq`` say which multipliers the sampled residuals belong to.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Eval:
    L: float
    grad: np.ndarray
    f: float
    h: np.ndarray
    g: np.ndarray
    eq: np.ndarray | None = None       # positions in lam of h's entries (None: all)
    ineq: np.ndarray | None = None     # positions in mu of g's entries (None: all)


def augmented_value(f, lam, h, mu, g, rho, np_=np):
    """``L_rho`` from its parts (``rho = 0``: the plain Lagrangian)."""
    if rho == 0:
        return f + (lam * h).sum() + (mu * g).sum()
    wg = np_.maximum(mu + rho * g, 0.0 * g)
    return f + (lam * h).sum() + 0.5 * rho * (h * h).sum() + ((wg * wg).sum() - (mu * mu).sum()) / (2.0 * rho)


class NumpyOracle:
    """The numpy tape of an :class:`~.problem.NLP`: exact reverse-mode gradients."""

    def __init__(self, nlp):
        self.nlp = nlp

    def residuals(self, x):
        f, h, g, _ = self.nlp.forward(x)
        return f, h, g

    def lagrangian(self, x, lam, mu, rho, rng=None) -> Eval:
        f, h, g, vals = self.nlp.forward(x)
        if rho == 0:
            wh, wg = lam, mu
        else:
            wh, wg = lam + rho * h, np.maximum(0.0, mu + rho * g)
        L = float(augmented_value(f, lam, h, mu, g, rho))
        return Eval(L, self.nlp.gradient(vals, 1.0, wh, wg), f, h, g)


class _OneThread:
    """torch on one intra-op thread inside the block (restored after).  On the loaded 2-core
    machine an indexing of 4,096 entries took 20 ms with torch's default 2 threads and
    0.013 ms with one: the thread pool's wake-ups dominate vectors of this size."""

    def __init__(self, torch, on: bool):
        self.torch, self.on, self.old = torch, on, None

    def __enter__(self):
        if self.on:
            self.old = self.torch.get_num_threads()
            self.torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.on and self.old is not None:
            self.torch.set_num_threads(self.old)


class TorchOracle:
    """The same tape replayed in torch on ``device`` (autograd), optionally on minibatches."""

    def __init__(self, nlp, device: str = "cpu", batch: int = 0):
        import torch
        from .torch_algebra import TorchTape
        self.torch, self.nlp, self.batch = torch, nlp, int(batch)
        self.device = torch.device(device)
        self.tape = TorchTape(nlp.tape.nodes, [nlp.objective] + nlp.bodies, device)
        m = len(nlp.c_lo)
        # where each row of c goes: its position in h, in the upper part of g, in the lower part
        self.eq_pos = np.full(m, -1, np.int64)
        self.eq_pos[nlp.eq] = np.arange(len(nlp.eq))
        self.up_pos = np.full(m, -1, np.int64)
        self.up_pos[nlp.up] = np.arange(len(nlp.up))
        self.lo_pos = np.full(m, -1, np.int64)
        self.lo_pos[nlp.lo] = len(nlp.up) + np.arange(len(nlp.lo))
        if self.batch and nlp.objective is not None:
            from .tape import restrict, Ref
            self.obj_tape = None
            if isinstance(nlp.objective, Ref):
                nodes, out = restrict(nlp.tape.nodes, nlp.objective, np.array([0]))
                self.obj_tape = TorchTape(nodes, [out], device)

    def _t(self, a, dtype=None):
        return self.torch.as_tensor(np.asarray(a), dtype=dtype or self.torch.float64, device=self.device)

    def residuals(self, x):
        """``(f, h, g)`` at ``x`` over all rows, without gradients."""
        with self.torch.no_grad(), _OneThread(self.torch, self.device.type == "cpu"):
            outs = self.tape(self._t(x))
        return self._split(outs, self.torch)

    def _split(self, outs, lib):
        nlp = self.nlp
        f = nlp.sign * float(outs[0].reshape(-1)[0]) if nlp.objective is not None else 0.0
        if not nlp.families:
            return f, np.zeros(0), np.zeros(0)
        c = np.concatenate([np.broadcast_to(o.detach().cpu().numpy(), (fam.stop - fam.start,))
                            for o, fam in zip(outs[1:], nlp.families)])
        h = c[nlp.eq] - nlp.c_lo[nlp.eq]
        g = np.concatenate([c[nlp.up] - nlp.c_hi[nlp.up], nlp.c_lo[nlp.lo] - c[nlp.lo]])
        return f, h, g

    def lagrangian(self, x, lam, mu, rho, rng=None) -> Eval:
        with _OneThread(self.torch, self.device.type == "cpu"):
            return self._lagrangian(x, lam, mu, rho, rng)

    def _lagrangian(self, x, lam, mu, rho, rng=None) -> Eval:
        torch, nlp = self.torch, self.nlp
        xt = self._t(x).requires_grad_(True)
        if not self.batch:
            outs = self.tape(xt)
            rows = np.arange(len(nlp.c_lo))
            c = torch.cat([o.reshape(-1).expand(fam.stop - fam.start) for o, fam in zip(outs[1:], nlp.families)]) \
                if nlp.families else torch.zeros(0, dtype=torch.float64, device=self.device)
            weight = None
            fval = outs[0].reshape(-1)[0] if nlp.objective is not None else None
        else:
            from .tape import restrict
            from .torch_algebra import TorchTape
            parts, picked, scales = [], [], []
            for b, fam in zip(nlp.bodies, nlp.families):
                n = fam.stop - fam.start
                if n <= self.batch:
                    S = np.arange(n)
                else:
                    S = np.sort(rng.choice(n, self.batch, replace=False))
                if hasattr(b, "id"):
                    nodes, out = restrict(nlp.tape.nodes, b, S)
                    parts.append(TorchTape(nodes, [out], self.device)(xt)[0].reshape(-1).expand(len(S)))
                else:
                    parts.append(self._t(np.broadcast_to(b, (n,))[S]))
                picked.append(fam.start + S)
                scales.append(np.full(len(S), n / len(S)))
            rows = np.concatenate(picked) if picked else np.zeros(0, np.int64)
            c = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64, device=self.device)
            weight = np.concatenate(scales) if scales else np.zeros(0)
            fval = None
            if nlp.objective is not None:
                fval = self.obj_tape(xt)[0].reshape(-1)[0] if self.obj_tape is not None else \
                    self._t(np.asarray(nlp.objective).reshape(-1)[:1])[0]
        lo, hi = nlp.c_lo[rows], nlp.c_hi[rows]
        e, u, l = self.eq_pos[rows] >= 0, self.up_pos[rows] >= 0, self.lo_pos[rows] >= 0
        ct = c
        h = ct[self._t(np.flatnonzero(e), torch.int64)] - self._t(lo[e])
        g = torch.cat([ct[self._t(np.flatnonzero(u), torch.int64)] - self._t(hi[u]),
                       self._t(lo[l]) - ct[self._t(np.flatnonzero(l), torch.int64)]])
        eq_idx = self.eq_pos[rows][e]
        in_idx = np.concatenate([self.up_pos[rows][u], self.lo_pos[rows][l]])
        lam_t, mu_t = self._t(lam[eq_idx]), self._t(mu[in_idx])
        f = nlp.sign * fval if fval is not None else torch.zeros((), dtype=torch.float64, device=self.device)
        if weight is None:
            L = augmented_value(f, lam_t, h, mu_t, g, rho, torch)
        else:
            wh = self._t(weight[e])
            wi = self._t(np.concatenate([weight[u], weight[l]]))
            L = f + (wh * lam_t * h).sum() + 0.5 * rho * (wh * h * h).sum()
            if rho == 0:
                L = L + (wi * mu_t * g).sum()
            else:
                wg = torch.clamp(mu_t + rho * g, min=0.0)
                L = L + (wi * (wg * wg - mu_t * mu_t)).sum() / (2.0 * rho)
        if L.requires_grad:
            L.backward()
            grad = xt.grad.detach().cpu().numpy().astype(np.float64)
        else:
            grad = np.zeros(len(x))
        full = weight is None
        return Eval(float(L.detach()), grad, float(f.detach()) if hasattr(f, "detach") else float(f),
                    h.detach().cpu().numpy(), g.detach().cpu().numpy(),
                    None if full else eq_idx, None if full else in_idx)
