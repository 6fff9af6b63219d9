"""A constant-velocity Kalman filter in box space, vectorized over tracks.

Each of the four ``xyxy`` coordinates of each track (:mod:`ratrack.boxes`) is one
constant-velocity filter with position ``p`` and velocity ``v`` (pixels, pixels per frame):

    predict:  p <- p + v                     P <- F P F^T + Q,  F = [[1, 1], [0, 1]]
    update:   y = z - p,  S = P_pp + R,      K = (P_pp, P_pv) / S
              (p, v) <- (p, v) + K y         P <- (I - K H) P,  H = [1, 0]

The coordinates share no covariance: with a diagonal process noise ``Q`` and measurement noise
``R``, the 8x8 filter of SORT's and ByteTrack's ``xyxy`` variants splits exactly into these 2x2
blocks, so the whole filter is elementwise arithmetic on one ``(K, 5, 4)`` array, with no
per-track objects and no batched 8x8 products. Noise standard deviations scale with the box's
size along the coordinate's axis (width for ``x1, x2``, height for ``y1, y2``), as DeepSORT
scales them with the height: a distant car and a near one are equally certain relative to their
size.

State: ``kf`` ``(K, 5, 4)`` float64 for ``K`` tracks; ``kf[:, POS]`` the positions (an xyxy box
per track), ``kf[:, VEL]`` the velocities, ``kf[:, P_PP]``, ``kf[:, P_PV]``, ``kf[:, P_VV]``
the covariance entries, one column per coordinate. Every function returns a new array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POS, VEL, P_PP, P_PV, P_VV = range(5)
"""Rows of the filter state ``kf[:, row]`` (each ``(K, 4)``, one column per coordinate)."""

MIN_NOISE_FRACTION = 1e-3
"""NSA's ``1 - score`` never goes below this: a detection of score 1 is still not exact."""


@dataclass(frozen=True)
class MotionConfig:
    """Noise of the box filter, as fractions of the box's size along each axis."""

    std_position: float = 0.05  # process noise of a coordinate per frame (x size)
    std_velocity: float = 0.02  # process noise of a coordinate's velocity per frame (x size)
    std_measurement: float = 0.05  # detector noise of a coordinate (x size)
    init_velocity: float = 0.2  # prior std of a new track's velocity (x size)
    min_size: float = 1.0  # predicted boxes keep at least this width and height (pixels)
    # NSA (StrongSORT): a detection of score c is measured with noise (1 - c) R, so confident
    # boxes pull the filter harder than doubtful ones (scores at or above 1 are floored)
    score_noise: bool = False

    def __post_init__(self) -> None:
        for name in ("std_position", "std_velocity", "std_measurement", "init_velocity"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.min_size < 0:
            raise ValueError(f"min_size must be >= 0, got {self.min_size}")


def _scale2(boxes: np.ndarray) -> np.ndarray:
    """``(K, 4)`` squared sizes: width for the x columns, height for the y columns (>= 1)."""
    size = np.maximum(boxes[:, 2:] - boxes[:, :2], 1.0)  # (K, 2) w, h
    size *= size
    return np.concatenate([size, size], axis=1)


def valid_boxes(boxes: np.ndarray, min_size: float = 1.0) -> np.ndarray:
    """``boxes`` ``(K, 4)`` with each side grown about its centre to at least ``min_size``."""
    size = boxes[:, 2:] - boxes[:, :2]
    short = size < min_size
    if not short.any():
        return boxes
    grow = np.where(short, (min_size - size) / 2, 0.0)
    return boxes + np.concatenate([-grow, grow], axis=1)


def init_motion(boxes: np.ndarray, config: MotionConfig = MotionConfig()) -> np.ndarray:
    """``(K, 5, 4)`` new filters at observed ``boxes`` ``(K, 4)``, at rest with an uncertain
    velocity."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    kf = np.zeros((len(boxes), 5, 4))
    s2 = _scale2(boxes)
    kf[:, POS] = boxes
    kf[:, P_PP] = config.std_measurement**2 * s2
    kf[:, P_VV] = config.init_velocity**2 * s2
    return kf


_F = np.array(
    [
        [1.0, 1, 0, 0, 0],  # pos <- pos + vel
        [0, 1, 0, 0, 0],  # vel
        [0, 0, 1, 2, 1],  # P_pp <- P_pp + 2 P_pv + P_vv
        [0, 0, 0, 1, 1],  # P_pv <- P_pv + P_vv
        [0, 0, 0, 0, 1],  # P_vv
    ]
)
"""The prediction as one linear map of the five rows of ``kf`` (``F P F^T`` written out)."""


def predict(kf: np.ndarray, config: MotionConfig = MotionConfig()) -> np.ndarray:
    """Every filter of ``kf`` ``(K, 5, 4)`` one frame ahead (module docstring)."""
    out = _F @ kf  # (K, 5, 4)
    s2 = _scale2(kf[:, POS])
    out[:, P_PP] += config.std_position**2 * s2
    out[:, P_VV] += config.std_velocity**2 * s2
    return out


def update(
    kf: np.ndarray,
    matched: np.ndarray,
    boxes: np.ndarray,
    config: MotionConfig = MotionConfig(),
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """Correct the filters of ``kf`` ``(K, 5, 4)`` where ``matched`` ``(K,)`` bool with the
    observed ``boxes`` ``(K, 4)`` (rows of unmatched filters are ignored, those filters are
    returned as they are). With ``config.score_noise``, ``scores`` ``(K,)`` (the detections'
    scores in [0, 1]) scale each measurement's noise by ``1 - score`` (NSA Kalman, Du et al.,
    StrongSORT, eq. 3)."""
    pos, vel, p_pp, p_pv, p_vv = (kf[:, i] for i in range(5))  # each (K, 4)
    z = np.where(matched[:, None], boxes, pos)
    r = config.std_measurement**2 * _scale2(z)  # (K, 4)
    if config.score_noise:
        if scores is None:
            raise ValueError("MotionConfig.score_noise needs the detections' scores")
        r *= np.maximum(1.0 - np.asarray(scores, np.float64), MIN_NOISE_FRACTION)[:, None]
    gain = matched[:, None] / (p_pp + r)
    k_p, k_v = p_pp * gain, p_pv * gain  # Kalman gains, 0 where unmatched
    y = z - pos
    out = np.empty_like(kf)
    out[:, POS] = pos + k_p * y
    out[:, VEL] = vel + k_v * y
    out[:, P_PP] = p_pp - k_p * p_pp
    out[:, P_PV] = p_pv - k_p * p_pv
    out[:, P_VV] = p_vv - k_v * p_pv
    return out


def restart(
    kf: np.ndarray,
    rows: np.ndarray,
    boxes: np.ndarray,
    velocity: np.ndarray,
    config: MotionConfig = MotionConfig(),
) -> np.ndarray:
    """Re-start the filters ``rows`` at observed ``boxes`` ``(M, 4)`` with ``velocity``
    ``(M, 4)`` estimated from observations: OC-SORT's observation-centric re-update after a
    gap, which replaces the velocity the filter drifted to while it coasted by the observed
    one."""
    fresh = init_motion(boxes, config)
    fresh[:, VEL] = velocity
    fresh[:, P_VV] = (2 * config.std_velocity) ** 2 * _scale2(boxes)
    out = kf.copy()
    out[rows] = fresh
    return out
