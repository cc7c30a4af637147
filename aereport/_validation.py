"""Shared input checks: one place for the wording of every error a user can see.

Errors follow Keras's style: what was expected, then ``Received: name=value``.
"""
from __future__ import annotations

from typing import Any, Iterable


class AEReportError(ValueError):
    """A problem with the user's input, reported in one line (no traceback in the CLI)."""


def _int_at_least(name: str, value: Any, minimum: int, wording: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < minimum:
        raise AEReportError(f"{name} must be {wording}. Received: {name}={value!r}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer.

    >>> check_positive_int("epochs", 3)
    3
    """
    return _int_at_least(name, value, 1, "a positive integer")


def check_non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0.

    >>> check_non_negative_int("epochs", 0)
    0
    """
    return _int_at_least(name, value, 0, "an integer >= 0")


def check_choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise naming them.

    >>> check_choice("preset", "dense", ["seed", "dense"])
    'dense'
    """
    options = list(options)
    if value not in options:
        raise AEReportError(
            f"{name} must be one of {', '.join(map(repr, options))}. Received: {name}={value!r}"
        )
    return value
