"""The ``device`` setting, parsed in one place: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; the
CPU thread policy (:func:`cpu_threads`); and the CPU memory policy (:func:`keep_freed_memory`)."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
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


# glibc's mallopt parameters and the values keep_freed_memory sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_THRESHOLD = 256 << 20  # bytes of free memory at the heap's top kept, not returned
_MMAP_THRESHOLD = 32 << 20  # allocations from this size on are mapped apart (glibc's maximum)


@functools.cache
def keep_freed_memory() -> bool:
    """Let this process reuse the memory it frees instead of returning it to the system and
    faulting it in again (Linux with glibc; elsewhere nothing happens). Returns whether it
    applied.

    A tracker's per-frame update allocates and frees some 12 MB of tensors (FFT buffers,
    feature maps). With glibc's defaults the heap is trimmed after each frame and large blocks
    are unmapped, so the next frame takes about 3000 page faults, each zeroing a fresh page:
    measured, a third of the natural model's update time on one thread. Setting glibc's trim
    threshold to 256 MB and its mmap threshold to 32 MB (its maximum) keeps those pages in
    the process. Blocks of 32 MB or more are still returned when freed. This is the tuning the
    ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` environment variables do at
    start-up, applied once per process by :class:`ratrack.Tracker`."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) and mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    )
