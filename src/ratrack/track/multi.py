"""Track lifecycle on top of :class:`~ratrack.track.online.Tracker`: births, matches, ends.

:class:`MultiTracker` follows any number of objects through a stream of frames. Objects start
either because the caller says so (``starts``: boxes given by the user, e.g. ``--init``) or
because a confident detection matches no object. Boxes are ``xyxy`` pixels (see
:mod:`ratrack.boxes`). Per frame:

1. every live object advances in one batched :meth:`Tracker.update` (its tracked box ``b_k``);
2. an object whose box is no longer usable (not finite, empty, or wholly outside the frame)
   ends;
3. with detections for the frame (``detections``; those scoring below ``min_score`` are
   dropped), objects and detections are paired by the maximum-total-IoU assignment of
   :func:`ratrack.track.association.match_by_iou` (pairs below ``iou_threshold`` are not matches;
   an object with a class only matches detections of its class, an object without one matches
   any and takes the class of its first match):

   * objects left unmatched are matched again, by the box of their last detection (or start),
     against the detections left (``rematch_last``): a weak tracker that lost its object can
     not do worse than IoU association of the detections alone;
   * a matched object takes the detection's box and score; with ``correct`` its state restarts
     at that box in this frame (:meth:`Tracker.correct`), so its glimpse memory is refreshed;
   * an unmatched object counts a miss, and ends after more than ``max_misses`` consecutive
     misses (it is reported at its tracked box meanwhile, unless ``report_unmatched`` is off);
   * a detection scoring at least ``birth_score`` whose IoU with the box of every object of
     its class (or without one) is below ``iou_threshold`` starts a new object at its box;

4. the ``starts`` of this frame begin.

Without detections (``detections=None``) objects never miss: they are followed until their box
leaves the frame or the caller removes them. Public ids are ints handed out from ``first_id``
upwards (or given with the starts) and never reused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from torch import Tensor

from ratrack.boxes import box_iou
from ratrack.track.association import match_by_iou
from ratrack.track.online import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MultiTrackConfig:
    """Thresholds of the detection-driven track lifecycle (module docstring)."""

    iou_threshold: float = (
        0.3  # min IoU of a tracked box and a detection to match (or to block a birth)
    )
    min_score: float = 0.3  # detections scoring below this are ignored
    birth_score: float = 0.5  # min score of an unmatched detection to start a new track
    max_misses: int = 5  # consecutive unmatched frames a track survives; one more ends it
    correct: bool = True  # restart a matched track's state at its detection's box
    rematch_last: bool = True  # second matching round by each track's last detected box
    report_unmatched: bool = True  # output a track's tracked box in frames nothing matched it

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if self.max_misses < 0:
            raise ValueError(f"max_misses must be >= 0, got {self.max_misses}")
        if self.birth_score < self.min_score:
            raise ValueError(
                f"birth_score ({self.birth_score}) must be >= min_score ({self.min_score})"
            )


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


class FrameTracks(NamedTuple):
    """The objects reported in one frame (rows sorted by id) and the ids that ended in it."""

    ids: np.ndarray  # (K,) int64 public ids
    boxes: np.ndarray  # (K, 4) float64 xyxy
    windows: np.ndarray  # (K, 4) float64 xyxy glimpse windows (looked through, or started at)
    # (K,) float64: the matched detection's score (the last one while coasting); without
    # detections the tracker's confidence (1 on the frame a track starts)
    scores: np.ndarray
    labels: np.ndarray  # (K,) str class names, "" when unknown
    matched: np.ndarray  # (K,) bool: a detection matched (or started) the object in this frame
    ended: np.ndarray  # (E,) int64 ids that ended in this frame


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


def match_with_classes(
    track_boxes: np.ndarray,
    track_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_labels: np.ndarray,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`match_by_iou` within each class, then class-less tracks against what is left.

    ``track_labels`` / ``det_labels`` are ``(K,)`` / ``(N,)`` str; ``""`` is "no class" (such a
    detection matches any track). Returns index arrays ``(rows, cols)`` of the matched pairs.
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    free_det = np.ones(len(det_boxes), bool)
    classes = sorted(set(track_labels.tolist()) - {""})
    for cls in classes:
        t = np.flatnonzero(track_labels == cls)
        d = np.flatnonzero((det_labels == cls) | (det_labels == ""))
        r, c = match_by_iou(track_boxes[t], det_boxes[d], iou_threshold)
        rows.append(t[r])
        cols.append(d[c])
        free_det[d[c]] = False
    t = np.flatnonzero(track_labels == "")
    d = np.flatnonzero(free_det)
    r, c = match_by_iou(track_boxes[t], det_boxes[d], iou_threshold)
    rows.append(t[r])
    cols.append(d[c])
    return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)


def _max_iou(a: np.ndarray, a_labels: np.ndarray, b: np.ndarray, b_labels: np.ndarray):
    """``(N,)`` largest IoU of each box of ``a`` ``(N, 4)`` with a box of ``b`` ``(K, 4)`` of a
    compatible class (the same, or either one ``""``)."""
    import torch

    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a))
    iou = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()  # (N, K)
    a_labels, b_labels = a_labels[:, None], b_labels[None, :]
    compatible = (a_labels == b_labels) | (a_labels == "") | (b_labels == "")
    return np.where(compatible, iou, 0.0).max(1)


class MultiTracker:
    """Detection-driven track lifecycle around a :class:`Tracker` (module docstring).

    ``tracker`` must have no live objects; it becomes this object's own. The state of the tracks
    (misses, scores, classes, public ids) lives here, the recurrent state in ``tracker``.
    """

    def __init__(
        self, tracker: Tracker, config: MultiTrackConfig = MultiTrackConfig(), *, first_id: int = 1
    ) -> None:
        if tracker.ids:
            raise ValueError("MultiTracker needs a Tracker without live objects")
        self.tracker = tracker
        self.config = config
        self._next_id = int(first_id)
        self._used: set[int] = set()
        self._public: dict[int, int] = {}  # tracker id -> public id
        self._misses: dict[int, int] = {}  # tracker id -> consecutive misses
        self._score: dict[int, float] = {}
        self._label: dict[int, str] = {}
        self._last: dict[int, np.ndarray] = {}  # tracker id -> last detected (or given) box

    @property
    def ids(self) -> list[int]:
        """Public ids of the live objects."""
        return [self._public[i] for i in self.tracker.ids]

    def _start(self, frame, boxes: np.ndarray, ids, labels, scores) -> list[int]:
        """Start objects at xyxy ``boxes``; returns the tracker's ids of the new objects."""
        public = []
        for pid in ids if ids is not None else [None] * len(boxes):
            if pid is None or pid < 0:
                pid = self._next_id
            pid = int(pid)
            if pid in self._used:
                raise ValueError(f"track id {pid} is already used")
            self._used.add(pid)
            self._next_id = max(self._next_id, pid + 1)
            public.append(pid)
        if self.tracker.ids:
            new = self.tracker.add(frame, boxes, fmt="xyxy")
        else:
            new = self.tracker.init(frame, boxes, fmt="xyxy")
        for k, tid in enumerate(new):
            self._public[tid] = public[k]
            self._misses[tid] = 0
            self._score[tid] = float(scores[k])
            self._label[tid] = "" if labels is None else str(labels[k])
            self._last[tid] = boxes[k]
        return new

    def step(
        self,
        frame: np.ndarray | Tensor,
        detections: Detections | None = None,
        starts: Starts | None = None,
    ) -> FrameTracks:
        """Advance every object into ``frame``, apply ``detections``, begin ``starts``."""
        cfg = self.config
        height, width = _frame_size(frame)
        tids = np.asarray(self.tracker.ids, np.int64)  # (K,)
        boxes = self.tracker.update(frame).astype(np.float64)  # (K, 4) xyxy
        if detections is None:  # no detections: a track's score is the tracker's confidence
            for tid, score in zip(tids, self.tracker.scores, strict=True):
                self._score[int(tid)] = float(score)
        if detections is not None or starts is not None:
            frame = self.tracker.frame_tensor(frame)[0]  # (C, H, W): once for correct and add
        windows = self.tracker.windows.astype(np.float64)  # (K, 4)
        K = len(tids)
        matched = np.zeros(K, bool)
        ended = ~_usable(boxes, height, width)
        for tid in tids[ended]:
            log.info("track %d left the frame or was lost", self._public[int(tid)])
        new: list[int] = []  # tracker ids of the objects started in this frame
        new_boxes: list[np.ndarray] = [np.zeros((0, 4))]
        if detections is not None:
            det_boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)
            det_scores = np.asarray(detections.scores, np.float64).reshape(-1)
            det_labels = (
                np.full(len(det_boxes), "", dtype=object)
                if detections.labels is None
                else np.asarray(detections.labels, dtype=object)
            )
            keep = det_scores >= cfg.min_score
            det_boxes, det_scores, det_labels = det_boxes[keep], det_scores[keep], det_labels[keep]
            live = np.flatnonzero(~ended)
            labels = np.array([self._label[int(t)] for t in tids[live]], dtype=object)
            r, c = match_with_classes(boxes[live], labels, det_boxes, det_labels, cfg.iou_threshold)
            if cfg.rematch_last:  # objects the tracker lost, by where they were last detected
                lost = np.setdiff1d(np.arange(len(live)), r)
                left = np.setdiff1d(np.arange(len(det_boxes)), c)
                last = np.array([self._last[int(t)] for t in tids[live[lost]]]).reshape(-1, 4)
                r2, c2 = match_with_classes(
                    last, labels[lost], det_boxes[left], det_labels[left], cfg.iou_threshold
                )
                r, c = np.concatenate([r, lost[r2]]), np.concatenate([c, left[c2]])
            rows = live[r]
            matched[rows] = True
            boxes[rows] = det_boxes[c]
            for row, col in zip(rows, c, strict=True):
                tid = int(tids[row])
                self._misses[tid] = 0
                self._last[tid] = det_boxes[col]
                self._score[tid] = float(det_scores[col])
                if not self._label[tid]:
                    self._label[tid] = str(det_labels[col])
            if cfg.correct and len(rows):
                self.tracker.correct(frame, tids[rows], det_boxes[c], fmt="xyxy")
            for row in np.setdiff1d(live, rows):
                tid = int(tids[row])
                self._misses[tid] += 1
                if self._misses[tid] > cfg.max_misses:
                    ended[row] = True
            free = np.ones(len(det_boxes), bool)
            free[c] = False
            free &= det_scores >= cfg.birth_score
            labels = np.array([self._label[int(t)] for t in tids[live]], dtype=object)
            free &= _max_iou(det_boxes, det_labels, boxes[live], labels) < cfg.iou_threshold
            if free.any():
                new += self._start(frame, det_boxes[free], None, det_labels[free], det_scores[free])
                new_boxes.append(det_boxes[free])
        gone = [int(t) for t in tids[ended]]
        ended_public = np.array([self._public[t] for t in gone], np.int64)
        if gone:
            self.tracker.remove(gone)
        report = ~ended & (matched | cfg.report_unmatched | (detections is None))
        if starts is not None and len(starts.boxes):
            sboxes = np.asarray(starts.boxes, np.float64).reshape(-1, 4)
            new += self._start(frame, sboxes, starts.ids, starts.labels, np.ones(len(sboxes)))
            new_boxes.append(sboxes)
        # rows: the reported existing objects, then the new ones at their start boxes
        live_ids, live_windows = self.tracker.ids, self.tracker.windows.astype(np.float64)
        new_windows = live_windows[[live_ids.index(t) for t in new]].reshape(-1, 4)
        out_tids = np.concatenate([tids[report], np.asarray(new, np.int64)])
        out = FrameTracks(
            ids=np.array([self._public[int(t)] for t in out_tids], np.int64),
            boxes=np.concatenate([boxes[report], *new_boxes]),
            windows=np.concatenate([windows[report], new_windows]),
            scores=np.array([self._score[int(t)] for t in out_tids], np.float64),
            labels=np.array([self._label[int(t)] for t in out_tids], dtype=str).reshape(-1),
            matched=np.concatenate([matched[report], np.ones(len(new), bool)]),
            ended=ended_public,
        )
        for t in gone:
            for table in (self._public, self._misses, self._score, self._label, self._last):
                del table[t]
        order = np.argsort(out.ids, kind="stable")
        return FrameTracks._make([*(x[order] for x in out[:-1]), out.ended])
