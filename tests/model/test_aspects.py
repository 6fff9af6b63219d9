"""Stretched aspects for elongated boxes (``match_aspect``) on real frames.

A pedestrian of ``uav123_10fps_half/person11`` (a tuning sequence; box 20x41, twice as tall as
wide) and a car of ``uavdt_half/S0601`` (10x12) in their first frames. The next frame is the
first one stretched about the object: 10 % wider, 10 % shorter.
"""

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from ratrack.data.formats import open_sequence
from ratrack.model.config import TrackerConfig
from ratrack.track.online import Tracker


@pytest.fixture(scope="module")
def person(data_dir):
    sequence = open_sequence(data_dir / "uav123_10fps_half" / "person11", "otb")
    return sequence.frame(0), sequence.gt[0]


@pytest.fixture(scope="module")
def car(data_dir):
    sequence = open_sequence(data_dir / "uavdt_half" / "S0601", "otb")
    return sequence.frame(0), sequence.gt[0]


def _stretched(frame: np.ndarray, box: np.ndarray, sx: float, sy: float) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    warp = np.array([[sx, 0, cx * (1 - sx)], [0, sy, cy * (1 - sy)]], dtype=np.float64)
    return cv2.warpAffine(frame, warp, frame.shape[1::-1], flags=cv2.INTER_LINEAR)


def _tracker(aspect: float) -> Tracker:
    tracker = Tracker.from_pretrained("natural")
    config = dataclasses.replace(tracker.model.config, match_aspect=aspect, jump_check=0.0)
    tracker.model.config = config
    return tracker


def test_stretches_and_elongation():
    config = TrackerConfig(match_size=16, match_aspect=1.25)
    assert config.match_stretches(False) == tuple((s, s) for s in config.match_scales)
    assert config.match_stretches(True)[-2:] == ((1.25, 0.8), (0.8, 1.25))
    with pytest.raises(ValueError, match="match_aspect"):
        TrackerConfig(match_aspect=0.9)
    with pytest.raises(ValueError, match="aspect_penalty"):
        TrackerConfig(aspect_penalty=0.0)


def test_only_elongated_boxes_read_stretched_glimpses(person, car):
    model = _tracker(1.05).model
    boxes = torch.tensor(np.stack((person[1], car[1])), dtype=torch.float32)
    assert model.elongated(boxes).tolist() == [True, False]
    state = model.init_state(torch.zeros(3, 400, 700), boxes)
    assert model.read_windows(state).match.shape[1] == 5  # one elongated box: all read five
    wide = model.read_windows(state.select(torch.tensor([0]))).match[0]  # (5, 4)
    wh = wide[:, 2:] - wide[:, :2]
    np.testing.assert_allclose((wh[:, 0] / wh[:, 1]).numpy(), [1, 1, 1, 1.05**2, 1.05**-2])
    assert model.read_windows(state.select(torch.tensor([1]))).match.shape[1] == 3
    assert not _tracker(0.0).model.elongated(boxes).any()


def test_an_elongated_box_follows_a_stretch(one_thread, person):
    frame, box = person
    stretched = _stretched(frame, box, 1.1, 1 / 1.1)
    aspects = []
    for aspect in (0.0, 1.05):
        tracker = _tracker(aspect)
        tracker.init(frame, box[None], fmt="xyxy")
        for _ in range(3):
            out = tracker.update(stretched)[0]
        aspects.append((out[2] - out[0]) / (out[3] - out[1]))
    first = (box[2] - box[0]) / (box[3] - box[1])
    assert aspects[1] > aspects[0] and aspects[1] > 1.02 * first


def test_a_square_box_tracked_beside_an_elongated_one_is_unchanged(one_thread, person):
    """A square patch of the same frame reads five glimpses in a batch with the pedestrian,
    but never picks the stretched ones: its boxes are those it gets tracked alone."""
    frame, box = person
    square = np.array([400.0, 200.0, 430.0, 230.0])
    stretched = _stretched(frame, box, 1.1, 1 / 1.1)
    both, alone = _tracker(1.05), _tracker(1.05)
    both.init(frame, np.stack((box, square)), fmt="xyxy")
    alone.init(frame, square[None], fmt="xyxy")
    for _ in range(3):
        np.testing.assert_allclose(both.update(stretched)[1], alone.update(stretched)[0], atol=1e-3)
