"""Bouncing MNIST evaluation of a tracker: RATM's protocol on unseen (test-split) digits.

A clip is 30 frames of a 100x100 canvas; the tracker is initialized with the ground-truth box
of the tracked digit in frame 0 and predicts frames 1..29; the score is the IoU of each predicted
box with the digit's tight ground-truth box, averaged over frames and clips. With two digits the
tracked one is digit 0; the other is a distractor that can cross it.
"""

from __future__ import annotations

from torch import Tensor

from ratrack.boxes import box_iou_elementwise
from ratrack.data.pools import PoolConfig, bouncing_mnist_pool
from ratrack.model.tracker import RecurrentTracker
from ratrack.train.tracker import track_clips

TEST_SEED = 20170101  # seed of the evaluation sequences (test-split digits)


def evaluation_clips(
    num_sequences: int,
    *,
    num_digits: int = 1,
    length: int = 30,
    seed: int = TEST_SEED,
    mnist=None,
    split: str = "test",
    workers: int = 1,
) -> tuple[Tensor, Tensor]:
    """Evaluation clips: frames float ``(N, T, 1, H, W)`` in [0, 1], boxes ``(N, T, K, 4)``."""
    counts = tuple(num_sequences if k == num_digits else 0 for k in range(1, num_digits + 1))
    frames, boxes, _ = bouncing_mnist_pool(
        PoolConfig(num_sequences=counts, length=length, split=split, seed=seed),
        mnist=mnist,
        workers=workers,
    )
    return frames.float() / 255, boxes


def evaluate_bmnist(
    model: RecurrentTracker,
    frames: Tensor,
    boxes: Tensor,
    *,
    target: int = 0,
    batch_size: int = 500,
) -> dict[str, float]:
    """Mean IoU (and the IoU at the last frame) tracking digit ``target`` through the clips."""
    gt = boxes[:, :, target]  # (N, T, 4)
    pred = track_clips(model, frames, gt[:, 0], batch_size=batch_size)  # (N, T-1, 4)
    ious = box_iou_elementwise(pred, gt[:, 1:])  # (N, T-1)
    return {
        "mean_iou": float(ious.mean()),
        "last_frame_iou": float(ious[:, -1].mean()),
        "sequences": len(frames),
    }
