"""The exception types ratrack raises for bad user input."""

from __future__ import annotations


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
