"""Single-object metrics: hand-computed answers, a slow loop reference, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.eval.metrics import (
    center_errors,
    frame_ious,
    precision_at,
    precision_curve,
    sot_summary,
    success_auc,
    success_curve,
    success_thresholds,
)


def test_success_thresholds_are_the_21_otb_values():
    t = success_thresholds()
    assert t.shape == (21,)
    np.testing.assert_allclose(t, np.arange(21) * 0.05, atol=1e-12)


def test_success_curve_and_auc_by_hand():
    # IoU 0 never succeeds, 0.5 succeeds below threshold 0.5 (strictly greater), 1.0 below 1.0.
    curve = success_curve([0.0, 0.5, 1.0])
    expected = np.array([2 / 3] * 10 + [1 / 3] * 10 + [0.0])
    np.testing.assert_allclose(curve, expected)
    assert success_auc([0.0, 0.5, 1.0]) == pytest.approx(10 / 21)
    assert success_auc([1.0, 1.0]) == pytest.approx(20 / 21)


def test_success_curve_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    ious = rng.uniform(0, 1, 200)
    ious[:20] = 0.0
    ref = [sum(1 for v in ious if v > tau) / len(ious) for tau in success_thresholds()]
    np.testing.assert_allclose(success_curve(ious), ref)
    assert success_auc(ious) == pytest.approx(np.mean(ref))


def test_frame_ious_and_center_errors_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 4, 4]], float)
    pred = np.array([[0, 0, 10, 5], [3, 4, 13, 14], [0, 0, 1, 1], [np.nan] * 4], float)
    ious = frame_ious(pred, gt)
    assert ious[0] == pytest.approx(0.5)
    assert ious[1] == pytest.approx(42 / 158)  # overlap 7 x 6, union 100 + 100 - 42
    assert np.isnan(ious[2]) and ious[3] == 0.0
    err = center_errors(pred, gt)
    assert err[0] == pytest.approx(2.5)
    assert err[1] == pytest.approx(5.0)
    assert np.isnan(err[2]) and np.isinf(err[3])


def test_precision_counts_errors_up_to_and_including_the_threshold():
    gt = np.tile([100.0, 100.0, 120.0, 120.0], (4, 1))
    shifts = np.array([5.0, 20.0, 20.5, 0.0])
    pred = gt + np.stack([shifts, 0 * shifts, shifts, 0 * shifts], 1)
    pred[3] = np.nan  # lost: infinite error
    assert precision_at(pred, gt, 20.0) == pytest.approx(0.5)
    curve = precision_curve(pred, gt)
    assert curve.shape == (51,)
    assert curve[4] == 0.0 and curve[5] == 0.25 and curve[21] == 0.75


def test_sot_summary_skips_frames_without_ground_truth_and_counts_lost_as_zero():
    gt = np.array([[0, 0, 10, 10]] * 4 + [[np.nan] * 4], float)
    pred = [
        np.array([0, 0, 10, 10.0]),
        None,
        np.array([0, 0, 10, 5.0]),
        np.array([50, 50, 60, 60.0]),
        None,
    ]
    s = sot_summary(pred, gt)
    assert s["frames"] == 4
    assert s["mean_iou"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert s["failures"] == 2 and s["failure_frames"] == [1, 3]
    assert s["lost"] == 1
    assert s["success_auc"] == pytest.approx(success_auc([1.0, 0.0, 0.5, 0.0]))
    assert s["precision_20"] == pytest.approx(0.5)  # errors 0, inf, 2.5, 70.7


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        success_curve([0.5, 1.5])
    with pytest.raises(ValueError, match="finite"):
        success_auc([np.nan])
    with pytest.raises(ValueError, match="expected 2 boxes"):
        sot_summary(np.zeros((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        frame_ious(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="pixels"):
        precision_at(np.zeros((1, 4)), np.zeros((1, 4)), pixels=-1)
