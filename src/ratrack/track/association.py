"""A simple IoU-association tracker over per-frame detections (tracking by detection).

This is the baseline multi-object tracker that turns detector output (for example KITTI's RRC
detections) into tracks, so that the multi-object evaluation can be exercised on real data. Per
frame ``t``:

1. drop detections with ``score < min_score``;
2. build the IoU matrix ``IoU(b_k^{t-1}, d_j^t)`` between each live track's last box and each
   detection, and solve the assignment maximizing total IoU (Hungarian algorithm), keeping only
   pairs with ``IoU >= iou_threshold``;
3. matched tracks take the detection's box; unmatched detections start new tracks with fresh ids;
   unmatched tracks age by one frame and are dropped once they were missed more than ``max_age``
   consecutive frames (a track with ``max_age = 0`` ends at its first miss).

There is no motion model: a track's position is its last matched box. State is explicit
(:class:`IouTrackState`), nothing is stored on objects between calls.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ratrack.boxes import box_iou
from ratrack.data.detections import read_detections
from ratrack.data.kitti_labels import KittiLabels


@dataclass(frozen=True)
class IouTrackerConfig:
    """Settings of the IoU-association tracker."""

    iou_threshold: float = 0.3  # minimum IoU between a track's last box and a detection to match
    min_score: float = 0.0  # detections scoring below this are ignored
    max_age: int = 2  # consecutive missed frames a track survives before it is ended

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if self.max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {self.max_age}")


class IouTrackState(NamedTuple):
    """The tracker's state between frames: the live tracks and the next free id."""

    boxes: np.ndarray  # (K, 4) float64 xyxy: each live track's last matched box
    ids: np.ndarray  # (K,) int64 track ids
    misses: np.ndarray  # (K,) int64 consecutive frames each track went unmatched
    next_id: int  # id given to the next new track


class TrackedDetections(NamedTuple):
    """Detections that were kept, with the track id each was assigned (columnar, one row each)."""

    frame: np.ndarray  # (N,) int64
    track_id: np.ndarray  # (N,) int64
    boxes: np.ndarray  # (N, 4) float64 xyxy
    score: np.ndarray  # (N,) float64


def init_state(first_id: int = 0) -> IouTrackState:
    """An empty tracker state whose first new track gets id ``first_id``."""
    return IouTrackState(
        boxes=np.zeros((0, 4)),
        ids=np.zeros(0, np.int64),
        misses=np.zeros(0, np.int64),
        next_id=int(first_id),
    )


def match_by_iou(
    track_boxes: np.ndarray, det_boxes: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-total-IoU assignment of ``(K, 4)`` tracks to ``(N, 4)`` detections.

    Returns index arrays ``(rows, cols)`` of the matched pairs, each with IoU >= ``iou_threshold``.
    """
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    iou = box_iou(torch.from_numpy(track_boxes), torch.from_numpy(det_boxes)).numpy()  # (K, N)
    score = np.where(iou >= iou_threshold, iou, 0.0)
    rows, cols = linear_sum_assignment(score, maximize=True)
    keep = score[rows, cols] > 0
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def step(
    boxes: np.ndarray, state: IouTrackState, config: IouTrackerConfig = IouTrackerConfig()
) -> tuple[np.ndarray, IouTrackState]:
    """Associate one frame's detection ``boxes`` ``(N, 4)`` xyxy with the live tracks.

    Score filtering is the caller's job (see :func:`track_detections`). Returns the track id of
    each detection ``(N,)`` and the next state.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    rows, cols = match_by_iou(state.boxes, boxes, config.iou_threshold)
    ids = np.full(len(boxes), -1, np.int64)
    ids[cols] = state.ids[rows]
    new = np.flatnonzero(ids < 0)
    ids[new] = state.next_id + np.arange(len(new))

    matched = np.zeros(len(state.ids), bool)
    matched[rows] = True
    track_boxes = state.boxes.copy()
    track_boxes[rows] = boxes[cols]
    misses = np.where(matched, 0, state.misses + 1)
    alive = misses <= config.max_age
    next_state = IouTrackState(
        boxes=np.concatenate([track_boxes[alive], boxes[new]]),
        ids=np.concatenate([state.ids[alive], ids[new]]),
        misses=np.concatenate([misses[alive], np.zeros(len(new), np.int64)]),
        next_id=state.next_id + len(new),
    )
    return ids, next_state


def track_detections(
    frame: np.ndarray,
    boxes: np.ndarray,
    score: np.ndarray,
    config: IouTrackerConfig = IouTrackerConfig(),
    first_id: int = 0,
) -> TrackedDetections:
    """Run the tracker over a whole sequence of detections given as columns.

    ``frame`` ``(N,)`` int, ``boxes`` ``(N, 4)`` xyxy, ``score`` ``(N,)``. Frames are processed in
    increasing order; a frame number with no detection still ages the tracks. Returns the kept
    detections (``score >= min_score``) sorted by frame, with their track ids.
    """
    frame = np.asarray(frame, np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    score = np.asarray(score, np.float64).reshape(-1)
    if not len(frame) == len(boxes) == len(score):
        raise ValueError(
            f"frame, boxes and score differ in length: {len(frame)}, {len(boxes)}, {len(score)}"
        )
    keep = score >= config.min_score
    frame, boxes, score = frame[keep], boxes[keep], score[keep]
    order = np.argsort(frame, kind="stable")
    frame, boxes, score = frame[order], boxes[order], score[order]
    ids = np.zeros(len(frame), np.int64)
    state = init_state(first_id)
    if len(frame):
        starts = np.searchsorted(frame, np.arange(frame[0], frame[-1] + 2))
        for lo, hi in itertools.pairwise(starts):
            ids[lo:hi], state = step(boxes[lo:hi], state, config)
    return TrackedDetections(frame=frame, track_id=ids, boxes=boxes, score=score)


def track_kitti_detections(
    detections: Mapping[str, str | Path], config: IouTrackerConfig = IouTrackerConfig()
):
    """Track per-class detection files into one KITTI tracking result.

    ``detections`` maps KITTI type names (``"Car"``, ``"Pedestrian"``) to detection files of
    ``frame,x1,y1,x2,y2,score`` rows (:func:`read_detections`); each class is tracked on its
    own, ids are unique across classes. Returns
    :class:`ratrack.data.kitti.KittiLabels` sorted by frame, with the detector's scores
    (18-column results rows; the 3D fields carry KITTI's "unknown" values).
    """

    parts, types, next_id = [], [], 0
    for kind, path in detections.items():
        frame, boxes, score = read_detections(path)
        tracked = track_detections(frame, boxes, score, config, first_id=next_id)
        if len(tracked.track_id):
            next_id = int(tracked.track_id.max()) + 1
        parts.append(tracked)
        types += [kind] * len(tracked.frame)
    frame = np.concatenate([p.frame for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(frame, kind="stable")
    n = len(frame)
    return KittiLabels(
        frame=frame[order],
        track_id=np.concatenate([p.track_id for p in parts])[order] if parts else frame,
        type=np.asarray(types, dtype=str)[order] if n else np.zeros(0, dtype=str),
        truncated=np.full(n, -1.0),
        occluded=np.full(n, -1, np.int64),
        alpha=np.full(n, -10.0),
        boxes=np.concatenate([p.boxes for p in parts])[order] if parts else np.zeros((0, 4)),
        dimensions=np.full((n, 3), -1.0),
        location=np.full((n, 3), -1000.0),
        rotation_y=np.full(n, -10.0),
        score=np.concatenate([p.score for p in parts])[order] if parts else np.zeros(0),
    )
