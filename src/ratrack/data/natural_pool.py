"""Training clips of natural video for the tracker: real clips and motion on real stills.

The pool has three parts, each a set of clips of ``length`` square ``out_size`` RGB frames with
one tracked box per frame (xyxy pixels of the clip's frames):

* **real clips** of labelled video (the first ``otb_fraction`` of OTB folders; the rest is held
  out for the pretraining score): a start frame and a frame stride are drawn,
  then one fixed crop of the source frames holds every box of the clip; its side is
  ``context`` (drawn from ``context_range``) times the first box's side (geometric mean of width
  and height), enlarged where the boxes spread further, and it is centred on the boxes' span.
  The camera motion in the clip is the source's own.
* **MOTChallenge tracks**: the same crops of each pedestrian track of a short real MOT
  sequence, played forwards then backwards (ping-pong) until the clip is ``length`` long.
* **motion on stills** (:mod:`ratrack.data.motion`): real frames with or without labels
  (KITTI tracking labels, MOT17 gt, frames of the OTB training sequences, unlabelled KITTI raw
  frames) moved by random similarity motions, so training sees textures that no labelled video
  here holds.

The validation sequences of the natural tracker (:data:`VALIDATION`) are refused.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ratrack.data.canvases import VALIDATION
from ratrack.data.formats import open_sequence
from ratrack.data.images import list_images
from ratrack.data.kitti import KittiTracking
from ratrack.data.motion import (
    MotionConfig,
    MotionOnStills,
    Still,
    stills_from_kitti,
    stills_from_mot,
    stills_from_sequence,
)
from ratrack.data.pools import PoolSampler
from ratrack.model.config import TrackerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NaturalPoolConfig:
    """Which real data makes the pool, and how clips are cut from it."""

    length: int = 16  # frames per clip
    out_size: int = 128  # side of the clips' square frames (pixels)
    otb: tuple[str, ...] = ("Car1",)  # OTB training sequences (never VALIDATION)
    otb_fraction: float = 0.8  # clips and stills come from this first part of each OTB sequence
    real_clips: int = 600  # clips cut from each OTB sequence
    strides: tuple[int, ...] = (1, 2, 3)  # frame strides of real clips (speed augmentation)
    # crop side / box side, drawn per clip: wide enough that the tracker's window (3 box sides)
    # mostly stays inside the clip's frames, as it does in full-size video
    context_range: tuple[float, float] = (3.5, 6.0)
    mot_clips: int = 400  # ping-pong clips of MOT17 pedestrian tracks
    mot_min_side: float = 24.0  # MOT boxes smaller than this (pixels) are not tracked
    motion_clips: int = 1600  # clips of motion on real stills
    kitti_sequences: tuple[str, ...] = ("0001",)  # labelled KITTI frames used as stills
    # share of clips whose frames get motion blur (camera shake, as in dashcam footage): each
    # frame of such a clip is smeared along a random direction over 1..max_blur pixels
    blur_clips: float = 0.0
    max_blur: int = 9
    seed: int = 0  # every clip is a pure function of this

    def __post_init__(self) -> None:
        bad = set(self.otb) & set(VALIDATION)
        if bad:
            raise ValueError(f"validation sequences {sorted(bad)} must not be trained on")
        if not 0 < self.otb_fraction <= 1:
            raise ValueError(f"otb_fraction must be in (0, 1], got {self.otb_fraction}")
        if not 0 <= self.blur_clips <= 1 or self.max_blur < 1:
            raise ValueError(f"need 0 <= blur_clips <= 1 and max_blur >= 1: {self}")
        if self.length < 2 or self.out_size < 16 or not self.strides or min(self.strides) < 1:
            raise ValueError(f"need length >= 2, out_size >= 16 and positive strides: {self}")
        lo, hi = self.context_range
        if not 1.0 < lo <= hi:
            raise ValueError(f"context_range must satisfy 1 < lo <= hi, got {self.context_range}")


def pool_of_size(clips: int, **changes) -> NaturalPoolConfig:
    """A pool of ``clips`` clips in the default proportions of real, MOT and motion clips."""
    default = NaturalPoolConfig()
    parts = (default.real_clips, default.mot_clips, default.motion_clips)
    real, mot = (round(clips * n / sum(parts)) for n in parts[:2])
    return NaturalPoolConfig(
        real_clips=real, mot_clips=mot, motion_clips=max(0, clips - real - mot), **changes
    )


def crop_clip(
    images: list[np.ndarray], boxes: np.ndarray, context: float, out_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One square crop of ``images`` (``(H, W, 3)`` uint8) holding every xyxy box ``(T, 4)``.

    Returns frames ``(T, 3, S, S)`` uint8 and boxes ``(T, 4)`` float32 in the crop's pixels.
    """
    import cv2

    w0, h0 = boxes[0, 2] - boxes[0, 0], boxes[0, 3] - boxes[0, 1]
    lo, hi = boxes[:, :2].min(0), boxes[:, 2:].max(0)  # (2,) span of all boxes
    side = max(context * math.sqrt(w0 * h0), 1.2 * float((hi - lo).max()))
    centre = (lo + hi) / 2
    scale = out_size / side
    warp = np.array(
        [
            [scale, 0.0, out_size / 2 - scale * centre[0]],
            [0.0, scale, out_size / 2 - scale * centre[1]],
        ]
    )
    frames = np.stack(
        [
            cv2.warpAffine(
                im,
                warp,
                (out_size, out_size),
                flags=cv2.INTER_AREA,
                borderMode=cv2.BORDER_REFLECT_101,
            )
            for im in images
        ]
    )  # (T, S, S, 3)
    out = boxes * scale + np.tile(warp[:, 2], 2)
    return frames.transpose(0, 3, 1, 2), out.astype(np.float32)


def motion_blur(frames: np.ndarray, max_length: int, rng: np.random.Generator) -> np.ndarray:
    """``frames`` ``(T, C, H, W)`` uint8, each smeared by its own linear kernel: a line of
    ``1..max_length`` pixels at a uniform angle (a line of one pixel leaves the frame as is)."""
    import cv2

    out = np.empty_like(frames)
    for t, frame in enumerate(frames):
        length = int(rng.integers(1, max_length + 1))
        angle = rng.uniform(0, math.pi)
        size = length + 1 - length % 2  # odd, so the kernel has a centre
        kernel = np.zeros((size, size), np.float32)
        c, r = size // 2, (length - 1) / 2
        dx, dy = r * math.cos(angle), r * math.sin(angle)
        cv2.line(
            kernel,
            (round(c - dx), round(c - dy)),
            (round(c + dx), round(c + dy)),
            1.0,
            thickness=1,
        )
        kernel /= kernel.sum()
        blurred = cv2.filter2D(frame.transpose(1, 2, 0), -1, kernel, borderType=cv2.BORDER_REFLECT)
        out[t] = blurred.reshape(frame.shape[1], frame.shape[2], -1).transpose(2, 0, 1)
    return out


def _real_clips(seq, n: int, config: NaturalPoolConfig, rng: np.random.Generator):
    gt = seq.gt
    usable = round(len(seq) * config.otb_fraction)  # frames past it are held out
    valid = np.isfinite(gt).all(1) & (gt[:, 2] > gt[:, 0]) & (gt[:, 3] > gt[:, 1])
    L = config.length
    for _ in range(n):
        stride = int(rng.choice(config.strides))
        span = (L - 1) * stride
        for _attempt in range(50):
            t0 = int(rng.integers(usable - span))
            t = t0 + stride * np.arange(L)
            if valid[t].all():
                break
        else:
            raise ValueError(f"{seq.name}: no clip of {L} frames with boxes at stride {stride}")
        if rng.random() < 0.5:
            t = t[::-1]
        images = [seq.frame(int(i)) for i in t]
        yield crop_clip(images, gt[t], rng.uniform(*config.context_range), config.out_size)


def mot_tracks(seq, min_side: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(frame indices, boxes)`` of every fully visible pedestrian track of a MOT sequence."""
    records = seq.gt_records
    keep = (records.conf > 0) & ((records.cls == 1) | (records.cls == -1))
    keep &= (records.visibility >= 0.5) | (records.visibility == -1)
    tracks = []
    for track in np.unique(records.track_id[keep]):
        rows = np.flatnonzero(keep & (records.track_id == track))
        t = records.frame[rows].astype(np.int64) - 1
        boxes = records.boxes[rows]
        inside = (t >= 0) & (t < len(seq))
        t, boxes = t[inside], boxes[inside]
        side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        if len(t) >= 3 and side.min() >= min_side and (np.diff(t) == 1).all():
            order = np.argsort(t)
            tracks.append((t[order], boxes[order]))
    return tracks


def _mot_clips(root: Path, n: int, config: NaturalPoolConfig, rng: np.random.Generator):
    tracks = []
    for folder in sorted((root / "mot17_mini" / "train").glob("MOT17-*")):
        seq = open_sequence(folder, "mot")
        tracks += [(seq, t, b) for t, b in mot_tracks(seq, config.mot_min_side)]
    if not tracks:
        return
    cache: dict[tuple[str, int], np.ndarray] = {}
    for _ in range(n):
        seq, t, boxes = tracks[int(rng.integers(len(tracks)))]
        bounce = np.concatenate([np.arange(len(t)), np.arange(len(t) - 2, 0, -1)])  # ping-pong
        k = (int(rng.integers(len(bounce))) + np.arange(config.length)) % len(bounce)
        order = bounce[k]
        images = []
        for i in order:
            key = (seq.name, int(t[i]))
            if key not in cache:
                cache[key] = seq.frame(int(t[i]))
            images.append(cache[key])
        context = rng.uniform(*config.context_range)
        yield crop_clip(images, boxes[order], context, config.out_size)


def natural_stills(root: Path, config: NaturalPoolConfig) -> list[Still]:
    """Real stills for motion clips: labelled KITTI and MOT17 boxes, OTB training frames and
    unlabelled KITTI raw frames (a random box each)."""
    stills = stills_from_kitti(
        KittiTracking(root / "kitti_tracking", missing_images="drop"),
        sequences=config.kitti_sequences,
    )
    for folder in sorted((root / "mot17_mini" / "train").glob("MOT17-*")):
        stills += stills_from_mot(open_sequence(folder, "mot"), min_box_size=config.mot_min_side)
    for name in config.otb:
        seq = open_sequence(root / "otb" / name, "otb")
        usable = set(seq.paths[: round(len(seq) * config.otb_fraction)])
        stills += [s for s in stills_from_sequence(seq)[::10] if s.path in usable]
    raw = root / "kitti_raw_frames" / "2011_09_26" / "image_02" / "data"
    if raw.is_dir():
        stills += [Still(p, None) for p in list_images(raw)]
    return stills


def natural_pool(root: str | Path, config: NaturalPoolConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The pool under the real data folder ``root``: frames uint8 ``(N, T, 3, S, S)`` and boxes
    ``(N, T, 1, 4)`` (one tracked object per clip)."""
    root = Path(root)
    rng = np.random.default_rng(config.seed)
    clips: list[tuple[np.ndarray, np.ndarray]] = []
    for name in config.otb:
        clips += _real_clips(
            open_sequence(root / "otb" / name, "otb"), config.real_clips, config, rng
        )
    n_real = len(clips)
    clips += _mot_clips(root, config.mot_clips, config, rng)
    n_mot = len(clips) - n_real
    motion = MotionOnStills(
        natural_stills(root, config),
        MotionConfig(
            length=config.length,
            out_size=(config.out_size, config.out_size),
            context_min=config.context_range[0],
            context_max=config.context_range[1],
        ),
        num_sequences=config.motion_clips,
        seed=config.seed,
    )
    for i in range(len(motion)):
        sample = motion[i]
        frames = np.rint(sample.frames * 255).astype(np.uint8)
        clips.append((frames, sample.boxes))
    log.info("natural pool: %d real, %d MOT, %d motion clips", n_real, n_mot, len(motion))
    if config.blur_clips > 0:
        blur_rng = np.random.default_rng((config.seed, 1))  # the clips above are unchanged
        for i in np.flatnonzero(blur_rng.random(len(clips)) < config.blur_clips):
            clips[i] = (motion_blur(clips[i][0], config.max_blur, blur_rng), clips[i][1])
    frames = torch.from_numpy(np.stack([c[0] for c in clips]))  # (N, T, 3, S, S)
    boxes = torch.from_numpy(np.stack([c[1] for c in clips]))[:, :, None]  # (N, T, 1, 4)
    return frames, boxes


def frame_stats(frames: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 ``frames`` scaled to [0, 1] (for normalization)."""
    sample = frames[:: max(1, len(frames) // 200)].float() / 255
    return float(sample.mean()), float(sample.std())


def natural_sampler(
    root: str | Path,
    config: NaturalPoolConfig,
    *,
    batch_size: int,
    device: str | torch.device = "cpu",
) -> PoolSampler:
    """A :class:`~ratrack.data.pools.PoolSampler` over :func:`natural_pool`."""
    frames, boxes = natural_pool(root, config)
    return PoolSampler(
        frames=frames.to(device),
        boxes=boxes.to(device),
        counts=torch.ones(len(frames), dtype=torch.long),
        batch_size=batch_size,
        seed=config.seed,
    )


def natural_model_config(sampler: PoolSampler, **changes) -> TrackerConfig:
    """The RGB tracker config, glimpses normalized by the pool's pixel statistics."""
    mean, std = frame_stats(sampler.frames)
    return TrackerConfig(
        in_channels=3, pixel_mean=round(mean, 4), pixel_std=round(std, 4), **changes
    )
