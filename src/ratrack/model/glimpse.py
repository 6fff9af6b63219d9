"""Glimpse cutting: the STN or DRAW read of a window (:func:`ratrack.boxes.target_windows`
defines the window around a box), and which of a glimpse's samples lie inside the frame.

A :class:`Frame` is the pixels a step reads with where they sit: the online tracker converts
only the part of a frame that its windows read (a crop) and passes its ``origin``; windows and
boxes stay in full-frame pixels everywhere, and :func:`cut_glimpses` alone subtracts the
origin. The full frame's ``size`` tells :func:`valid_masks` where the frame ends, so samples
outside it (zero padding) can be kept out of the evidence.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ratrack.attention.draw import AttentionParams, filterbank
from ratrack.attention.stn import extract_glimpses
from ratrack.model.config import TrackerConfig


class Frame(NamedTuple):
    """Frame pixels (all or a crop of the frame) and where they sit in the full frame."""

    pixels: Tensor  # (B, C, h, w) float, or (1, C, h, w) shared by every object
    origin: tuple[int, int]  # (x0, y0): full-frame pixel coordinates of pixels' top-left corner
    size: tuple[int, int]  # (H, W) of the full frame

    @classmethod
    def whole(cls, pixels: Tensor) -> Frame:
        """A whole frame ``(B, C, H, W)``: origin ``(0, 0)``, size its own."""
        return cls(pixels, (0, 0), (pixels.shape[-2], pixels.shape[-1]))


def patches_at(maps: Tensor, rows: Tensor, at: Tensor, k: int) -> Tensor:
    """The ``k x k`` patches of ``maps`` ``(N, C, h, w)`` whose top-left samples are ``at``
    ``(B, 2)`` (row, column), each of map ``rows[i]`` ``(B,)``: ``(B, C, k, k)``, gathered in
    place (no copy of whole maps, nothing read back from the device)."""
    offsets = torch.arange(k, device=at.device)
    ys = (at[:, 0:1] + offsets)[:, :, None]  # (B, k, 1)
    xs = (at[:, 1:2] + offsets)[:, None, :]  # (B, 1, k)
    return maps[rows[:, None, None], :, ys, xs].permute(0, 3, 1, 2)


def valid_masks(windows: Tensor, size: tuple[int, int], frame_size: tuple[int, int]) -> Tensor:
    """``(B, 1, h, w)`` of ones where a glimpse of ``size`` ``(h, w)`` at xyxy ``windows``
    ``(B, 4)`` samples inside a frame of ``frame_size`` ``(H, W)``, zeros elsewhere.

    Sample ``j`` of a window ``[x1, x2]`` sits at ``x = x1 + (j + 0.5) (x2 - x1) / w`` (pixel
    centres as in :mod:`ratrack.boxes`); bilinear sampling with zero padding reads the frame with
    weight ``min(1, x + 0.5, W + 0.5 - x)`` there. A sample counts as inside when that weight
    (times the same along y) is at least one half.
    """
    H, W = frame_size
    h, w = size
    steps_y = (torch.arange(h, device=windows.device, dtype=windows.dtype) + 0.5) / h  # (h,)
    steps_x = (torch.arange(w, device=windows.device, dtype=windows.dtype) + 0.5) / w  # (w,)
    x = windows[:, 0:1] + steps_x * (windows[:, 2:3] - windows[:, 0:1])  # (B, w)
    y = windows[:, 1:2] + steps_y * (windows[:, 3:4] - windows[:, 1:2])  # (B, h)
    weight_x = ((x + 0.5).clamp(max=1) * (W + 0.5 - x).clamp(max=1)).clamp(min=0)
    weight_y = ((y + 0.5).clamp(max=1) * (H + 0.5 - y).clamp(max=1)).clamp(min=0)
    inside = weight_y[:, :, None] * weight_x[:, None, :] >= 0.5  # (B, h, w)
    return inside.to(windows.dtype)[:, None]


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
    frames: Tensor | Frame,
    windows: Tensor,
    config: TrackerConfig,
    size: tuple[int, int] | None = None,
) -> Tensor:
    """Glimpses ``(B, C, h, w)`` at xyxy full-frame ``windows`` ``(B, 4)`` with ``config``'s
    grid generator (``size``: ``(h, w)``, default ``config.glimpse_size``). ``frames`` is a
    :class:`Frame` (its origin is subtracted here) or whole frames ``(B, C, H, W)``."""
    size = size or config.glimpse_size
    if isinstance(frames, Frame):
        x0, y0 = frames.origin
        if x0 or y0:
            windows = windows - windows.new_tensor([x0, y0, x0, y0])
        frames = frames.pixels
    if config.grid_generator == "stn":
        return extract_glimpses(frames, windows, size)
    return draw_glimpses(frames, windows, size)
