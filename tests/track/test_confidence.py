"""Confidence, loss and re-acquisition on real frames (issue #13), and bad input to a stream.

``uavdt_half/S0601`` (a car seen from a drone; a tuning sequence) is tracked from its first
box; a few frames are blanked as if the camera dropped out, then the real frames come back.
"""

import dataclasses

import numpy as np
import pytest

from ratrack.boxes import box_iou_elementwise
from ratrack.data.formats import open_sequence
from ratrack.track.online import Tracker

BLANK = range(6, 10)  # frames replaced by a uniform gray frame


@pytest.fixture(scope="module")
def s0601(data_dir):
    return open_sequence(data_dir / "uavdt_half" / "S0601", "otb")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    import torch

    return float(box_iou_elementwise(torch.as_tensor(a), torch.as_tensor(b)))


@pytest.mark.parametrize("one_scale", [False, True])
def test_score_loss_and_reacquisition_on_real_frames(s0601, one_scale):
    tracker = Tracker.from_pretrained("natural")
    config = tracker.model.config
    tracker.model.config = dataclasses.replace(config, lost_one_scale=one_scale)
    threshold = tracker.model.config.lost_score
    tracker.init(s0601.frame(0), s0601.gt[0], fmt="xyxy")
    assert tracker.scores.shape == (1,) and tracker.scores[0] == 1 and not tracker.lost[0]
    scores, ious, held = [], [], []
    for t in range(1, 20):
        frame = s0601.frame(t)
        if t in BLANK:
            frame = np.full_like(frame, 128)
        box = tracker.update(frame)[0]
        scores.append(float(tracker.scores[0]))
        ious.append(_iou(box, s0601.gt[t]))
        held.append(box)
        assert tracker.lost[0] == (scores[-1] < threshold)
    scores, ious = np.array(scores), np.array(ious)
    seen = [t - 1 for t in range(1, 6)]
    blank = [t - 1 for t in BLANK]
    assert (scores[seen] >= threshold).all() and (ious[seen] > 0.5).all()
    # a blank frame holds no evidence: the object is lost, its box stays where it was
    assert (scores[blank] < tracker.model.config.hold_score).all()
    for i in blank[1:]:
        np.testing.assert_allclose(held[i], held[blank[0] - 1], atol=1e-4)
    # the real frames come back: the wider search finds the object again
    back = np.arange(blank[-1] + 3, len(scores))
    assert (scores[back] >= threshold).all() and (ious[back] > 0.5).all()


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ((np.nan, 10.0, 20.0, 20.0), "not finite"),
        ((10.0, 10.0, 0.0, 20.0), "no area"),
        ((600.0, 10.0, 20.0, 20.0), "outside"),
        ((-50.0, -40.0, 20.0, 20.0), "outside"),
    ],
)
def test_bad_init_boxes_raise_one_line_naming_the_box(s0601, box, words):
    tracker = Tracker.from_pretrained("natural")
    with pytest.raises(ValueError, match=words) as info:
        tracker.init(s0601.frame(0), np.array([box]), fmt="xywh")
    message = str(info.value)
    assert "\n" not in message and "box (" in message
    assert f"{box[0]:g}" in message  # names the box as given


def test_a_frame_of_another_size_is_an_error(s0601):
    tracker = Tracker.from_pretrained("natural")
    tracker.init(s0601.frame(0), s0601.gt[0], fmt="xyxy")
    with pytest.raises(ValueError, match="the stream started with 512x270"):
        tracker.update(s0601.frame(1)[:200])
