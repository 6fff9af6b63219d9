"""The box lifecycle: motion through gaps, two-stage association, tentative tracks, policy."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.track.lifecycle import (
    MultiTrackConfig,
    assign,
    direction_consistency,
    height_iou_matrix,
    init_tracks,
    iou_matrix,
    match_iou,
    step_tracks,
)

BOX = np.array([100.0, 100, 140, 180])  # 40 x 80


def run(frames, config, labels=None):
    """``frames``: per frame a list of (box, score); returns {frame: {id: box}} of every reported
    row (backfilled rows under their own frame) and the final state."""
    state = init_tracks(1)
    out: dict[int, dict[int, np.ndarray]] = {}
    for t, dets in enumerate(frames):
        boxes = np.array([b for b, _ in dets], np.float64).reshape(-1, 4)
        scores = np.array([s for _, s in dets], np.float64)
        codes = np.zeros(len(dets), np.int64) if labels is None else np.asarray(labels[t])
        state, step = step_tracks(state, t, boxes, scores, codes, config)
        for rows in (step.rows, step.backfill):
            for f, i, b in zip(rows.frame, rows.ids, rows.boxes, strict=True):
                assert i not in out.setdefault(int(f), {}), "an id twice in one frame"
                out[int(f)][int(i)] = b
    return out, state


def test_constant_velocity_object_keeps_its_id_through_a_gap():
    # 12 px per frame, 40 px wide: after a 4-frame gap the last box and the new detection do
    # not overlap at all, so only the motion model can carry the id across.
    cfg = MultiTrackConfig(min_hits=1, max_misses=6, recover_iou=0.0, fill_gaps=0)
    v = np.array([12.0, 0, 12, 0])
    frames = [[(BOX + t * v, 0.9)] if not 8 <= t < 12 else [] for t in range(20)]
    out, _ = run(frames, cfg)
    ids = {i for t in out for i in out[t]}
    assert ids == {1}
    assert sorted(out) == [t for t in range(20) if not 8 <= t < 12]
    # with fill_gaps the four missed frames are reported when the track is found again, on the
    # line between the observations (here: exactly where the object was)
    out, _ = run(frames, MultiTrackConfig(min_hits=1, max_misses=6, fill_gaps=4))
    assert sorted(out) == list(range(20))
    for t in range(8, 12):
        np.testing.assert_allclose(out[t][1], BOX + t * v)
    out, _ = run(frames, MultiTrackConfig(min_hits=1, max_misses=6, fill_gaps=3))
    assert sorted(out) == [t for t in range(20) if not 8 <= t < 12]  # gap longer than 3
    # the last box before the gap does not touch the first after it: no IoU rule could match
    assert iou_matrix((BOX + 7 * v)[None], (BOX + 12 * v)[None])[0, 0] == 0.0


def test_second_stage_low_score_detection_continues_but_never_starts_a_track():
    cfg = MultiTrackConfig(min_score=0.1, high_score=0.5, birth_score=0.6, min_hits=1)
    assert cfg.low_iou_threshold == 0.5
    other = BOX + 300
    frames = [
        [(BOX, 0.9)],
        [(BOX + 2, 0.3), (other, 0.3)],  # low scores: track 1 continues, nothing starts
        [(BOX + 4, 0.9)],
    ]
    out, state = run(frames, cfg)
    assert list(out[1]) == [1]
    np.testing.assert_allclose(out[1][1], BOX + 2)
    assert list(state.ids) == [1]
    # without the second stage (high_score = min_score: no detection is "low") the low
    # detection of frame 1 is not a match candidate below min_score
    cfg2 = MultiTrackConfig(min_score=0.5, high_score=0.5, birth_score=0.6, min_hits=1, fill_gaps=0)
    out2, _ = run(frames, cfg2)
    assert 1 not in out2


def test_tentative_tracks_are_confirmed_after_min_hits_and_backfilled():
    cfg = MultiTrackConfig(min_hits=3, backfill=True)
    blip = BOX + 400
    frames = [[(BOX, 0.9), (blip, 0.9)], [(BOX + 1, 0.9)], [(BOX + 2, 0.9)], [(BOX + 3, 0.9)]]
    out, _ = run(frames, cfg)
    assert sorted(out) == [0, 1, 2, 3] and all(list(out[t]) == [1] for t in out)
    for t in range(4):  # the tentative frames carry their own detections
        np.testing.assert_allclose(out[t][1], BOX + t)
    off, _ = run(frames, MultiTrackConfig(min_hits=3, backfill=False))
    assert sorted(off) == [2, 3]  # reported from confirmation on only


def test_tentative_track_dies_at_its_first_miss_unless_allowed():
    frames = [[(BOX, 0.9)], [], [(BOX, 0.9)], [(BOX, 0.9)]]
    out, _ = run(frames, MultiTrackConfig(min_hits=2, tentative_misses=0, recover_iou=0.0))
    assert {i for t in out for i in out[t]} == {2}
    out, _ = run(frames, MultiTrackConfig(min_hits=2, tentative_misses=1))
    assert {i for t in out for i in out[t]} == {1}


def test_confirmed_track_ends_after_max_misses_and_coasting_is_reported():
    cfg = MultiTrackConfig(min_hits=1, max_misses=2, report_coast=1, recover_iou=0.0)
    frames = [[(BOX, 0.9)], [(BOX, 0.9)], [], [], [], [(BOX, 0.9)]]
    out, _ = run(frames, cfg)
    assert list(out[2]) == [1]  # one coasting frame reported at the prediction
    assert 3 not in out and 4 not in out
    assert list(out[5]) == [2]  # ended after two misses: a new track


def test_classes_do_not_match_each_other():
    cfg = MultiTrackConfig(min_hits=1)
    frames = [[(BOX, 0.9)], [(BOX, 0.9)]]
    out, _ = run(frames, cfg, labels=[[1], [2]])
    assert list(out[1]) == [2]


def test_empty_sequence_reports_nothing():
    out, state = run([[] for _ in range(5)], MultiTrackConfig())
    assert out == {} and len(state.ids) == 0 and state.next_id == 1


def test_config_checks():
    with pytest.raises(ValueError, match="high_score"):
        MultiTrackConfig(high_score=0.9, birth_score=0.5)
    with pytest.raises(ValueError, match="min_hits"):
        MultiTrackConfig(min_hits=0)
    with pytest.raises(ValueError, match="direction_weight"):
        MultiTrackConfig(direction_weight=-0.1)


def test_confirmed_tracks_choose_first_with_confirmed_first():
    # track 1 is confirmed in frame 1, when a second detection 6 px away starts tentative track
    # 2; frame 2 has one detection, nearer track 2's box. Assigned together, the tentative track
    # takes it (larger IoU); with confirmed_first the confirmed track keeps its object.
    near = BOX + 5
    frames = [[(BOX, 0.9)], [(BOX, 0.9), (BOX + 6, 0.9)], [(near, 0.9)]]
    base = MultiTrackConfig(min_hits=2, recover_iou=0.0, fill_gaps=0, backfill=False)
    together, _ = run(frames, base)
    assert list(together[2]) == [2]
    first, state = run(frames, MultiTrackConfig(**{**base.__dict__, "confirmed_first": True}))
    assert list(first[2]) == [1]
    np.testing.assert_allclose(first[2][1], near)
    assert list(state.ids) == [1]  # the tentative track missed and ended


def test_height_iou_known_answers_and_slow_reference():
    a = np.array([[0.0, 100, 10, 150], [5, 0, 6, 10]])
    b = np.array([[5.0, 90, 15, 160], [0, 200, 10, 210], [0, 5, 1, 10]])
    # [100, 150] in [90, 160]: 50 / 70; disjoint: 0; [0, 10] and [5, 10]: 5 / 10
    np.testing.assert_allclose(height_iou_matrix(a, b)[0], [50 / 70, 0, 0])
    np.testing.assert_allclose(height_iou_matrix(a, b)[1], [0, 0, 0.5])
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (2, 7, 2))
    boxes = np.concatenate([xy.min(0), xy.max(0)], 1)  # (7, 4) xyxy
    ref = np.array(
        [
            [
                max(0.0, min(p[3], q[3]) - max(p[1], q[1])) / (max(p[3], q[3]) - min(p[1], q[1]))
                for q in boxes[3:]
            ]
            for p in boxes[:3]
        ]
    )
    np.testing.assert_allclose(height_iou_matrix(boxes[:3], boxes[3:]), ref, rtol=1e-12)
    cfg = MultiTrackConfig(height_iou=True, match_expand=0.1)
    # both boxes grown by a tenth of their size on each side, then both IoUs
    a_grown, b_grown = np.array([[-1.0, 95, 11, 155]]), np.array([[4.0, 83, 16, 167]])
    np.testing.assert_allclose(
        match_iou(a[:1], b[:1], cfg),
        iou_matrix(a_grown, b_grown) * height_iou_matrix(a_grown, b_grown),
    )
    assert match_iou(a[:1], b[:1], cfg)[0, 0] > 0


def test_height_modulated_iou_gives_the_detection_to_the_person_of_its_height():
    # a far person (20 x 50) and a near one (24 x 70) beside it; in frame 1 one detection of
    # the near person's size, 8 px from its box, covering the far one: plain IoU prefers the far
    # track (0.595 against 0.5), the vertical extents the near one (0.425 against 0.5)
    far, near = np.array([102.0, 100, 122, 150]), np.array([92.0, 90, 116, 160])
    det = near + np.array([8.0, 0, 8, 0])
    frames = [[(far, 0.9), (near, 0.9)], [(det, 0.9)]]
    base = MultiTrackConfig(min_hits=1, recover_iou=0.0, fill_gaps=0)
    plain, _ = run(frames, base)
    assert list(plain[1]) == [1]
    modulated, _ = run(frames, MultiTrackConfig(**{**base.__dict__, "height_iou": True}))
    assert list(modulated[1]) == [2]
    np.testing.assert_allclose(modulated[1][2], det)


def test_direction_consistency_known_answers_and_the_bonus_in_assignment():
    last = np.array([[-1.0, -1, 1, 1], [-1, -1, 1, 1]])  # both last seen centred at (0, 0)
    velocity = np.array([[2.0, 0, 2, 0], [0, 0, 0, 0]])  # moving right; at rest
    ahead, behind, up = [9.0, -1, 11, 1], [-11.0, -1, -9, 1], [-1.0, -11, 1, -9]
    out = direction_consistency(velocity, last, np.array([ahead, behind, up, [-1.0, -1, 1, 1]]))
    np.testing.assert_allclose(out[0], [0.5, -0.5, 0.0, 0.0])  # no way to go: 0
    np.testing.assert_allclose(out[1], 0.0)  # no motion: 0
    # two tracks, two detections: IoU prefers the crossed pairs (0.5 + 0.5 against 0.4 + 0.4),
    # a bonus for the straight pairs turns the assignment; the threshold still gates
    iou = np.array([[0.4, 0.5], [0.5, 0.4]])
    assert assign(iou, 0.1)[1].tolist() == [1, 0]
    bonus = np.array([[0.2, -0.2], [-0.2, 0.2]])
    assert assign(iou, 0.1, bonus)[1].tolist() == [0, 1]
    rows, cols = assign(iou, 0.45, bonus)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]  # 0.4 pairs are not allowed
