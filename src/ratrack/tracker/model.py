"""The recurrent attention tracker: grid generator -> conv net -> RNN -> two heads.

Per frame ``t`` and per object (all objects of a batch in one step; boxes and windows are xyxy
pixels, see :mod:`ratrack.boxes`)::

    g_t   = G(x_t, a_t)                 grid generator: h x w glimpse of frame x_t at window a_t
    f_t   = CNN(g_t)                    conv net: glimpse -> feature vector
    c_t   = C(M_t, K_0)                 comparison with the target (optional, see below)
    s_t   = RNN([f_t, f_0, b_{t-1}^a, c_t], s_{t-1})   f_0: the first frame's glimpse of the target
    b_t^a = tanh(W_b [s_t, c_t, f_t])   tracking head: box in a_t's normalized coordinates
    b_t   = boxes_from_windows(b_t^a, a_t)
    r_t   = W_a [s_t, b_t^a]            localization head: window deltas (dx, dy, dlogw, dlogh)
    a_t+1 = apply_window_deltas(w(b_t), r_t)    w(b): the square window around box b
    d_t   = window_deltas(a_t, a_t+1)   the motor command relative to the current window

``b_{t-1}^a`` is the previous box expressed in the current window (where the tracker believed
the object was, as seen through the new window). The memory is conditioned on the target: the
first frame's glimpse (cut at the window around the given box) sets ``s_0`` and its features
``f_0`` are fed at every step, so the RNN can tell its object from distractors (RATM, Kahou et
al. 2017, sec. 3; HART, Kosiorek et al. 2017, keeps an appearance state the same way).

With ``correlation_stage = k > 0`` the tracker also compares every glimpse with its target
the way Siamese trackers do (SiamFC, Bertinetto et al. 2016): ``M_t`` is the conv net's feature
map after ``k`` stages, ``K_0`` the central patch of the first frame's map (the box's share of
the window), and ``c_t`` their normalized cross-correlation over every shift (a response map
peaking where the target is), its soft-argmax and its peak. Correlation is an inductive bias
that holds for any appearance, which a tracker trained on little real video needs; without it
(``k = 0``, the Bouncing MNIST model) ``c_t`` is empty.

With ``match_size = S > 0`` (the natural-video model) the comparison is also made at pixel level
the way SiamFC searches scales: ``S x S`` glimpses centred on ``a_t``, of side ``context`` times
the last box's long side times each of ``match_scales``, are searched for the first frame's
template (its glimpse's central patch, masked to the box's shape) by normalized
cross-correlation. The best peak gives a matched box ``m_t`` (the last box's size times the
peak's scale), ``c_t`` gains the match's displacement, peak and log scale, and the tracking head
outputs deltas from ``m_t`` (starting at zero) instead of a box in the window. Matching has no
parameters, so it holds for any appearance; the learned parts refine its box.

The localization head predicts its deltas relative to the window re-centred on its own box
estimate ``w(b_t)`` (``recenter=True``; with ``False`` relative to ``a_t`` itself): the head then
only has to learn the motion to the next frame (velocity, bounces), not to re-find the object
in the glimpse, which the tracking head already does. Its last layer starts at zero, so an
untrained tracker follows its own box estimate; the tracking head starts at the box that the
window implies (``context`` times smaller than the window), so an untrained tracker keeps its
window where it is and the first gradients refine a sensible guess.

Exploration (``location_std > 0``, training only): the window the next frame is looked through
is drawn from RAM's Gaussian location policy ``r_t' ~ N(r_t, sigma^2 I)`` (Mnih et al. 2014,
sec. 3) and ``log pi(r_t' | s_t)`` is returned for REINFORCE (:mod:`ratrack.tracker.losses`);
the supervised window terms still see the mean ``a_t+1``.

Windows are square (side ``context * max(w, h)`` of the box) so the square glimpse samples both
axes at the same resolution; :func:`target_windows` defines them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.attention.stn import extract_glimpses
from ratrack.boxes import (
    apply_window_deltas,
    boxes_from_windows,
    boxes_in_windows,
    check_boxes,
    convert_boxes,
    window_deltas,
)

GRID_GENERATORS = ("stn", "draw")
RNN_TYPES = ("gru", "lstm")


@dataclass(frozen=True)
class TrackerConfig:
    """Hyperparameters of :class:`RecurrentTracker` (defaults: the Bouncing MNIST model)."""

    in_channels: int = 1  # 1 for MNIST, 3 for RGB video
    glimpse_size: tuple[int, int] = (40, 40)  # (h, w) of the glimpse in pixels
    context: float = 3.0  # window side = context * max(box w, box h)
    grid_generator: str = "stn"  # "stn" (affine bilinear sampling) or "draw" (Gaussian filterbank)
    conv_channels: tuple[int, ...] = (16, 32, 64)  # one 3x3 conv + 2x2 max-pool stage each
    feature_size: int = 256  # conv net output width
    rnn_type: str = "gru"  # "gru" or "lstm"
    hidden_size: int = 256  # RNN state width
    head_hidden: int = 128  # hidden width of the two heads
    pixel_mean: float = 0.0  # glimpses are normalized as (g - mean) / std before the conv net
    pixel_std: float = 1.0
    max_delta_log_scale: float = 0.5  # |dlogw|, |dlogh| per step are squashed below this
    min_window: float = 8.0  # windows never shrink below this side (pixels)
    detach_window: bool = True  # no gradient through the window chain between steps (stable)
    recenter: bool = True  # localization head moves the window re-centred on b_t (else a_t)
    box_from_features: bool = True  # tracking head also sees f_t directly (precise boxes)
    # > 0: RAM's Gaussian location policy while training: the next window's deltas are drawn
    # around the localization head's output with this std (window sides / log side), and
    # REINFORCE (LossConfig.reinforce) rewards the draws; evaluation always takes the mean.
    location_std: float = 0.0
    # < 1: the box's log width and height follow the tracking head only this share of the way
    # from the previous box's per frame (as correlation-filter trackers learn scale slowly):
    # a small size bias per frame then cannot compound into a box that grows without bound.
    size_rate: float = 1.0
    # > 0: each glimpse is also compared with the first frame's target by normalized
    # cross-correlation of the conv net's feature maps after this many stages (a SiamFC-style
    # response map, see correlation_response); 0: the template vector f_0 is the only comparison.
    correlation_stage: int = 0
    # > 0: template matching at pixel level (SiamFC's scale search, Bertinetto et al. 2016):
    # each step cuts match_size x match_size glimpses around the window's centre, sized by the
    # last box and scaled by each of match_scales, finds the first frame's box-shaped template
    # in them by normalized cross-correlation, and the tracking head refines the matched box
    # (deltas from it) instead of placing a box in the window; 0: off.
    match_size: int = 0
    match_scales: tuple[float, ...] = (1 / 1.05, 1.0, 1.05)
    match_penalty: float = 0.97  # a peak found at a scale other than 1 counts this much

    def __post_init__(self) -> None:
        if self.in_channels <= 0 or self.feature_size <= 0 or self.hidden_size <= 0:
            raise ValueError(f"TrackerConfig sizes must be positive, got {self}")
        if len(self.glimpse_size) != 2 or min(self.glimpse_size) < 2 ** len(self.conv_channels):
            raise ValueError(
                f"glimpse_size must be (h, w) with both >= 2**len(conv_channels), "
                f"got {self.glimpse_size}"
            )
        if not self.conv_channels or min(self.conv_channels) <= 0 or self.head_hidden <= 0:
            raise ValueError(f"conv_channels and head_hidden must be positive, got {self}")
        if self.grid_generator not in GRID_GENERATORS:
            raise ValueError(
                f"grid_generator must be one of {GRID_GENERATORS}, got {self.grid_generator!r}"
            )
        if self.rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {RNN_TYPES}, got {self.rnn_type!r}")
        if self.context <= 1.0:
            raise ValueError(f"context must be > 1 (the window holds the box), got {self.context}")
        if self.pixel_std <= 0 or self.max_delta_log_scale <= 0 or self.min_window <= 0:
            raise ValueError("pixel_std, max_delta_log_scale and min_window must be positive")
        if not 0 < self.size_rate <= 1:
            raise ValueError(f"size_rate must be in (0, 1], got {self.size_rate}")
        if self.location_std < 0:
            raise ValueError(f"location_std must be >= 0, got {self.location_std}")
        if not 0 <= self.correlation_stage <= len(self.conv_channels):
            raise ValueError(
                f"correlation_stage must be in [0, {len(self.conv_channels)}], "
                f"got {self.correlation_stage}"
            )
        if self.match_size and (self.match_size < 8 or self.match_size % 2):
            raise ValueError(f"match_size must be 0 or an even side >= 8, got {self.match_size}")
        if not self.match_scales or min(self.match_scales) <= 0:
            raise ValueError(f"match_scales must be positive, got {self.match_scales}")
        if not 0 < self.match_penalty <= 1:
            raise ValueError(f"match_penalty must be in (0, 1], got {self.match_penalty}")

    @property
    def correlation_map(self) -> tuple[int, int]:
        """(h, w) of the conv net's feature map that correlation compares (0, 0 when off)."""
        k = self.correlation_stage
        return (self.glimpse_size[0] >> k, self.glimpse_size[1] >> k) if k else (0, 0)

    @property
    def correlation_kernel(self) -> tuple[int, int]:
        """(h, w) of the template's central patch: the box's share of the map, made the same
        parity as the map so the patch sits exactly at its centre (0, 0 when off)."""
        sides = []
        for m in self.correlation_map:
            k = max(1, round(m / self.context)) if m else 0
            sides.append(k + (m - k) % 2)
        return sides[0], sides[1]

    @property
    def match_kernel(self) -> int:
        """Side of the square matching template: the box's long side in a match glimpse, made
        even like ``match_size`` (0 when matching is off)."""
        if not self.match_size:
            return 0
        k = max(2, round(self.match_size / self.context))
        return k + k % 2

    @property
    def correlation_size(self) -> int:
        """Width of the comparison features: the response map, its soft-argmax and its peak;
        with matching on, 4 more (the match's displacement, peak and log scale)."""
        size = 4 if self.match_size else 0
        if not self.correlation_stage:
            return size
        (h, w), (kh, kw) = self.correlation_map, self.correlation_kernel
        return size + (h + 1 - kh % 2) * (w + 1 - kw % 2) + 3


class TrackerState(NamedTuple):
    """Recurrent state of a batch of ``B`` tracked objects (index ``i`` is object ``i``)."""

    hidden: Tensor  # (B, D) RNN state s_t
    cell: Tensor  # (B, D) LSTM cell; (B, 0) for a GRU
    window: Tensor  # (B, 4) xyxy window a_t the next frame is looked at through
    box: Tensor  # (B, 4) xyxy last box b_{t-1}
    template: Tensor  # (B, F) first-frame glimpse features f_0
    kernel: Tensor  # (B, c*kh*kw) first-frame target patch of the feature map; (B, 0) when off
    match: Tensor  # (B, (C+1)*k*k) matching template and its box mask as one more channel; (B, 0)


class StepOutput(NamedTuple):
    """What one step saw and predicted, per object."""

    box: Tensor  # (B, 4) xyxy box b_t in pixels
    box_in_window: Tensor  # (B, 4) b_t^a, the box in the window's normalized coordinates
    window: Tensor  # (B, 4) xyxy window a_t the glimpse was cut at
    next_window: Tensor  # (B, 4) xyxy window a_{t+1} the localization head chose (its mean)
    deltas: Tensor  # (B, 4) d_t = window_deltas(window, next_window)
    log_prob: Tensor  # (B,) log-density of the drawn next window (zeros: no policy draw)


class ClipOutput(NamedTuple):
    """A whole clip, frames ``1..T-1`` (frame 0 initializes): tensors ``(B, T-1, 4)``."""

    boxes: Tensor
    boxes_in_window: Tensor
    windows: Tensor
    next_windows: Tensor
    grid_inputs: tuple[Tensor, ...]  # with probe_grid: the (B, 4) leaf window of each sampling
    log_probs: Tensor | None = None  # (B, T-1) policy log-densities (location_std > 0, training)


def target_windows(boxes: Tensor, context: float, min_size: float = 1.0) -> Tensor:
    """Square xyxy windows around xyxy ``boxes``: same centre, side ``context * max(w, h)``."""
    cx, cy, w, h = convert_boxes(boxes, "xyxy", "cxcywh").unbind(-1)
    side = (torch.maximum(w, h) * context).clamp(min=min_size)
    return convert_boxes(torch.stack((cx, cy, side, side), -1), "cxcywh", "xyxy")


def draw_glimpses(frames: Tensor, windows: Tensor, size: tuple[int, int]) -> Tensor:
    """DRAW filterbank read of ``windows`` (``(B, 4)`` xyxy) from ``frames`` ``(B, C, H, W)``.

    An ``h x w`` grid of Gaussian filters (Gregor et al. 2015, eq. 19-20) spans the window:
    filter centres at the glimpse's pixel centres mapped into the frame, stride = window side /
    glimpse side, standard deviation = stride / 2. Returns ``(B, C, h, w)``; filters that fall
    outside the frame read zeros (the normalization runs over in-frame pixels, as in DRAW).
    """
    from ratrack.attention.draw import AttentionParams, filterbank

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


class ConvNet(nn.Module):
    """Glimpse ``(B, C, h, w)`` -> features ``(B, F)``: 3x3 conv + ReLU + 2x2 max-pool stages."""

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = config.in_channels
        for width in config.conv_channels:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.stages = nn.Sequential(*layers)
        h, w = config.glimpse_size
        cells = (h >> len(config.conv_channels)) * (w >> len(config.conv_channels))
        self.project = nn.Linear(channels * cells, config.feature_size)
        self.mean, self.std = config.pixel_mean, config.pixel_std

    def forward(self, glimpses: Tensor) -> Tensor:
        return self.features_and_map(glimpses, 0)[0]  # (B, F)

    def features_and_map(self, glimpses: Tensor, stage: int) -> tuple[Tensor, Tensor]:
        """Features ``(B, F)`` and the feature map after ``stage`` conv stages (0: the
        normalized glimpse)."""
        x = (glimpses - self.mean) / self.std
        kept = x
        for i, layer in enumerate(self.stages):
            x = layer(x)
            if i == 3 * stage - 1:  # each stage is conv, ReLU, pool
                kept = x
        return F.relu(self.project(x.flatten(1))), kept


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class RecurrentTracker(nn.Module):
    """The tracker of the module docstring, batched over objects.

    Components (named for the per-component gradient norms of training): ``conv``,
    ``rnn``, ``init_rnn`` (first-frame memory), ``track_head``, ``loc_head``; the grid generator
    has no parameters (its gradient is the one reaching the window, recorded by training).
    """

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.conv = ConvNet(config=c)
        rnn_in = 2 * c.feature_size + 4 + c.correlation_size
        cell = nn.GRUCell if c.rnn_type == "gru" else nn.LSTMCell
        self.rnn = cell(rnn_in, c.hidden_size)
        self.init_rnn = nn.Linear(c.feature_size + 4, c.hidden_size)
        track_in = c.hidden_size + c.correlation_size
        track_in += c.feature_size if c.box_from_features else 0
        self.track_head = _mlp(track_in, c.head_hidden, 4)
        self.loc_head = _mlp(c.hidden_size + 4, c.head_hidden, 4)
        # Localization starts at "keep the window" (zero deltas); tracking starts at the box the
        # window implies (the centred box 1/context of its side), i.e. atanh(+-1/context).
        nn.init.zeros_(self.loc_head[-1].weight)
        nn.init.zeros_(self.loc_head[-1].bias)
        nn.init.normal_(self.track_head[-1].weight, std=1e-3)
        edge = math.atanh(1.0 / c.context)
        with torch.no_grad():
            self.track_head[-1].bias.copy_(torch.tensor([-edge, -edge, edge, edge]))
        if c.match_size:  # the head refines the matched box: it starts at "keep it"
            nn.init.zeros_(self.track_head[-1].weight)
            nn.init.zeros_(self.track_head[-1].bias)

    # -- pieces ------------------------------------------------------------------------------
    def glimpse(self, frames: Tensor, windows: Tensor) -> Tensor:
        """Glimpses ``(B, C, h, w)`` at xyxy ``windows`` ``(B, 4)`` of frames ``(B, C, H, W)``."""
        return cut_glimpses(frames, windows, self.config)

    def _check_frames(self, frames: Tensor, batch: int) -> Tensor:
        if frames.dim() == 3:
            frames = frames.unsqueeze(0)
        if frames.dim() != 4 or frames.shape[1] != self.config.in_channels:
            raise ValueError(
                f"frames must be (C, H, W) or (B, C, H, W) with C={self.config.in_channels}, "
                f"got {tuple(frames.shape)}"
            )
        if frames.shape[0] not in (1, batch):
            raise ValueError(f"frames batch must be 1 or {batch}, got {frames.shape[0]}")
        return frames.expand(batch, -1, -1, -1)  # (B, C, H, W): one frame shared without copy

    def _clamp_window(self, windows: Tensor) -> Tensor:
        cx, cy, w, h = convert_boxes(windows, "xyxy", "cxcywh").unbind(-1)
        m = self.config.min_window
        return convert_boxes(
            torch.stack((cx, cy, w.clamp(min=m), h.clamp(min=m)), -1), "cxcywh", "xyxy"
        )

    def _damp_size(self, box: Tensor, previous: Tensor) -> Tensor:
        """``box`` with its log width and height moved only ``size_rate`` of the way from
        ``previous``'s (the centre is kept)."""
        cx, cy, w, h = convert_boxes(box, "xyxy", "cxcywh").unbind(-1)
        _, _, w0, h0 = convert_boxes(previous, "xyxy", "cxcywh").clamp(min=1e-3).unbind(-1)
        r = self.config.size_rate
        w, h = w0 * (w.clamp(min=1e-3) / w0) ** r, h0 * (h.clamp(min=1e-3) / h0) ** r
        return convert_boxes(torch.stack((cx, cy, w, h), -1), "cxcywh", "xyxy")

    def _residual(self, raw: Tensor) -> Tensor:
        """Localization head output ``(B, 4)`` -> deltas with the log-scales squashed."""
        m = self.config.max_delta_log_scale
        return torch.cat((raw[:, :2], m * torch.tanh(raw[:, 2:] / m)), 1)

    def match_windows(self, windows: Tensor, boxes: Tensor) -> Tensor:
        """``(B, n, 4)`` xyxy windows the template is searched in: centred on ``windows``,
        side ``context`` times the long side of ``boxes``, times each of the ``n``
        ``match_scales``."""
        c = self.config
        cx, cy, _, _ = convert_boxes(windows, "xyxy", "cxcywh").unbind(-1)
        _, _, w, h = convert_boxes(boxes, "xyxy", "cxcywh").unbind(-1)
        side = (c.context * torch.maximum(w, h)).clamp(min=c.min_window)  # (B,)
        scales = side.new_tensor(c.match_scales)  # (n,)
        sides = side[:, None] * scales  # (B, n)
        centre = torch.stack((cx, cy), -1)[:, None].expand(-1, len(scales), -1)
        return convert_boxes(
            torch.cat((centre, sides[..., None].expand(-1, -1, 2)), -1), "cxcywh", "xyxy"
        )

    def read_windows(self, state: TrackerState) -> Tensor:
        """``(N, 4)`` xyxy: every window the next :meth:`step` of ``state`` cuts a glimpse at."""
        if not self.config.match_size:
            return state.window
        return torch.cat((state.window, self.match_windows(state.window, state.box).flatten(0, 1)))

    @torch.no_grad()
    def _match(self, frames: Tensor, state: TrackerState) -> tuple[Tensor, Tensor]:
        """Template matching: the matched boxes ``(B, 4)`` and the match features ``(B, 4)``
        (displacement from the window's centre in search-window sides, peak, log scale).

        The best peak over the scales (those other than 1 discounted by ``match_penalty``)
        places the box; its size is the last box's times that scale."""
        c = self.config
        B, S, k = state.box.shape[0], c.match_size, c.match_kernel
        windows = self.match_windows(state.window, state.box)  # (B, n, 4)
        packed = state.match.view(B, -1, k, k)
        kernels, mask = packed[:, :-1], packed[:, -1:]
        responses = torch.stack(
            [
                correlation_response(cut_glimpses(frames, windows[:, i], c, (S, S)), kernels, mask)
                for i in range(windows.shape[1])
            ],
            1,
        )  # (B, n, S+1, S+1)
        scales = responses.new_tensor(c.match_scales)
        discount = torch.where(scales == 1, 1.0, c.match_penalty)
        peaks = responses.flatten(2).amax(2) * discount  # (B, n)
        best = peaks.argmax(1)  # (B,)
        rows = torch.arange(B, device=best.device)
        chosen = responses[rows, best].flatten(1)  # (B, (S+1)^2)
        where = chosen.argmax(1)
        side = S + 1
        shift = torch.stack((where % side, where // side), -1).to(chosen.dtype) - S / 2  # cells
        search = windows[rows, best]  # (B, 4)
        extent = (search[:, 2] - search[:, 0])[:, None]  # (B, 1) search window side in pixels
        _, _, w, h = convert_boxes(state.box, "xyxy", "cxcywh").unbind(-1)
        centre = (search[:, :2] + search[:, 2:]) / 2 + shift * extent / S
        scale = scales[best]
        matched = torch.stack((centre[:, 0], centre[:, 1], w * scale, h * scale), -1)
        features = torch.cat(
            (shift / S, chosen.gather(1, where[:, None]), scale.log()[:, None]), 1
        )  # (B, 4)
        return convert_boxes(matched, "cxcywh", "xyxy"), features

    def _look(self, frames: Tensor, windows: Tensor) -> tuple[Tensor, Tensor | None]:
        """Glimpse features ``(B, F)`` and, with correlation on, the feature map it compares."""
        glimpses = self.glimpse(frames, windows)
        if not self.config.correlation_stage:
            return self.conv(glimpses), None
        return self.conv.features_and_map(glimpses, self.config.correlation_stage)

    # -- recurrence --------------------------------------------------------------------------
    def init_state(self, frames: Tensor, boxes: Tensor) -> TrackerState:
        """Start tracking xyxy ``boxes`` ``(B, 4)`` in ``frames`` (``(B, C, H, W)`` or one frame).

        The glimpse at the window around each box gives the template ``f_0`` and, with the box
        in that window, the initial memory ``s_0 = tanh(W_0 [f_0, b_0^a])``.
        """
        check_boxes(boxes)
        if boxes.dim() != 2:
            raise ValueError(f"boxes must be (B, 4), got {tuple(boxes.shape)}")
        B = boxes.shape[0]
        frames = self._check_frames(frames, B)
        boxes = boxes.to(frames.dtype)
        windows = self._clamp_window(target_windows(boxes, self.config.context))
        template, maps = self._look(frames, windows)  # (B, F), (B, c, h, w) or None
        kernel = template.new_zeros(B, 0)
        if maps is not None:
            kernel = template_kernels(maps, self.config.correlation_kernel).flatten(1)
        rel = boxes_in_windows(boxes, windows)  # (B, 4)
        match = template.new_zeros(B, 0)
        if self.config.match_size:
            size, k = self.config.match_size, self.config.match_kernel
            with torch.no_grad():
                glimpses = cut_glimpses(frames, windows, self.config, (size, size))
                mask = box_masks(rel, size, k)
                match = torch.cat((template_kernels(glimpses, (k, k), mask), mask), 1).flatten(1)
        hidden = torch.tanh(self.init_rnn(torch.cat((template, rel), 1)))  # (B, D)
        cell_size = self.config.hidden_size if self.config.rnn_type == "lstm" else 0
        cell = hidden.new_zeros(B, cell_size)
        return TrackerState(hidden, cell, windows, boxes, template, kernel, match)

    def step(
        self, frames: Tensor, state: TrackerState, *, grid_window: Tensor | None = None
    ) -> tuple[StepOutput, TrackerState]:
        """Track every object of ``state`` into ``frames`` (``(B, C, H, W)`` or one frame).

        ``grid_window`` (same values as ``state.window``) lets training sample the glimpse at a
        separate leaf tensor, whose gradient is the grid generator's gradient norm.
        """
        c = self.config
        B = state.window.shape[0]
        frames = self._check_frames(frames, B)
        window = state.window
        sample_at = window if grid_window is None else grid_window
        features, maps = self._look(frames, sample_at)  # (B, F), (B, c, h, w) or None
        compared = features.new_zeros(B, 0)  # (B, correlation_size)
        if maps is not None:
            kernels = state.kernel.view(B, maps.shape[1], *c.correlation_kernel)
            compared = response_features(correlation_response(maps, kernels))
        if c.match_size:
            matched, match_features = self._match(frames, state)
            compared = torch.cat((compared, match_features), 1)
        prev = boxes_in_windows(state.box, window).clamp(-3, 3)  # (B, 4)
        x = torch.cat((features, state.template, prev, compared), 1)  # (B, 2F + 4 + corr)
        if c.rnn_type == "gru":
            hidden, cell = self.rnn(x, state.hidden), state.cell
        else:
            hidden, cell = self.rnn(x, (state.hidden, state.cell))
        head_in = torch.cat(
            (hidden, compared, features) if c.box_from_features else (hidden, compared), 1
        )
        if c.match_size:  # deltas from the matched box
            box = apply_window_deltas(matched, self._residual(self.track_head(head_in)))
            rel = boxes_in_windows(box, window)
        else:
            rel = torch.tanh(self.track_head(head_in))  # (B, 4)
            box = boxes_from_windows(rel, window)
        if c.size_rate < 1:
            box = self._damp_size(box, state.box)
            rel = boxes_in_windows(box, window)
        residual = self._residual(self.loc_head(torch.cat((hidden, rel), 1)))  # (B, 4)
        anchor = window
        if c.recenter:
            anchor = self._clamp_window(target_windows(box.detach(), c.context))
        next_window = self._clamp_window(apply_window_deltas(anchor, residual))
        deltas = window_deltas(window, next_window)  # d_t relative to the current window
        carried_window = next_window.detach() if c.detach_window else next_window
        log_prob = residual.new_zeros(B)
        if c.location_std > 0 and self.training:
            # RAM's location policy: l ~ N(mu, sigma^2 I), log pi(l | s) for REINFORCE. As in
            # RAM, the policy gradient trains the localization head alone: its mean is
            # recomputed from detached inputs, so the noisy term never reaches the RNN.
            mu = self._residual(self.loc_head(torch.cat((hidden, rel), 1).detach()))  # (B, 4)
            drawn = (residual + c.location_std * torch.randn_like(residual)).detach()
            policy = torch.distributions.Normal(mu, c.location_std)
            log_prob = policy.log_prob(drawn).sum(-1)  # (B,)
            carried_window = self._clamp_window(apply_window_deltas(anchor, drawn)).detach()
        carried_box = box.detach() if c.detach_window else box
        out = StepOutput(box, rel, window, next_window, deltas, log_prob)
        return out, state._replace(hidden=hidden, cell=cell, window=carried_window, box=carried_box)

    def forward(
        self, frames: Tensor, first_boxes: Tensor, *, probe_grid: bool = False
    ) -> ClipOutput:
        """Track a clip: ``frames`` ``(B, T, C, H, W)``, ``first_boxes`` ``(B, 4)`` in frame 0.

        Returns predictions for frames ``1..T-1`` (:class:`ClipOutput`, each ``(B, T-1, 4)``).
        With ``probe_grid`` every glimpse is sampled at a leaf copy of its window (values equal;
        with ``detach_window`` the gradients are too), kept in ``grid_inputs``.
        """
        if frames.dim() != 5 or frames.shape[1] < 2:
            raise ValueError(f"frames must be (B, T>=2, C, H, W), got {tuple(frames.shape)}")
        state = self.init_state(frames[:, 0], first_boxes)
        outs, probes = [], []
        for t in range(1, frames.shape[1]):
            leaf = state.window.detach().requires_grad_() if probe_grid else None
            out, state = self.step(frames[:, t], state, grid_window=leaf)
            outs.append(out)
            if leaf is not None:
                probes.append(leaf)
        return ClipOutput(
            boxes=torch.stack([o.box for o in outs], 1),  # (B, T-1, 4)
            boxes_in_window=torch.stack([o.box_in_window for o in outs], 1),
            windows=torch.stack([o.window for o in outs], 1),
            next_windows=torch.stack([o.next_window for o in outs], 1),
            grid_inputs=tuple(probes),
            log_probs=torch.stack([o.log_prob for o in outs], 1),  # (B, T-1)
        )

    def components(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per component, for per-component gradient norms."""
        return {
            "conv_net": list(self.conv.parameters()),
            "rnn": list(self.rnn.parameters()) + list(self.init_rnn.parameters()),
            "tracking_head": list(self.track_head.parameters()),
            "localization_head": list(self.loc_head.parameters()),
        }
