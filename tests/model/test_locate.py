"""``RecurrentTracker.locate`` (the jump check's way back) on real frames.

Frame 0 of ``uavdt_half/S0601`` (a car seen from a drone; a tuning sequence) and the same frame
moved: the car's patch in the moved frame is found back where the car is in frame 0.
"""

import numpy as np
import pytest
import torch

from ratrack.data.formats import open_sequence
from ratrack.model.glimpse import Frame
from ratrack.track.online import Tracker


@pytest.fixture(scope="module")
def car(data_dir):
    sequence = open_sequence(data_dir / "uavdt_half" / "S0601", "otb")
    return sequence.frame(0), sequence.gt[0]


def _whole(tracker: Tracker, frame: np.ndarray) -> Frame:
    return Frame.whole(tracker.frame_tensor(frame))


@pytest.mark.parametrize("dx, dy", [(0, 0), (9, -4), (-6, 7)])
def test_the_moved_patch_is_found_where_it_was(one_thread, car, dx, dy):
    frame, box = car
    tracker = Tracker.from_pretrained("natural")
    moved = np.roll(frame, (dy, dx), axis=(0, 1))
    at = torch.tensor((box + np.array([dx, dy, dx, dy]))[None], dtype=torch.float32)
    centre = tracker.model.locate(_whole(tracker, moved), at, _whole(tracker, frame))[0]
    side = (box[2:] - box[:2]).max()
    cell = tracker.model.config.context * side / tracker.model.config.match_size
    expected = (box[:2] + box[2:]) / 2
    assert np.abs(centre.numpy() - expected).max() <= cell  # to one match cell


def test_nowhere_to_look_is_nan(one_thread, car):
    frame, box = car
    tracker = Tracker.from_pretrained("natural")
    corner = _whole(tracker, frame[:8, :8].copy())  # a frame 8 pixels wide, far from the car
    at = torch.tensor(box[None], dtype=torch.float32)
    assert torch.isnan(tracker.model.locate(_whole(tracker, frame), at, corner)).all()
