"""The box Kalman filter (ratrack.track.motion): known answers and a slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.track import motion as km
from ratrack.track.motion import POS, VEL, MotionConfig


def _reference_8x8(boxes: np.ndarray, observed: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """One track through ``boxes`` with the full 8x8 filter (state x1..y2 then velocities)."""
    size = lambda b: np.maximum(np.array([b[2] - b[0], b[3] - b[1]] * 2), 1.0)  # noqa: E731
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h = np.eye(4, 8)
    s = size(boxes[0])
    x = np.concatenate([boxes[0], np.zeros(4)])
    p = np.diag(np.concatenate([(cfg.std_measurement * s) ** 2, (cfg.init_velocity * s) ** 2]))
    out = [x[:4].copy()]
    for z, seen in zip(boxes[1:], observed[1:], strict=True):
        s = size(x[:4])
        q = np.diag(np.concatenate([(cfg.std_position * s) ** 2, (cfg.std_velocity * s) ** 2]))
        x, p = f @ x, f @ p @ f.T + q
        if seen:
            r = np.diag((cfg.std_measurement * size(z)) ** 2)
            gain = p @ h.T @ np.linalg.inv(h @ p @ h.T + r)
            x = x + gain @ (z - h @ x)
            p = (np.eye(8) - gain @ h) @ p
        out.append(x[:4].copy())
    return np.array(out)


def test_matches_the_full_8x8_filter():
    rng = np.random.default_rng(0)
    cfg = MotionConfig()
    t = np.arange(12)[:, None]
    boxes = (
        np.array([100.0, 50, 140, 130]) + t * np.array([3.0, 1, 4, 2]) + rng.normal(0, 1, (12, 4))
    )
    observed = np.ones(12, bool)
    observed[[4, 5, 9]] = False
    ref = _reference_8x8(boxes, observed, cfg)
    kf = km.init_motion(boxes[:1], cfg)
    ours = [kf[0, POS].copy()]
    for z, seen in zip(boxes[1:], observed[1:], strict=True):
        kf = km.predict(kf, cfg)
        kf = km.update(kf, np.array([seen]), z[None], cfg)
        ours.append(kf[0, POS].copy())
    np.testing.assert_allclose(np.array(ours), ref, rtol=1e-10, atol=1e-8)


def test_constant_velocity_is_learned_and_extrapolated_through_a_gap():
    cfg = MotionConfig()
    v = np.array([5.0, 0.0, 5.0, 0.0])
    box0 = np.array([10.0, 20, 50, 60])
    kf = km.init_motion(box0[None], cfg)
    for t in range(1, 15):
        kf = km.update(km.predict(kf, cfg), np.array([True]), (box0 + t * v)[None], cfg)
    np.testing.assert_allclose(kf[0, VEL], v, atol=0.05)
    for _ in range(5):  # five frames without observations
        kf = km.predict(kf, cfg)
    np.testing.assert_allclose(kf[0, POS], box0 + 19 * v, atol=1.0)


def test_update_leaves_unmatched_rows_alone_and_restart_sets_velocity():
    cfg = MotionConfig()
    kf = km.predict(km.init_motion(np.array([[0.0, 0, 10, 10], [5, 5, 25, 45]]), cfg), cfg)
    out = km.update(kf, np.array([False, True]), np.array([[99.0] * 4, [6, 5, 26, 45]]), cfg)
    np.testing.assert_array_equal(out[0], kf[0])
    assert not np.array_equal(out[1], kf[1])
    vel = np.array([[1.0, 2, 3, 4]])
    out = km.restart(out, np.array([1]), np.array([[7.0, 5, 27, 45]]), vel, cfg)
    np.testing.assert_array_equal(out[1, VEL], vel[0])
    np.testing.assert_array_equal(out[1, POS], [7.0, 5, 27, 45])


def test_valid_boxes_and_config_checks():
    boxes = np.array([[10.0, 10, 9, 30], [0, 0, 4, 4]])
    np.testing.assert_allclose(km.valid_boxes(boxes, 2.0), [[8.5, 10, 10.5, 30], [0, 0, 4, 4]])
    with pytest.raises(ValueError, match="std_velocity"):
        MotionConfig(std_velocity=0)


def test_score_noise_scales_the_measurement_noise_by_one_minus_the_score():
    """NSA: a detection of score c is measured with (1 - c) R, i.e. the plain filter with
    std_measurement * sqrt(1 - c); a score of 1 is floored, not exact."""
    boxes = np.array([[0.0, 0, 10, 30], [5, 5, 25, 45]])
    z = np.array([[1.0, 2, 12, 31], [6, 4, 27, 47]])
    nsa = MotionConfig(score_noise=True)
    kf = km.predict(km.init_motion(boxes, nsa), nsa)
    out = km.update(kf, np.array([True, True]), z, nsa, np.array([0.75, 0.0]))
    for row, std in ((0, nsa.std_measurement / 2), (1, nsa.std_measurement)):
        plain = MotionConfig(std_measurement=std)
        ref = km.update(kf[row : row + 1], np.array([True]), z[row : row + 1], plain)
        np.testing.assert_allclose(out[row], ref[0], rtol=1e-12)
    sure = km.update(kf, np.array([True, True]), z, nsa, np.ones(2))
    np.testing.assert_allclose(sure[:, POS], z, atol=0.01)
    assert not np.array_equal(sure[:, POS], z)
    with pytest.raises(ValueError, match="scores"):
        km.update(kf, np.array([True, True]), z, nsa)
