"""Spatial transformer: affine grid generator, bilinear sampler, glimpse extraction.

Conventions are those of :mod:`ratrack.boxes` (continuous pixel coordinates, x before y,
``align_corners=False`` normalized coordinates).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ratrack.boxes import windows_to_theta


def extract_glimpses(frames: Tensor, windows: Tensor, size: tuple[int, int]) -> Tensor:
    """Cut one glimpse per window: frames ``(B, C, H, W)``, xyxy pixel windows ``(B, 4)``.

    Returns ``(B, C, h, w)`` with ``size = (h, w)``; outside the frame the glimpse is zero.
    """
    if frames.dim() != 4:
        raise ValueError(f"frames must be (B, C, H, W), got {tuple(frames.shape)}")
    if windows.shape != (frames.shape[0], 4):
        raise ValueError(f"windows must be ({frames.shape[0]}, 4), got {tuple(windows.shape)}")
    B, C, H, W = frames.shape
    theta = windows_to_theta(windows.to(frames.dtype), (H, W))  # (B, 2, 3)
    grid = F.affine_grid(theta, [B, C, *size], align_corners=False)  # (B, h, w, 2)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
