"""Spatial transformer (Jaderberg et al., 2015): grid generator, bilinear sampler, glimpses.

Conventions are those of :mod:`ratrack.boxes`: continuous pixel coordinates, x before y, and
normalized coordinates with ``align_corners=False``, so ``-1`` and ``+1`` are the outer *edges*
of the image and pixel ``j`` of a row of ``W`` pixels has its centre at ``x = (2j + 1) / W - 1``.

A spatial transformer has three parts (STN paper, Sec. 3; survey Eqs. 25-32):

* a **localization network** ``theta = f_loc(U)`` that looks at the input feature map ``U``
  ``(B, C, H, W)`` and emits the transformation parameters, here an affine ``theta (B, 2, 3)``;
* a **grid generator** (:func:`affine_grid`) that maps every point ``G_i = (x_i^t, y_i^t)`` of
  a regular target grid of ``h x w`` pixel centres to a source point

  ``(x_i^s, y_i^s)^T = theta @ (x_i^t, y_i^t, 1)^T``

  (both in normalized coordinates: ``theta`` is ``frame_norm_from_glimpse_norm``);
* a **sampler** (:func:`bilinear_sample`) that reads the source image at those points with the
  bilinear kernel, for every channel ``c`` and target point ``i``

  ``V_i^c = sum_n sum_m U_nm^c max(0, 1 - |x_i^s - m|) max(0, 1 - |y_i^s - n|)``

  where ``(m, n)`` runs over the pixel centres (in pixel units) and pixels outside the image
  are zero. Only the four pixels around ``(x_i^s, y_i^s)`` have non-zero weight.

The sampler is differentiable in both of its inputs (survey Eqs. 34-42), which lets a loss train the
localization network through the sampling step:

* ``dV_i^c / dU_nm^c = max(0, 1 - |x_i^s - m|) max(0, 1 - |y_i^s - n|)``
* ``dV_i^c / dx_i^s = sum_n sum_m U_nm^c max(0, 1 - |y_i^s - n|) * g(m - x_i^s)`` with
  ``g(d) = 0`` if ``|d| >= 1``, ``+1`` if ``d >= 0``, ``-1`` if ``d < 0`` (and likewise for
  ``y_i^s``); in normalized units both are scaled by ``W / 2`` (``H / 2`` for ``y``);
* ``dx_i^s / dtheta_1 = (x_i^t, y_i^t, 1)`` and ``dy_i^s / dtheta_2 = (x_i^t, y_i^t, 1)``.

Autograd derives exactly these from the gather-and-weight form of :func:`bilinear_sample`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.boxes import windows_to_theta


def _check_size(size: tuple[int, int], name: str = "size") -> tuple[int, int]:
    if len(size) != 2 or any(int(s) != s or s <= 0 for s in size):
        raise ValueError(f"{name} must be two positive integers (h, w), got {size!r}")
    return int(size[0]), int(size[1])


def affine_grid(theta: Tensor, size: tuple[int, int]) -> Tensor:
    """Grid generator: source points of an ``h x w`` target grid under affine ``theta``.

    ``theta`` is ``(B, 2, 3)`` (glimpse-normalized -> image-normalized), ``size`` is ``(h, w)``.
    Returns ``(B, h, w, 2)`` source points ``(x^s, y^s)`` in normalized coordinates with
    ``align_corners=False``: the target points are the pixel centres
    ``x^t_j = (2j + 1) / w - 1``, ``y^t_i = (2i + 1) / h - 1``, and
    ``(x^s, y^s) = theta @ (x^t, y^t, 1)``. Same result as
    ``F.affine_grid(theta, (B, C, h, w), align_corners=False)``.
    """
    if theta.dim() != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(f"theta must be (B, 2, 3), got {tuple(theta.shape)}")
    if not theta.is_floating_point():
        raise ValueError(f"theta must be a floating tensor, got {theta.dtype}")
    h, w = _check_size(size)
    target = _target_points(h, w, theta.dtype, theta.device)  # (h*w, 3)
    source = target[None] @ theta.transpose(1, 2)  # (B, h*w, 2)
    return source.view(-1, h, w, 2)  # (B, h, w, 2)


@functools.lru_cache(maxsize=32)
def _target_points(h: int, w: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(h*w, 3)``: the homogeneous target points ``(x^t, y^t, 1)`` of :func:`affine_grid`, row
    by row; constant per glimpse size, so made once (a tracker asks for the same few sizes
    every frame). Not to be written to; made outside inference mode, so autograd may save it."""
    with torch.inference_mode(False):
        return _make_target_points(h, w, dtype, device)


def _make_target_points(h: int, w: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1  # (w,)
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1  # (h,)
    target = torch.stack(
        (xs.expand(h, w), ys[:, None].expand(h, w), torch.ones_like(xs).expand(h, w)), dim=-1
    )  # (h, w, 3)
    return target.view(h * w, 3)


def bilinear_sample(images: Tensor, grid: Tensor) -> Tensor:
    """Sampler: read ``images`` ``(B, C, H, W)`` at ``grid`` ``(B, h, w, 2)`` -> ``(B, C, h, w)``.

    ``grid[..., 0]`` is ``x`` and ``grid[..., 1]`` is ``y``, normalized with
    ``align_corners=False``; points outside the image read zeros (each of the four bilinear
    neighbours that falls outside contributes nothing). Differentiable with respect to both
    ``images`` and ``grid``; matches ``F.grid_sample(images, grid, mode="bilinear",
    padding_mode="zeros", align_corners=False)``. Vectorized: one gather for the whole batch.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    if grid.dim() != 4 or grid.shape[-1] != 2 or grid.shape[0] != images.shape[0]:
        raise ValueError(
            f"grid must be ({images.shape[0]}, h, w, 2) for images of batch {images.shape[0]}, "
            f"got {tuple(grid.shape)}"
        )
    if not images.is_floating_point() or grid.dtype != images.dtype:
        raise ValueError(
            f"images and grid must share a floating dtype, got {images.dtype} and {grid.dtype}"
        )
    B, C, H, W = images.shape
    _, h, w, _ = grid.shape
    # Normalized -> pixel units in which pixel centres are the integers 0..W-1 (0..H-1). The
    # clamp keeps far-away (or infinite) points integer-castable; they read zeros either way.
    x = (((grid[..., 0] + 1) * W - 1) / 2).clamp(-2, W + 1)  # (B, h, w)
    y = (((grid[..., 1] + 1) * H - 1) / 2).clamp(-2, H + 1)  # (B, h, w)
    x0, y0 = x.floor().detach(), y.floor().detach()
    # Bilinear weights per axis; a neighbour outside the image gets weight 0 (zero padding).
    wx1, wy1 = x - x0, y - y0  # weight of the right / lower neighbour
    wx0 = (1 - wx1) * ((x0 >= 0) & (x0 < W))
    wx1 = wx1 * ((x0 >= -1) & (x0 < W - 1))
    wy0 = (1 - wy1) * ((y0 >= 0) & (y0 < H))
    wy1 = wy1 * ((y0 >= -1) & (y0 < H - 1))
    ix0, ix1 = x0.clamp(0, W - 1).long(), (x0 + 1).clamp(0, W - 1).long()  # (B, h, w)
    iy0, iy1 = y0.clamp(0, H - 1).long() * W, (y0 + 1).clamp(0, H - 1).long() * W
    flat_index = torch.stack((iy0 + ix0, iy0 + ix1, iy1 + ix0, iy1 + ix1), dim=1)  # (B, 4, h, w)
    flat_index = flat_index.view(B, 1, 4 * h * w).expand(B, C, 4 * h * w)
    values = images.reshape(B, C, H * W).gather(2, flat_index)  # (B, C, 4*h*w)
    v00, v01, v10, v11 = values.view(B, C, 4, h, w).unbind(2)  # each (B, C, h, w)
    wx0, wx1, wy0, wy1 = wx0[:, None], wx1[:, None], wy0[:, None], wy1[:, None]  # (B, 1, h, w)
    return wy0 * (wx0 * v00 + wx1 * v01) + wy1 * (wx0 * v10 + wx1 * v11)  # (B, C, h, w)


def extract_glimpses(frames: Tensor, windows: Tensor, size: tuple[int, int]) -> Tensor:
    """Cut one glimpse per window: frames ``(B, C, H, W)``, xyxy pixel windows ``(B, 4)``.

    Returns ``(B, C, h, w)`` with ``size = (h, w)``; outside the frame the glimpse is zero.
    The grid comes from :func:`affine_grid`; sampling uses PyTorch's fused ``F.grid_sample``
    (same kernel as :func:`bilinear_sample`, faster, and it reads expanded frames without copying
    them).
    """
    if frames.dim() != 4:
        raise ValueError(f"frames must be (B, C, H, W), got {tuple(frames.shape)}")
    if windows.shape != (frames.shape[0], 4):
        raise ValueError(f"windows must be ({frames.shape[0]}, 4), got {tuple(windows.shape)}")
    _, _, H, W = frames.shape
    grid = window_grid(windows.to(frames.dtype), (H, W), _check_size(size))  # (B, h, w, 2)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def window_grid(windows: Tensor, frame_size: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """``(B, h, w, 2)``: :func:`affine_grid` of :func:`~ratrack.boxes.windows_to_theta`
    ``(windows, frame_size)``, the same numbers made per axis. A window's ``theta`` is
    axis-aligned, so a sample's ``x^s = theta_11 x^t + theta_13`` depends on its column alone
    and ``y^s`` on its row: ``w + h`` products per window instead of ``3 h w`` (the zero terms
    of the full product add nothing, so the values are equal)."""
    h, w = size
    theta = windows_to_theta(windows, frame_size)  # (B, 2, 3)
    target = _target_points(h, w, theta.dtype, theta.device).view(h, w, 3)
    xs = target[0, :, 0] * theta[:, 0, 0:1] + theta[:, 0, 2:3]  # (B, w)
    ys = target[:, 0, 1] * theta[:, 1, 1:2] + theta[:, 1, 2:3]  # (B, h)
    B = theta.shape[0]
    return torch.stack((xs[:, None, :].expand(B, h, w), ys[:, :, None].expand(B, h, w)), -1)


IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
"""The affine identity, row-major: ``(theta_11, theta_12, theta_13, theta_21, ..., theta_23)``."""


def _conv_features(in_channels: int, c1: int, c2: int) -> nn.Sequential:
    """Two 5x5 conv + 2x2 max-pool + ReLU stages: ``(B, C, H, W)`` -> ``(B, c2, H/4, W/4)``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=5, padding=2),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2),
        nn.MaxPool2d(2),
        nn.ReLU(),
    )


class SpatialTransformer(nn.Module):
    """Localization net -> :func:`affine_grid` -> :func:`bilinear_sample`.

    ``forward(images (B, C, H, W)) -> (glimpses (B, C, h, w), theta (B, 2, 3))`` with
    ``(h, w) = out_size``. The localization net is a small conv net (two conv + max-pool stages,
    then two linear layers) that regresses the six affine parameters.

    Its last linear layer starts with **zero weights and the identity as bias**, so at
    initialization every image gets ``theta = identity`` whatever its content: the transformer
    first passes the input through unchanged (resampled to ``out_size``), the network behind it
    learns from undistorted views, and the localization net then moves away from the identity
    only as far as the classification gradient asks. A random init would instead warp each image
    by an arbitrary affine map, often zooming out of the object or off the canvas, which gives
    the network behind it noise to learn from and the localization net little useful gradient.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        in_size: tuple[int, int],
        out_size: tuple[int, int],
        channels: tuple[int, int] = (8, 16),
        hidden: int = 64,
    ) -> None:
        super().__init__()
        if in_channels <= 0 or hidden <= 0 or min(channels) <= 0:
            raise ValueError("in_channels, channels and hidden must be positive")
        H, W = _check_size(in_size, "in_size")
        self.out_size = _check_size(out_size, "out_size")
        c1, c2 = channels
        self.features = _conv_features(in_channels, c1, c2)
        flat = c2 * (H // 4) * (W // 4)
        self.regressor = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU())
        self.to_theta = nn.Linear(hidden, 6)
        # Identity init (see the class docstring): the transform starts as the identity.
        nn.init.zeros_(self.to_theta.weight)
        with torch.no_grad():
            self.to_theta.bias.copy_(torch.tensor(IDENTITY_THETA))

    def localize(self, images: Tensor) -> Tensor:
        """``theta = f_loc(U)``: ``(B, C, H, W)`` -> ``(B, 2, 3)``."""
        return self.to_theta(self.regressor(self.features(images))).view(-1, 2, 3)  # (B, 2, 3)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        theta = self.localize(images)  # (B, 2, 3)
        grid = affine_grid(theta, self.out_size)  # (B, h, w, 2)
        return bilinear_sample(images, grid), theta


class DigitClassifier(nn.Module):
    """A small conv net: ``(B, C, H, W)`` -> class logits ``(B, num_classes)``.

    Two conv + max-pool stages, then two linear layers; the flatten size follows from
    ``in_size``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        in_size: tuple[int, int],
        num_classes: int = 10,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if in_channels <= 0 or num_classes <= 0 or hidden <= 0 or min(channels) <= 0:
            raise ValueError("in_channels, num_classes, channels and hidden must be positive")
        H, W = _check_size(in_size, "in_size")
        c1, c2 = channels
        self.features = _conv_features(in_channels, c1, c2)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * (H // 4) * (W // 4), hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))  # (B, num_classes)


class STNClassifier(nn.Module):
    """A :class:`DigitClassifier` behind a :class:`SpatialTransformer`.

    ``forward(images (B, C, H, W)) -> (logits (B, num_classes), glimpses (B, C, h, w),
    theta (B, 2, 3))``; the classifier sees only the transformer's ``out_size`` glimpse.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        in_size: tuple[int, int],
        out_size: tuple[int, int],
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.transformer = SpatialTransformer(
            in_channels=in_channels, in_size=in_size, out_size=out_size
        )
        self.classifier = DigitClassifier(
            in_channels=in_channels, in_size=out_size, num_classes=num_classes
        )

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        glimpses, theta = self.transformer(images)
        return self.classifier(glimpses), glimpses, theta
