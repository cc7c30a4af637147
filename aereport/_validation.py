"""One place for the wording of every error a user can see, and the checks shared by the CLI and
the Python API.

Errors follow Keras's style (``keras/src/utils/argument_validation.py``): what was expected, then
``Received: name=value``. :class:`AEReportError` adds that ending itself from its keyword
arguments, so a message cannot forget it:

>>> str(AEReportError("epochs must be a positive integer", epochs=0))
'epochs must be a positive integer. Received: epochs=0'
"""
from __future__ import annotations

import math
from typing import Any, Iterable


class AEReportError(ValueError):
    """A problem with the user's input, reported in one line (no traceback in the CLI).

    ``message`` says what was expected (and, for a file, which file); each keyword argument is
    shown after it as ``Received: name=value``.

    >>> str(AEReportError("layout must be one of ['ae', 'pca']", layout="isomap"))
    "layout must be one of ['ae', 'pca']. Received: layout='isomap'"
    """

    def __init__(self, message: str, **received: Any):
        if received:
            message = f"{message.rstrip(' .')}. Received: " + ", ".join(f"{k}={_show(v)}" for k, v in received.items())
        super().__init__(message)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _int_at_least(name: str, value: Any, minimum: int, wording: str, maximum: int | None = None) -> int:
    if (isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < minimum
            or (maximum is not None and int(value) > maximum)):
        raise AEReportError(f"{name} must be {wording}", **{name: value})
    return int(value)


def check_positive_int(name: str, value: Any, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer (at most ``maximum``).

    >>> check_positive_int("epochs", 3)
    3
    """
    wording = "a positive integer" + (f" up to {maximum:,}" if maximum is not None else "")
    return _int_at_least(name, value, 1, wording, maximum)


def check_non_negative_int(name: str, value: Any, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0 (at most ``maximum``).

    >>> check_non_negative_int("epochs", 0)
    0
    """
    wording = "an integer >= 0" + (f" and <= {maximum:,}" if maximum is not None else "")
    return _int_at_least(name, value, 0, wording, maximum)


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number strictly between
    ``low`` and ``high`` (each optional).

    >>> check_number("learning_rate", 1e-3, 0, 10)
    0.001
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (low is None or value > low) and (high is None or value < high)
    if not ok:
        bounds = " ".join(filter(None, [f"above {low:g}" if low is not None else "",
                                        "and" if low is not None and high is not None else "",
                                        f"below {high:g}" if high is not None else ""]))
        raise AEReportError(f"{name} must be a finite number{' ' + bounds if bounds else ''}", **{name: value})
    return float(value)


def check_choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise naming them.

    >>> check_choice("preset", "dense", ["seed", "dense"])
    'dense'
    """
    options = list(options)
    if not isinstance(value, str) or value not in options:
        raise AEReportError(f"{name} must be one of {', '.join(map(repr, options))}", **{name: value})
    return value


def check_names(name: str, value: Any, options: Iterable[str]) -> list[str]:
    """``value`` as a list of names from ``options``: a list or tuple of them, or one string
    (``"pca"``, or comma-separated as on the command line: ``"ae,umap"``).

    >>> check_names("layouts", "ae, pca", ["ae", "umap", "pca"])
    ['ae', 'pca']
    """
    options = list(options)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise AEReportError(f"{name} must be a list of names from {options}", **{name: value})
    unknown = [v for v in value if v not in options]
    if unknown:
        raise AEReportError(f"{name} must be among {options}", **{name: unknown[0] if len(unknown) == 1 else unknown})
    return list(dict.fromkeys(value))
