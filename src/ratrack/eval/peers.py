"""Single-object trackers run side by side: the tracker protocol and OpenCV's trackers as peers.

Any single-object tracker that follows :class:`SotTracker` (``init(frame, box_xyxy)`` then
``update(frame) -> box_xyxy or None`` per frame, frames ``(H, W, 3)`` uint8 RGB, boxes xyxy
pixels as in :mod:`ratrack.boxes`) can be evaluated by :func:`run_trackers`, which feeds every
tracker the same decoded frames in one pass and times each tracker's own calls. ratrack's tracker
joins through a small adapter with this protocol; OpenCV's CSRT, KCF, MOSSE, MedianFlow and MIL
are wrapped by :class:`OpenCVTracker`.

A tracker that reports failure (OpenCV's ``ok == False``) returns ``None`` for that frame; the
metrics count it as IoU 0. Lost trackers keep receiving frames (OpenCV's may recover).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ratrack.errors import ConfigError

PEERS = ("csrt", "kcf", "mosse", "medianflow", "mil")
"""OpenCV trackers available as peers, by the names the CLI accepts."""

PEER_LABELS = {
    "csrt": "CSRT",
    "kcf": "KCF",
    "mosse": "MOSSE",
    "medianflow": "MedianFlow",
    "mil": "MIL",
}


@runtime_checkable
class SotTracker(Protocol):
    """A single-object tracker: initialized once on a box, then updated frame by frame."""

    def init(self, frame: np.ndarray, box_xyxy: np.ndarray) -> None:
        """Start tracking the object in ``box_xyxy`` ``(4,)`` on ``frame`` ``(H, W, 3)`` RGB."""
        ...

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        """The object's box ``(4,)`` xyxy in the next ``frame``, or ``None`` when it is lost."""
        ...


def _opencv_factory(name: str) -> Callable[[], object]:
    import cv2

    factories = {
        "csrt": lambda: cv2.TrackerCSRT_create(),  # type: ignore[attr-defined]
        "kcf": lambda: cv2.TrackerKCF_create(),  # type: ignore[attr-defined]
        "mil": lambda: cv2.TrackerMIL_create(),  # type: ignore[attr-defined]
        "mosse": lambda: cv2.legacy.TrackerMOSSE_create(),  # type: ignore[attr-defined]
        "medianflow": lambda: cv2.legacy.TrackerMedianFlow_create(),  # type: ignore[attr-defined]
    }
    return factories[name]


def parse_names(
    spec: str | Iterable[str] | None, known: Sequence[str], *, every: bool = False
) -> list[str]:
    """Names from ``"a,b"`` (or a list), each one of ``known``; empty input gives ``[]``; with
    ``every``, ``"all"`` gives all of ``known``.

    Raises ``ValueError`` naming an unknown peer or a repeated one.
    """
    if spec is None:
        return []
    if every and isinstance(spec, str) and spec.strip() == "all":
        return list(known)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for n in names if n.strip()]
    for n in names:
        if n not in known:
            choices = ", ".join(known) + (" or all" if every else "")
            raise ValueError(f"unknown peer {n!r}; expected some of {choices}")
    if len(set(names)) != len(names):
        raise ValueError(f"peer listed twice in {spec!r}")
    return names


def parse_peers(spec: str | Iterable[str] | None) -> list[str]:
    """OpenCV peer names (:data:`PEERS`) from ``"csrt,kcf"`` (or a list); see
    :func:`parse_names`."""
    return parse_names(spec, PEERS)


def peer_option(spec: str | Iterable[str] | None) -> list[str]:
    """:func:`parse_peers` for a user's ``--peers``: a bad name is a ``ConfigError``."""
    try:
        return parse_peers(spec)
    except ValueError as exc:
        raise ConfigError("peers", f": {exc}") from None


class OpenCVTracker:
    """An OpenCV tracker behind :class:`SotTracker` (RGB frames, xyxy float boxes).

    OpenCV's trackers keep their model inside the OpenCV object; this wrapper only converts
    colours (RGB to BGR) and boxes (xyxy to ``(x, y, w, h)``, 0-based; the modern API takes
    integer rectangles, the legacy MOSSE / MedianFlow take floats).
    """

    def __init__(self, *, name: str) -> None:
        if name not in PEERS:
            raise ValueError(f"unknown OpenCV tracker {name!r}; expected one of {', '.join(PEERS)}")
        self.name = name
        self.label = PEER_LABELS[name]
        self._legacy = name in ("mosse", "medianflow")
        self._tracker: Any = None  # the OpenCV object, made by init()

    @staticmethod
    def _bgr(frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim == 2:
            return np.ascontiguousarray(np.repeat(frame[:, :, None], 3, axis=2))
        return np.ascontiguousarray(frame[:, :, ::-1])

    def init(self, frame: np.ndarray, box_xyxy: np.ndarray) -> None:
        x1, y1, x2, y2 = (float(v) for v in np.asarray(box_xyxy, np.float64).reshape(4))
        if not (np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1):
            raise ValueError(f"initial box must be finite with positive size, got {box_xyxy}")
        self._tracker = _opencv_factory(self.name)()
        if self._legacy:
            rect = (x1, y1, x2 - x1, y2 - y1)
        else:
            left, top = round(x1), round(y1)
            rect = (left, top, max(1, round(x2) - left), max(1, round(y2) - top))
        ok = self._tracker.init(self._bgr(frame), rect)
        if ok is False:  # the modern API returns None, the legacy one a bool
            raise RuntimeError(f"OpenCV {self.label} failed to initialize on box {box_xyxy}")

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        if self._tracker is None:
            raise RuntimeError("update() called before init()")
        ok, (x, y, w, h) = self._tracker.update(self._bgr(frame))
        if not ok or w <= 0 or h <= 0:
            return None
        return np.array([x, y, x + w, y + h], np.float64)


@dataclass(frozen=True)
class TrackerRun:
    """One tracker's output on a sequence."""

    boxes: np.ndarray  # (T, 4) float64 xyxy; row 0 is the initial box; NaN rows where lost
    seconds: float  # time spent inside the tracker's init and update calls
    frames: int  # frames the tracker processed (init included)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def run_trackers(
    frames: Iterable[np.ndarray],
    init_box: np.ndarray,
    trackers: Mapping[str, SotTracker],
    progress: Callable[[int], None] | None = None,
) -> dict[str, TrackerRun]:
    """Run every tracker on the same frames in one pass, each initialized on ``init_box``.

    ``frames`` yields ``(H, W, 3)`` uint8 RGB frames (decoded once, shared by all trackers);
    ``init_box`` ``(4,)`` xyxy is the object in the first frame. The first frame's output is the
    initial box itself, as in OTB's protocol. ``progress(t)`` is called after each frame.
    Returns ``{name: TrackerRun}``.
    """
    init_box = np.asarray(init_box, np.float64).reshape(4)
    boxes: dict[str, list[np.ndarray]] = {name: [] for name in trackers}
    seconds = dict.fromkeys(trackers, 0.0)
    lost = np.full(4, np.nan)
    count = 0
    for t, frame in enumerate(frames):
        for name, tracker in trackers.items():
            start = time.perf_counter()
            box: np.ndarray | None
            if t == 0:
                tracker.init(frame, init_box)
                box = init_box.copy()
            else:
                box = tracker.update(frame)
            seconds[name] += time.perf_counter() - start
            boxes[name].append(lost if box is None else np.asarray(box, np.float64).reshape(4))
        count = t + 1
        if progress is not None:
            progress(count)
    return {
        name: TrackerRun(
            boxes=np.stack(boxes[name]) if count else np.zeros((0, 4)),
            seconds=seconds[name],
            frames=count,
        )
        for name in trackers
    }
