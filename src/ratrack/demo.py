"""``ratrack demo``: track Bouncing MNIST made of unseen digits, score it, write a video.

The sequences come from the test split of the embedded MNIST digits (never used in training).
Every digit of every sequence is one object, given to :class:`~ratrack.track.online.Tracker`
with its ground-truth box in frame 0 and tracked through the rest; all objects of a sequence go
through one batched step per frame. Scores: mean IoU and success AUC over every (object,
frame) pair after frame 0, and CLEAR MOT (MOTA, MOTP, IDF1) pooled over the sequences, with the
objects' ids as track ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ratrack.boxes import box_iou_elementwise
from ratrack.errors import RatrackError, check_number
from ratrack.eval.bmnist import evaluation_clips
from ratrack.eval.metrics import success_auc
from ratrack.eval.mot import frames_from_columns, score_frames
from ratrack.outputs import Output, check_outputs
from ratrack.track.online import Tracker

log = logging.getLogger(__name__)

DEMO_SEED = 20250704  # the demo's sequences (different from the evaluation seed)


@dataclass(frozen=True)
class DemoConfig:
    """What ``ratrack demo`` runs."""

    weights: str = "bmnist"  # shipped name or checkpoint path
    sequences: int = 20  # Bouncing MNIST sequences
    digits: int = 2  # digits per sequence (each one is tracked)
    length: int = 30  # frames per sequence (RATM: 30)
    video_sequences: int = 6  # how many sequences go into the video
    scale: int = 4  # video pixels per canvas pixel
    fps: int = 10  # video frame rate
    seed: int = DEMO_SEED

    def __post_init__(self) -> None:
        check_number("sequences", self.sequences, low=1, high=10_000, integer=True)
        check_number("digits", self.digits, low=1, high=64, integer=True)
        check_number("length", self.length, low=2, high=10_000, integer=True)
        check_number("video_sequences", self.video_sequences, low=0, integer=True)
        check_number("scale", self.scale, low=1, high=64, integer=True)
        check_number("fps", self.fps, low=1, high=1000, integer=True)


@dataclass(frozen=True)
class DemoResult:
    """Scores and outputs of a demo run."""

    mean_iou: float
    success_auc: float
    mot: dict  # ratrack.eval.mot.score_frames of all sequences pooled
    seconds: float  # tracking time (data generation and video excluded)
    object_frames: int  # tracked (object, frame) pairs
    video: Path | None


def _draw(
    frame: np.ndarray, gt: np.ndarray, pred: np.ndarray, windows: np.ndarray, scale: int
) -> np.ndarray:
    """Annotated BGR frame: ground truth green, prediction red, glimpse window blue."""
    import cv2

    img = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    for boxes, colour, width in (
        (windows, (255, 128, 0), 1),
        (gt, (0, 200, 0), 1),
        (pred, (0, 0, 255), 2),
    ):
        for x1, y1, x2, y2 in np.round(np.asarray(boxes) * scale).astype(int):
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, width)
    return img


def run_demo(
    config: DemoConfig,
    *,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Generate, track and score the demo sequences; write the video to ``out`` (mp4v) if given."""

    check_outputs({"--out": out})
    tracker = Tracker.from_pretrained(config.weights)
    frames, boxes = evaluation_clips(
        config.sequences, num_digits=config.digits, length=config.length, seed=config.seed
    )
    frames_u8 = (frames[:, :, 0] * 255).round().byte().numpy()  # (N, T, H, W)
    writer = output = None
    if out is not None and config.video_sequences > 0:
        import cv2

        output = Output(out, name="--out")  # written beside, renamed into place at the end
        H, W = frames_u8.shape[2:]
        size = (W * config.scale, H * config.scale)
        code = cv2.VideoWriter_fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(output.write_path), code, config.fps, size)
        if not writer.isOpened():
            output.abort()
            raise RatrackError(f"--out {out}: OpenCV cannot open an mp4v video writer here")
    ious, gt_rows, pred_rows = [], [], []
    seconds = 0.0
    try:
        for n in range(config.sequences):
            gt = boxes[n].numpy()  # (T, K, 4)
            start = time.perf_counter()
            ids = tracker.init(frames_u8[n, 0], gt[0], fmt="xyxy")
            preds = [gt[0]]
            windows = [tracker.windows]
            for t in range(1, config.length):
                preds.append(tracker.update(frames_u8[n, t]))
                windows.append(tracker.windows)
            seconds += time.perf_counter() - start
            pred = np.stack(preds)  # (T, K, 4)
            ious.append(
                box_iou_elementwise(torch.from_numpy(pred[1:]), torch.from_numpy(gt[1:])).numpy()
            )
            frame_no = np.repeat(np.arange(config.length) + n * config.length, len(ids))
            track = np.tile(np.asarray(ids) + 1000 * n, config.length)
            gt_rows.append((frame_no, track, gt.reshape(-1, 4)))
            pred_rows.append((frame_no, track, pred.reshape(-1, 4)))
            if writer is not None and n < config.video_sequences:
                for t in range(config.length):
                    writer.write(_draw(frames_u8[n, t], gt[t], pred[t], windows[t], config.scale))
            if progress is not None:
                progress(n + 1, config.sequences)
    except BaseException:
        if writer is not None and output is not None:
            writer.release()
            output.abort()
        raise
    if writer is not None and output is not None:
        writer.release()
        output.commit()
    ious_all = np.concatenate([i.reshape(-1) for i in ious])
    cat = [np.concatenate(c) for c in zip(*gt_rows, strict=True)]
    pcat = [np.concatenate(c) for c in zip(*pred_rows, strict=True)]
    mot = score_frames(frames_from_columns(*cat, *pcat))
    return DemoResult(
        mean_iou=float(ious_all.mean()),
        success_auc=success_auc(ious_all),
        mot=mot,
        seconds=seconds,
        object_frames=int(ious_all.size),
        video=Path(out) if writer is not None else None,
    )
