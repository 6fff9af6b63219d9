"""Box geometry: formats, conversions, IoU, and box <-> glimpse window <-> affine ``theta``.

Coordinate convention (stated once, used everywhere in ratrack):

* Pixel coordinates are continuous, x before y. Pixel ``(i, j)`` of a frame covers the square
  ``[j, j + 1) x [i, i + 1)``, so its centre is at ``(j + 0.5, i + 0.5)`` and a frame of width
  ``W`` spans ``x`` in ``[0, W]``.
* Boxes inside the library are ``xyxy``: ``Tensor[..., 4]`` of ``(x1, y1, x2, y2)`` floats in
  pixels with ``x1 < x2`` and ``y1 < y2``. Other formats exist only at I/O edges, through
  :func:`convert_boxes`.
* A glimpse *window* is a box in pixels (usually the object box enlarged by a context factor);
  the glimpse is the window resampled to ``h x w`` pixels.
* Normalized coordinates follow ``torch.nn.functional.affine_grid`` with
  ``align_corners=False``: ``x_norm = 2 * x / W - 1``, so ``-1`` and ``+1`` are the outer edges
  of the frame (not pixel centres). ratrack always passes ``align_corners=False``.
* ``theta`` (``Tensor[N, 2, 3]``) maps glimpse-normalized coordinates to frame-normalized
  coordinates (``frame_norm_from_glimpse_norm``), which is what ``affine_grid`` expects.

All functions are vectorized over leading dimensions and keep the input's device and dtype.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

BOX_FORMATS = ("xyxy", "xywh", "xywh1", "cxcywh")
"""Supported box formats.

``xyxy``: corners ``(x1, y1, x2, y2)`` in pixels (ratrack's internal format, KITTI's format).
``xywh``: top-left corner and size, 0-based pixels.
``xywh1``: top-left corner and size, 1-based pixels (MOTChallenge, OTB): the leftmost pixel
column is ``x = 1``.
``cxcywh``: centre and size.
"""


def _check_format(fmt: str) -> None:
    if fmt not in BOX_FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {', '.join(BOX_FORMATS)}")


def _check_last_dim(boxes: Tensor, name: str = "boxes", size: int = 4) -> None:
    if boxes.shape[-1:] != (size,):
        raise ValueError(f"{name} must have shape (..., {size}), got {tuple(boxes.shape)}")


def convert_boxes(boxes: Tensor | np.ndarray, src: str, dst: str) -> Tensor | np.ndarray:
    """Convert ``boxes`` (``Tensor[..., 4]``, or a numpy array: the same arithmetic, a numpy
    array back) from format ``src`` to format ``dst``.

    Formats are listed in :data:`BOX_FORMATS`; an unknown name raises ``ValueError``.
    """
    if isinstance(boxes, np.ndarray):
        return convert_boxes(torch.from_numpy(np.ascontiguousarray(boxes)), src, dst).numpy()
    _check_format(src)
    _check_format(dst)
    _check_last_dim(boxes)
    if src == dst:
        return boxes.clone()
    # the tracker's two conversions, on coordinate pairs: fewer tensor ops, the same arithmetic
    if src == "xyxy" and dst == "cxcywh":
        return torch.cat(
            ((boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]), -1
        )
    if src == "cxcywh" and dst == "xyxy":
        half = boxes[..., 2:] / 2
        return torch.cat((boxes[..., :2] - half, boxes[..., :2] + half), -1)
    a, b, c, d = boxes.unbind(-1)
    if src == "xyxy":
        x1, y1, x2, y2 = a, b, c, d
    elif src == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif src == "xywh1":
        x1, y1 = a - 1, b - 1
        x2, y2 = x1 + c, y1 + d
    else:  # cxcywh
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if dst == "xyxy":
        out = (x1, y1, x2, y2)
    elif dst == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    elif dst == "xywh1":
        out = (x1 + 1, y1 + 1, x2 - x1, y2 - y1)
    else:  # cxcywh
        out = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return torch.stack(out, dim=-1)


def check_boxes(boxes: Tensor, name: str = "boxes") -> None:
    """Raise ``ValueError`` unless ``boxes`` is ``Tensor[..., 4]`` xyxy, finite, positive size."""
    _check_last_dim(boxes, name)
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    if not ((boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])).all():
        raise ValueError(f"{name} must have x1 < x2 and y1 < y2 (positive width and height)")


def box_area(boxes: Tensor) -> Tensor:
    """Area of xyxy ``boxes`` (``Tensor[..., 4]`` -> ``Tensor[...]``); empty boxes give 0."""
    _check_last_dim(boxes)
    w = (boxes[..., 2] - boxes[..., 0]).clamp(min=0)
    h = (boxes[..., 3] - boxes[..., 1]).clamp(min=0)
    return w * h


def _intersection(a: Tensor, b: Tensor) -> Tensor:
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou_elementwise(a: Tensor, b: Tensor, eps: float = 1e-12) -> Tensor:
    """IoU of matching pairs of xyxy boxes: ``Tensor[..., 4]`` x ``Tensor[..., 4]`` -> ``[...]``.

    Leading dimensions broadcast. Two empty boxes have IoU 0.
    """
    _check_last_dim(a, "a")
    _check_last_dim(b, "b")
    inter = _intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union.clamp(min=eps)


def box_iou(a: Tensor, b: Tensor, eps: float = 1e-12) -> Tensor:
    """Pairwise IoU of xyxy boxes: ``Tensor[..., N, 4]`` x ``Tensor[..., M, 4]`` ->
    ``Tensor[..., N, M]`` (leading dimensions broadcast)."""
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError(
            f"box_iou expects (..., N, 4) and (..., M, 4), got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    return box_iou_elementwise(a[..., :, None, :], b[..., None, :, :], eps)  # (..., N, M)


def target_windows(boxes: Tensor, context: float, min_size: float = 1.0) -> Tensor:
    """The glimpse window around each xyxy box (ratrack's one definition of it).

    ``Tensor[..., 4]`` -> ``Tensor[..., 4]`` xyxy: a square with the box's centre and side
    ``context * max(w, h)``, at least ``min_size`` pixels. Square, so a square glimpse samples
    both axes at the same resolution; the box stays whole inside it for ``context >= 1``.
    """
    if context <= 0:
        raise ValueError(f"context must be positive, got {context}")
    cx, cy, w, h = convert_boxes(boxes, "xyxy", "cxcywh").unbind(-1)
    side = (torch.maximum(w, h) * context).clamp(min=min_size)
    return convert_boxes(torch.stack((cx, cy, side, side), -1), "cxcywh", "xyxy")


def windows_to_theta(windows: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Affine ``theta`` (``Tensor[N, 2, 3]``) that samples xyxy ``windows`` from a frame.

    ``frame_size`` is ``(H, W)``. ``theta`` maps glimpse-normalized to frame-normalized
    coordinates (``align_corners=False``): a window equal to the whole frame gives the identity.
    """
    _check_last_dim(windows, "windows")
    H, W = frame_size
    if H <= 0 or W <= 0:
        raise ValueError(f"frame_size must be positive (H, W), got {frame_size}")
    x1, y1, x2, y2 = windows.unbind(-1)
    zero = torch.zeros_like(x1)
    row_x = torch.stack(((x2 - x1) / W, zero, (x1 + x2) / W - 1), -1)
    row_y = torch.stack((zero, (y2 - y1) / H, (y1 + y2) / H - 1), -1)
    return torch.stack((row_x, row_y), -2)  # (..., 2, 3)


def theta_to_windows(theta: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Inverse of :func:`windows_to_theta` for axis-aligned ``theta`` (rotation/shear ignored)."""
    if theta.shape[-2:] != (2, 3):
        raise ValueError(f"theta must have shape (..., 2, 3), got {tuple(theta.shape)}")
    H, W = frame_size
    sx, tx = theta[..., 0, 0], theta[..., 0, 2]
    sy, ty = theta[..., 1, 1], theta[..., 1, 2]
    cx, cy = (tx + 1) * W / 2, (ty + 1) * H / 2
    w, h = sx * W, sy * H
    return convert_boxes(torch.stack((cx, cy, w, h), -1), "cxcywh", "xyxy")


def boxes_in_windows(boxes: Tensor, windows: Tensor) -> Tensor:
    """Express xyxy ``boxes`` in their ``windows``' normalized coordinates.

    The window's edges map to ``-1`` and ``+1`` on each axis, the same coordinates the glimpse
    has under ``align_corners=False``. Shapes broadcast: ``Tensor[..., 4]`` -> ``Tensor[..., 4]``.
    """
    _check_last_dim(boxes)
    _check_last_dim(windows, "windows")
    origin, scale = _origin_and_scale(windows)
    return 2 * (boxes - origin) / scale - 1


def _origin_and_scale(windows: Tensor) -> tuple[Tensor, Tensor]:
    """``(x1, y1, x1, y1)`` and ``(w, h, w, h)`` of xyxy ``windows`` (``Tensor[..., 4]`` each)."""
    origin = windows[..., :2]
    scale = windows[..., 2:] - origin
    return torch.cat((origin, origin), -1), torch.cat((scale, scale), -1)


def boxes_from_windows(relative: Tensor, windows: Tensor) -> Tensor:
    """Inverse of :func:`boxes_in_windows`: window-normalized boxes back to pixels."""
    _check_last_dim(relative, "relative")
    _check_last_dim(windows, "windows")
    origin, scale = _origin_and_scale(windows)
    return origin + (relative + 1) * scale / 2


def window_deltas(src: Tensor, dst: Tensor) -> Tensor:
    """Change of window parameters that moves xyxy window ``src`` onto ``dst``.

    Returns ``Tensor[..., 4]`` of ``(dx, dy, dlogw, dlogh)``: the centre shift in units of the
    source window's size and the log change of width and height. These are the pretraining
    targets: :func:`apply_window_deltas` inverts this exactly.
    """
    scx, scy, sw, sh = convert_boxes(src, "xyxy", "cxcywh").unbind(-1)
    dcx, dcy, dw, dh = convert_boxes(dst, "xyxy", "cxcywh").unbind(-1)
    return torch.stack(((dcx - scx) / sw, (dcy - scy) / sh, (dw / sw).log(), (dh / sh).log()), -1)


def apply_window_deltas(windows: Tensor, deltas: Tensor) -> Tensor:
    """Move xyxy ``windows`` by ``deltas`` ``(dx, dy, dlogw, dlogh)``; see :func:`window_deltas`."""
    _check_last_dim(deltas, "deltas")
    cx, cy, w, h = convert_boxes(windows, "xyxy", "cxcywh").unbind(-1)
    dx, dy, dlw, dlh = deltas.unbind(-1)
    out = torch.stack((cx + dx * w, cy + dy * h, w * dlw.exp(), h * dlh.exp()), -1)
    return convert_boxes(out, "cxcywh", "xyxy")


def clip_boxes(boxes: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Clip xyxy ``boxes`` to a frame of size ``(H, W)``."""
    _check_last_dim(boxes)
    H, W = frame_size
    x = boxes[..., 0::2].clamp(0, W)
    y = boxes[..., 1::2].clamp(0, H)
    return torch.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), -1)
