"""Self-supervised motion on real stills: short tracking sequences made from single frames.

A real frame and one object box in it (KITTI labels, MOT17 gt, OTB gt), or a random box when
there is none (KITTI raw frames), become a sequence of ``length`` frames: the object's pixels
move across the scene with a random similarity motion while a camera window follows it with
its own random motion, so training sees real textures even where no labelled video exists.

Rendering of frame ``t`` (all maps are 2x3 affine, image pixels -> output pixels)::

    background_t = warp(still with the object's original place filled in, C_t)
    object_t     = warp(still, C_t @ O_t), kept inside the warped object box (feathered edge)
    box_t        = C_t @ O_t applied to the box corners (their bounding box)

``O_t`` moves the object about its centre (translation, scale, rotation); ``C_t`` maps the camera
window to the output frame. Sampling distributions (``rng`` is the only source of randomness; a
"walk" is ``v_t = m v_{t-1} + sqrt(1 - m^2) sigma e_t``, ``v_0 = sigma e_0``, summed over time,
with ``e_t`` unit-variance Laplace, as GOTURN samples motion, and ``m = config.momentum``):

* random box when the still has none: width and height each ``U(box_min, box_max)`` times the
  image's shorter side, position uniform inside the image;
* object translation: a walk per axis with ``sigma = object_shift`` times the object's size;
* object log-scale: a walk with ``sigma = object_log_scale`` (the same for both axes);
* object rotation: a walk with ``sigma = object_rotation`` degrees (0 by default: boxes stay tight);
* camera window: aspect ratio of the output, area ``context^2`` times the object's box area with
  ``context ~ U(context_min, context_max)`` drawn once, then scaled by ``exp`` of a walk with
  ``sigma = camera_log_scale``; its centre is the object's centre plus an offset whose walk has
  ``sigma = camera_shift`` times the window size per axis, folded (reflected) into
  ``[-max_offset, max_offset]`` window sizes so the object stays in view.

Pixels outside the still are filled by reflection. The object's original place is filled by
OpenCV's Telea inpainting (``fill="inpaint"``) or left as is (``fill="none"``: a static twin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch.utils.data

from ratrack.data.bouncing_mnist import fold
from ratrack.data.images import read_image
from ratrack.errors import DataError


@dataclass(frozen=True)
class MotionConfig:
    """How sequences are made from stills (distributions in the module docstring)."""

    length: int = 10  # frames per sequence
    out_size: tuple[int, int] = (128, 128)  # (H, W) of the output frames
    momentum: float = 0.8  # smoothness of every walk (0: independent steps)
    object_shift: float = 0.05  # object translation std per frame, fraction of its size
    object_log_scale: float = 0.02  # object log-scale std per frame
    object_rotation: float = 0.0  # object rotation std per frame, degrees
    context_min: float = 2.0  # camera window side / object side, drawn once per sequence
    context_max: float = 4.0
    camera_shift: float = 0.03  # camera offset std per frame, fraction of the window size
    camera_log_scale: float = 0.02  # camera window log-scale std per frame
    max_offset: float = 0.25  # the object's centre stays within this fraction of the window
    box_min: float = 0.1  # random boxes (stills without labels): side range as a fraction
    box_max: float = 0.3  #   of the image's shorter side
    min_box_size: float = 8.0  # labelled boxes smaller than this (pixels) are skipped
    fill: str = "inpaint"  # what replaces the object's original place: inpaint | none

    def __post_init__(self) -> None:
        if self.length < 1 or min(self.out_size) < 1:
            raise ValueError(f"length and out_size must be positive: {self}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")
        stds = (
            self.object_shift,
            self.object_log_scale,
            self.object_rotation,
            self.camera_shift,
            self.camera_log_scale,
        )
        if min(stds) < 0:
            raise ValueError(f"standard deviations must be >= 0: {self}")
        if not 1.0 <= self.context_min <= self.context_max:
            raise ValueError(f"need 1 <= context_min <= context_max: {self}")
        if not 0.0 <= self.max_offset < 0.5:
            raise ValueError(f"max_offset must be in [0, 0.5), got {self.max_offset}")
        if not 0.0 < self.box_min <= self.box_max <= 1.0:
            raise ValueError(f"need 0 < box_min <= box_max <= 1: {self}")
        if self.fill not in ("inpaint", "none"):
            raise ValueError(f"fill must be 'inpaint' or 'none', got {self.fill!r}")


class Still(NamedTuple):
    """One real frame and (optionally) one object's box in it, ``(4,)`` xyxy pixels."""

    path: Path
    box: np.ndarray | None


class MotionSample(NamedTuple):
    """``frames`` float32 ``(T, 3, H, W)`` in [0, 1]; ``boxes`` float32 ``(T, 4)`` xyxy."""

    frames: np.ndarray
    boxes: np.ndarray


def _laplace(rng: np.random.Generator, size) -> np.ndarray:
    return rng.laplace(0.0, 1.0 / math.sqrt(2.0), size)  # unit variance


def walk(
    rng: np.random.Generator, length: int, sigma: float, momentum: float, dims: int = 1
) -> np.ndarray:
    """Velocities ``(length, dims)`` of a stationary Laplace AR(1) walk with std ``sigma``."""
    v = np.empty((length, dims))
    v[0] = sigma * _laplace(rng, dims)
    gain = sigma * math.sqrt(max(1.0 - momentum * momentum, 0.0))
    for t in range(1, length):
        v[t] = momentum * v[t - 1] + gain * _laplace(rng, dims)
    return v


def random_box(
    shape: tuple[int, int], config: MotionConfig, rng: np.random.Generator
) -> np.ndarray:
    """A box for a still without labels (see the module docstring)."""
    H, W = shape
    side = min(H, W)
    w, h = rng.uniform(config.box_min, config.box_max, 2) * side
    x = rng.uniform(0, W - w)
    y = rng.uniform(0, H - h)
    return np.array([x, y, x + w, y + h])


def _similarity(centre, shift, scale, degrees) -> np.ndarray:
    """3x3 map: scale and rotate about ``centre``, then translate by ``shift``."""
    a = math.radians(degrees)
    c, s = scale * math.cos(a), scale * math.sin(a)
    cx, cy = centre
    return np.array(
        [
            [c, -s, cx + shift[0] - c * cx + s * cy],
            [s, c, cy + shift[1] - s * cx - c * cy],
            [0.0, 0.0, 1.0],
        ]
    )


def _window_map(centre, size, out_size) -> np.ndarray:
    """3x3 map from image pixels to output pixels for a window ``size = (w, h)``."""
    H, W = out_size
    sx, sy = W / size[0], H / size[1]
    return np.array(
        [
            [sx, 0.0, W / 2 - sx * centre[0]],
            [0.0, sy, H / 2 - sy * centre[1]],
            [0.0, 0.0, 1.0],
        ]
    )


def _fill_object(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    import cv2

    H, W = image.shape[:2]
    x1, y1 = max(math.floor(box[0]) - 2, 0), max(math.floor(box[1]) - 2, 0)
    x2, y2 = min(math.ceil(box[2]) + 2, W), min(math.ceil(box[3]) + 2, H)
    mask = np.zeros((H, W), np.uint8)
    mask[y1:y2, x1:x2] = 255
    return cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)


def generate_motion_sequence(
    image: np.ndarray, box: np.ndarray | None, config: MotionConfig, rng: np.random.Generator
) -> MotionSample:
    """One sequence from a still ``image`` (``(H, W, 3)`` uint8 RGB) and its object ``box``
    (xyxy; ``None`` draws a random one). See the module docstring for every distribution."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    Hi, Wi = image.shape[:2]
    box = random_box((Hi, Wi), config, rng) if box is None else np.asarray(box, np.float64)
    if not (box[2] > box[0] and box[3] > box[1]):
        raise ValueError(f"box must have positive size, got {box}")
    T, (Ho, Wo), m = config.length, config.out_size, config.momentum
    size = box[2:] - box[:2]  # (2,) object w, h
    centre0 = (box[:2] + box[2:]) / 2
    shift = np.cumsum(walk(rng, T, 1.0, m, 2), axis=0) * config.object_shift * size  # (T, 2)
    shift -= shift[0]  # frame 0 shows the object where it is in the still
    log_k = np.cumsum(walk(rng, T, config.object_log_scale, m, 1)[:, 0])
    log_k -= log_k[0]
    angle = np.cumsum(walk(rng, T, config.object_rotation, m, 1)[:, 0])
    angle -= angle[0]
    context = rng.uniform(config.context_min, config.context_max)
    aspect = Wo / Ho
    side = context * math.sqrt(size[0] * size[1])  # window sqrt-area
    base = np.array([side * math.sqrt(aspect), side / math.sqrt(aspect)])  # (2,) window w, h
    log_c = np.cumsum(walk(rng, T, config.camera_log_scale, m, 1)[:, 0])
    start = rng.uniform(-config.max_offset, config.max_offset, 2)
    offset_v = walk(rng, T, config.camera_shift, m, 2)  # (T, 2) in window sizes
    offset = np.empty((T, 2))
    pos = start
    for t in range(T):
        if t:
            pos = pos + offset_v[t]
        moved, flipped = fold(pos + config.max_offset, 2 * config.max_offset)
        pos = moved - config.max_offset
        offset_v[t + 1 :, flipped] *= -1  # reflected: the rest of the walk is mirrored too
        offset[t] = pos
    background = _fill_object(image, box) if config.fill == "inpaint" else image
    border = cv2.BORDER_REFLECT_101
    frames = np.empty((T, Ho, Wo, 3), np.uint8)
    boxes = np.empty((T, 4))
    corners = np.array(
        [[box[0], box[1], 1], [box[2], box[1], 1], [box[2], box[3], 1], [box[0], box[3], 1]]
    ).T  # (3, 4)
    yy, xx = np.mgrid[0:Ho, 0:Wo]
    for t in range(T):
        obj = _similarity(centre0, shift[t], math.exp(log_k[t]), angle[t])
        centre = centre0 + shift[t]
        win = base * math.exp(log_k[t] + log_c[t])
        cam = _window_map(centre + offset[t] * win, win, (Ho, Wo))
        full = cam @ obj
        bg = cv2.warpAffine(
            background, cam[:2], (Wo, Ho), flags=cv2.INTER_LINEAR, borderMode=border
        )
        fg = cv2.warpAffine(image, full[:2], (Wo, Ho), flags=cv2.INTER_LINEAR, borderMode=border)
        # soft mask: inside the warped box, 1-pixel feathered edge (inverse map of pixel centres)
        inv = np.linalg.inv(full)
        u = inv[0, 0] * (xx + 0.5) + inv[0, 1] * (yy + 0.5) + inv[0, 2]
        v = inv[1, 0] * (xx + 0.5) + inv[1, 1] * (yy + 0.5) + inv[1, 2]
        scale = math.sqrt(abs(np.linalg.det(full[:2, :2])))
        d = np.minimum.reduce([u - box[0], box[2] - u, v - box[1], box[3] - v]) * scale
        alpha = np.clip(d + 0.5, 0.0, 1.0)[..., None]  # (Ho, Wo, 1)
        frames[t] = np.rint(alpha * fg + (1 - alpha) * bg).astype(np.uint8)
        p = full @ corners  # (3, 4)
        boxes[t] = [p[0].min(), p[1].min(), p[0].max(), p[1].max()]
    out = frames.transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # (T, 3, Ho, Wo)
    return MotionSample(out, boxes.astype(np.float32))


# --- where stills come from -------------------------------------------------------------------


def stills_from_sequence(seq, *, min_box_size: float = 8.0) -> list[Still]:
    """Stills of a :class:`ratrack.data.sequence.Sequence` read from image files: its gt box
    on every frame that has one, or no box when the sequence has no ground truth."""
    paths = getattr(seq, "paths", None)
    if paths is None:
        raise ValueError("stills need a sequence of image files (not a video)")
    out = []
    for t, path in enumerate(paths):
        if path is None:
            continue
        if seq.gt is None:
            out.append(Still(Path(path), None))
            continue
        box = seq.gt[t]
        if np.isfinite(box).all() and min(box[2] - box[0], box[3] - box[1]) >= min_box_size:
            out.append(Still(Path(path), box.copy()))
    return out


def stills_from_mot(seq, *, min_box_size: float = 8.0, min_visibility: float = 0.5) -> list[Still]:
    """Stills of a MOTChallenge sequence: every gt box marked for evaluation (conf 1) of class 1
    (pedestrian; any class when the file has none) with visibility >= ``min_visibility``."""
    records = seq.gt_records
    if records is None:
        return stills_from_sequence(seq, min_box_size=min_box_size)
    keep = (records.conf > 0) & ((records.cls == 1) | (records.cls == -1))
    keep &= (records.visibility >= min_visibility) | (records.visibility == -1)
    size = np.minimum(
        records.boxes[:, 2] - records.boxes[:, 0], records.boxes[:, 3] - records.boxes[:, 1]
    )
    keep &= size >= min_box_size
    out = []
    for i in np.flatnonzero(keep):
        t = int(records.frame[i]) - 1
        if 0 <= t < len(seq.paths) and seq.paths[t] is not None:
            out.append(Still(Path(seq.paths[t]), records.boxes[i].copy()))
    return out


def stills_from_kitti(
    dataset,
    *,
    sequences: Iterable[str] | None = None,
    classes=None,
    max_truncation: float = 1,
    max_occlusion: int = 1,
    min_box_size: float = 8.0,
) -> list[Still]:
    """Stills of a :class:`ratrack.data.kitti.KittiTracking`: every labelled object (HART's
    truncation and occlusion limits by default) on the frames whose image exists."""
    out = []
    for seq in sequences if sequences is not None else dataset.sequences:
        if not dataset.has_labels(seq):
            continue
        present = set(dataset.present_frames(seq).tolist())
        labels = dataset.labels(
            seq, classes=classes, max_truncation=max_truncation, max_occlusion=max_occlusion
        )
        folder = dataset.image_dir(seq)
        for f, box in zip(labels.frame, labels.boxes, strict=True):
            if int(f) in present and min(box[2] - box[0], box[3] - box[1]) >= min_box_size:
                out.append(Still(folder / f"{int(f):06d}.png", box.copy()))
    return out


class MotionOnStills(torch.utils.data.Dataset):
    """``num_sequences`` sequences made from ``stills``; item ``i`` is a pure function of
    ``(seed, i)``: it picks a still uniformly and calls :func:`generate_motion_sequence`."""

    def __init__(
        self, stills: list[Still], config: MotionConfig, *, num_sequences: int, seed: int = 0
    ) -> None:
        if not stills:
            raise ValueError("no stills to make sequences from")
        if num_sequences < 0 or seed < 0:
            raise ValueError("num_sequences and seed must be >= 0")
        self.stills, self.config = list(stills), config
        self.num_sequences, self.seed = num_sequences, seed

    def __len__(self) -> int:
        return self.num_sequences

    def __getitem__(self, i: int) -> MotionSample:

        i = int(i)
        if not 0 <= i < self.num_sequences:
            raise IndexError(f"sequence {i} out of range [0, {self.num_sequences})")
        rng = np.random.default_rng([self.seed, i])
        still = self.stills[int(rng.integers(len(self.stills)))]
        image = read_image(still.path)
        box = original = still.box
        # labelled boxes may reach past the frame (MOT): keep the part that shows
        if original is not None:
            H, W = image.shape[:2]
            box = np.clip(original, 0, [W, H, W, H])
            if min(box[2] - box[0], box[3] - box[1]) < 1:
                raise DataError(f"box {original.tolist()} is outside the {W}x{H} image", still.path)
        return generate_motion_sequence(image, box, self.config, rng)
