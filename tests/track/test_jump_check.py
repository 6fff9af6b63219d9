"""Confident jumps checked by looking back (the model's ``jump_check``) on real frames.

Frame 0 of ``uavdt_half/S0601`` (a car seen from a drone; a tuning sequence) with a copy of the
car pasted just right of it: a look-alike that is there in both frames. In the next frame the
car itself is covered by a flat patch, as a sign board hides it, so its best match is the copy.
Looked for back in the first frame, the copy's patch is found where the copy is, not where the
car was: the move is refused and the box stays where the car was. A real move (the whole frame
shifted) is found back where the car was and is kept.
"""

import dataclasses
from unittest import mock

import numpy as np
import pytest
import torch

from ratrack.track.online import Tracker


@pytest.fixture(scope="module")
def scene(data_dir):
    from ratrack.data.formats import open_sequence

    sequence = open_sequence(data_dir / "uavdt_half" / "S0601", "otb")
    frame, box = sequence.frame(0).copy(), sequence.gt[0]
    x0, y0, x1, y1 = np.round(box).astype(int)
    w = x1 - x0
    frame[y0:y1, x1 : x1 + w] = frame[y0:y1, x0:x1]  # the look-alike, adjacent on the right
    return frame, box, w


def _tracker(check: float) -> Tracker:
    tracker = Tracker.from_pretrained("natural")
    tracker.model.config = dataclasses.replace(tracker.model.config, jump_check=check)
    return tracker


def _covered(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = np.round(box).astype(int)
    hidden = frame.copy()
    hidden[y0:y1, x0:x1] = np.median(frame, axis=(0, 1)).astype(np.uint8)
    return hidden


def test_a_jump_to_a_look_alike_is_refused(one_thread, scene):
    frame, box, w = scene
    hidden = _covered(frame, box)
    unchecked = _tracker(0.0)
    unchecked.init(frame, box[None], fmt="xyxy")
    jumped = unchecked.update(hidden)[0]
    # without the check the box goes to the copy, confidently
    assert abs((jumped[0] + jumped[2]) / 2 - (box[0] + box[2]) / 2 - w) < 0.3 * w
    assert not unchecked.lost[0]
    checked = _tracker(0.5)
    checked.init(frame, box[None], fmt="xyxy")
    kept = checked.update(hidden)[0]
    np.testing.assert_allclose(kept, box, atol=1e-4)  # refused: the box stays on the car
    assert checked.scores[0] == 1 and not checked.lost[0]  # its previous state, score too
    first = checked.model.first_windows(torch.tensor(box[None], dtype=torch.float32))
    np.testing.assert_allclose(checked.windows[0], first[0].numpy(), atol=1e-4)  # window too


def test_a_real_move_is_kept(one_thread, scene):
    frame, box, w = scene
    shift = round(0.8 * w)
    moved = np.roll(frame, shift, axis=1)  # everything moves 0.8 box sides right
    boxes, looks = [], []
    for check in (0.0, 0.5):
        tracker = _tracker(check)
        with mock.patch.object(tracker.model, "locate", wraps=tracker.model.locate) as spy:
            tracker.init(frame, box[None], fmt="xyxy")
            boxes.append(tracker.update(moved)[0])
        looks.append(spy.call_count)
    assert looks == [0, 1]  # the move was checked
    np.testing.assert_allclose(boxes[1], boxes[0], atol=1e-4)  # and kept
    centre = (boxes[1][0] + boxes[1][2]) / 2 - (box[0] + box[2]) / 2
    assert abs(centre - shift) < 0.3 * w
