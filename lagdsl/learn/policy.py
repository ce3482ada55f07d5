"""The interface of a learned decision policy, shared by every method (``pdl``,
``supervised``, ``ts-ddr``), and its saved folder.

A :class:`Policy` answers a model's instances without solving them::

    policy = lagdsl.learn(model, "train.jsonl", method="pdl")
    r = policy.solve({"x": [...]})                 # a Result, like a backend's
    rs = policy.solve_batch([{...}, {...}])        # many at once (vectorised)
    policy.save("policy_dir")
    policy = lagdsl.load_policy("policy_dir")      # never executes anything from the folder

**What a subclass provides** (a method's module, registered in
:data:`lagdsl.learn.METHODS` by its module path, exposes ``train(model, base_data,
scenarios, *, targets, stages, options, seed) -> Policy`` and ``load(model, manifest,
tensors) -> Policy``, the inverse of :meth:`Policy.save`: ``manifest`` is the checked
``policy.json`` dict, whose ``"meta"`` is what :meth:`Policy.state` gave; ``scenarios`` are
:class:`lagdsl.sweep.scenarios.Scenario` objects, ``base_data`` None (the model has its data
bound)):

* ``method`` — the registry key (class attribute);
* :meth:`solve_batch` ``(datas, repair=...) -> [Result]`` — ``datas`` are override dicts in
  the data-file shapes (as ``CompiledModel.solve(data=...)`` takes), one per instance;
  ``repair`` is one of :data:`REPAIRS` (a method refuses one it does not do with a
  :class:`~lagdsl.errors.BackendRefusal` saying why: :func:`check_repair`);
* :meth:`state` ``() -> (tensors, meta)`` — a flat ``{name: torch.Tensor}`` (plain tensors
  only; they are saved as a torch zip archive and read back with ``weights_only=True``) and a
  JSON-able dict (scaling, network sizes, options) from which ``load`` rebuilds the policy.

**What every answer must be** (:func:`answer` builds it): a :class:`~lagdsl.result.Result`
whose ``max_violation`` is measured on the model's *original* rows and bounds at the
returned point, whose ``status`` is ``feasible`` when that violation is at most the policy's
``tol`` and ``infeasible`` otherwise — never ``optimal`` (only an exact repair solve may say
``optimal``, being a solve) — with ``backend`` ``"policy:<method>"`` and ``stats["policy"]``
naming the method and the repair; a dual bound, when the method has one, is
``stats["dual_bound"]`` (a proven bound on the optimum in the model's sense) with
``stats["gap_bound"]`` the relative gap it proves.

**The saved folder** (:meth:`Policy.save`, :func:`load_policy`): ``policy.json`` (format
marker, method, inputs, meta), ``model.ir.json`` (the IR with the base data bound, as
``lagdsl compile --emit ir`` writes it, read back as untrusted IR), ``weights.pt`` (the
tensors) and ``report.json`` (validation metrics, for people; never read back).  Writes go
through :func:`lagdsl.outputs.check_save_dir`.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import BackendRefusal
from ..result import Result

#: ``repair=`` values: ``completion`` (equality completion and a few correction steps for
#: violated inequalities), ``solve`` (the prediction warm-starts the exact backend),
#: ``none`` (the network's raw answer, still measured).
REPAIRS = ("completion", "solve", "none")

FORMAT, VERSION = "lagdsl-policy", 1
MANIFEST, MODEL, WEIGHTS, REPORT = "policy.json", "model.ir.json", "weights.pt", "report.json"
FILES = (MANIFEST, MODEL, WEIGHTS, REPORT)

#: Default feasibility tolerance of a policy's answers (max violation on the original rows).
TOL = 1e-6


class Policy:
    """A trained policy for one model (see the module docstring for the interface).

    ``model`` is the :class:`lagdsl.Model` with the base data bound; ``inputs`` the names of
    the params that vary (those that appear in the training scenarios: the policy's
    inputs); ``report`` a JSON-able dict of validation metrics; ``options`` the method's
    options as trained; ``tol`` the feasibility tolerance of answers."""

    method: str = ""

    def __init__(self, model, inputs, report: dict | None = None, options: dict | None = None,
                 tol: float = TOL):
        self.model = model
        self.inputs = list(inputs)
        self.report = dict(report or {})
        self.options = dict(options or {})
        self.tol = float(tol)

    def __repr__(self) -> str:
        return "<lagdsl policy %s for %s (inputs: %s)>" % (self.method, self.model.name,
                                                           ", ".join(self.inputs))

    # --- answering --------------------------------------------------------------------
    def solve(self, data=None, repair: str = "completion") -> Result:
        """The policy's answer for one instance: ``data`` overrides the base data (a dict in
        the data-file shapes, or a JSON data file's path; None: the base data itself)."""
        return self.solve_batch([data if data is not None else {}], repair=repair)[0]

    def solve_batch(self, datas, repair: str = "completion") -> list[Result]:
        """The answers for many instances at once (one :class:`Result` each, in order)."""
        raise NotImplementedError

    # --- saving -----------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """``(tensors, meta)``: what :meth:`save` writes and the method's ``load`` reads."""
        raise NotImplementedError

    def save(self, directory, overwrite: bool = False, inputs=()) -> list[str]:
        """Write the policy into ``directory`` (new or empty; with ``overwrite`` only
        lagdsl's own files in it are replaced); returns the paths written.  ``inputs`` are
        files that must never be overwritten (:func:`lagdsl.outputs.model_inputs`)."""
        import io

        import torch

        from ..outputs import check_save_dir, model_inputs, write_file
        directory = os.fspath(directory)
        guard = list(inputs) + list(model_inputs(self.model.ir))
        paths = dict(zip(FILES, check_save_dir(directory, FILES, guard, overwrite)))
        tensors, meta = self.state()
        for k, t in tensors.items():
            if not isinstance(k, str) or not torch.is_tensor(t):
                raise TypeError("Policy.state() must give {str: Tensor}, got %r" % (k,))
        buf = io.BytesIO()
        torch.save({k: t.detach().cpu().contiguous() for k, t in tensors.items()}, buf)
        manifest = {"format": FORMAT, "version": VERSION, "method": self.method,
                    "inputs": self.inputs, "tol": self.tol, "options": _plain(self.options),
                    "meta": _plain(meta)}
        os.makedirs(directory, exist_ok=True)
        write_file(paths[MODEL], self.model.to_json(indent=1) + "\n", guard, "--save")
        write_file(paths[WEIGHTS], buf.getvalue(), guard, "--save")
        write_file(paths[REPORT], json.dumps(_plain(self.report), indent=2, allow_nan=False) + "\n",
                   guard, "--save")
        # the manifest last: a folder without one was not finished and is refused on load
        write_file(paths[MANIFEST], json.dumps(manifest, indent=2, allow_nan=False) + "\n",
                   guard, "--save")
        return [paths[f] for f in FILES]


def answer(policy: Policy, x: np.ndarray, ir, *, objective: float | None,
           max_violation: float, repair: str, stats: dict | None = None,
           duals: dict | None = None, times: dict | None = None) -> Result:
    """The :class:`Result` of one policy answer: ``x`` the flat unknowns of ``ir`` (the
    instance's IR), ``max_violation`` measured on its original rows; status ``feasible``
    within ``policy.tol``, else ``infeasible`` (never ``optimal``)."""
    from ..lower.instance import unflatten
    status = "feasible" if max_violation <= policy.tol else "infeasible"
    st = {"policy": {"method": policy.method, "repair": repair}, "backend": "policy:" + policy.method}
    st.update(stats or {})
    return Result(status, objective, unflatten(ir, np.asarray(x, dtype=np.float64)), dict(duals or {}),
                  float(max_violation), "policy:" + policy.method, st, dict(times or {}))


def _plain(obj: Any):
    """``obj`` with numpy scalars/arrays turned into Python numbers/lists (for JSON)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def check_repair(repair: str, allowed=REPAIRS) -> str:
    """``repair`` if it is one of ``allowed``, else a :class:`BackendRefusal` naming them."""
    if repair not in allowed:
        raise BackendRefusal("repair=%r: this policy repairs by %s" % (repair, " | ".join(allowed)))
    return repair


def load_policy(directory):
    """The policy saved in ``directory`` by :meth:`Policy.save` (``lagdsl learn --save``).

    The folder is untrusted input: nothing in it is executed (``policy.json`` and
    ``model.ir.json`` are parsed as data, the IR by the untrusted-IR reader; ``weights.pt``
    must be a torch zip archive of plain tensors, read with ``weights_only=True``; the method
    must be a registered one).  Anything wrong is a :class:`~lagdsl.errors.LagDataError`
    naming the file."""
    from .saved import read_policy_dir
    model, manifest, tensors = read_policy_dir(directory)
    from . import method_module
    return method_module(manifest["method"]).load(model, manifest, tensors)
