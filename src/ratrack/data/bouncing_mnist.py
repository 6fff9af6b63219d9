"""Bouncing MNIST: real MNIST digits moving on a black canvas, with tight per-frame boxes.

RATM's recipe (Kahou et al., 2015) by default: a 100x100 canvas, 28x28 digits, 30 frames, each
step a new random velocity mixed with the previous one by momentum 0.9, reflection at the
borders. Several digits overlap by pixel maximum.

Motion model, per digit and per axis (``p`` the top-left corner of the digit's patch, pixels)::

    v_0 = speed * z_0
    v_t = m * v_{t-1} + (1 - m) * u_t,   u_t = speed * sqrt((1 + m) / (1 - m)) * z_t
    p_t = fold(p_{t-1} + v_t)            (reflection at 0 and at canvas - digit_size)

with ``z_t ~ N(0, 1)`` i.i.d. and ``m`` the momentum. The fresh velocity ``u_t`` is scaled so the
process is stationary: every ``v_t`` has standard deviation ``speed`` (equivalently
``v_t = m v_{t-1} + sqrt(1 - m^2) speed z_t``), so ``momentum`` only sets how smooth the motion is
(``m = 1``: constant velocity; ``m = 0``: independent steps), never how fast. A reflection mirrors
the position about the border and negates that axis of the velocity, so the digit bounces.
Initial positions are uniform over the free range; digits are drawn at the rounded position.

Boxes are ``xyxy`` pixels (see :mod:`ratrack.boxes`), tight around the digit's nonzero pixels in
each frame, so they always lie inside the canvas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch.utils.data

from ratrack.data.mnist import Digits, load_split
from ratrack.errors import ConfigError, check_number

log = logging.getLogger(__name__)


MAX_CANVAS = 4096  # canvas side in pixels
MAX_LENGTH = 10_000  # frames per sequence
MAX_DIGITS = 64  # digits per sequence
MAX_SEQUENCE_BYTES = 2**30  # float32 frames of one sequence in memory


@dataclass(frozen=True)
class BouncingMnistConfig:
    """How Bouncing MNIST sequences look and move."""

    canvas_size: tuple[int, int] = (100, 100)  # (H, W), RATM's canvas
    digit_size: int = 28  # side of the (square) digit patch; MNIST's native 28 needs no resize
    num_digits: int = 1  # digits per sequence, each one an object with its own box
    length: int = 30  # frames per sequence (RATM: 30)
    # Per-axis standard deviation of the velocity, px/frame. RATM's generator moves the digit by
    # 0.1 d_t + 0.9 d_{t-1} with d uniform on the integers [-15, 15): a per-axis step std of
    # sqrt(0.82 * 74.9) = 7.8 px. We keep that step size but let the momentum act on the
    # velocity itself, so the motion is smooth and bounces instead of jittering.
    speed: float = 7.8
    momentum: float = 0.9  # weight of the previous velocity in each step (RATM: 0.9)

    def __post_init__(self) -> None:
        h, w = self.canvas_size
        for side in (h, w):
            check_number("canvas_size", side, low=1, high=MAX_CANVAS, integer=True)
        check_number("length", self.length, low=1, high=MAX_LENGTH, integer=True)
        check_number("num_digits", self.num_digits, low=1, high=MAX_DIGITS, integer=True)
        if 4 * self.length * h * w > MAX_SEQUENCE_BYTES:  # one sequence's float32 frames
            raise ConfigError(
                "canvas_size",
                f"{h}x{w} with length {self.length} needs "
                f"{4 * self.length * h * w / 2**30:.1f} GiB per sequence (at most "
                f"{MAX_SEQUENCE_BYTES / 2**30:g} GiB)",
            )
        check_number("digit_size", self.digit_size, low=1, integer=True)
        if min(h, w) < self.digit_size:
            raise ConfigError(
                "canvas_size", f"must be at least the digit size {self.digit_size}, got {h}x{w}"
            )
        if self.num_digits < 1:
            raise ValueError(f"num_digits must be >= 1, got {self.num_digits}")
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")
        if not np.isfinite(self.speed) or self.speed < 0:
            raise ValueError(f"speed must be finite and >= 0, got {self.speed}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")


class BouncingSample(NamedTuple):
    """One sequence: ``frames`` float32 ``(T, 1, H, W)`` in [0, 1], ``boxes`` float32
    ``(T, N, 4)`` xyxy pixels, ``ids`` int64 ``(N,)`` (index of each digit in its split)."""

    frames: np.ndarray
    boxes: np.ndarray
    ids: np.ndarray


def fold(p: np.ndarray, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Reflect positions ``p`` into ``[0, high]``; return them and whether each was flipped an
    odd number of times (its velocity must then change sign)."""
    if high <= 0:
        return np.zeros_like(p), np.zeros(p.shape, dtype=bool)
    k = np.floor(p / high)
    odd = (k % 2) != 0
    r = p - k * high  # in [0, high)
    return np.where(odd, high - r, r), odd


def trajectories(
    num: int,
    length: int,
    high: tuple[float, float],
    config: BouncingMnistConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Top-left corners ``(T, num, 2)`` as ``(x, y)`` floats, by the module's motion model."""
    hi = np.array(high, dtype=np.float64)  # (2,) free range in x and y
    m = config.momentum
    pos = rng.uniform(0.0, 1.0, size=(num, 2)) * hi  # (num, 2)
    vel = config.speed * rng.standard_normal((num, 2))
    gain = config.speed * np.sqrt(max(1.0 - m * m, 0.0))  # = (1 - m) * scale of u_t
    out = np.empty((length, num, 2))
    out[0] = pos
    for t in range(1, length):
        vel = m * vel + gain * rng.standard_normal((num, 2))
        for a in range(2):
            pos[:, a], flip = fold(pos[:, a] + vel[:, a], hi[a])
            vel[:, a] = np.where(flip, -vel[:, a], vel[:, a])
        out[t] = pos
    return out


def _resize_digit(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape == (size, size):
        return image
    import cv2

    interp = cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def _tight_extent(patch: np.ndarray) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the nonzero pixels of ``patch`` (whole patch when all zero)."""
    rows = np.flatnonzero(patch.any(axis=1))
    cols = np.flatnonzero(patch.any(axis=0))
    if len(rows) == 0:
        return 0, 0, patch.shape[1], patch.shape[0]
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def generate_sequence(
    digits: Digits, config: BouncingMnistConfig, rng: np.random.Generator
) -> BouncingSample:
    """One Bouncing MNIST sequence drawn with ``rng`` from ``digits`` (see the module docstring).

    ``config.num_digits`` distinct digits are chosen uniformly (with repetition only when the
    set has fewer digits than that).
    """
    n, T, s = config.num_digits, config.length, config.digit_size
    H, W = config.canvas_size
    if len(digits) == 0:
        raise ValueError("no digits to draw from")
    ids = rng.choice(len(digits), size=n, replace=len(digits) < n).astype(np.int64)
    patches = [_resize_digit(digits.images[i], s).astype(np.float32) / 255.0 for i in ids]
    extents = np.array([_tight_extent(p > 0) for p in patches], dtype=np.float32)  # (N, 4)
    corners = np.rint(trajectories(n, T, (W - s, H - s), config, rng)).astype(np.int64)
    corners = np.clip(corners, 0, [W - s, H - s])  # (T, N, 2); rint of a value in range stays in
    frames = np.zeros((T, 1, H, W), dtype=np.float32)
    for t in range(T):
        for k in range(n):
            x, y = corners[t, k]
            view = frames[t, 0, y : y + s, x : x + s]
            np.maximum(view, patches[k], out=view)
    offset = np.concatenate([corners, corners], axis=-1).astype(np.float32)  # (T, N, 4)
    boxes = offset + extents[None]  # (T, N, 4)
    return BouncingSample(frames, boxes, ids)


class BouncingMnist(torch.utils.data.Dataset):
    """``num_sequences`` Bouncing MNIST sequences; sample ``i`` is a pure function of
    ``(seed, i)`` and the digits (``np.random.default_rng([seed, i])``).

    Digits come from ``digits`` when given, else from split ``split`` of ``mnist`` (see
    :func:`ratrack.data.mnist.load_split`; ``None`` is the embedded digits). Items are
    :class:`BouncingSample` of numpy arrays (``default_collate`` makes tensors of them).
    """

    def __init__(
        self,
        config: BouncingMnistConfig,
        *,
        num_sequences: int,
        split: str = "train",
        seed: int = 0,
        mnist: str | None = None,
        digits: Digits | None = None,
    ) -> None:
        if num_sequences < 0:
            raise ValueError(f"num_sequences must be >= 0, got {num_sequences}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.config = config
        self.num_sequences = num_sequences
        self.seed = seed
        self.digits = digits if digits is not None else load_split(split, mnist)
        if len(self.digits) == 0:
            raise ValueError("the digit set is empty")

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, i: int) -> BouncingSample:
        i = int(i)
        if i < 0:
            i += self.num_sequences
        if not 0 <= i < self.num_sequences:
            raise IndexError(f"sequence {i} out of range [0, {self.num_sequences})")
        rng = np.random.default_rng([self.seed, i])
        return generate_sequence(self.digits, self.config, rng)
