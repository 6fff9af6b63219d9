"""The exception types ratrack raises for bad user input."""

from __future__ import annotations

import math
import numbers


class RatrackError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


class DataError(RatrackError, ValueError):
    """A data file or folder is missing, malformed or inconsistent.

    The message names the file (and the line, where there is one).
    """

    def __init__(self, message: str, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class ConfigError(RatrackError, ValueError):
    """A config field holds a value outside its range.

    ``field`` is the dataclass field; the message reads ``"{field}: {reason}"``. The CLI names
    the option that sets the field instead (one table, ``ratrack.cli``), so the same check
    speaks in config terms to Python callers and in option terms on the command line.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_number(
    field: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    """``ConfigError`` unless ``value`` is a finite number (an integer when ``integer``) in
    ``[low, high]`` (``(low, high]`` when ``low_open``); None bounds are open-ended."""
    kind = "an integer" if integer else "a finite number"
    if low is not None and high is not None:
        where = f" in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        where = f" {'>' if low_open else '>='} {low:g}"
    else:
        where = f" <= {high:g}" if high is not None else ""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and integer:
        ok = float(value) == int(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ConfigError(field, f"must be {kind}{where}, got {value!r}")
