"""How long a ``sampler=qaoa`` run will take, before it starts, and how to shorten it.

The cost model, measured on the development machine with ``bench/qaoa_cost.py`` (2 cores,
shared and loaded, so on the slow side; ``fast_value_grad`` timed 5 times, the median, at
12–18 qubits and 1, 2, 4 layers; a run's evaluations from ``stats["circuit_evaluations"]``):

* one value-and-gradient evaluation of the ``fast`` simulator (numpy block products for the
  mixer) costs about ``SECONDS_PER_UNIT * reps * qubits * 2**qubits`` seconds: 5e-8 to
  1.3e-7 per unit at 14–18 qubits under load (0.56 s at 18 qubits and 2 layers), so 1e-7;
* an angle training from one start takes about ``EVALUATIONS_PER_START`` evaluations (the
  schedule-based start: depth 1 from the linear ramp in about 10, depth 2 from its
  interpolation in about 15 on MIS 4x4; at most ``1.2 * train_iter``), and a round trains
  from ``restarts`` starts (plus the last round's angles after the first);
* ``penalty`` samples one round, the multiplier methods up to ``max_iter`` rounds (by
  default up to :data:`~.methods.AUTO_MAX_ITER`, ending earlier on convergence).

So 18 qubits with the default options (``reps=2``, ``restarts=1``, up to 20 rounds) is about
25 s a round.  The ``statevector`` and ``aer`` simulators are slower than ``fast``; their
estimate is a lower bound.
"""
from __future__ import annotations

from dataclasses import dataclass

from .methods import max_rounds

#: seconds per (layer x qubit x amplitude) of one fast-simulator evaluation (see above)
SECONDS_PER_UNIT = 1.0e-7
#: circuit evaluations of one angle training from one start (measured; see above)
EVALUATIONS_PER_START = 25
#: a run whose estimate reaches this many seconds is announced before it starts
LONG_SECONDS = 60.0


@dataclass(frozen=True)
class QaoaEstimate:
    """The predicted time of a QAOA run (:func:`estimate`)."""

    qubits: int
    reps: int
    restarts: int
    rounds: int                      # the most sampling rounds the method may take
    seconds_per_evaluation: float
    evaluations_per_round: int
    simulator: str

    @property
    def seconds_per_round(self) -> float:
        return self.seconds_per_evaluation * self.evaluations_per_round

    @property
    def seconds_max(self) -> float:
        return self.seconds_per_round * self.rounds

    @property
    def long(self) -> bool:
        return self.seconds_max >= LONG_SECONDS

    def to_dict(self) -> dict:
        """What ``stats["qaoa_estimate"]`` holds."""
        return {"qubits": self.qubits, "reps": self.reps, "restarts": self.restarts,
                "rounds_at_most": self.rounds,
                "seconds_per_evaluation": round(self.seconds_per_evaluation, 4),
                "evaluations_per_round": self.evaluations_per_round,
                "seconds_per_round": round(self.seconds_per_round, 1),
                "seconds_at_most": round(self.seconds_max, 1), "long": self.long}

    def message(self) -> str:
        """The line printed before a long run: the estimate and how to shorten it."""
        lower = "" if self.simulator == "fast" else "at least "
        head = "qaoa on %d qubits (reps=%d, restarts=%d, simulator=%s): %sabout %s a round " \
            "(~%d circuit evaluations of %.2g s)" % (
                self.qubits, self.reps, self.restarts, self.simulator, lower,
                _duration(self.seconds_per_round), self.evaluations_per_round,
                self.seconds_per_evaluation)
        if self.rounds > 1:
            head += ", up to %s for %d rounds (max_iter)" % (_duration(self.seconds_max), self.rounds)
        tips = []
        if self.reps > 1:
            tips.append("reps=1 (time per evaluation x1/%d)" % self.reps)
        if self.restarts > 1:
            tips.append("restarts=1")
        if self.rounds > 1:
            tips.append("max_iter=%d" % max(1, self.rounds // 4))
        tips.append("time_limit=SECONDS")
        tips.append("sampler=anneal (seconds, no circuit)")
        return head + "; to shorten it: --option " + ", --option ".join(tips)


def _duration(s: float) -> str:
    if s < 90:
        return "%.0f s" % max(s, 1.0)
    if s < 5400:
        return "%.0f min" % (s / 60)
    return "%.1f h" % (s / 3600)


def estimate(qubits: int, opts: dict) -> QaoaEstimate:
    """The estimate for ``qubits`` qubits under the backend's (coerced) options."""
    reps, restarts = int(opts["reps"]), int(opts["restarts"])
    per_start = min(EVALUATIONS_PER_START, int(1.2 * int(opts["train_iter"])) + 1)
    rounds = 1 if opts["method"] == "penalty" else max_rounds(opts)
    return QaoaEstimate(qubits=qubits, reps=reps, restarts=restarts, rounds=rounds,
                        seconds_per_evaluation=SECONDS_PER_UNIT * reps * qubits * 2.0 ** qubits,
                        evaluations_per_round=per_start * restarts + 1, simulator=opts["simulator"])
