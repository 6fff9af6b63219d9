"""Glimpse cutting: the STN or DRAW read of a window (:func:`ratrack.boxes.target_windows`
defines the window around a box)."""

from __future__ import annotations

import torch
from torch import Tensor

from ratrack.attention.draw import AttentionParams, filterbank
from ratrack.attention.stn import extract_glimpses
from ratrack.model.config import TrackerConfig


def draw_glimpses(frames: Tensor, windows: Tensor, size: tuple[int, int]) -> Tensor:
    """DRAW filterbank read of ``windows`` (``(B, 4)`` xyxy) from ``frames`` ``(B, C, H, W)``.

    An ``h x w`` grid of Gaussian filters (Gregor et al. 2015, eq. 19-20) spans the window:
    filter centres at the glimpse's pixel centres mapped into the frame, stride = window side /
    glimpse side, standard deviation = stride / 2. Returns ``(B, C, h, w)``; filters that fall
    outside the frame read zeros (the normalization runs over in-frame pixels, as in DRAW).
    """

    if frames.dim() != 4 or windows.shape != (frames.shape[0], 4):
        raise ValueError(
            f"frames (B, C, H, W) and windows (B, 4), got {frames.shape}, {windows.shape}"
        )
    _, _, H, W = frames.shape
    h, w = size
    x1, y1, x2, y2 = windows.to(frames.dtype).unbind(-1)
    # DRAW uses one stride for both axes: build the banks per axis with their own stride.
    stride_x, stride_y = (x2 - x1) / w, (y2 - y1) / h

    def bank(centre: Tensor, stride: Tensor, n: int, size_px: int) -> Tensor:
        # draw's pixel indices are 1-based: continuous coordinate c is index c + 0.5.
        params = AttentionParams(
            centre_x=centre + 0.5,
            centre_y=centre + 0.5,
            stride=stride,
            variance=(stride / 2) ** 2,
            intensity=torch.ones_like(stride),
        )
        fx, _ = filterbank(params, height=1, width=size_px, n=n)
        return fx  # (B, n, size_px)

    fx = bank((x1 + x2) / 2, stride_x, w, W)  # (B, w, W)
    fy = bank((y1 + y2) / 2, stride_y, h, H)  # (B, h, H)
    return fy[:, None] @ frames @ fx[:, None].transpose(-1, -2)  # (B, C, h, w)


def cut_glimpses(
    frames: Tensor, windows: Tensor, config: TrackerConfig, size: tuple[int, int] | None = None
) -> Tensor:
    """Glimpses ``(B, C, h, w)`` at xyxy ``windows`` ``(B, 4)`` with ``config``'s grid generator
    (``size``: ``(h, w)``, default ``config.glimpse_size``)."""
    size = size or config.glimpse_size
    if config.grid_generator == "stn":
        return extract_glimpses(frames, windows, size)
    return draw_glimpses(frames, windows, size)
