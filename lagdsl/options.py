"""Validation of backend options (``--option k=v`` and ``Model.solve(**options)``).

A backend declares each option as ``name: (default, help)`` or ``name: (default, help,
validator)`` in ``Backend.options``.  :func:`lagdsl.backend.coerce_options` converts the value
(a ``k=v`` string from the command line, or a Python value from the API) with the validator;
an option without one gets the validator its default's type implies (:func:`implied`), so that
``verbose=maybe`` or ``time_limit=nan`` is refused everywhere, not only where someone thought
of it.  A refused value is a :class:`~lagdsl.errors.BackendRefusal` (exit 2) that names the
allowed values.
"""
from __future__ import annotations

import math
import operator
from typing import Any

from .errors import BackendRefusal


class OptionError(BackendRefusal):
    """An option value that its validator refuses."""


class Validator:
    """Converts and checks one option value; ``describe()`` says what is allowed."""

    def __call__(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def fail(self, name: str, value: Any) -> OptionError:
        """The error for a refused ``value`` of option ``name``."""
        shown = value if isinstance(value, str) else repr(value)
        return OptionError("option %s=%s: expected %s" % (name, shown, self.describe()))


class choice(Validator):
    """One of a fixed set of strings (compared after stripping; case-sensitive unless
    ``fold_case``, which returns the value as declared: ``highs`` -> ``HIGHS``)."""

    def __init__(self, *values: str, fold_case: bool = False):
        self.values = tuple(values)
        self.fold_case = fold_case

    def __call__(self, name, value):
        v = value.strip() if isinstance(value, str) else value
        if self.fold_case and isinstance(v, str):
            v = next((c for c in self.values if c.lower() == v.lower()), v)
        if v not in self.values:
            raise self.fail(name, value)
        return v

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


class boolean(Validator):
    """``true`` / ``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``); nothing else."""

    TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

    def __call__(self, name, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            v = value.strip().lower()
            if v in self.TRUE:
                return True
            if v in self.FALSE:
                return False
        raise self.fail(name, value)

    def describe(self) -> str:
        return "true or false"


class number(Validator):
    """A finite real number in an interval (``low``/``high`` inclusive unless ``*_open``)."""

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def convert(self, value):
        if isinstance(value, bool):
            return None
        try:
            if isinstance(value, (int, float)):
                return float(value)         # an int beyond float64 raises OverflowError
            if isinstance(value, str):
                return float(value.strip())
        except (ValueError, OverflowError):
            return None
        return None

    def __call__(self, name, value):
        v = self.convert(value)
        if v is None or not math.isfinite(v) or not self.inside(v):
            raise self.fail(name, value)
        return v

    def inside(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        if self.high is not None and (v >= self.high if self.high_open else v > self.high):
            return False
        return True

    def kind(self) -> str:
        return "a finite number"

    def describe(self) -> str:
        lo = None if self.low is None else ("> %g" if self.low_open else ">= %g") % self.low
        hi = None if self.high is None else ("< %g" if self.high_open else "<= %g") % self.high
        if self.low is not None and self.high is not None:
            return "%s in %s%g, %g%s" % (self.kind(), "(" if self.low_open else "[", self.low,
                                          self.high, ")" if self.high_open else "]")
        rng = lo or hi
        return self.kind() + (" " + rng if rng else "")


class integer(number):
    """A whole number in an interval (``3`` and ``3.0`` pass, ``3.5`` and ``1e400`` do not)."""

    def convert(self, value):
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else None
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return None
        return None

    def __call__(self, name, value):
        v = self.convert(value)
        if v is None or not self.inside(v):
            raise self.fail(name, value)
        return v

    def kind(self) -> str:
        return "an integer"


class text(Validator):
    """Any string."""

    def __call__(self, name, value):
        if not isinstance(value, str):
            raise self.fail(name, value)
        return value

    def describe(self) -> str:
        return "text"


class optional(Validator):
    """``none`` (or Python ``None``) for "not set", else what ``inner`` accepts."""

    def __init__(self, inner: Validator):
        self.inner = inner

    def __call__(self, name, value):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return None
        return self.inner(name, value)

    def describe(self) -> str:
        return "none or " + self.inner.describe()


class assignments(Validator):
    """Settings passed through to a solver: ``k=v;k=v`` from the command line (``,`` also
    separates), or a dict from Python; returns a dict whose values are numbers, ``true`` /
    ``false`` or strings.  Which keys exist is for the backend to check once it knows the
    solver (see :func:`unknown_keys`)."""

    def __call__(self, name, value):
        if isinstance(value, dict):
            if not all(isinstance(k, str) and k for k in value):
                raise self.fail(name, value)
            return dict(value)
        if not isinstance(value, str):
            raise self.fail(name, value)
        out: dict[str, Any] = {}
        for item in filter(None, (t.strip() for t in value.replace(",", ";").split(";"))):
            k, eq, v = (t.strip() for t in item.partition("="))
            if not eq or not k or not v:
                raise OptionError("option %s: %r is not k=v; expected %s" % (name, item, self.describe()))
            if k in out:
                raise OptionError("option %s: %s is given twice" % (name, k))
            out[k] = _setting(v)
        return out

    def describe(self) -> str:
        return "k=v pairs separated by ; (e.g. presolve=off;threads=2)"


def _setting(v: str):
    """A solver setting from text: true/false, an integer, a finite float, else the text."""
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for conv in (int, float):
        try:
            x = conv(v)
        except ValueError:
            continue
        if conv is float and not math.isfinite(x):
            break
        return x
    return v


def unknown_keys(name: str, settings: dict, known, what: str) -> None:
    """Refuse the first key of ``settings`` not in ``known`` (a container of names), naming
    the closest known ones; ``what`` says whose settings they are ("HiGHS options")."""
    import difflib
    for k in settings:
        if k not in known:
            close = difflib.get_close_matches(k, list(known), n=3, cutoff=0.6)
            raise OptionError("option %s: %s has no setting %r%s" % (
                name, what, k, "; did you mean %s?" % ", ".join(close) if close else ""))


def implied(default: Any) -> Validator | None:
    """The validator an option without one gets from its default's type (None: any value)."""
    if isinstance(default, bool):
        return boolean()
    if isinstance(default, int):
        return integer()
    if isinstance(default, float):
        return number()
    if isinstance(default, str):
        return text()
    return None


class seed(integer):
    """A random seed: an integer every generator lagdsl's backends use accepts (numpy's
    ``default_rng``, ``torch.manual_seed``, dwave-samplers, Aer): 0 to 2^32 - 1."""

    def __init__(self):
        super().__init__(0, 2 ** 32 - 1)

    def convert(self, value):
        if not isinstance(value, (bool, str, float)):
            try:
                return operator.index(value)       # numpy integers too
            except TypeError:
                return None
        return super().convert(value)

    def describe(self) -> str:
        return "an integer in [0, 4294967295]"


#: The one seed validator: ``--seed N``, ``--option seed=N`` and ``Model.solve(seed=N)``.
SEED = seed()


def validator_of(spec: tuple, name: str = "") -> Validator | None:
    """The validator of one ``Backend.options`` entry ``(default, help[, validator])``; an
    option called ``seed`` is always checked by :data:`SEED`, whatever a backend declares."""
    if name == "seed":
        return SEED
    return spec[2] if len(spec) > 2 and spec[2] is not None else implied(spec[0])
