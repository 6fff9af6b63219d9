"""Multi-object tracking: the detection-driven lifecycle, with frames or from boxes alone.

:class:`MultiTracker` follows any number of objects through a stream. Objects start because
the caller says so (``starts``: boxes given by the user, e.g. ``--init``, confirmed at once) or
because confident detections match no object (tentative until confirmed). Boxes are ``xyxy``
pixels (see :mod:`ratrack.boxes`). Per frame, with detections, each class runs the box
lifecycle of :func:`ratrack.track.lifecycle.step_tracks` (two-stage association on the motion
model's predictions, recovery by the last observation, confirmation, ends after a gap; classes
never match each other, each may have its own thresholds):

* **boxes alone** (``tracker=None``): that lifecycle is the whole tracker; nothing but boxes is
  read, and ``frame`` may be ``None``.
* **with frames** (a :class:`~ratrack.track.online.Tracker`): every live object first advances
  in one batched :meth:`Tracker.update`; its box is a cue beside the motion prediction (a
  detection matches an object when its IoU with either reaches the threshold), an object left
  unmatched is reported at its tracked box, a matched object restarts its glimpse memory at the
  detection (:meth:`Tracker.correct`), and new objects start with the lifecycle's ids
  (:meth:`Tracker.add`): one id space. :meth:`Tracker.add` and :meth:`Tracker.correct` read only
  the part of the frame their glimpses read, as :meth:`Tracker.update` does, so no step
  converts the whole frame (the very first start reads it whole, as :meth:`Tracker.init`).

Without detections (``detections=None``) and with a tracker, objects never miss: they are
followed until their box leaves the frame or the caller removes them. Public ids are ints handed
out from ``first_id`` upwards (or given with the starts) and never reused.

Reports can reach back: a track confirmed after ``min_hits`` matches reports its tentative
frames then (``backfill``), and a track found after a short gap reports the frames it missed
(``fill_gaps``). Those rows come in :attr:`FrameTracks.backfill`; :attr:`MultiTracker.delay`
says how many frames back they can reach, and :class:`DelayedFrames` holds a stream back by that
many frames so every frame is written complete (:meth:`MultiTracker.held` makes one that also
smooths the boxes of the classes with ``smooth_size``).
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
from torch import Tensor

from ratrack.track.lifecycle import (
    MultiTrackConfig,
    Rows,
    Tracks,
    init_tracks,
    remove_tracks,
    start_tracks,
    step_tracks,
)
from ratrack.track.motion import MotionConfig
from ratrack.track.online import Tracker

__all__ = [
    "DASHCAM",
    "DelayedFrames",
    "Detections",
    "FrameTracks",
    "MultiTrackConfig",
    "MultiTracker",
    "Starts",
]

log = logging.getLogger(__name__)

DASHCAM = {
    "Car": MultiTrackConfig(),
    "Pedestrian": MultiTrackConfig(
        min_score=0.0,
        high_score=0.6,
        birth_score=0.6,
        min_hits=5,
        smooth_size=1.0,
        smooth_centre=True,
        motion=MotionConfig(score_noise=True, std_measurement=0.025),
    ),
}
"""Dashcam defaults per KITTI class, chosen by ``tools/tune_mot.py`` on KITTI tracking
sequences 0000-0010 (RRC detections, 10 frames/s); ``MultiTrackConfig()`` is the car's. The
pedestrian's differ from the car's only in the detector's scores and the confirmation
(``--knobs min_score,high_score,birth_score,min_hits``): matching, motion, track ends and output
policy are the car's, chosen on far more objects than the about 500 pedestrian boxes of
0000-0010. Scored on each tuning sequence with the knobs chosen on the others, moving every knob
reached HOTA 0.561 and moving these four 0.559 (README). The pedestrian's filter weighs each
detection by its score (``motion.score_noise``, NSA): with it on and the four knobs chosen
again, HOTA 0.577 on 0000-0010 (0.571 without) and 0.561 leaving one sequence out (0.559); the
other association options tried so (``height_iou``, ``match_expand`` 0.3, ``direction_weight``
0.2) did not raise both (README). Its reported boxes are smoothed: centre and size from a line
fitted over two frames either side (``smooth_size`` 1, ``smooth_centre``; the four knobs chosen
again around it came back the same): 0.589 and 0.584, sizes alone 0.583 and 0.578. The car's
are not (0.852 against 0.851 on its tuning sequences: a tie, as ``height_iou`` was). The
filter's measurement noise is a fifth knob (``motion.std_measurement`` 0.025, 0.05 or 0.1 of the
box's size; 0.025 chosen on all of 0000-0010 and in every fold leaving one out): 0.590 and 0.585,
against 0.589 and 0.584 at the car's 0.05 (README)."""


class Detections(NamedTuple):
    """One frame's detections: ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``, ``labels``
    ``(N,)`` class names (``""``: no class) or ``None``."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray | None = None


class Starts(NamedTuple):
    """Objects to start in one frame: ``boxes`` ``(M, 4)`` xyxy; ``ids`` ``(M,)`` public ids
    or ``None`` (next free ids); ``labels`` ``(M,)`` class names or ``None``."""

    boxes: np.ndarray
    ids: np.ndarray | None = None
    labels: np.ndarray | None = None


class FrameRows(NamedTuple):
    """Rows reported for earlier frames: ``frame``, ``ids`` ``(R,)`` int64, ``boxes`` ``(R, 4)``
    xyxy, ``scores`` ``(R,)``, ``labels`` ``(R,)`` str."""

    frame: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


class FrameTracks(NamedTuple):
    """The objects reported in one frame (rows sorted by id), the ids that ended in it, and rows
    for earlier frames that this frame decided (:class:`DelayedFrames` puts them in place)."""

    ids: np.ndarray  # (K,) int64 public ids
    boxes: np.ndarray  # (K, 4) float64 xyxy
    windows: np.ndarray  # (K, 4) float64 xyxy glimpse windows (looked through, or started at)
    # (K,) float64: the matched detection's score (the last one while coasting); without
    # detections the tracker's confidence (1 on the frame a track starts)
    scores: np.ndarray
    labels: np.ndarray  # (K,) str class names, "" when unknown
    matched: np.ndarray  # (K,) bool: a detection matched (or started) the object in this frame
    ended: np.ndarray  # (E,) int64 ids that ended in this frame
    backfill: FrameRows | None = None  # rows of earlier frames (tentative frames, gaps)


def _frame_size(frame: np.ndarray | Tensor) -> tuple[int, int]:
    height, width = frame.shape[:2] if isinstance(frame, np.ndarray) else frame.shape[-2:]
    return int(height), int(width)


def _usable(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(K,)`` bool: finite, positive size, and overlapping the ``height x width`` frame."""
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(boxes).all(1)
            & (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
            & (boxes[:, 2] > 0)
            & (boxes[:, 3] > 0)
            & (boxes[:, 0] < width)
            & (boxes[:, 1] < height)
        )


def _cat(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    """``parts`` joined (a lone part as it is), ``empty`` when there are none."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else empty


class MultiTracker:
    """The detection-driven lifecycle (module docstring), optionally around a :class:`Tracker`.

    ``tracker`` must have no live objects; it becomes this object's own. ``config`` (default
    ``MultiTrackConfig()``) applies to every class not in ``class_configs`` (class name ->
    config). State: one column-wise :class:`~ratrack.track.lifecycle.Tracks` per class, the
    next free id, the frame count.
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        config: MultiTrackConfig | None = None,
        *,
        first_id: int = 1,
        class_configs: Mapping[str, MultiTrackConfig] | None = None,
    ) -> None:
        if tracker is not None and tracker.ids:
            raise ValueError("MultiTracker needs a Tracker without live objects")
        self.tracker = tracker
        self.config = config if config is not None else MultiTrackConfig()
        self.class_configs = dict(class_configs or {})
        self.groups: dict[str, Tracks] = {}  # class name -> its tracks
        self.next_id = int(first_id)
        self._used: set[int] = set()  # ids given with starts
        self._t = -1  # frames stepped, minus one
        self._started = False  # the tracker has started objects (the first start reads whole)

    def config_for(self, label: str) -> MultiTrackConfig:
        return self.class_configs.get(label, self.config)

    @property
    def _configs(self) -> tuple[MultiTrackConfig, ...]:
        """The default config and every class's."""
        return (self.config, *self.class_configs.values())

    @property
    def ids(self) -> list[int]:
        """Public ids of the live objects (tentative ones included), ascending."""
        return sorted(int(i) for g in self.groups.values() for i in g.ids)

    @property
    def delay(self) -> int:
        """Frames back that a step's :attr:`FrameTracks.backfill` rows can reach."""
        out = 0
        for cfg in self._configs:
            span = (cfg.min_hits - 1) * (1 + cfg.tentative_misses) if cfg.backfill else 0
            out = max(out, span, cfg.fill_gaps, size_reach(cfg.smooth_size))
        return out

    def held(self) -> DelayedFrames:
        """A :class:`DelayedFrames` for this tracker's steps: held back by :attr:`delay`,
        boxes smoothed per class as its config says (``smooth_size``, ``smooth_centre``)."""
        reach = max(size_reach(cfg.smooth_size) for cfg in self._configs)
        if not reach:
            return DelayedFrames(self.delay)
        return DelayedFrames(self.delay, self.config_for, reach)

    def _group(self, label: str) -> Tracks:
        if label not in self.groups:
            self.groups[label] = init_tracks(self.next_id)
        return self.groups[label]._replace(next_id=self.next_id)

    def step(
        self,
        frame: np.ndarray | Tensor | None = None,
        detections: Detections | None = None,
        starts: Starts | None = None,
        *,
        t: int | None = None,
    ) -> FrameTracks:
        """Advance every object into ``frame`` (``None`` without a tracker), apply
        ``detections``, begin ``starts``; returns what this frame reports. ``t`` is the frame's
        number (increasing; default: one more than the last), the number that
        :attr:`FrameTracks.backfill` rows carry."""
        t = self._t + 1 if t is None else int(t)
        if t <= self._t:
            raise ValueError(f"frame numbers must increase: {t} after {self._t}")
        self._t = t
        cues: dict[int, int] = {}  # public id -> row of tracked boxes
        tracked = windows = np.zeros((0, 4))
        if self.tracker is not None:
            if frame is None:
                raise ValueError("a MultiTracker with a Tracker needs frames")
            if self.tracker.ids:
                tracked = self.tracker.update(frame).astype(np.float64)  # (K, 4) xyxy
                windows = self.tracker.windows.astype(np.float64)
                cues = {oid: row for row, oid in enumerate(self.tracker.ids)}
        parts: list[tuple[Any, ...]] = []  # (ids, boxes, windows, scores, labels, matched)
        back: list[FrameRows] = []
        ended: list[np.ndarray] = []
        if detections is None and self.tracker is not None:
            self._follow(frame, tracked, windows, cues, parts, ended)
        elif detections is not None or self.groups:
            self._detect(t, frame, detections, tracked, windows, cues, parts, back, ended)
        if starts is not None and len(starts.boxes):
            parts.append(self._start(t, frame, starts))
        return self._report(parts, back, ended)

    def _follow(self, frame, tracked, windows, cues, parts, ended) -> None:
        """No detections: report every object at its tracked box; end those that left."""
        height, width = _frame_size(frame)
        for label, group in list(self.groups.items()):
            rows = np.array([cues[int(i)] for i in group.ids], np.int64)
            boxes = tracked[rows].reshape(-1, 4)
            ok = _usable(boxes, height, width)
            gone = group.ids[~ok]
            for i in gone:
                log.info("track %d left the frame or was lost", int(i))
            if len(gone):
                self.groups[label] = remove_tracks(group, gone)
                self.tracker.remove(gone)  # type: ignore[union-attr]
                ended.append(gone)
            n = int(ok.sum())
            parts.append(
                (
                    group.ids[ok],
                    boxes[ok],
                    windows[rows[ok]].reshape(-1, 4),
                    self.tracker.scores[rows[ok]].astype(np.float64),  # type: ignore[union-attr]
                    np.full(n, label),
                    np.zeros(n, bool),
                )
            )

    def _detect(self, t, frame, detections, tracked, windows, cues, parts, back, ended) -> None:
        """One lifecycle step per class (module docstring)."""
        if detections is None:
            boxes, scores, labels = np.zeros((0, 4)), np.zeros(0), np.zeros(0, str)
        else:
            boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)
            scores = np.asarray(detections.scores, np.float64).reshape(-1)
            labels = (
                np.full(len(boxes), "")
                if detections.labels is None
                else np.asarray(detections.labels, dtype=str).reshape(-1)
            )
        names = dict.fromkeys(self.groups)
        if detections is not None and detections.labels is None:
            names[""] = None
        elif len(labels):
            names.update(dict.fromkeys(np.unique(labels).tolist()))
        fix_ids, fix_boxes, new_ids, new_boxes, gone = [], [], [], [], []
        for label in names:
            cfg = self.config_for(label)
            group = self._group(label)
            if len(names) == 1:
                b, s = boxes, scores
            else:
                sel = labels == label
                b, s = boxes[sel], scores[sel]
            cue = None
            if cues:
                cue = tracked[[cues[int(i)] for i in group.ids]].reshape(-1, 4)
            state, step = step_tracks(group, t, b, s, np.zeros(len(b), np.int64), cfg, cue)
            self.groups[label] = state
            self.next_id = state.next_id
            r = step.rows
            gone.append(step.ended)
            w = r.boxes
            if self.tracker is not None:
                old = state.ids < group.next_id
                seen = old & (state.info[:, 2] == t)  # matched in this frame (tentative too)
                fix_ids.append(state.ids[seen])
                fix_boxes.append(state.last[seen, :4])
                new_ids.append(state.ids[~old])
                new_boxes.append(state.last[~old, :4])
                if len(r.ids) and cues:
                    rows = np.array([cues.get(int(i), -1) for i in r.ids])
                    w = np.where((rows >= 0)[:, None], windows[np.maximum(rows, 0)], r.boxes)
            parts.append((r.ids, r.boxes, w, r.scores, np.full(len(r.ids), label), step.matched))
            if len(step.backfill.ids):
                back.append(_named(step.backfill, label))
        gone_ids = _cat(gone, np.zeros(0, np.int64))
        ended.append(gone_ids)
        if self.tracker is not None:
            ids = _cat(fix_ids, np.zeros(0, np.int64))
            if len(ids):
                self.tracker.correct(frame, ids, _cat(fix_boxes, np.zeros((0, 4))), fmt="xyxy")
            if len(gone_ids):
                self.tracker.remove(gone_ids)
            self._add(frame, _cat(new_boxes, np.zeros((0, 4))), _cat(new_ids, gone_ids[:0]))

    def _add(self, frame, boxes: np.ndarray, ids: np.ndarray) -> None:
        if self.tracker is None or not len(ids):
            return
        if self._started:
            self.tracker.add(frame, boxes, fmt="xyxy", ids=ids)
        else:
            self.tracker.init(frame, boxes, fmt="xyxy", ids=ids)
            self._started = True

    def _start(self, t: int, frame, starts: Starts) -> tuple[Any, ...]:
        boxes = np.asarray(starts.boxes, np.float64).reshape(-1, 4)
        m = len(boxes)
        given = starts.ids if starts.ids is not None else np.full(m, -1)
        ids: list[int] = []
        live = set(self.ids)
        for asked in np.asarray(given, np.int64).reshape(-1).tolist():
            pid = int(asked) if asked >= 0 else self.next_id
            if pid in self._used or pid in live:
                raise ValueError(f"track id {pid} is already used")
            self._used.add(pid)
            self.next_id = max(self.next_id, pid + 1)
            ids.append(pid)
        ids_arr = np.asarray(ids, np.int64)
        labels = np.full(m, "") if starts.labels is None else np.asarray(starts.labels, str)
        for label in np.unique(labels).tolist():
            sel = labels == label
            group = self._group(label)
            self.groups[label] = start_tracks(
                group,
                t,
                boxes[sel],
                ids_arr[sel],
                np.zeros(int(sel.sum()), np.int64),
                self.config_for(label),
            )
        self._add(frame, boxes, ids_arr)
        return (ids_arr, boxes, boxes, np.ones(m), labels, np.ones(m, bool))

    def _report(self, parts, back, ended) -> FrameTracks:
        backfill = None
        if back:
            backfill = FrameRows(*(np.concatenate(c) for c in zip(*back, strict=True)))
        gone = _cat(ended, np.zeros(0, np.int64))
        if (len(parts) == 1 and len(parts[0][0]) < 2) or (
            len(parts) == 1 and (parts[0][0][1:] > parts[0][0][:-1]).all()
        ):  # one class, rows already sorted by id
            ids, boxes, windows, scores, labels, matched = parts[0]
            return FrameTracks(ids, boxes, windows, scores, labels, matched, gone, backfill)
        ids = _cat([p[0] for p in parts], np.zeros(0, np.int64)).astype(np.int64)
        order = np.argsort(ids, kind="stable")
        return FrameTracks(
            ids=ids[order],
            boxes=_cat([p[1] for p in parts], np.zeros((0, 4)))[order].astype(np.float64),
            windows=_cat([p[2] for p in parts], np.zeros((0, 4)))[order].astype(np.float64),
            scores=_cat([p[3] for p in parts], np.zeros(0))[order].astype(np.float64),
            labels=_cat([p[4] for p in parts], np.zeros(0, str))[order].astype(str),
            matched=_cat([p[5] for p in parts], np.zeros(0, bool))[order],
            ended=np.sort(gone).astype(np.int64),
            backfill=backfill,
        )


def _named(rows: Rows, label: str) -> FrameRows:
    return FrameRows(rows.frame, rows.ids, rows.boxes, rows.scores, np.full(len(rows.ids), label))


def with_rows(tracks: FrameTracks, rows: FrameRows) -> FrameTracks:
    """``tracks`` with ``rows`` (of its frame) added as matched rows, sorted by id."""
    ids = np.concatenate([tracks.ids, rows.ids])
    order = np.argsort(ids, kind="stable")
    return tracks._replace(
        ids=ids[order],
        boxes=np.concatenate([tracks.boxes, rows.boxes])[order],
        windows=np.concatenate([tracks.windows, rows.boxes])[order],
        scores=np.concatenate([tracks.scores, rows.scores])[order],
        labels=np.concatenate([tracks.labels, rows.labels]).astype(str)[order],
        matched=np.concatenate([tracks.matched, np.ones(len(rows.ids), bool)])[order],
    )


def size_reach(sigma: float) -> int:
    """Frames either side of a row that a ``smooth_size`` of ``sigma`` averages (two sigmas)."""
    return int(np.ceil(2 * sigma))


class DelayedFrames:
    """Holds a stream of ``(t, payload, FrameTracks)`` back by ``delay`` frames and puts each
    step's :attr:`FrameTracks.backfill` rows into the frames they belong to, so each frame
    leaves complete. ``payload`` travels along (e.g. the image, for drawing).

    With ``config_for`` (class name -> its :class:`MultiTrackConfig`, e.g.
    :meth:`MultiTracker.held`), a class with ``smooth_size`` has its boxes leave with their
    widths and heights (with ``smooth_centre`` their centres too) taken from a line fitted to the
    same id's values within :func:`size_reach` frames either side, held or already left
    (weighted least squares, Gaussian weights in frames, the rows as reported). Inside a track
    that is the weighted mean; at its ends and beside gaps the line keeps a steady growth or
    motion from lagging. ``reach`` (default ``delay``, which must cover it) is the farthest any
    class reaches."""

    def __init__(
        self,
        delay: int,
        config_for: Callable[[str], MultiTrackConfig] | None = None,
        reach: int | None = None,
    ) -> None:
        self.delay = delay
        self.config_for = config_for
        self.reach = delay if reach is None else min(reach, delay)
        self._held: deque[list] = deque()  # [t, payload, tracks, _shapes(tracks)]
        # (t, shapes as reported) of the frame leaving and those before it within reach
        self._left: deque[tuple[int, dict]] = deque(maxlen=self.reach + 1)
        self._rules: dict[str, tuple[list[float] | None, bool]] = {}  # class -> _rule
        self._lines: dict[tuple, tuple[float, ...]] = {}  # (class, *offsets) -> _line

    def push(self, t: int, payload: object, tracks: FrameTracks) -> list[tuple]:
        """Take frame ``t``; returns the frames that are complete now, in order."""
        if tracks.backfill is not None:
            if len(tracks.backfill.ids):
                self._place(tracks.backfill)
            tracks = tracks._replace(backfill=None)
        self._held.append([t, payload, tracks, self._shapes(tracks)])
        done = []
        while len(self._held) > self.delay:
            done.append(self._leave(self._held.popleft()))
        return done

    def flush(self) -> list[tuple]:
        """The frames still held, in order."""
        done = []
        while self._held:
            done.append(self._leave(self._held.popleft()))
        return done

    def _place(self, rows: FrameRows) -> None:
        """Put backfilled ``rows`` into the held frames they belong to."""
        entries = {entry[0]: entry for entry in self._held}
        frames = set(rows.frame.tolist())
        for f in frames:
            entry = entries.get(f)
            if entry is None:
                log.debug("rows for frame %d, already written", f)
                continue
            here = rows if len(frames) == 1 else FrameRows(*(c[rows.frame == f] for c in rows))
            entry[2] = with_rows(entry[2], here)
            entry[3] = self._shapes(entry[2])

    def _shapes(self, tracks: FrameTracks) -> dict[int, tuple] | None:
        """Each row's id -> its box's ``(cx, cy, w, h)`` (``None`` when nothing is smoothed).
        Plain Python: a frame holds a handful of rows, fewer than numpy's per-call cost."""
        if self.config_for is None:
            return None
        return {
            i: ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
            for i, (x1, y1, x2, y2) in zip(tracks.ids.tolist(), tracks.boxes.tolist(), strict=True)
        }

    def _rule(self, label: str) -> tuple[list[float] | None, bool]:
        """A class's weights of the frames ``t - reach .. t + reach`` (``None``: not smoothed),
        and whether its centres are smoothed too (``smooth_centre``)."""
        if label not in self._rules:
            cfg = self.config_for(label)
            kernel = None
            if cfg.smooth_size > 0:
                reach = size_reach(cfg.smooth_size)
                kernel = [
                    float(np.exp(-0.5 * (d / cfg.smooth_size) ** 2)) if abs(d) <= reach else 0.0
                    for d in range(-self.reach, self.reach + 1)
                ]
            self._rules[label] = (kernel, cfg.smooth_centre)
        return self._rules[label]

    def _leave(self, entry: list) -> tuple:
        t, payload, tracks, shapes = entry
        if shapes is None:
            return t, payload, tracks
        self._left.append((t, shapes))
        if not shapes:
            return t, payload, tracks
        return t, payload, self._smoothed(t, tracks, shapes)

    def _smoothed(self, t: int, tracks: FrameTracks, shapes: dict[int, tuple]) -> FrameTracks:
        # the rows of this frame and those before it, and of the frames held after it
        near = [(f - t, s) for f, s in self._left if f >= t - self.reach]
        for f, _, _, s in itertools.islice(self._held, self.reach):
            if f <= t + self.reach:
                near.append((f - t, s))
        rows, smoothed = [], []
        for row, (i, label) in enumerate(
            zip(tracks.ids.tolist(), tracks.labels.tolist(), strict=True)
        ):
            kernel, centre = self._rule(label)
            if kernel is None:
                continue
            found = [(d, s[i]) for d, s in near if i in s]
            cx = cy = w = h = 0.0
            for c, (_, (x, y, u, v)) in zip(self._line(label, found), found, strict=True):
                cx, cy, w, h = cx + c * x, cy + c * y, w + c * u, h + c * v
            if not centre:  # the centre as reported
                cx, cy = shapes[i][:2]
            rows.append(row)
            smoothed.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        if len(rows) == len(tracks.ids):
            return tracks._replace(boxes=np.array(smoothed))
        if not rows:
            return tracks
        boxes = tracks.boxes.copy()
        boxes[rows] = smoothed
        return tracks._replace(boxes=boxes)

    def _line(self, label: str, found: list[tuple[int, tuple]]) -> tuple[float, ...]:
        """The weights that give, from a class's values at the frame offsets ``d`` of
        ``found``, the value at ``d = 0`` of their weighted least-squares line (one frame
        alone: its value). They depend on the offsets only, so they are kept per offsets."""
        key = (label, *[d for d, _ in found])
        if key not in self._lines:
            kernel = self._rule(label)[0]
            d = np.array(key[1:], np.float64)
            w = np.array([kernel[k + self.reach] for k in key[1:]])
            sw, sd, sdd = w.sum(), (w * d).sum(), (w * d * d).sum()
            det = sw * sdd - sd * sd
            coef = w * (sdd - sd * d) / det if det > 1e-9 else w / sw
            self._lines[key] = tuple(coef.tolist())
        return self._lines[key]
