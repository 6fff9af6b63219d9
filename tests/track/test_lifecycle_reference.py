"""Reference for the multi-object lifecycle: with a tracker that does not move its boxes and
detections on every frame, :class:`MultiTracker` is the IoU tracker of
:mod:`ratrack.track.association` (issue #12).

With the lifecycle's extras off (one matching stage, confirmation at birth, no recovery, gap
filling or velocity restart; a box filter that trusts each detection and keeps no velocity) and
an identity motion model, its per-frame rules reduce to IoU association: the
tracked box of an object is its last detection, unmatched detections start tracks (none of a
frame's detections overlap each other by ``iou_threshold``, so no birth is blocked), misses end
a track after ``max_misses`` frames. Ids, boxes and the live set must agree frame by frame.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratrack.boxes import box_iou
from ratrack.model.tracker import RecurrentTracker, StepOutput
from ratrack.track.association import IouTrackerConfig, init_state, step
from ratrack.track.motion import MotionConfig
from ratrack.track.multi import Detections, MultiTrackConfig, MultiTracker
from ratrack.track.online import Tracker
from tracker_helpers import TINY

HEIGHT, WIDTH = 120, 200
IOU, MIN_SCORE, BIRTH_SCORE, MISSES = 0.3, 0.3, 0.5, 2


class StillModel(RecurrentTracker):
    """A tracker whose every step keeps each object's box and window where they are."""

    def step(self, frames, state, **_):
        zeros = state.box.new_zeros(len(state.box), 4)
        out = StepOutput(
            box=state.box,
            box_in_window=zeros,
            window=state.window,
            next_window=state.window,
            deltas=zeros,
            log_prob=zeros[:, 0],
            score=state.score,
        )
        return out, state


def _nms(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of boxes kept greedily so that no two kept ones overlap by ``threshold``."""
    keep: list[int] = []
    for i in range(len(boxes)):
        if not keep:
            keep.append(i)
            continue
        iou = box_iou(torch.from_numpy(boxes[i : i + 1]), torch.from_numpy(boxes[keep])).numpy()
        if iou.max() < threshold:
            keep.append(i)
    return np.asarray(keep, np.int64)


def detection_stream(seed: int, frames: int = 60, objects: int = 7):
    """Per frame ``(boxes (N, 4) xyxy, scores (N,))``: objects that come and go, move, are
    missed now and then, false positives, some below ``min_score``."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, frames // 2, objects)
    end = start + rng.integers(10, frames, objects)
    size = rng.uniform(14, 30, (objects, 2))
    pos = rng.uniform(0, 1, (objects, 2)) * ([WIDTH, HEIGHT] - size)
    velocity = rng.normal(0, 1.5, (objects, 2))
    stream = []
    for t in range(frames):
        pos = np.clip(pos + velocity + rng.normal(0, 0.7, pos.shape), 0, [WIDTH, HEIGHT] - size)
        jump = rng.random(objects) < 0.03  # an object that jumps away starts a new track
        pos[jump] = rng.uniform(0, 1, (int(jump.sum()), 2)) * ([WIDTH, HEIGHT] - size[jump])
        seen = (start <= t) & (t < end) & (rng.random(objects) > 0.15)
        boxes = np.concatenate((pos, pos + size), 1)[seen]
        extra = rng.integers(0, 3)
        xy = rng.uniform(0, 1, (extra, 2)) * [WIDTH - 30, HEIGHT - 30]
        false = np.concatenate((xy, xy + rng.uniform(10, 30, (extra, 2))), 1)  # (extra, 4)
        boxes = np.concatenate((boxes, false))
        scores = rng.uniform(BIRTH_SCORE, 1.0, len(boxes))
        scores[rng.random(len(boxes)) < 0.1] = rng.uniform(0, MIN_SCORE)  # dropped by both
        order = rng.permutation(len(boxes))
        boxes, scores = boxes[order], scores[order]
        keep = _nms(boxes, IOU)
        stream.append((boxes[keep], scores[keep]))
    return stream


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multitracker_with_identity_motion_is_the_iou_tracker(seed):
    torch.manual_seed(0)
    tracker = Tracker(model=StillModel(config=TINY))
    # the lifecycle reduced to IoU association (module docstring)
    still = MotionConfig(
        std_position=1.0, std_velocity=1e-9, std_measurement=1e-6, init_velocity=1e-9
    )
    config = MultiTrackConfig(
        iou_threshold=IOU,
        min_score=MIN_SCORE,
        high_score=MIN_SCORE,
        birth_score=BIRTH_SCORE,
        max_misses=MISSES,
        min_hits=1,
        recover_iou=0.0,
        fill_gaps=0,
        observation_restart=False,
        motion=still,
    )
    multi = MultiTracker(tracker, config, first_id=0)
    reference = IouTrackerConfig(iou_threshold=IOU, min_score=MIN_SCORE, max_age=MISSES)
    state = init_state(first_id=0)
    frame = np.zeros((HEIGHT, WIDTH), np.uint8)
    births = 0
    for t, (boxes, scores) in enumerate(detection_stream(seed)):
        tracks = multi.step(frame, Detections(boxes, scores))
        kept = scores >= MIN_SCORE
        ids, state = step(boxes[kept], state, reference)
        births = state.next_id
        matched = tracks.matched
        assert sorted(tracks.ids[matched].tolist()) == sorted(ids.tolist()), t
        want = dict(zip(ids.tolist(), boxes[kept], strict=True))
        got = np.array([want[i] for i in tracks.ids[matched].tolist()]).reshape(-1, 4)
        np.testing.assert_allclose(tracks.boxes[matched], got, rtol=0, atol=1e-3)
        assert sorted(multi.ids) == sorted(state.ids.tolist()), t
    assert births > 10  # the stream exercised births, matches and ends
