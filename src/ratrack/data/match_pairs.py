"""Template/search pairs of real frames for training the learned half of template matching.

A pair is two square RGB canvases cut around one object's first box ``a``: the template canvas
from the frame that shows ``a`` and the search canvas from the frame that shows the object
again at box ``b``, both with the same geometry relative to ``a`` (side ``span`` times ``a``'s
long side, centred on ``a``), so what moved between the canvases moved in the footage. Two
kinds:

* **real pairs**: one pedestrian of a MOT17-mini track in two frames 1-3 apart (the camera's
  and the person's own motion);
* **still pairs** (self-supervised): one real still, the search canvas cut again with a random
  shift and zoom, so the object moves by a known amount; the search canvas is perturbed the
  way footage is (motion or focus blur, light and contrast, sensor noise, a lower resolution,
  and an occluding patch of the same still over part of the object). Stills are KITTI's
  labelled objects, MOT17's pedestrians and random boxes of the unlabelled KITTI raw frames.

No frame of a natural-tracker validation or tuning sequence is used (see
``tools/train_matcher.py`` for the split).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from ratrack.data.formats import open_sequence
from ratrack.data.images import read_image
from ratrack.data.natural_pool import NaturalPoolConfig, mot_tracks, natural_stills


@dataclass(frozen=True)
class PairConfig:
    """How pairs are cut and perturbed."""

    canvas: int = 160  # side of the square canvases (pixels)
    span: float = 6.0  # canvas side / the first box's long side
    shift: float = 0.5  # still pairs: the object moves up to this share of its window (3 sides)
    zoom: float = 0.12  # still pairs: its size changes by a factor in exp(+-zoom)
    min_side: float = 8.0  # boxes smaller than this (pixels) are skipped
    occlusion: float = 0.4  # probability of an occluding patch over the search object
    blur: float = 0.4  # probability of blur (motion or focus) on the search canvas
    low_res: float = 0.3  # probability of a lower resolution (down by 2-4, back up)
    real_share: float = 0.3  # share of real pairs (when there are any)
    seed: int = 0


class Pairs(NamedTuple):
    """``templates`` and ``searches`` uint8 ``(N, 3, S, S)``; ``first`` and ``target`` float32
    ``(N, 4)`` xyxy boxes in canvas pixels (``a`` in the template canvas, ``b`` in the
    search canvas)."""

    templates: np.ndarray
    searches: np.ndarray
    first: np.ndarray
    target: np.ndarray


def _crop(image: np.ndarray, centre: np.ndarray, side: float, canvas: int) -> np.ndarray:
    """The square of ``side`` pixels centred on ``centre`` (x, y), resized to ``canvas``;
    outside the image black."""
    scale = canvas / side
    tx, ty = canvas / 2 - centre[0] * scale, canvas / 2 - centre[1] * scale
    matrix = np.array([[scale, 0, tx], [0, scale, ty]], dtype=np.float64)
    return cv2.warpAffine(
        image,
        matrix,
        (canvas, canvas),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def _to_canvas(box: np.ndarray, centre: np.ndarray, side: float, canvas: int) -> np.ndarray:
    scale = canvas / side
    xy = np.array([centre[0], centre[1], centre[0], centre[1]])
    return ((box - xy) * scale + canvas / 2).astype(np.float32)


def _perturb(image: np.ndarray, box: np.ndarray, config: PairConfig, rng) -> np.ndarray:
    """A search canvas as footage might show it: occlusion, blur, resolution, light, noise."""
    out = image.astype(np.float32)
    S = out.shape[0]
    w, h = box[2] - box[0], box[3] - box[1]
    if rng.random() < config.occlusion:  # a patch of the canvas itself over part of the object
        pw, ph = int(max(2, w * rng.uniform(0.2, 0.6))), int(max(2, h * rng.uniform(0.2, 0.6)))
        x = int(np.clip(rng.uniform(box[0] - pw / 2, box[2] - pw / 2), 0, S - pw))
        y = int(np.clip(rng.uniform(box[1] - ph / 2, box[3] - ph / 2), 0, S - ph))
        sx, sy = int(rng.integers(0, S - pw + 1)), int(rng.integers(0, S - ph + 1))
        out[y : y + ph, x : x + pw] = out[sy : sy + ph, sx : sx + pw].copy()
    if rng.random() < config.blur:
        if rng.random() < 0.5:  # motion blur along a random direction
            length = int(rng.integers(3, 10))
            kernel = np.zeros((length, length), np.float32)
            kernel[length // 2] = 1.0 / length
            rot = cv2.getRotationMatrix2D(
                (length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1
            )
            kernel = cv2.warpAffine(kernel, rot, (length, length))
            out = cv2.filter2D(out, -1, kernel / max(kernel.sum(), 1e-6))
        else:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < config.low_res:
        small = max(8, int(S / rng.uniform(2, 4)))
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (S, S))
    gain, bias = rng.uniform(0.6, 1.4), rng.uniform(-25, 25)
    gamma = np.exp(rng.uniform(-0.3, 0.3))
    out = 255.0 * (np.clip(out * gain + bias, 0, 255) / 255.0) ** gamma
    out = out + rng.normal(0, rng.uniform(0, 6), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def still_pair(image: np.ndarray, box: np.ndarray, config: PairConfig, rng):
    """Template and search canvases of one still: the search cut again, shifted and zoomed."""
    centre = (box[:2] + box[2:]) / 2
    side = config.span * max(box[2] - box[0], box[3] - box[1])
    template = _crop(image, centre, side, config.canvas)
    first = _to_canvas(box, centre, side, config.canvas)
    # the crop moves by -d and zooms by z: in the search canvas the object sits at +d, 1/z
    d = rng.uniform(-config.shift, config.shift, 2) * 3 * max(box[2] - box[0], box[3] - box[1])
    z = np.exp(rng.uniform(-config.zoom, config.zoom))
    search = _crop(image, centre - d, side * z, config.canvas)
    target = _to_canvas(box, centre - d, side * z, config.canvas)
    # both canvases are one frame's coordinates: as if the camera moved by -d and zoomed by z
    return template, _perturb(search, target, config, rng), first, target


def real_pair(image_a, box_a, image_b, box_b, config: PairConfig, rng):
    """Canvases of two frames with the same geometry around ``box_a``."""
    centre = (box_a[:2] + box_a[2:]) / 2
    side = config.span * max(box_a[2] - box_a[0], box_a[3] - box_a[1])
    template = _crop(image_a, centre, side, config.canvas)
    search = _crop(image_b, centre, side, config.canvas)
    first = _to_canvas(box_a, centre, side, config.canvas)
    target = _to_canvas(box_b, centre, side, config.canvas)
    if rng.random() < 0.5:  # milder footage perturbations on real pairs
        search = _perturb(search, target, PairConfig(occlusion=0.1, blur=0.3, low_res=0.2), rng)
    return template, search, first, target


def make_pairs(root: str | Path, count: int, config: PairConfig = PairConfig()) -> Pairs:
    """``count`` pairs from the real data folder ``root``, a pure function of ``config.seed``."""
    root = Path(root)
    rng = np.random.default_rng(config.seed)
    stills = natural_stills(
        root,
        NaturalPoolConfig(otb=(), kitti_sequences=("0001", "0016"), mot_min_side=config.min_side),
    )
    tracks = []
    for folder in sorted((root / "mot17_mini" / "train").glob("MOT17-*")):
        seq = open_sequence(folder, "mot")
        tracks += [(seq, t, b) for t, b in mot_tracks(seq, config.min_side)]
    images: dict[str, np.ndarray] = {}

    def image(path) -> np.ndarray:
        key = str(path)
        if key not in images:
            images[key] = read_image(path)
        return images[key]

    out = []
    while len(out) < count:
        if tracks and rng.random() < config.real_share:
            seq, t, boxes = tracks[int(rng.integers(len(tracks)))]
            i = int(rng.integers(len(t)))
            j = int(np.clip(i + rng.choice([-3, -2, -1, 1, 2, 3]), 0, len(t) - 1))
            if i == j:
                continue
            a = image(seq.paths[int(t[i])])
            b = image(seq.paths[int(t[j])])
            out.append(real_pair(a, boxes[i], b, boxes[j], config, rng))
            continue
        still = stills[int(rng.integers(len(stills)))]
        pixels = image(still.path)
        box = still.box
        if box is None:  # an unlabelled frame: a random box, 1-8 % of the frame's height
            H, W = pixels.shape[:2]
            side = rng.uniform(0.04, 0.2) * H
            w, h = side * np.exp(rng.uniform(-0.5, 0.5)), side
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            box = np.array([x, y, x + w, y + h])
        out.append(still_pair(pixels, np.asarray(box, dtype=np.float64), config, rng))
    templates, searches, first, target = (np.stack(x) for x in zip(*out, strict=True))
    return Pairs(
        templates.transpose(0, 3, 1, 2).copy(), searches.transpose(0, 3, 1, 2).copy(), first, target
    )
