"""Glimpse-misalignment pretraining on real frames with boxes (KITTI labels, OTB sequences).

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

import numpy as np
import torch

from ratrack.datasets.kitti import read_kitti_labels
from ratrack.datasets.sequences import open_sequence, read_image
from ratrack.pretrain.misalignment import Canvases, make_canvases

log = logging.getLogger(__name__)

VALIDATION = ("BlurCar2", "Crossing")  # OTB sequences the natural tracker is validated on
KITTI_CLASSES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram")


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
                & np.isin(labels.type, KITTI_CLASSES)
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
