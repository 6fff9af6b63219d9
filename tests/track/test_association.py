"""The IoU-association tracker: ids on hand-made detections, track ending, the detection reader."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.data.detections import read_detections
from ratrack.errors import DataError
from ratrack.track.association import IouTrackerConfig, init_state, step, track_detections


def test_two_objects_keep_their_ids_and_a_newcomer_gets_a_fresh_one():
    frame = np.array([0, 0, 1, 1, 2, 2, 2])
    boxes = np.array(
        [
            [0, 0, 10, 10],
            [50, 50, 60, 60],
            [1, 0, 11, 10],  # object A moved 1 px
            [52, 50, 62, 60],  # object B moved 2 px
            [53, 50, 63, 60],  # B (listed first this time)
            [2, 0, 12, 10],  # A
            [100, 100, 110, 110],  # a new object
        ],
        float,
    )
    out = track_detections(frame, boxes, np.ones(7), first_id=5)
    np.testing.assert_array_equal(out.track_id, [5, 6, 5, 6, 6, 5, 7])
    np.testing.assert_array_equal(out.frame, frame)


def test_tracks_end_after_max_age_missed_frames():
    box = np.array([[0, 0, 10, 10.0]])
    config = IouTrackerConfig(max_age=1)
    state = init_state()
    ids, state = step(box, state, config)  # frame 0: new track 0
    _, state = step(np.zeros((0, 4)), state, config)  # frame 1: missed once, still alive
    ids_back, state = step(box, state, config)  # frame 2: continues track 0
    assert ids[0] == 0 and ids_back[0] == 0
    _, state = step(np.zeros((0, 4)), state, config)
    _, state = step(np.zeros((0, 4)), state, config)  # missed twice: ended
    ids_late, state = step(box, state, config)
    assert ids_late[0] == 1 and state.next_id == 2


def test_gap_in_frame_numbers_ages_tracks_and_low_scores_are_dropped():
    frame = np.array([0, 4, 4])
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [30, 30, 40, 40]], float)
    out = track_detections(
        frame, boxes, np.array([0.9, 0.9, 0.1]), IouTrackerConfig(max_age=2, min_score=0.5)
    )
    np.testing.assert_array_equal(out.track_id, [0, 1])  # frames 1-3 missed: track 0 ended
    assert len(out.frame) == 2


def test_assignment_maximizes_total_iou():
    # IoU: track 0 / det 0 = 0.43, track 0 / det 1 = 0.11 (below 0.2), track 1 / either det
    # = 0.67. Greedy best-IoU could give det 0 to track 1 and leave track 0 unmatched.
    tracks = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], float)
    dets = np.array([[4, 0, 14, 10], [8, 0, 18, 10]], float)
    state = init_state()._replace(
        boxes=tracks, ids=np.array([0, 1]), misses=np.zeros(2, np.int64), next_id=2
    )
    ids, _ = step(dets, state, IouTrackerConfig(iou_threshold=0.2))
    np.testing.assert_array_equal(ids, [0, 1])


def test_read_detections(tmp_path):
    path = tmp_path / "0000.txt"
    path.write_text("0,1.0,2.0,11.0,22.0,0.9\n\n3 5 5 9 9 0.5\n")
    frame, boxes, score = read_detections(path)
    np.testing.assert_array_equal(frame, [0, 3])
    np.testing.assert_allclose(boxes, [[1, 2, 11, 22], [5, 5, 9, 9]])
    np.testing.assert_allclose(score, [0.9, 0.5])
    path.write_text("")
    assert read_detections(path)[0].shape == (0,)


@pytest.mark.parametrize(
    "line, message",
    [
        ("0,1,2,3\n", "6 columns"),
        ("0,1,2,x,4,0.5\n", "non-numeric"),
        ("0,5,5,1,9,0.5\n", "x1 < x2"),
        ("0,nan,1,2,3,1\n", "non-finite"),
    ],
)
def test_read_detections_bad_rows_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text("0,1,1,5,5,0.5\n" + line)
    with pytest.raises(DataError, match=message) as info:
        read_detections(path)
    assert f"{path}:2:" in str(info.value)


def test_bad_config_raises():
    with pytest.raises(ValueError, match="iou_threshold"):
        IouTrackerConfig(iou_threshold=0)
    with pytest.raises(ValueError, match="max_age"):
        IouTrackerConfig(max_age=-1)
