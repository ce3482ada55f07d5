"""Segment reductions of torch tensors: every aggregate kind of :class:`~lagdsl.ir.sym.Agg`.

``sum(k in K) body`` over rows is a reduction of the body's values into segments, one per
outer row (``parent[i]`` is the segment of value ``i``).  The lagrangian backend's torch
engine and the pinn backend's evaluator both reduce this way, with the meaning
:func:`lagdsl.lower.evaluate.reduce_data` gives each kind on data.
"""
from __future__ import annotations

import torch


def segment_reduce(kind: str, vals: torch.Tensor, parent: torch.Tensor, n: int) -> torch.Tensor:
    """Reduce ``vals`` into ``n`` segments (``parent[i]`` is the segment of ``vals[i]``) with the
    meaning :func:`lagdsl.lower.evaluate.reduce_data` gives each kind on data."""
    if kind == "prod":
        return segment_prod(vals, parent, n)
    if kind == "logsumexp":
        return segment_logsumexp(vals, parent, n)
    if kind in ("sumsq", "norm2"):
        vals = vals * vals
    elif kind in ("norm1", "norminf"):
        vals = vals.abs()
    if kind in ("max", "min", "norminf"):
        # each starts from its identity: norminf of an empty set is 0, as on data (max and
        # min of an empty set were refused by aggregate)
        init = {"max": -float("inf"), "min": float("inf"), "norminf": 0.0}[kind]
        return torch.full((n,), init, dtype=vals.dtype, device=vals.device).scatter_reduce(
            0, parent, vals, "amin" if kind == "min" else "amax", include_self=True)
    if kind not in ("sum", "sumsq", "norm1", "norm2"):
        raise KeyError(kind)
    out = torch.zeros(n, dtype=vals.dtype, device=vals.device).index_add(0, parent, vals)
    return out.sqrt() if kind == "norm2" else out


def segment_prod(vals: torch.Tensor, parent: torch.Tensor, n: int) -> torch.Tensor:
    """The product of each segment (1 when empty), differentiable to any order at zeros and
    negative values alike.

    ``scatter_reduce(..., "prod")`` has no double backward when a segment holds two zeros, and
    ``exp(sum(log|v|))`` loses zeros and signs; instead the segments of each size ``c`` are
    gathered into one ``m x c`` matrix and reduced by ``torch.prod(dim=1)``, whose backward
    handles zeros exactly.  The loop is over the distinct segment sizes (one when every row
    has the same set), never over segments or values.
    """
    counts = torch.bincount(parent, minlength=n)
    order = torch.argsort(parent, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    out = torch.ones(n, dtype=vals.dtype, device=vals.device)
    for c in torch.unique(counts[counts > 0]).tolist():
        segs = torch.nonzero(counts == c).squeeze(1)
        idx = order[starts[segs, None] + torch.arange(c, device=vals.device)]
        out = out.index_put((segs,), vals[idx].prod(dim=1))
    return out


def segment_logsumexp(vals: torch.Tensor, parent: torch.Tensor, n: int) -> torch.Tensor:
    """``log(sum(exp(v)))`` of each segment (natural log), stable: each segment's largest value
    is taken out before ``exp`` (as :func:`~lagdsl.lower.evaluate.reduce_data` does); the shift
    is a constant for autograd, which leaves the gradient (the softmax) exact."""
    m = torch.full((n,), -float("inf"), dtype=vals.dtype, device=vals.device).scatter_reduce(
        0, parent, vals.detach(), "amax", include_self=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s = torch.zeros(n, dtype=vals.dtype, device=vals.device).index_add(0, parent, torch.exp(vals - m[parent]))
    return m + torch.log(s)
