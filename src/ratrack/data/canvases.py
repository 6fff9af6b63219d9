"""Canvases for glimpse-misalignment pretraining: fixed-size crops around boxes
(:func:`make_canvases`) of Bouncing MNIST pools (:func:`pool_canvases`) and of real frames with
boxes (KITTI labels, OTB sequences: :func:`real_canvases`).

Training material: the KITTI tracking frames that exist with their labels (cars, vans, trucks,
pedestrians, cyclists; truncation and occlusion <= 1, boxes at least ``min_side`` pixels) and
OTB sequences other than the validation sequences :data:`VALIDATION` (``otb/BlurCar2`` and
``otb/Crossing``, never used here). Held out: the last ``held_out`` fraction of each OTB
sequence's frames and every box of the KITTI sequences in ``held_out_kitti``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ratrack.attention.stn import extract_glimpses
from ratrack.boxes import boxes_from_windows, boxes_in_windows, target_windows
from ratrack.data.formats import open_sequence
from ratrack.data.images import read_image
from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.pools import PoolSampler

log = logging.getLogger(__name__)

VALIDATION = ("BlurCar2", "Crossing")  # OTB sequences the natural tracker is validated on
# KITTI object types whose boxes pretraining cuts canvases around
PRETRAIN_TYPES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram")


@dataclass(frozen=True)
class RealPretrainData:
    """Which real frames pretraining uses and holds out."""

    otb: tuple[str, ...] = ("Car1",)  # OTB sequence folders under data/otb (not VALIDATION)
    kitti_sequences: tuple[str, ...] = ("0001", "0016")  # KITTI tracking sequences with frames
    held_out_kitti: tuple[str, ...] = ("0016",)  # KITTI sequences used only for evaluation
    held_out: float = 0.2  # last fraction of every OTB sequence kept for evaluation
    otb_stride: int = 2  # every n-th OTB frame (neighbouring frames are nearly identical)
    min_side: float = 12.0  # smallest box side (pixels) used
    canvas_size: int = 96  # pixels of each canvas

    def __post_init__(self) -> None:
        bad = set(self.otb) & set(VALIDATION)
        if bad:
            raise ValueError(f"OTB validation sequences {sorted(bad)} must not be trained on")
        if not 0 < self.held_out < 1 or self.otb_stride <= 0 or self.min_side <= 0:
            raise ValueError(f"need 0 < held_out < 1, otb_stride > 0, min_side > 0: {self}")


def _frame_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255  # (3, H, W)


def _big_enough(boxes: np.ndarray, min_side: float) -> np.ndarray:
    return np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= min_side


def real_canvases(
    root: str | Path, config: RealPretrainData, *, context: float
) -> tuple[Canvases, Canvases]:
    """``(train, held_out)`` RGB canvases from the real data under ``root`` (``shared/data``)."""
    root = Path(root)
    parts: dict[bool, list[Canvases]] = {False: [], True: []}  # held_out -> canvases

    def add(image: np.ndarray, boxes: np.ndarray, held: bool) -> None:
        keep = _big_enough(boxes, config.min_side)
        if keep.any():
            b = torch.as_tensor(boxes[keep], dtype=torch.float32)
            parts[held].append(
                make_canvases(_frame_tensor(image), b, size=config.canvas_size, context=context)
            )

    for name in config.otb:
        seq = open_sequence(root / "otb" / name, "otb")
        cut = round(len(seq) * (1 - config.held_out))
        for t in range(0, len(seq), config.otb_stride):
            box = seq.gt[t]
            if np.isfinite(box).all():
                add(seq.frame(t), box[None], held=t >= cut)
    for sequence in config.kitti_sequences:
        labels = read_kitti_labels(root / "kitti_tracking/training/label_02" / f"{sequence}.txt")
        for image_path in sorted(
            (root / "kitti_tracking/training/image_02" / sequence).glob("*.png")
        ):
            frame_no = int(image_path.stem)
            rows = (
                (labels.frame == frame_no)
                & np.isin(labels.type, PRETRAIN_TYPES)
                & (labels.truncated <= 1)
                & (labels.occluded <= 1)
            )
            add(read_image(image_path), labels.boxes[rows], held=sequence in config.held_out_kitti)

    def cat(items: list[Canvases]) -> Canvases:
        if not items:
            raise ValueError("no boxes found for this part of the real pretraining data")
        return Canvases(torch.cat([c.images for c in items]), torch.cat([c.boxes for c in items]))

    train, held = cat(parts[False]), cat(parts[True])
    log.info("real canvases: %d train, %d held out", len(train.images), len(held.images))
    return train, held


class Canvases(NamedTuple):
    """Fixed-size crops: ``images`` ``(N, C, S, S)`` float, ``boxes`` xyxy ``(N, 4)`` in them."""

    images: Tensor
    boxes: Tensor


def make_canvases(
    frames: Tensor, boxes: Tensor, *, size: int, context: float, zoom: float = 2.0
) -> Canvases:
    """Resample the frame around each box to an ``size x size`` canvas.

    ``frames`` is one ``(C, H, W)`` frame shared by all ``boxes`` ``(N, 4)``, or ``(N, C, H, W)``
    with one box each. The canvas spans ``zoom`` times the box's tracker window, so perturbed
    windows stay inside it; the box comes back in canvas pixels.
    """
    if frames.dim() == 3:
        frames = frames[None].expand(len(boxes), -1, -1, -1)
    regions = target_windows(boxes, context * zoom)  # (N, 4) square regions of the frames
    images = extract_glimpses(frames, regions, (size, size))  # (N, C, S, S)
    rel = boxes_in_windows(boxes, regions)  # (N, 4) in [-1, 1] region coordinates
    canvas = regions.new_tensor([0.0, 0.0, size, size]).expand_as(regions)
    return Canvases(images, boxes_from_windows(rel, canvas))


CANVAS_SIZE = 96  # pixels of a canvas (the digit's window is about half of it)


def pool_canvases(sampler: PoolSampler, count: int, *, seed: int, context: float) -> Canvases:
    """``count`` canvases of random (sequence, frame, digit) triples of a sampler's pool."""
    g = torch.Generator().manual_seed(seed)
    N, T = sampler.frames.shape[:2]
    seq = torch.randint(N, (count,), generator=g)
    t = torch.randint(T, (count,), generator=g)
    k = (torch.rand(count, generator=g) * sampler.counts.cpu()[seq]).long()
    dev = sampler.frames.device
    seq, t, k = seq.to(dev), t.to(dev), k.to(dev)
    frames = sampler.frames[seq, t].float() / 255  # (count, 1, H, W)
    boxes = sampler.boxes[seq, t, k]  # (count, 4)
    return make_canvases(frames, boxes, size=CANVAS_SIZE, context=context)
