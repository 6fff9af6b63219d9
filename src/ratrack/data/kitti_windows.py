"""KITTI tracking track windows for training (HART's protocol)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch.utils.data

from ratrack.data.kitti import KittiTracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KittiWindowConfig:
    """Track windows for training, HART's protocol by default (Kosiorek et al., 2017)."""

    length: int = 10  # frames per window (a choice; the tracker's curriculum picks its own)
    stride: int = 1  # frames between the starts of consecutive windows of one track
    max_truncation: float = 1.0  # HART: truncation <= 1 (0 visible, 1 partly, 2 largely cut)
    max_occlusion: int = 1  # HART: occlusion <= 1 (0 visible, 1 partly, 2 largely, 3 unknown)
    train_fraction: float = 0.8  # HART: first 80% of each sequence trains, the rest tests
    classes: tuple[str, ...] | None = None  # None: class-agnostic, every object type
    resize: tuple[int, int] | None = None  # (H, W) frames are resized to; boxes follow
    require_images: bool = True  # keep only windows whose every frame has an image

    def __post_init__(self) -> None:
        if self.length < 1 or self.stride < 1:
            raise ValueError(f"length and stride must be >= 1: {self}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if self.resize is not None and min(self.resize) < 1:
            raise ValueError(f"resize must be positive (H, W), got {self.resize}")


class TrackWindow(NamedTuple):
    """One training window: ``frames`` int64 ``(T,)``, ``boxes`` float64 ``(T, 4)`` xyxy in the
    original frame's pixels."""

    sequence: str
    track_id: int
    type: str
    frames: np.ndarray
    boxes: np.ndarray


class KittiWindowSample(NamedTuple):
    """``frames`` float32 ``(T, 3, H, W)`` in [0, 1], ``boxes`` float32 ``(T, 4)`` xyxy (in the
    resized frame when resizing), ``label`` int64: index of the type in ``config.classes``
    (``-1`` when class-agnostic)."""

    frames: np.ndarray
    boxes: np.ndarray
    label: int


def split_range(num_frames: int, split: str, train_fraction: float) -> tuple[int, int]:
    """Frames ``[lo, hi)`` of ``split`` ("train": first ``train_fraction``, "test": the rest)."""
    cut = math.floor(num_frames * train_fraction)
    if split == "train":
        return 0, cut
    if split == "test":
        return cut, num_frames
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def track_windows(
    dataset: KittiTracking,
    config: KittiWindowConfig,
    *,
    split: str = "train",
    sequences: SequenceABC[str] | None = None,
) -> list[TrackWindow]:
    """Every window of ``config.length`` consecutive frames in which one track is labelled and
    passes the filters, inside the ``split`` part of each sequence. Runs of a track are cut at
    gaps (frames where it is absent or filtered out); a window never spans a gap."""
    out: list[TrackWindow] = []
    for seq in sequences if sequences is not None else dataset.sequences:
        if not dataset.has_labels(seq):
            continue
        lo, hi = split_range(dataset.num_frames(seq), split, config.train_fraction)
        labels = dataset.labels(
            seq,
            classes=config.classes,
            max_truncation=config.max_truncation,
            max_occlusion=config.max_occlusion,
        )
        inside = (labels.frame >= lo) & (labels.frame < hi)
        if config.require_images:
            inside &= np.isin(labels.frame, dataset.present_frames(seq))
        labels = labels.select(inside)
        for tid in np.unique(labels.track_id):
            rows = np.flatnonzero(labels.track_id == tid)
            rows = rows[np.argsort(labels.frame[rows], kind="stable")]
            frames = labels.frame[rows]
            breaks = np.flatnonzero(np.diff(frames) != 1) + 1
            for run in np.split(np.arange(len(rows)), breaks):
                for s in range(0, len(run) - config.length + 1, config.stride):
                    r = rows[run[s : s + config.length]]
                    out.append(
                        TrackWindow(
                            seq, int(tid), str(labels.type[r[0]]), labels.frame[r], labels.boxes[r]
                        )
                    )
    return out


class KittiTrackWindows(torch.utils.data.Dataset):
    """HART-protocol windows of KITTI object tracks as a torch ``Dataset`` of
    :class:`KittiWindowSample` (frames read lazily per item)."""

    def __init__(
        self,
        dataset: KittiTracking,
        config: KittiWindowConfig,
        *,
        split: str = "train",
        sequences: SequenceABC[str] | None = None,
    ) -> None:
        self.dataset, self.config, self.split = dataset, config, split
        self.windows = track_windows(dataset, config, split=split, sequences=sequences)
        log.info("KITTI %s windows: %d", split, len(self.windows))

    def __len__(self) -> int:
        return len(self.windows)

    def by_class(self) -> dict[str, np.ndarray]:
        """Window indices per object type (for per-class sampling)."""
        types = np.array([w.type for w in self.windows], dtype=str)
        return {str(t): np.flatnonzero(types == t) for t in np.unique(types)}

    def __getitem__(self, i: int) -> KittiWindowSample:
        import cv2

        w = self.windows[i]
        images = [self.dataset.read_frame(w.sequence, int(f)) for f in w.frames]
        boxes = w.boxes.copy()
        if self.config.resize is not None:
            H, W = images[0].shape[:2]
            h, wd = self.config.resize
            images = [cv2.resize(im, (wd, h), interpolation=cv2.INTER_AREA) for im in images]
            boxes *= np.array([wd / W, h / H, wd / W, h / H])
        frames = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # (T,3,H,W)
        classes = self.config.classes
        label = classes.index(w.type) if classes is not None else -1
        return KittiWindowSample(frames, boxes.astype(np.float32), label)


# --- KITTI raw ------------------------------------------------------------------------------
