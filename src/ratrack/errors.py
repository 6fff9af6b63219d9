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
    """A setting has a value ratrack cannot use.

    ``field`` names the setting as the library knows it (a config field or a function's
    argument, e.g. ``device``, ``max_frames``); ``detail`` says what is wrong. The message is
    ``"{field} {detail}"`` (no space before a ``detail`` that starts with ``:``); the CLI
    prints the option that sets ``field`` in its place (one table, :mod:`ratrack.cli._common`).
    """

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(self.message(field))

    def message(self, name: str) -> str:
        """The message with the setting called ``name`` (the CLI passes its option)."""
        return f"{name}{'' if self.detail.startswith(':') else ' '}{self.detail}"


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
