"""Correlation of glimpse feature maps with the target's template (SiamFC-style matching)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def template_kernels(maps: Tensor, size: tuple[int, int], mask: Tensor | None = None) -> Tensor:
    """The central ``size`` patch of feature ``maps`` ``(B, c, h, w)``, zero-mean and unit-norm
    per object: ``(B, c, kh, kw)``. With a ``mask`` ``(B, 1, kh, kw)`` of zeros and ones only
    the masked cells count (mean and norm over them) and the others are zero."""
    kh, kw = size
    _, _, h, w = maps.shape
    top, left = (h - kh) // 2, (w - kw) // 2
    patch = maps[:, :, top : top + kh, left : left + kw]
    if mask is None:
        mask = patch.new_ones(1, 1, kh, kw)
    cells = (mask.sum((1, 2, 3), keepdim=True) * patch.shape[1]).clamp(min=1)
    patch = (patch - (patch * mask).sum((1, 2, 3), keepdim=True) / cells) * mask
    return patch / patch.flatten(1).norm(dim=1).clamp(min=1e-6)[:, None, None, None]


def correlation_response(maps: Tensor, kernels: Tensor, mask: Tensor | None = None) -> Tensor:
    """Normalized cross-correlation of each object's ``kernels`` ``(B, c, kh, kw)`` (from
    :func:`template_kernels`, with the same ``mask`` if it had one) over its feature ``maps``
    ``(B, c, h, w)``, zero-padded by half a kernel: ``(B, h', w')`` in [-1, 1], ``h' = h + 1``
    for an even kernel side, ``h`` for an odd.

    Entry ``(i, j)`` compares the template with the patch centred ``(i - (h'-1)/2, j - (w'-1)/2)``
    cells from the map's centre: a target that did not move peaks at the middle entry.
    """
    B, c, h, w = maps.shape
    kh, kw = kernels.shape[-2:]
    pad = (kh // 2, kw // 2)
    dot = F.conv2d(maps.reshape(1, B * c, h, w), kernels, padding=pad, groups=B)[0]
    if mask is None:
        window, groups, n = maps.new_ones(1, 1, kh, kw), 1, c * kh * kw
        sums = maps.sum(1, keepdim=True), maps.square().sum(1, keepdim=True)  # (B, 1, h, w)
    else:  # per-object masks: one group each
        window, groups = mask, B
        n = (c * mask.sum((1, 2, 3)))[:, None, None].clamp(min=1)  # (B, 1, 1)
        sums = maps.sum(1)[None], maps.square().sum(1)[None]  # (1, B, h, w)
    total, squares = (
        F.conv2d(x, window, padding=pad, groups=groups).view(B, *dot.shape[1:]) for x in sums
    )
    spread = (squares - total.square() / n).clamp(min=0)  # sum of squared deviations per patch
    return dot / (spread + 1e-6).sqrt()  # (B, h', w')


def box_masks(box_in_window: Tensor, size: int, kernel: int) -> Tensor:
    """``(B, 1, kernel, kernel)``: which cells of the central ``kernel`` square of a ``size``
    glimpse lie inside the box (``box_in_window`` ``(B, 4)`` in the window's normalized
    coordinates); the cells nearest the centre always count."""
    centres = (torch.arange(kernel, device=box_in_window.device) + 0.5 - kernel / 2) * 2 / size
    x1, y1, x2, y2 = box_in_window[:, :, None].unbind(1)  # (B, 1) each
    cell = 1.0 / size  # half a cell in normalized coordinates
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = ((x2 - x1) / 2).clamp(min=cell), ((y2 - y1) / 2).clamp(min=cell)
    inside_x = (centres[None] - cx).abs() <= rx + 1e-6  # (B, k)
    inside_y = (centres[None] - cy).abs() <= ry + 1e-6
    return (inside_y[:, :, None] & inside_x[:, None, :]).to(box_in_window.dtype)[:, None]


def response_features(response: Tensor, sharpness: float = 20.0) -> Tensor:
    """``(B, h', w')`` response -> ``(B, h'w' + 3)``: the map, its soft-argmax displacement
    (x, y in window sides from the centre) and its peak value."""
    B, hr, wr = response.shape
    weights = torch.softmax(sharpness * response.flatten(1), 1).view(B, hr, wr)
    ys = (torch.arange(hr, device=response.device, dtype=response.dtype) - (hr - 1) / 2) / (hr - 1)
    xs = (torch.arange(wr, device=response.device, dtype=response.dtype) - (wr - 1) / 2) / (wr - 1)
    dx = (weights.sum(1) * xs).sum(1, keepdim=True)  # (B, 1)
    dy = (weights.sum(2) * ys).sum(1, keepdim=True)
    peak = response.flatten(1).amax(1, keepdim=True)
    return torch.cat((response.flatten(1), dx, dy, peak), 1)
