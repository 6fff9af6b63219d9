"""Shared helpers of the text-format readers and writers: line reading, number parsing with the
file and line in every error, and atomic writes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

from ratrack.errors import DataError
from ratrack.outputs import write_text

_SPLIT = re.compile(r"[,\s]+")


def read_text(path: str | Path) -> str:
    """The whole text of ``path``; a missing, unreadable or non-UTF-8 file raises ``DataError``."""
    path = Path(path)
    if path.is_dir():
        raise DataError("expected a file, found a folder", path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", path) from None
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror})", path) from None


def numbered_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of the non-blank lines of ``path`` (1-based numbers, stripped)."""
    for number, text in enumerate(read_text(path).splitlines(), start=1):
        text = text.strip()
        if text:
            yield number, text


def split_fields(text: str, sep: str | None = None) -> list[str]:
    """Fields of one line: split on ``sep``, or on commas and/or whitespace when ``sep`` is None.

    Surrounding whitespace of each field is dropped.
    """
    if sep is None:
        return [f for f in _SPLIT.split(text.strip()) if f != ""]
    return [f.strip() for f in text.strip().split(sep)]


def to_float(token: str, path: object, line: int, what: str) -> float:
    """``float(token)``; NaN, infinity or a non-number raise ``DataError`` naming ``what``."""
    try:
        value = float(token)
    except ValueError:
        raise DataError(f"{what} is not a number: {token!r}", path, line) from None
    if not math.isfinite(value):
        raise DataError(f"{what} is not finite: {token!r}", path, line)
    return value


def to_int(token: str, path: object, line: int, what: str) -> int:
    """An integer field; ``"7"`` and ``"7.0"`` are accepted, ``"7.5"`` is not."""
    try:
        return int(token)
    except ValueError:
        pass
    value = to_float(token, path, line, what)
    if value != int(value):
        raise DataError(f"{what} is not an integer: {token!r}", path, line)
    return int(value)


def format_number(value: float, keep_point: bool = False) -> str:
    """Shortest text for ``value`` after rounding to 9 decimals (hides float noise of box
    conversions): integral values print without a decimal point unless ``keep_point``."""
    value = round(float(value), 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value == int(value) and not keep_point:
        return str(int(value))
    return repr(value)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` under the output policy (:func:`ratrack.outputs.write_text`):
    a temporary file in the same folder renamed over the target, so readers never see a
    half-written file; symlinks and special files are written through. Parent folders are
    created."""
    write_text(path, text)
