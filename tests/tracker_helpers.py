"""Tiny synthetic clips and a tiny tracker config for fast CPU tests."""

from __future__ import annotations

import torch

from ratrack.data.pools import Batch
from ratrack.model.config import TrackerConfig

TINY = TrackerConfig(
    glimpse_size=(16, 16),
    conv_channels=(8, 16),
    feature_size=32,
    hidden_size=32,
    head_hidden=32,
    context=2.0,
)


def square_clips(n: int, length: int, size: int = 48, seed: int = 0) -> Batch:
    """``n`` clips of a bright square of random size moving at constant velocity on noise."""
    g = torch.Generator().manual_seed(seed)
    side = 6 + 6 * torch.rand(n, generator=g)  # (n,)
    start = 12 + (size - 24 - side[:, None]) * torch.rand(n, 2, generator=g)  # (n, 2) top-left
    velocity = 2 * torch.rand(n, 2, generator=g) - 1  # (n, 2) px per frame
    t = torch.arange(length, dtype=torch.float32)
    xy = start[:, None] + velocity[:, None] * t[None, :, None]  # (n, T, 2)
    boxes = torch.cat((xy, xy + side[:, None, None]), -1)  # (n, T, 4)
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    inside_x = (centres >= boxes[..., 0:1]) & (centres < boxes[..., 2:3])  # (n, T, W)
    inside_y = (centres >= boxes[..., 1:2]) & (centres < boxes[..., 3:4])  # (n, T, H)
    frames = (inside_y[..., :, None] & inside_x[..., None, :]).float()  # (n, T, H, W)
    frames = 0.8 * frames + 0.1 * torch.rand(frames.shape, generator=g)
    return Batch(frames[:, :, None], boxes)  # (n, T, 1, H, W), (n, T, 4)


class FixedSampler:
    """Always the same clips, cut to the requested length."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def __call__(self, step: int, length: int) -> Batch:
        return Batch(self.batch.frames[:, :length], self.batch.boxes[:, :length])
