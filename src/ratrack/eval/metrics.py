"""Single-object tracking metrics: per-frame IoU, success curve and AUC, precision at 20 px.

The definitions are those of the OTB benchmark (Wu, Lim and Yang, "Online Object Tracking: A
Benchmark", CVPR 2013), which every single-object tracking paper reports:

* per-frame overlap ``IoU_t = |P_t & G_t| / |P_t | G_t|`` of the predicted and ground-truth boxes;
* success curve ``S(tau) = #{t : IoU_t > tau} / T`` over the 21 thresholds
  ``tau = 0, 0.05, ..., 1.0`` (strictly greater, as OTB's toolkit), and its area under the curve
  ``AUC = mean_tau S(tau)``;
* centre error ``e_t = ||c(P_t) - c(G_t)||_2`` in pixels, precision curve
  ``P(d) = #{t : e_t <= d} / T``, reported at ``d = 20`` pixels.

Boxes are ``xyxy`` float arrays ``(T, 4)`` in pixels (see :mod:`ratrack.boxes`). Frames whose
ground-truth row is NaN (the object is absent or unlabelled) are skipped by every metric. A
prediction row that is NaN (or ``None`` in a list) is a lost track: IoU 0 and an infinite centre
error, so it counts as a failure and never as a success.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ratrack.boxes import box_iou_elementwise

SUCCESS_STEPS = 21  # thresholds 0, 0.05, ..., 1.0 as in OTB
PRECISION_PIXELS = 20.0  # the OTB precision threshold in pixels
PRECISION_MAX_PIXELS = 50  # precision curve spans 0..50 px, as OTB's plots


def success_thresholds() -> np.ndarray:
    """The 21 IoU thresholds ``0, 0.05, ..., 1.0`` of the success curve, float64 ``(21,)``."""
    return np.linspace(0.0, 1.0, SUCCESS_STEPS)


def precision_thresholds() -> np.ndarray:
    """Centre-error thresholds ``0, 1, ..., 50`` pixels of the precision curve, ``(51,)``."""
    return np.arange(PRECISION_MAX_PIXELS + 1, dtype=np.float64)


def as_box_array(boxes: np.ndarray | Sequence | None, length: int | None = None) -> np.ndarray:
    """Boxes as a float64 ``(T, 4)`` array; ``None`` rows (lost track) become NaN rows.

    Raises ``ValueError`` for any other shape, or when ``length`` is given and differs.
    """
    if boxes is None:
        raise ValueError("boxes must not be None")
    if isinstance(boxes, np.ndarray):
        out = boxes.astype(np.float64, copy=True)
    else:
        rows = [np.full(4, np.nan) if row is None else np.asarray(row, np.float64) for row in boxes]
        out = np.stack(rows) if rows else np.zeros((0, 4))
    if out.ndim != 2 or out.shape[1] != 4:
        raise ValueError(f"boxes must have shape (T, 4), got {out.shape}")
    if length is not None and len(out) != length:
        raise ValueError(f"expected {length} boxes, got {len(out)}")
    return out


def frame_ious(pred_xyxy, gt_xyxy) -> np.ndarray:
    """Per-frame IoU ``(T,)`` for all frames; NaN where the ground truth is NaN, 0 for lost tracks.

    Unlike the summary metrics, this keeps every frame (for plots over time).
    """
    gt = as_box_array(gt_xyxy)
    pred = as_box_array(pred_xyxy, length=len(gt))
    ious = box_iou_elementwise(torch.from_numpy(pred), torch.from_numpy(gt)).numpy()
    ious = np.where(np.isfinite(pred).all(axis=1), ious, 0.0)
    return np.where(np.isfinite(gt).all(axis=1), ious, np.nan)


def sequence_ious(pred_xyxy, gt_xyxy) -> np.ndarray:
    """IoU ``(T',)`` on the frames that have a ground-truth box (lost tracks give 0)."""
    ious = frame_ious(pred_xyxy, gt_xyxy)
    return ious[np.isfinite(ious)]


def _check_ious(ious) -> np.ndarray:
    ious = np.asarray(ious, np.float64).reshape(-1)
    if not np.isfinite(ious).all():
        raise ValueError(
            "ious must be finite (map lost tracks to 0, drop frames without ground truth)"
        )
    if ((ious < 0) | (ious > 1 + 1e-9)).any():
        raise ValueError("ious must lie in [0, 1]")
    return ious


def success_curve(ious) -> np.ndarray:
    """Success rate ``S(tau) = mean_t [IoU_t > tau]`` at :func:`success_thresholds`, ``(21,)``.

    ``ious`` holds one finite value per evaluated frame. An empty sequence gives zeros.
    """
    ious = _check_ious(ious)
    if ious.size == 0:
        return np.zeros(SUCCESS_STEPS)
    return (ious[None, :] > success_thresholds()[:, None]).mean(axis=1)


def success_auc(ious) -> float:
    """Area under the success curve: the mean of :func:`success_curve` over its 21 thresholds."""
    return float(success_curve(ious).mean())


def center_errors(pred_xyxy, gt_xyxy) -> np.ndarray:
    """Euclidean distance in pixels between box centres, ``(T,)``.

    Frames whose ground truth is NaN give NaN; lost predictions (NaN rows) give ``inf``.
    """
    gt = as_box_array(gt_xyxy)
    pred = as_box_array(pred_xyxy, length=len(gt))
    gt_centre = (gt[:, :2] + gt[:, 2:]) / 2  # (T, 2)
    pred_centre = (pred[:, :2] + pred[:, 2:]) / 2  # (T, 2)
    err = np.linalg.norm(pred_centre - gt_centre, axis=1)
    err = np.where(np.isfinite(pred).all(axis=1), err, np.inf)
    return np.where(np.isfinite(gt).all(axis=1), err, np.nan)


def precision_curve(pred_xyxy, gt_xyxy, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Fraction of ground-truth frames with centre error ``<= d`` for each ``d`` in ``thresholds``.

    ``thresholds`` defaults to :func:`precision_thresholds` (0..50 px).
    """
    thresholds = precision_thresholds() if thresholds is None else np.asarray(thresholds, float)
    err = center_errors(pred_xyxy, gt_xyxy)
    err = err[~np.isnan(err)]
    if err.size == 0:
        return np.zeros(len(thresholds))
    return (err[None, :] <= thresholds[:, None]).mean(axis=1)


def precision_at(pred_xyxy, gt_xyxy, pixels: float = PRECISION_PIXELS) -> float:
    """Fraction of ground-truth frames whose centre error is at most ``pixels`` (OTB: 20 px)."""
    if not pixels >= 0:
        raise ValueError(f"pixels must be >= 0, got {pixels}")
    return float(precision_curve(pred_xyxy, gt_xyxy, np.array([pixels]))[0])


def sot_summary(pred_xyxy, gt_xyxy) -> dict:
    """The single-object scores of one sequence.

    Returns a dict with ``mean_iou``, ``success_auc``, ``precision_20`` (floats in [0, 1]),
    ``failures`` (number of ground-truth frames with IoU 0, lost frames included),
    ``failure_frames`` (their 0-based frame indices), ``lost`` (frames without a prediction)
    and ``frames`` (number of ground-truth frames evaluated).
    """
    gt = as_box_array(gt_xyxy)
    pred = as_box_array(pred_xyxy, length=len(gt))
    per_frame = frame_ious(pred, gt)
    has_gt = np.isfinite(per_frame)
    ious = per_frame[has_gt]
    failure_frames = np.flatnonzero(has_gt & (np.nan_to_num(per_frame, nan=1.0) <= 0.0))
    lost = int((has_gt & ~np.isfinite(pred).all(axis=1)).sum())
    return {
        "frames": int(ious.size),
        "mean_iou": float(ious.mean()) if ious.size else 0.0,
        "success_auc": success_auc(ious),
        "precision_20": precision_at(pred, gt, PRECISION_PIXELS),
        "failures": len(failure_frames),
        "failure_frames": failure_frames.tolist(),
        "lost": lost,
    }
