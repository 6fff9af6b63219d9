"""The ``device`` setting, parsed in one place: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; and
the CPU thread policy (:func:`cpu_threads`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ratrack.errors import ConfigError, RatrackError

DEVICES = ("auto", "cpu", "cuda")  # plus "cuda:N" for one process on a chosen GPU


def env_int(name: str, default: int) -> int:
    """Integer environment variable ``name`` (``default`` when unset or empty)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise RatrackError(
            f"environment variable {name} must be an integer, got {value!r}"
        ) from None


def launched_world() -> int:
    """Processes torchrun started (``WORLD_SIZE``; 1 without torchrun)."""
    return env_int("WORLD_SIZE", 1)


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device of ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.

    Under torchrun, ``cuda`` and ``auto`` mean this process's own GPU, ``cuda:LOCAL_RANK``.
    Anything else, or CUDA where there is none, raises :class:`~ratrack.errors.ConfigError`
    for the field ``device``.
    """
    name = str(name).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError("device", f"{name}: no CUDA device is available (use cpu or auto)")
        if name == "cuda":
            index = env_int("LOCAL_RANK", 0) if launched_world() > 1 else 0
        else:
            try:
                index = int(name.removeprefix("cuda:"))
            except ValueError:
                raise ConfigError("device", f"{name}: expected cuda:N with an integer N") from None
        if not 0 <= index < torch.cuda.device_count():
            raise ConfigError(
                "device", f"cuda:{index}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
        return torch.device("cuda", index)
    raise ConfigError("device", f"must be one of {', '.join(DEVICES)} or cuda:N, got {name!r}")


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` torch and OpenCV CPU threads (0: the libraries' own), restored
    on exit. One thread is the default of ``ratrack track``, ``eval`` and ``bench``: a small
    batch gains little from a second thread, and on a machine doing other work (a detector
    beside the tracker) threads that wait on each other lose far more than they gain."""
    import cv2

    if count == 0:
        yield
        return
    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(count)
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
