"""L-BFGS with the search direction from the compact representation of its inverse Hessian.

``torch.optim.LBFGS`` forms the direction ``-H g`` by the two-loop recursion: a Python loop of
four small vector operations per stored pair, about 1.6 ms an iteration with 100 pairs on one
CPU thread for a network of 2,000 weights, a quarter of a PINN's L-BFGS iteration.  The compact
representation (Byrd, Nocedal & Schnabel 1994) gives the same ``H g`` from the pairs stacked as
matrices ``S`` and ``Y`` (``k x n``, oldest first) with ``H0 = gamma I``:

    H g = gamma g + S^T R^-T ((D + gamma Y Y^T) r - gamma Y g) - gamma Y^T r,   r = R^-1 S g

where ``R`` is the upper triangle of ``S Y^T`` and ``D`` its diagonal: four ``k x n`` products
and two ``k x k`` triangular solves, whatever ``k``.  ``S Y^T`` and ``Y Y^T`` are kept up to date
as pairs come and go (three ``k x n`` products a pair).

Only the direction differs from torch's optimiser: the first step, the pairs kept (curvature
``y.s > 1e-10``), ``gamma = y.s / y.y``, the strong-Wolfe line search (torch's own) and the
stopping tests are the same, so the iterates agree with ``torch.optim.LBFGS`` up to rounding
(``tests/test_pinn_lbfgs.py``).
"""
from __future__ import annotations

import torch
from torch.optim.lbfgs import _strong_wolfe

#: a pair is kept only with curvature ``y.s`` above this (as torch's optimiser)
CURVATURE_MIN = 1e-10


class CompactLBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` (strong-Wolfe line search only) with a compact-form direction."""

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, history_size=100, tolerance_grad=1e-7,
                 tolerance_change=1e-9):
        super().__init__(params, lr=lr, max_iter=max_iter, max_eval=max_eval, history_size=history_size,
                         tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                         line_search_fn="strong_wolfe")

    @staticmethod
    def direction(g, S, Y, SY, YY, gamma):
        """``-H g`` for the pairs ``S``, ``Y`` (rows, oldest first), ``SY = S Y^T``,
        ``YY = Y Y^T`` and ``H0 = gamma I``."""
        if S is None or not len(S):
            return -g
        R = torch.triu(SY)
        r = torch.linalg.solve_triangular(R, (S @ g)[:, None], upper=True)
        z = torch.diagonal(SY)[:, None] * r + gamma * (YY @ r) - gamma * (Y @ g)[:, None]
        top = torch.linalg.solve_triangular(R.T, z, upper=False)
        return -(gamma * g + S.T @ top[:, 0] - gamma * (Y.T @ r[:, 0]))

    def _remember(self, state, s, y, m):
        """Append the pair ``(s, y)``, dropping the oldest beyond ``m``; update ``S Y^T`` and ``Y Y^T``."""
        S, Y = state.get("S"), state.get("Y")
        if S is None:
            S, Y = s[None], y[None]
            SY, YY = (s @ y).reshape(1, 1), (y @ y).reshape(1, 1)
        else:
            Sy, sY, Yy, sy, yy = S @ y, Y @ s, Y @ y, s @ y, y @ y
            SY = torch.cat([torch.cat([state["SY"], Sy[:, None]], 1), torch.cat([sY, sy.reshape(1)])[None]], 0)
            YY = torch.cat([torch.cat([state["YY"], Yy[:, None]], 1), torch.cat([Yy, yy.reshape(1)])[None]], 0)
            S, Y = torch.cat([S, s[None]]), torch.cat([Y, y[None]])
            if len(S) > m:
                S, Y, SY, YY = S[1:], Y[1:], SY[1:, 1:], YY[1:, 1:]
        state.update(S=S, Y=Y, SY=SY, YY=YY)

    @torch.no_grad()
    def step(self, closure):
        """Up to ``max_iter`` iterations; ``closure`` returns the loss after ``backward``."""
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, m = group["lr"], group["max_iter"], group["history_size"]
        max_eval, tol_grad, tol_change = group["max_eval"], group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._gather_flat_grad()
        state["stop"] = None
        if g.abs().max() <= tol_grad:
            state["stop"] = "gradient"
            return orig_loss
        d, t = state.get("d"), state.get("t")
        g_prev, loss_prev = state.get("prev_flat_grad"), state.get("prev_loss")
        gamma = state.get("H_diag", 1.0)

        iters = 0
        while iters < max_iter:
            iters += 1
            state["n_iter"] += 1
            if state["n_iter"] > 1:
                y = g - g_prev
                s = d * t
                ys = y @ s
                if ys > CURVATURE_MIN:
                    self._remember(state, s, y, m)
                    gamma = ys / (y @ y)
            d = self.direction(g, state.get("S"), state.get("Y"), state.get("SY"), state.get("YY"), gamma)
            g_prev = g.clone(memory_format=torch.contiguous_format)
            loss_prev = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if state["n_iter"] == 1 else lr
            gtd = g @ d
            if gtd > -tol_change:       # not a descent direction: nothing more to gain
                state["stop"] = "direction"
                break
            x0 = self._clone_param()

            def along(x, step, direction):
                return self._directional_evaluate(closure, x, step, direction)
            loss, g, t, ls_evals = _strong_wolfe(along, x0, t, d, loss, g, gtd)
            self._add_grad(t, d)
            evals += ls_evals
            state["func_evals"] += ls_evals
            stop = ("iterations" if iters == max_iter else "evaluations" if evals >= max_eval
                    else "gradient" if g.abs().max() <= tol_grad
                    else "step" if (d * t).abs().max() <= tol_change
                    else "change" if abs(loss - loss_prev) < tol_change else None)
            if stop:
                state["stop"] = stop
                break

        state.update(d=d, t=t, H_diag=gamma, prev_flat_grad=g_prev, prev_loss=loss_prev)
        return orig_loss
