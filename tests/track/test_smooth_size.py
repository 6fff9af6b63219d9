"""``smooth_size``: reported widths and heights (with ``smooth_centre`` the centres too) taken
from a line fitted to a track's nearby frames as :class:`DelayedFrames` writes them; other
tracks and classes untouched."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.errors import ConfigError
from ratrack.track.multi import (
    DelayedFrames,
    FrameRows,
    FrameTracks,
    MultiTrackConfig,
    MultiTracker,
)


def _frame(ids, boxes, labels) -> FrameTracks:
    k = len(ids)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return FrameTracks(
        ids=np.asarray(ids, np.int64),
        boxes=boxes,
        windows=boxes,
        scores=np.ones(k),
        labels=np.asarray(labels, str),
        matched=np.ones(k, bool),
        ended=np.zeros(0, np.int64),
    )


def _box(cx, cy, w, h):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _line_at(t, frames, values, sigma):
    """Reference: the weighted least-squares line through ``values`` at ``frames`` within two
    sigmas of ``t`` (Gaussian weights), at ``t``."""
    d = np.asarray(frames, float) - t
    near = np.abs(d) <= np.ceil(2 * sigma)
    d, y = d[near], np.asarray(values, float)[near]
    if len(d) == 1:
        return y[0]
    w = np.exp(-0.5 * (d / sigma) ** 2)
    a = np.stack([np.ones_like(d), d], 1)
    return np.linalg.solve(a.T @ (w[:, None] * a), a.T @ (w * y))[0]


def _run(held: DelayedFrames, frames: list[FrameTracks]) -> list[tuple]:
    out = [x for t, f in enumerate(frames) for x in held.push(t, t, f)]
    return out + list(held.flush())


def test_sizes_follow_a_fitted_line_per_track_and_class():
    multi = MultiTracker(
        None,
        MultiTrackConfig(min_hits=1, fill_gaps=0),
        class_configs={"Pedestrian": MultiTrackConfig(min_hits=1, fill_gaps=0, smooth_size=1.0)},
    )
    assert multi.delay == 2  # two sigmas ahead
    widths = np.array([10.0, 14, 10, 14, 10, 14, 10])
    frames = [
        # pedestrian 1 jitters in width; pedestrian 2 (other size) and car 3 stay put
        _frame(
            [1, 2, 3],
            [_box(50 + 3 * t, 40, w, 30), _box(200, 40, 40, 80), _box(300, 40, w, 20)],
            ["Pedestrian", "Pedestrian", "Car"],
        )
        for t, w in enumerate(widths)
    ]
    out = _run(multi.held(), frames)
    assert [(t, payload) for t, payload, _ in out] == [(t, t) for t in range(7)]
    weight = np.exp(-0.5 * np.arange(-2, 3) ** 2)
    for t, _, tracks in out:
        ped, other, car = tracks.boxes
        assert ped[2] - ped[0] == pytest.approx(_line_at(t, range(7), widths, 1.0))
        if 2 <= t <= 4:  # inside the track the line's value is the weighted mean
            mean = (weight * widths[t - 2 : t + 3]).sum() / weight.sum()
            assert ped[2] - ped[0] == pytest.approx(mean)
        assert ped[3] - ped[1] == pytest.approx(30)
        assert (ped[0] + ped[2]) / 2 == pytest.approx(50 + 3 * t)  # centre kept
        np.testing.assert_allclose(other, _box(200, 40, 40, 80), atol=1e-9)
        np.testing.assert_allclose(car, _box(300, 40, widths[t], 20))  # smooth_size 0
    # the jitter is damped: 4 px peak to peak becomes less than half that inside the track
    inner = [tracks.boxes[0, 2] - tracks.boxes[0, 0] for _, _, tracks in out[2:5]]
    assert np.ptp(inner) < 2


def test_steady_motion_and_growth_keep_their_boxes_to_the_ends():
    """A line fits a pedestrian walking and growing at a steady rate exactly, at the track's
    first and last frames too (a mean there would lag); the jitter on top of it is damped."""
    cfg = MultiTrackConfig(min_hits=1, fill_gaps=0, smooth_size=1.0, smooth_centre=True)
    steady = [_box(10 + 6 * t, 50 + t, 8 + t, 20 + 2 * t) for t in range(6)]
    out = _run(MultiTracker(None, cfg).held(), [_frame([4], [b], [""]) for b in steady])
    for (_, _, tracks), box in zip(out, steady, strict=True):
        np.testing.assert_allclose(tracks.boxes[0], box, atol=1e-9)
    jitter = np.array([0.0, 3, -3, 3, -3, 0])
    shaken = [_frame([4], [np.add(b, jitter[t])], [""]) for t, b in enumerate(steady)]
    out = _run(MultiTracker(None, cfg).held(), shaken)
    for t in (2, 3):
        error = out[t][2].boxes[0] - steady[t]
        assert np.abs(error).max() < 0.5 * abs(jitter[t])


def test_rows_placed_late_count_and_frames_beyond_the_reach_do_not():
    """A backfilled row joins its frame before that frame is smoothed; frames beyond two
    sigmas never weigh."""
    cfg = MultiTrackConfig(min_hits=1, fill_gaps=3, smooth_size=0.5)
    multi = MultiTracker(None, cfg)
    assert multi.delay == 3
    sizes = {0: 10.0, 1: 20.0, 2: 40.0, 3: 30.0, 4: 10.0}
    frames = []
    for t in range(5):
        if t == 2:  # frame 2's row comes with frame 3 (a filled gap)
            frames.append(_frame([], np.zeros((0, 4)), []))
            continue
        frame = _frame([7], [_box(0, 0, sizes[t], sizes[t])], [""])
        if t == 3:
            rows = FrameRows(
                np.array([2]),
                np.array([7]),
                np.array([_box(0, 0, 40, 40)]),
                np.ones(1),
                np.array([""]),
            )
            frame = frame._replace(backfill=rows)
        frames.append(frame)
    got = {t: tr.boxes[0, 2] - tr.boxes[0, 0] for t, _, tr in _run(multi.held(), frames)}
    for t in range(5):
        assert got[t] == pytest.approx(_line_at(t, list(sizes), list(sizes.values()), 0.5))


def test_without_smoothing_frames_leave_as_they_came():
    held = MultiTracker(None, MultiTrackConfig()).held()
    assert held.config_for is None
    frames = [_frame([1], [_box(5, 5, 4 + t, 4)], [""]) for t in range(8)]
    for (_, _, tracks), frame in zip(_run(held, frames), frames, strict=True):
        assert tracks.boxes is frame.boxes


def test_smooth_size_must_not_be_negative():
    with pytest.raises(ConfigError, match="smooth_size"):
        MultiTrackConfig(smooth_size=-1.0)
    assert DelayedFrames(0).config_for is None
