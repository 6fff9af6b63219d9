"""tools/eval_natural.py's TRE table: segments, their direction and their scores."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.data.formats import open_sequence
from ratrack.eval.sot import score_sot
from ratrack.track.online import Tracker
from tool_helpers import load_tool


@pytest.fixture(scope="module")
def eval_natural():
    return load_tool("eval_natural")


def test_parse_set_reads_json_values(eval_natural):
    assert eval_natural.parse_set("match_window=0.2,score_first=true") == {
        "match_window": 0.2,
        "score_first": True,
    }
    assert eval_natural.parse_set("") == {}


def _direct(model, frames, gt) -> float:
    """Mean IoU of the model tracking ``frames`` from ``gt[0]``, frames after the first."""
    tracker = Tracker(model=model)
    tracker.init(frames[0], gt[:1].astype(np.float32), fmt="xyxy")
    boxes = [gt[0]] + [tracker.update(f)[0] for f in frames[1:]]
    return float(np.nanmean(score_sot(np.asarray(boxes), gt).ious[1:]))


def test_segments_forward_and_reversed_score_as_tracked(eval_natural, data_dir, one_thread):
    """Car1 (a tuning sequence) in segments of 40 frames every 500: starts 0 and 500 forward,
    and the same starts counted from the last frame when reversed; each segment's score is the
    mean IoU of tracking its frames from its first box."""
    model = Tracker.from_pretrained("natural").model.eval()
    seq = open_sequence(data_dir / "otb" / "Car1", "otb")
    frames = list(seq.frames())
    for reverse in (False, True):
        table = eval_natural.tre(
            data_dir, ["otb/Car1"], model, ["csrt"], reverse=reverse, length=40, stride=500
        )
        assert set(table) == {"ratrack", "CSRT"}
        ours = table["ratrack"]["otb/Car1"]
        assert len(ours) == 2 and len(table["CSRT"]["otb/Car1"]) == 2  # starts 0, 500 of 1020
        order = frames[::-1] if reverse else frames
        gt = seq.gt[::-1].copy() if reverse else seq.gt
        assert ours[1] == pytest.approx(_direct(model, order[500:540], gt[500:540]), abs=1e-6)
        assert all(0 <= x <= 1 for x in ours)


def test_with_truth_takes_one_part_of_the_box_from_the_ground_truth(eval_natural):
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 4.0, 4.0]])  # centre (20, 40), 20x40
    gt = np.array([[100.0, 100.0, 110.0, 120.0], [np.nan] * 4])  # centre (105, 110), 10x20
    centre = eval_natural.with_truth(boxes, gt, "true centre")
    np.testing.assert_allclose(centre[0], [95.0, 90.0, 115.0, 130.0])  # gt's centre, 20x40
    size = eval_natural.with_truth(boxes, gt, "true size")
    np.testing.assert_allclose(size[0], [15.0, 30.0, 25.0, 50.0])  # own centre, gt's 10x20
    assert np.isnan(centre[1]).all() and np.isnan(size[1]).all()  # no ground truth there
    with pytest.raises(ValueError, match="part"):
        eval_natural.with_truth(boxes, gt, "true aspect")


def test_parts_score_each_segment_with_the_true_centre_and_size(eval_natural, data_dir, one_thread):
    """``--parts`` on real frames (Car1): the rows with the true centre and with the true size
    are each segment's boxes scored that way; concentric boxes overlap most, so the true centre
    never scores below the boxes as tracked."""
    model = Tracker.from_pretrained("natural").model.eval()
    seq = open_sequence(data_dir / "otb" / "Car1", "otb")
    frames, gt = list(seq.frames()), seq.gt
    table = eval_natural.tre(data_dir, ["otb/Car1"], model, [], length=40, stride=500, parts=True)
    assert set(table) == {"ratrack", "ratrack, true centre", "ratrack, true size"}
    tracker = Tracker(model=model)
    tracker.init(frames[500], gt[500:501].astype(np.float32), fmt="xyxy")
    boxes = np.asarray([gt[500]] + [tracker.update(f)[0] for f in frames[501:540]], np.float64)
    for part in eval_natural.TRUE_PARTS:
        moved = eval_natural.with_truth(boxes, gt[500:540], part)
        expected = float(np.nanmean(score_sot(moved, gt[500:540]).ious[1:]))
        assert table[f"ratrack, {part}"]["otb/Car1"][1] == pytest.approx(expected, abs=1e-6)
    for ours, centred in zip(
        table["ratrack"]["otb/Car1"], table["ratrack, true centre"]["otb/Car1"], strict=True
    ):
        assert centred >= ours - 1e-9


def test_end_to_end_speed_runs_both_trackers_on_each_sequence(
    eval_natural, data_dir, tmp_path, one_thread
):
    """The speed target's measurement: ``ratrack track`` and CSRT alternate on each speed
    sequence; the frames/s and their ratio come back per sequence (here both names hold the
    first 8 frames of Crossing)."""
    seq = open_sequence(data_dir / "otb" / "Crossing", "otb")
    for name in eval_natural.SPEED_SEQUENCES:
        folder = tmp_path / name / "img"
        folder.mkdir(parents=True)
        for image in seq.paths[:8]:
            (folder / image.name).symlink_to(image)
        lines = (data_dir / "otb" / "Crossing" / "groundtruth_rect.txt").read_text().splitlines()
        (tmp_path / name / "groundtruth_rect.txt").write_text("\n".join(lines[:8]) + "\n")
    speed = eval_natural.end_to_end_speed(tmp_path, "natural", repeats=2)
    assert set(speed) == set(eval_natural.SPEED_SEQUENCES)
    for row in speed.values():
        assert row["ratrack_fps"] > 0 and row["csrt_fps"] > 0
        assert row["ratio"] == pytest.approx(row["ratrack_fps"] / row["csrt_fps"])
