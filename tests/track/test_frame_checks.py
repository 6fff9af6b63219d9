"""Issue #16: frames are checked as they stream, in Tracker.update and in the sequence readers;
boxes, detections and init files follow one documented rule (ratrack.data.detections)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratrack.checkpoints import load_checkpoint, load_tracker, save_tracker
from ratrack.data.detections import (
    first_bad_box,
    merge_duplicates,
    read_detection_file,
    read_init_file,
)
from ratrack.data.sequence import ImageSequence
from ratrack.errors import ConfigError, DataError, RatrackError
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from tracker_helpers import TINY


@pytest.fixture
def tracker() -> Tracker:
    torch.manual_seed(0)
    return Tracker(model=RecurrentTracker(config=TINY))


def _rgb(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "frame",
    [
        _rgb(20, 20),  # another size
        _rgb(48, 64)[..., 0],  # gray after RGB
        np.ascontiguousarray(_rgb(64, 48)),  # transposed
    ],
)
def test_update_refuses_a_frame_unlike_the_stream(tracker, frame):
    tracker.init(_rgb(48, 64), [[10, 10, 12, 12]])
    with pytest.raises(DataError, match="stream started with"):
        tracker.update(frame)
    tracker.update(_rgb(48, 64))  # the stream goes on with right frames


def test_update_refuses_non_finite_pixels(tracker):
    frame = torch.rand(3, 48, 64)
    tracker.init(frame, [[10, 10, 12, 12]])
    bad = frame.clone()
    bad[0, 5, 5] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        tracker.update(bad)
    assert np.isfinite(tracker.update(frame)).all()  # the state was not poisoned


def test_non_finite_pixels_outside_what_is_read_are_no_error(tracker):
    """Only the pixels the glimpses read are checked (the check over a whole 750x2484 frame
    cost as much as an update): a NaN far from every object changes nothing."""
    frame = torch.rand(3, 240, 320)
    tracker.init(frame, [[10, 10, 22, 22]])
    clean = tracker.update(frame)
    bad = frame.clone()
    bad[:, 200:, 280:] = float("nan")
    tracker.init(frame, [[10, 10, 22, 22]])
    np.testing.assert_array_equal(tracker.update(bad), clean)


def test_image_sequence_names_the_frame_that_changes_size(tmp_path):
    import cv2

    for i, h in enumerate((48, 48, 20)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), _rgb(h, 64))
    seq = ImageSequence(name="s", path=tmp_path, paths=sorted(tmp_path.glob("*.png")))
    assert seq.frame(1).shape == (48, 64, 3)
    with pytest.raises(DataError, match=r"2\.png: frame is 64x20, the sequence's first frame"):
        seq.frame(2)


def test_box_rule():
    size = (240, 360)
    boxes = np.array(
        [
            [10, 10, 50, 50],  # fine
            [-100, -100, 5, 5],  # partly outside: fine
            [0, 0, 700, 400],  # larger than the frame, within one frame size: fine
            [400, 10, 450, 50],  # wholly outside
        ],
        float,
    )
    assert first_bad_box(boxes[:3], size) is None
    assert first_bad_box(boxes, size) == (3, "box lies outside the 360x240 frame")
    assert "not finite" in first_bad_box([[0, 0, np.nan, 5]], size)[1]
    assert "zero or negative size" in first_bad_box([[5, 5, 5, 9]], size)[1]
    assert "more than one frame size" in first_bad_box([[0, 0, 1e30, 1e30]], size)[1]


def test_detection_scores_and_duplicates(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("0,1,1,9,9,0.5\n0,1,1,9,9,0.8\n0,1,1,9,9,0.2\n1,1,1,9,9,0.5\n")
    table = read_detection_file(path, "rrc")
    assert table.frame.tolist() == [0, 1] and table.scores.tolist() == [0.8, 0.5]
    assert table.lines.tolist() == [2, 4]
    assert merge_duplicates(table) is table  # nothing left to merge
    path.write_text("0,1,1,9,9,0.5\n0,1,1,9,9,1.5\n")
    with pytest.raises(DataError, match=r"det\.txt:2: detection score 1\.5 is outside \[0, 1\]"):
        read_detection_file(path, "rrc")


def test_init_file_duplicate_id_names_both_lines(tmp_path):
    path = tmp_path / "init.txt"
    path.write_text("1,3,1,1,9,9,1,-1,-1,-1\n2,3,1,1,9,9,1,-1,-1,-1\n1,3,5,5,9,9,1,-1,-1,-1\n")
    with pytest.raises(DataError, match=r"init\.txt:3: track id 3 already has a box .*line 1"):
        read_init_file(path)


def test_checkpoint_problems_are_one_line(tmp_path):
    torch.manual_seed(0)
    model = RecurrentTracker(config=TINY)
    path = save_tracker(tmp_path / "t.pt", model)
    payload = load_checkpoint(path)
    name = next(iter(payload["model"]))
    payload["model"][name] = payload["model"][name] * float("nan")
    torch.save(payload, tmp_path / "nan.pt")
    with pytest.raises(RatrackError, match=rf"nan\.pt: weights are not finite \({name} "):
        load_tracker(tmp_path / "nan.pt")
    payload = load_checkpoint(path)
    payload["format_version"] = "1"
    torch.save(payload, tmp_path / "v.pt")
    with pytest.raises(RatrackError, match="format_version '1' is not a version number"):
        load_tracker(tmp_path / "v.pt")
    payload = load_checkpoint(path)
    payload["model"].pop(name)
    torch.save(payload, tmp_path / "short.pt")
    with pytest.raises(RatrackError, match="another model config: 1 missing") as info:
        load_tracker(tmp_path / "short.pt")
    assert len(str(info.value)) < 200
    with pytest.raises(ConfigError, match="'tpu' is not a torch device") as err:
        Tracker.from_pretrained(path, device="tpu")
    assert err.value.field == "device"
