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
outputs deltas from ``m_t`` (starting at zero) instead of a box in the window. Pixel matching
has no parameters, so it holds for any appearance; the learned parts refine its box. With
``match_features > 0`` a small match net (:class:`~ratrack.model.convnet.MatchNet`) adds a
learned half: the template is also matched in its feature maps and the two NCCs are blended
(``match_blend``). With ``template_rate > 0`` the template is a memory that follows the
target's look (anchored to the first frame's by ``template_anchor``); with ``score_first`` the
confidence is the match with the first frame's template (how much the box still looks like
the object as given); with ``score_deep`` it also compares ImageNet features of the chosen
placement (:class:`~ratrack.model.mobilenet.DeepFeatures`), weighed by ``score_weights``. With
``lost_compare`` a lost object is searched normally as well as wide, and moves to the wide
search's match only where that scores more than ``lost_margin`` higher.

The localization head predicts its deltas relative to the window re-centred on its own box
estimate ``w(b_t)``, not to ``a_t`` itself: the head then
only has to learn the motion to the next frame (velocity, bounces), not to re-find the object
in the glimpse, which the tracking head already does. Its last layer starts at zero, so an
untrained tracker follows its own box estimate; the tracking head starts at the box that the
window implies (``context`` times smaller than the window), so an untrained tracker keeps its
window where it is and the first gradients refine a sensible guess.

Exploration (``location_std > 0``, training only): the window the next frame is looked through
is drawn from RAM's Gaussian location policy ``r_t' ~ N(r_t, sigma^2 I)`` (Mnih et al. 2014,
sec. 3) and ``log pi(r_t' | s_t)`` is returned for REINFORCE (:mod:`ratrack.train.losses`);
the supervised window terms still see the mean ``a_t+1``.

Windows are square (side ``context * max(w, h)`` of the box) so the square glimpse samples both
axes at the same resolution; :func:`ratrack.boxes.target_windows` defines them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ratrack.boxes import (
    apply_window_deltas,
    boxes_from_windows,
    boxes_in_windows,
    check_boxes,
    convert_boxes,
    target_windows,
    window_deltas,
)
from ratrack.model.config import TrackerConfig
from ratrack.model.convnet import ConvNet, MatchNet
from ratrack.model.correlation import (
    box_masks,
    correlation_response,
    fft_size,
    frame_reach,
    masked_nccs,
    patch_nccs,
    response_features,
    template_kernels,
    template_spectra,
    zero_padded,
)
from ratrack.model.glimpse import Frame, cut_glimpses, patches_at, valid_masks
from ratrack.model.mobilenet import DeepFeatures


class TrackerState(NamedTuple):
    """Recurrent state of a batch of ``B`` tracked objects (index ``i`` is object ``i``)."""

    hidden: Tensor  # (B, D) RNN state s_t
    cell: Tensor  # (B, D) LSTM cell; (B, 0) for a GRU
    window: Tensor  # (B, 4) xyxy window a_t the next frame is looked at through
    box: Tensor  # (B, 4) xyxy last box b_{t-1}
    template: Tensor  # (B, F) first-frame glimpse features f_0
    kernel: Tensor  # (B, c*kh*kw) first-frame target patch of the feature map; (B, 0) when off
    # (B, (2C'+1+D)*k*k): the matching template memory, the first frame's template (C' channels
    # each: pixels, then learned features), their box mask as one more channel and, with
    # score_deep, the first frame's template of D ImageNet feature channels; (B, 0) off
    match: Tensor
    score: Tensor  # (B,) confidence of the last box (1 at the first frame); see StepOutput.score
    # (B, C'+2P+1, n, n // 2 + 1) complex: template_spectra of the templates matched (P parts:
    # pixels, then learned features) at the FFT size of the normal (not wide) search, computed
    # whenever the templates change (RecurrentTracker.match_spectra); (B, 0) when matching is off
    spectra: Tensor

    def select(self, rows: Tensor) -> TrackerState:
        """The objects at ``rows`` (``(b,)`` indices) of every field."""
        return TrackerState(*(x[rows] for x in self))


class StepOutput(NamedTuple):
    """What one step saw and predicted, per object."""

    box: Tensor  # (B, 4) xyxy box b_t in pixels
    box_in_window: Tensor  # (B, 4) b_t^a, the box in the window's normalized coordinates
    window: Tensor  # (B, 4) xyxy window a_t the glimpse was cut at
    next_window: Tensor  # (B, 4) xyxy window a_{t+1} the localization head chose (its mean)
    deltas: Tensor  # (B, 4) d_t = window_deltas(window, next_window)
    log_prob: Tensor  # (B,) log-density of the drawn next window (zeros: no policy draw)
    # (B,) confidence in [-1, 1]: the match's masked NCC times the template's share inside the
    # frame (matching models), else the feature correlation's peak (correlation models), else 1.
    score: Tensor


class ReadWindows(NamedTuple):
    """Every window one :meth:`RecurrentTracker.step` cuts a glimpse at (computed once)."""

    glimpse: Tensor  # (B, 4) xyxy window a_t of the conv net's glimpse
    match: Tensor  # (B, n, 4) xyxy match glimpse windows, one per scale; (B, 0, 4) when off
    wide: Tensor  # (B,) bool: the object is lost and searched lost_search times wider
    lost: tuple[bool, ...]  # ``wide`` read on the host, so that the step need not read it

    def union(self) -> Tensor:
        """``(N, 4)``: all the windows, for the part of the frame they read."""
        return torch.cat((self.glimpse, self.match.flatten(0, 1)))


class ClipOutput(NamedTuple):
    """A whole clip, frames ``1..T-1`` (frame 0 initializes): tensors ``(B, T-1, 4)``."""

    boxes: Tensor
    boxes_in_window: Tensor
    windows: Tensor
    next_windows: Tensor
    grid_inputs: tuple[Tensor, ...]  # with probe_grid: the (B, 4) leaf window of each sampling
    log_probs: Tensor | None = None  # (B, T-1) policy log-densities (location_std > 0, training)


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class RecurrentTracker(nn.Module):
    """The tracker of the module docstring, batched over objects.

    Submodules: ``conv`` (:class:`ConvNet`), ``rnn``, ``init_rnn`` (the first frame's memory
    ``s_0``), ``track_head``, ``loc_head``. The grid generator has no parameters (its gradient
    is the one reaching the window, recorded by training); :meth:`components` groups the
    parameters for the per-component gradient norms.
    """

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.conv = ConvNet(config=c)
        if c.match_features:
            self.match_net = MatchNet(config=c)
        if c.score_deep:  # ImageNet features, fixed (tools/add_deep_score.py loads them)
            self.deep = DeepFeatures(blocks=c.score_deep).requires_grad_(False)
        rnn_in = 2 * c.feature_size + 4 + c.correlation_size
        cell = nn.GRUCell if c.rnn_type == "gru" else nn.LSTMCell
        self.rnn = cell(rnn_in, c.hidden_size)
        self.init_rnn = nn.Linear(c.feature_size + 4, c.hidden_size)
        track_in = c.hidden_size + c.correlation_size + c.feature_size  # the head also sees f_t
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
    def glimpse(self, frames: Tensor | Frame, windows: Tensor) -> Tensor:
        """Glimpses ``(B, C, h, w)`` at xyxy ``windows`` ``(B, 4)`` of frames ``(B, C, H, W)``
        (or a :class:`Frame`)."""
        return cut_glimpses(frames, windows, self.config)

    def _check_frames(self, frames: Tensor | Frame, batch: int) -> Frame:
        """``frames`` as a :class:`Frame` whose pixels are ``(1, C, h, w)`` or ``(B, C, h, w)``."""
        frame = frames if isinstance(frames, Frame) else Frame.whole(frames)
        pixels = frame.pixels
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(0)
        if pixels.dim() != 4 or pixels.shape[1] != self.config.in_channels:
            raise ValueError(
                f"frames must be (C, H, W) or (B, C, H, W) with C={self.config.in_channels}, "
                f"got {tuple(pixels.shape)}"
            )
        if pixels.shape[0] not in (1, batch):
            raise ValueError(f"frames batch must be 1 or {batch}, got {pixels.shape[0]}")
        if not isinstance(frames, Frame):
            return Frame.whole(pixels)
        return frame._replace(pixels=pixels)

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

    def match_windows(
        self, windows: Tensor, boxes: Tensor, wide: Tensor, aspects: bool = False
    ) -> Tensor:
        """``(B, n, 4)`` xyxy windows of the match glimpses: centred on ``windows``, one per
        ``match_scales`` entry, then with ``aspects`` the two stretched ones
        (:meth:`TrackerConfig.match_stretches`). A match glimpse samples ``match_size /
        (context * long side of the box * scale)`` pixels per frame pixel (the template's
        resolution; per axis for a stretched one) and is ``search_cells(wide) + match_kernel``
        samples wide."""
        c = self.config
        cx, cy, _, _ = convert_boxes(windows, "xyxy", "cxcywh").unbind(-1)
        _, _, w, h = convert_boxes(boxes, "xyxy", "cxcywh").unbind(-1)
        side = (c.context * torch.maximum(w, h)).clamp(min=c.min_window)  # (B,)
        k = c.match_kernel
        samples = torch.where(wide, c.search_cells(True) + k, c.search_cells(False) + k)  # (B,)
        side = side * samples.to(side.dtype) / c.match_size
        stretches = side.new_tensor(c.match_stretches(aspects))  # (n, 2)
        sides = side[:, None, None] * stretches  # (B, n, 2)
        centre = torch.stack((cx, cy), -1)[:, None].expand(-1, len(stretches), -1)
        return convert_boxes(torch.cat((centre, sides), -1), "cxcywh", "xyxy")

    def elongated(self, boxes: Tensor) -> Tensor:
        """``(B,)`` bool: xyxy ``boxes`` searched at stretched aspects too (``match_aspect``),
        those whose long side is at least ``aspect_elongation`` times their short side."""
        wh = boxes[:, 2:] - boxes[:, :2]
        long = wh.amax(1) >= self.config.aspect_elongation * wh.amin(1)
        return long & (self.config.match_aspect > 0)

    def first_windows(self, boxes: Tensor) -> Tensor:
        """``(B, 4)`` xyxy: the window :meth:`init_state` reads around each of ``boxes``."""
        return self._clamp_window(target_windows(boxes, self.config.context))

    def read_windows(self, state: TrackerState) -> ReadWindows:
        """The windows the next :meth:`step` of ``state`` reads; lost objects (score below
        ``lost_score``) are searched wider. Which objects are lost is read back to the host
        here, once, so that the step itself never waits on the device for it."""
        wide = state.score < self.config.lost_score  # (B,)
        if not self.config.match_aspect:
            return self._read_windows(state, wide, tuple(wide.tolist()))
        # the one read back: which objects are lost, and whether any is elongated
        *lost, long = torch.cat((wide, self.elongated(state.box).any()[None])).tolist()
        return self._read_windows(state, wide, tuple(lost), long)

    def _read_windows(
        self, state: TrackerState, wide: Tensor, lost: tuple[bool, ...], aspects: bool = False
    ) -> ReadWindows:
        """:meth:`read_windows` with the objects searched wide given: ``wide`` on the device,
        ``lost`` the same on the host; ``aspects``: the match glimpses include the stretched
        aspects (some object is elongated)."""
        if not self.config.match_size:
            return ReadWindows(state.window, state.window.new_zeros(len(wide), 0, 4), wide, lost)
        match = self.match_windows(state.window, state.box, wide, aspects)
        return ReadWindows(state.window, match, wide, lost)

    def match_maps(self, glimpses: Tensor) -> Tensor:
        """Match glimpses ``(B, C, G, G)`` with, when learned matching is on, their
        :class:`~ratrack.model.convnet.MatchNet` features as more channels."""
        if not self.config.match_features:
            return glimpses
        return torch.cat((glimpses, self.match_net(glimpses)), 1)

    def _parts(self, x: Tensor) -> list[Tensor]:
        """``x`` ``(B, C', ...)`` split into its pixel part and, with learned matching, its
        learned part (channels, :meth:`_channels`)."""
        return list(x.split(self._channels(), 1))

    def _channels(self) -> tuple[int, ...]:
        """The channel count of each part of :meth:`_parts`."""
        c = self.config
        return (c.in_channels, c.match_features) if c.match_features else (c.in_channels,)

    def _blend(self, nccs: Tensor) -> Tensor:
        """``nccs`` ``(B, P, ...)``, the NCC of each part of :meth:`_channels`: the pixel part,
        or with learned matching ``match_blend`` of the way to the learned part."""
        b = self.config.match_blend
        return nccs[:, 0] if nccs.shape[1] == 1 else (1 - b) * nccs[:, 0] + b * nccs[:, 1]

    def match_response(
        self,
        maps: Tensor,
        valid: Tensor,
        templates: Tensor,
        mask: Tensor,
        cells: int | None,
        spectra: Tensor | None = None,
        square: tuple[int, int, int, int] | None = None,
    ) -> Tensor:
        """Each placement's match of ``templates`` ``(B', C', k, k)`` (pixel templates, then the
        learned ones; see :meth:`match_maps`) with ``mask`` over ``maps`` ``(B, C', h, w)``
        (:meth:`match_maps`; each template serves ``B / B'`` consecutive maps, e.g. the scales
        of one object) whose samples inside the frame are ``valid``: the pixel NCC blended
        ``match_blend`` of the way to the learned NCC, times the template's share inside the
        frame, and -1 where that share is below ``min_visible``: ``(B, h-k+1, w-k+1)``.

        ``cells``: the search glimpse's side when the ring around it is zero padding
        (:func:`zero_padded`, the implicit motion prior); ``None``: no padding. ``spectra``:
        :meth:`match_spectra` of ``templates`` when kept (at this glimpse's FFT size).
        ``square``: where that search glimpse lies in ``maps`` cropped (:func:`zero_padded`)."""
        inside = None
        if cells is not None:
            maps, evidence = zero_padded(maps, valid, cells, square)
            valid, inside = evidence, valid
        nccs, visible = masked_nccs(
            maps, valid, templates, mask, self._channels(), inside, spectra=spectra
        )  # (B, P, G-k+1, G-k+1), one part's NCC each
        ncc = self._blend(nccs)
        return torch.where(visible >= self.config.min_visible, ncc * visible, -1.0)

    def match_score_at(
        self,
        patches: Tensor,
        valid: Tensor,
        templates: Tensor,
        mask: Tensor,
        deep: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """:meth:`match_response` without padding at one placement per object, whose maps
        under the template (:meth:`match_maps`) are ``patches`` ``(B, C', k, k)``, ``valid``
        where inside the frame, summed directly (:func:`patch_nccs`): ``(B,)``. ``deep``: the
        ImageNet features under the placement ``(B, D, k, k)`` and their template, a third part
        (``score_deep``); with ``score_weights`` the parts are weighed by them."""
        nccs, shown = patch_nccs(patches, valid, templates, mask, self._channels())
        if deep is not None:
            nccs = torch.cat((nccs, patch_nccs(deep[0], valid, deep[1], mask)[0]), 1)
        weights = self.config.score_weights
        ncc = (nccs * nccs.new_tensor(weights)).sum(1) if weights else self._blend(nccs)
        return torch.where(shown >= self.config.min_visible, ncc * shown, -1.0)

    def deep_templates(self, glimpses: Tensor, mask: Tensor) -> Tensor:
        """The first frame's ImageNet feature templates ``(B, D, k, k)`` (``score_deep``) from
        the central ``k`` square of ``glimpses`` ``(B, C, S, S)`` under ``mask``."""
        k, top = mask.shape[-1], (glimpses.shape[-1] - mask.shape[-1]) // 2
        at = torch.full((len(glimpses), 2), top, dtype=torch.long, device=mask.device)
        return template_kernels(self.deep.under(glimpses, at, k), (k, k), mask)

    def match_templates(self, glimpses: Tensor, mask: Tensor) -> Tensor:
        """Templates ``(B, C', k, k)`` from the central ``k`` square of ``glimpses`` ``(B, C, S,
        S)`` (or of patches ``k`` wide) masked by ``mask`` ``(B, 1, k, k)``: the pixel template
        and, with learned matching, the feature template, each zero-mean and unit-norm."""
        return self.templates_of(self.match_maps(glimpses), mask)

    def templates_of(self, maps: Tensor, mask: Tensor) -> Tensor:
        """:meth:`match_templates` of maps :meth:`match_maps` made already."""
        k = mask.shape[-1]
        return torch.cat([template_kernels(m, (k, k), mask) for m in self._parts(maps)], 1)

    def match_spectra(self, templates: Tensor, mask: Tensor, wide: bool = False) -> Tensor:
        """``(B, C' + 2P + 1, n, n // 2 + 1)``: :func:`template_spectra` of ``templates``
        ``(B, C', k, k)`` in their ``P`` parts (pixels and, with learned matching, features) with
        their ``mask``, at the FFT size of the normal (or ``wide``) search's glimpses. The state
        keeps the normal one, recomputed whenever the templates change."""
        return template_spectra(templates, mask, self._search_fft(wide), self._channels())

    def _search_fft(self, wide: bool) -> tuple[int, int]:
        """The FFT size of the normal (or ``wide``) search's match glimpses."""
        side = self.config.search_cells(wide) + self.config.match_kernel
        return fft_size(side, side)

    def match_spectra_shape(self, wide: bool = False) -> tuple[int, int]:
        """The last two dimensions of :meth:`match_spectra`."""
        n_h, n_w = self._search_fft(wide)
        return n_h, n_w // 2 + 1

    def _search(
        self,
        glimpses: Tensor,
        valid: Tensor,
        templates: Tensor,
        mask: Tensor,
        cells: int,
        spectra: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, tuple[int, int]]:
        """:meth:`match_response` of match ``glimpses`` ``(B, C, G, G)`` (``cells`` placements
        a side) inside the frame where ``valid``: ``(maps, valid, response, (top, left))``, the
        maps and validity of the part matched, from row ``top`` and column ``left``, and the
        response ``(B, cells + 1, cells + 1)``. Only the rows and columns that placements
        touching the frame read (:func:`frame_reach`) are matched, when that saves a quarter of
        the work or more (glimpses reaching far past the frame's edges, a lost object's wide
        ones above all, shrink several times): the same scores to float rounding, the other
        placements -1 as ever. ``spectra`` (:meth:`match_spectra`, or None) serve the whole."""
        k, G = self.config.match_kernel, glimpses.shape[-1]
        padded = cells if self.config.match_padding == "zeros" else None
        # The reach is read back from the device: on a CPU that costs nothing; elsewhere the
        # whole glimpse is matched rather than wait for it.
        on_cpu = glimpses.device.type == "cpu"
        (top, bottom), (left, right) = frame_reach(valid, k) if on_cpu else ((0, G), (0, G))
        if (bottom - top) * (right - left) > 0.75 * G * G:  # little to save: all of it
            maps = self.match_maps(glimpses)
            response = self.match_response(maps, valid, templates, mask, padded, spectra)
            return maps, valid, response, (0, 0)
        glimpses = glimpses[:, :, top:bottom, left:right]
        valid = valid[:, :, top:bottom, left:right]
        maps = self.match_maps(glimpses)
        square = (k // 2 - top, k // 2 - left, k // 2 + cells - top, k // 2 + cells - left)
        part = self.match_response(maps, valid, templates, mask, padded, None, square)
        response = part.new_full((part.shape[0], cells + 1, cells + 1), -1.0)
        response[:, top : top + part.shape[1], left : left + part.shape[2]] = part
        return maps, valid, response, (top, left)

    @torch.no_grad()
    def _match(
        self, frame: Frame, state: TrackerState, reads: ReadWindows
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """:meth:`_search_reads` of ``reads``; with ``lost_compare`` each lost object is
        searched normally too, and its wide search's match is kept only where it scores more
        than ``lost_margin`` higher than the normal one's."""
        found = self._search_reads(frame, state, reads)
        if not (self.config.lost_compare and any(reads.lost)):
            return found
        rows = torch.tensor([i for i, x in enumerate(reads.lost) if x], device=state.box.device)
        near = state.select(rows)  # the lost objects, (b, ...) each
        aspects = reads.match.shape[1] > len(self.config.match_scales)
        calm = self._read_windows(
            near, torch.zeros_like(rows, dtype=torch.bool), (False,) * len(rows), aspects
        )
        pixels = frame.pixels if frame.pixels.shape[0] == 1 else frame.pixels[rows]
        normal = self._search_reads(frame._replace(pixels=pixels), near, calm)
        picked = normal[2] + self.config.lost_margin >= found[2][rows]  # (b,) normal kept

        def merged(wide: Tensor | None, near_out: Tensor | None) -> Tensor | None:
            if wide is None or near_out is None:
                return None
            keep = picked.view(-1, *[1] * (near_out.dim() - 1))  # nothing read back
            return wide.index_copy(0, rows, torch.where(keep, near_out, wide[rows]))

        return tuple(merged(*pair) for pair in zip(found, normal, strict=True))

    def _search_reads(
        self, frame: Frame, state: TrackerState, reads: ReadWindows
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Template matching: the matched boxes ``(B, 4)``, the match features ``(B, 4)``
        (displacement from the window's centre in search-window sides of ``match_size`` cells,
        peak, log scale), the scores ``(B,)`` and the matched patches ``(B, C' + 1, k, k)``:
        :meth:`match_maps` under the chosen placement at the template's resolution, and as the
        last channel which of them lie inside the frame (all zeros where nothing matched; None
        without a template memory).

        Each match glimpse is scored by :meth:`match_response` at every placement of the
        template wholly inside it. The best peak over the scales (those other than 1 discounted
        by ``match_penalty``) places the box; its size is the last box's times that scale.
        Objects searched wide and normally are scored in two groups (their glimpses differ in
        size); when all objects are in one group (the usual case) it runs on the whole batch
        without selecting rows.

        With ``match_padding="zeros"`` each glimpse's ring beyond its central ``search_cells``
        square is zero padding (:func:`zero_padded`): placements are ranked, and the match
        features' peak taken, with it (the original matcher's implicit motion prior); the score
        is the chosen placement's match against the frame's pixels alone, summed at that one
        placement (:func:`patch_nccs`)."""
        c = self.config
        B, S, k = state.box.shape[0], c.match_size, c.match_kernel
        memory, first, mask, deep_first = self._templates(state)
        templates = self._matched_templates(memory, first)
        aspects = reads.match.shape[1] > len(c.match_scales)  # stretched glimpses read too
        scales = state.box.new_tensor(c.match_stretches(aspects))  # (n, 2) x and y factors
        discount = state.box.new_tensor(c.match_discounts(aspects))  # (n,)
        if len(set(reads.lost)) < 2:  # one group, all rows
            groups: list[tuple[bool, Tensor | None]] = [(any(reads.lost), None)]
        else:  # row numbers from the host: nothing is read back from the device
            groups = [
                (
                    w,
                    torch.tensor(
                        [i for i, x in enumerate(reads.lost) if x == w], device=scales.device
                    ),
                )
                for w in (False, True)
            ]
        if len(groups) == 1:  # the group's results are the outputs
            matched = features = score = patches = None
        else:
            matched, features = state.box.clone(), state.box.new_zeros(B, 4)
            score = state.score.clone()
            patches = mask.new_zeros(B, memory.shape[1] + 1, k, k) if c.template_rate > 0 else None
        padded = c.match_padding == "zeros"
        for wide, rows in groups:
            pick_rows = slice(None) if rows is None else rows  # (b,) rows of this group
            b, cells = B if rows is None else len(rows), c.search_cells(wide)
            G = cells + k
            # the scales searched: all, or for lost objects with lost_one_scale the one nearest 1
            one = c.unit_scale
            kept = slice(one, one + 1) if wide and c.lost_one_scale else slice(None)
            searched = reads.match[pick_rows][:, kept]  # (b, n, 4)
            n = searched.shape[1]
            windows = searched.flatten(0, 1)  # (b n, 4)
            pixels = frame.pixels
            if pixels.shape[0] == 1:
                pixels = pixels.expand(b * n, -1, -1, -1)  # one frame shared without copy
            else:
                pixels = pixels[pick_rows].repeat_interleave(n, 0)
            glimpses = cut_glimpses(frame._replace(pixels=pixels), windows, c, (G, G))
            valid = valid_masks(windows, (G, G), frame.size)  # (b n, 1, G, G)
            spectra = None  # masked_ncc transforms the templates itself
            if state.spectra.shape[-2:] == self.match_spectra_shape(wide):
                spectra = state.spectra[pick_rows]  # kept since the templates last changed
            maps, valid, response, (top, left) = self._search(
                glimpses, valid, templates[pick_rows], mask[pick_rows], cells, spectra
            )  # response (b n, cells + 1, cells + 1); one template per object, n scales
            ranked = self._ranked(response, wide)  # places the box; the score is the response
            response, ranked = response.view(b, n, -1), ranked.view(b, n, -1)  # (b, n, cells'^2)
            peaks = ranked.amax(2) * discount[kept]  # (b, n)
            if aspects:  # the stretched aspects count only for elongated boxes
                stretched = scales[kept, 0] != scales[kept, 1]  # (n,)
                barred = (~self.elongated(state.box[pick_rows]))[:, None] & stretched
                peaks = peaks.masked_fill(barred, -torch.inf)  # (b, n)
            best = peaks.argmax(1)  # (b,)
            rows_b = torch.arange(b, device=best.device)
            where = ranked[rows_b, best].argmax(1)  # (b,)
            peak = response[rows_b, best].gather(1, where[:, None])  # (b, 1)
            at = torch.stack((where // (cells + 1), where % (cells + 1)), -1)  # (b, 2) row, col
            shift = at.flip(-1).to(peak.dtype) - cells / 2  # (b, 2) x, y cells from the centre
            search = searched[rows_b, best]  # (b, 4)
            scale = scales[kept][best]  # (b, 2)
            centre = self._placed(search, shift, G, scale[:, 1] / scale[:, 0])
            last = state.box[pick_rows]  # (b, 4)
            _, _, w, h = convert_boxes(last, "xyxy", "cxcywh").unbind(-1)
            box = torch.stack((centre[:, 0], centre[:, 1], w * scale[:, 0], h * scale[:, 1]), -1)
            # no placement with enough of the template inside the frame: the box stays put
            none = peak[:, 0] <= -1
            box = torch.where(none[:, None], last, convert_boxes(box, "cxcywh", "xyxy"))
            shift = torch.where(none[:, None], 0.0, shift)
            found = torch.cat((shift / S, peak, scale.log().mean(1, keepdim=True)), 1)
            pick = best + rows_b * n  # (b,) the chosen scale's glimpse of each object
            patch = None  # what the template memory moves to; cut only when there is one
            if c.template_rate > 0 or padded or c.score_first:
                # the maps and their validity under the chosen placement, cut from the chosen
                # glimpses in place: (b, C' + 1, k, k)
                # in the maps matched: a placement that scored lies in them; one that did not
                # (nothing matched, at is the first placement) moves to their first
                at_crop = (at - at.new_tensor([top, left])).clamp(min=0)
                cut = torch.cat(
                    (patches_at(maps, pick, at_crop, k), patches_at(valid, pick, at_crop, k)), 1
                )  # (b, C' + 1, k, k)
            if c.template_rate > 0:
                patch = torch.where(none[:, None, None, None], 0.0, cut)  # (b, C'+1, k, k)
            if padded or c.score_first:
                # The padding is a motion prior, not evidence: the score is the match at the
                # chosen placement against the frame's own pixels (a blank frame scores low),
                # with score_first against the first frame's template: the placement is the
                # whole of the cut patch.
                scored = first if c.score_first else templates
                deep = None
                if c.score_deep:  # ImageNet features under the chosen placement
                    rows_m, cols_m = maps.shape[-2:]  # the part of the glimpses matched
                    seen = glimpses[pick, :, top : top + rows_m, left : left + cols_m]
                    deep = (self.deep.under(seen, at_crop, k), deep_first[pick_rows])
                peak = self.match_score_at(
                    cut[:, :-1], cut[:, -1:], scored[pick_rows], mask[pick_rows], deep
                )[:, None]
            if rows is None:
                matched, features, score, patches = box, found, peak[:, 0], patch
            else:
                matched[rows], features[rows], score[rows] = box, found, peak[:, 0]
                if patch is not None:
                    patches[rows] = patch
        return matched, features, score, patches

    def _ranked(self, response: Tensor, wide: bool) -> Tensor:
        """What ranks the placements of ``response`` ``(B, cells + 1, cells + 1)``: the
        response itself, or in a normal (not ``wide``) search with ``match_window`` less
        towards its edges by a Hann window."""
        c = self.config
        if c.match_window <= 0 or wide:
            return response
        cells = response.shape[-1] - 1
        hann = torch.hann_window(cells + 3, periodic=False, dtype=response.dtype)[1:-1]
        penalty = c.match_window * (1 - hann[:, None] * hann[None, :])  # (cells + 1,) ^ 2
        return torch.where(response > -1, response - penalty, response)

    @staticmethod
    def _placed(search: Tensor, shift: Tensor, G: int, ratio: Tensor) -> Tensor:
        """``(B, 2)`` frame centres of placements ``shift`` ``(B, 2)`` x, y cells from the
        centre of match glimpses ``G`` samples wide at xyxy ``search``, stretched ``ratio``
        (height to width; exactly 1 unless stretched). A cell's height comes from its width
        and the stretch, so that an unstretched glimpse's two are the very same number."""
        cell = ((search[:, 2] - search[:, 0]) / G)[:, None] * torch.stack(
            (torch.ones_like(ratio), ratio), -1
        )
        return (search[:, :2] + search[:, 2:]) / 2 + shift * cell

    def locate_windows(self, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """The windows :meth:`locate` reads for xyxy ``boxes`` ``(B, 4)``: where their
        templates are cut (:meth:`first_windows`) and the normal search's scale-1 match
        glimpse around them, each ``(B, 4)``."""
        windows = self.first_windows(boxes)
        normal = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
        return windows, self.match_windows(windows, boxes, normal)[:, self.config.unit_scale]

    @torch.no_grad()
    def locate(self, source: Frame, boxes: Tensor, target: Frame) -> Tensor:
        """``(B, 2)`` centres in ``target`` where the objects at xyxy ``boxes`` in ``source``
        match best: their templates cut as :meth:`init_state` cuts them, searched at scale 1
        in the normal search glimpse around each box and ranked as a step ranks (the template
        memory, other scales, the RNN and heads take no part). NaN where no placement shows
        enough of the template inside ``target``. The jump check's way back
        (:class:`~ratrack.track.online.Tracker`): one match glimpse per object, a small part
        of a step's cost. Needs matching (``match_size``)."""
        c, k = self.config, self.config.match_kernel
        windows, search = self.locate_windows(boxes)
        _, templates, mask = self._first_templates(
            source, windows, boxes_in_windows(boxes, windows)
        )
        cells = c.search_cells(False)
        G = cells + k
        pixels = target.pixels.expand(len(boxes), -1, -1, -1)
        glimpses = cut_glimpses(target._replace(pixels=pixels), search, c, (G, G))
        valid = valid_masks(search, (G, G), target.size)
        _, _, response, _ = self._search(glimpses, valid, templates, mask, cells, None)
        ranked = self._ranked(response, False).flatten(1)  # (B, (cells + 1) ^ 2)
        where = ranked.argmax(1)
        at = torch.stack((where % (cells + 1), where // (cells + 1)), -1)  # (B, 2) x, y
        centre = self._placed(search, at.to(search.dtype) - cells / 2, G, search.new_ones(len(at)))
        found = response.flatten(1).gather(1, where[:, None]) > -1  # (B, 1)
        return torch.where(found, centre, torch.nan)

    def _matched_templates(self, memory: Tensor, first: Tensor) -> Tensor:
        """The templates matched: the memory, or with ``template_anchor`` its blend with the
        first frame's templates (each part unit-norm)."""
        c = self.config
        if c.template_rate > 0 and c.template_anchor > 0:
            return self._unit_parts(c.template_anchor * first + (1 - c.template_anchor) * memory)
        return memory

    def _updated_templates(
        self, state: TrackerState, patches: Tensor, score: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``state.match`` with each confident object's templates (score at least
        ``update_score``, every cell of its mask inside the frame) moved ``template_rate`` of the
        way to the patch it matched (:meth:`templates_of` over the same mask), then normalized
        again: a memory of the target's recent look that the first frame anchors; and the
        :meth:`match_spectra` of the templates now matched."""
        c = self.config
        memory, first, mask, deep_first = self._templates(state)
        maps, inside = patches[:, :-1], patches[:, -1:]
        seen = ((inside < 0.5) & (mask > 0)).flatten(1).any(1).logical_not()  # (B,)
        rate = c.template_rate
        blend = self._unit_parts((1 - rate) * memory + rate * self.templates_of(maps, mask))
        update = (seen & (score >= c.update_score))[:, None, None, None]
        memory = torch.where(update, blend, memory)
        spectra = self.match_spectra(self._matched_templates(memory, first), mask)
        return torch.cat((memory, first, mask, deep_first), 1).flatten(1), spectra

    def _templates(self, state: TrackerState) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``state.match`` unpacked: the template memory, the first frame's templates (each
        ``(B, C', k, k)``, see :meth:`match_templates`), their mask ``(B, 1, k, k)`` and the
        first frame's ImageNet feature templates ``(B, D, k, k)`` (``D = 0`` without
        ``score_deep``)."""
        k, n = self.config.match_kernel, sum(self._channels())
        packed = state.match.view(state.match.shape[0], -1, k, k)  # (B, 2C' + 1 + D, k, k)
        return (
            packed[:, :n],
            packed[:, n : 2 * n],
            packed[:, 2 * n : 2 * n + 1],
            packed[:, 2 * n + 1 :],
        )

    def _unit_parts(self, templates: Tensor) -> Tensor:
        """``templates`` ``(B, C', k, k)`` with the pixel part and the learned part each
        scaled to unit norm."""
        return torch.cat(
            [
                p / p.flatten(1).norm(dim=1).clamp(min=1e-6)[:, None, None, None]
                for p in self._parts(templates)
            ],
            1,
        )

    def _look(self, frame: Frame, windows: Tensor) -> tuple[Tensor, Tensor | None]:
        """Glimpse features ``(B, F)`` and, with correlation on, the feature map it compares."""
        pixels = frame.pixels.expand(windows.shape[0], -1, -1, -1)  # shared without copy
        glimpses = self.glimpse(frame._replace(pixels=pixels), windows)
        if not self.config.correlation_stage:
            return self.conv(glimpses), None
        return self.conv.features_and_map(glimpses, self.config.correlation_stage)

    def _first_templates(
        self, frame: Frame, windows: Tensor, rel: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The match glimpses ``(B, C, S, S)`` at ``windows`` of ``frame``, the templates their
        central ``k`` square gives (:meth:`match_templates`) and the templates' mask ``(B, 1,
        k, k)``: the cells inside the box (``rel``, in the windows' coordinates) and inside the
        frame."""
        size, k = self.config.match_size, self.config.match_kernel
        pixels = frame.pixels.expand(len(windows), -1, -1, -1)  # shared without copy
        glimpses = cut_glimpses(frame._replace(pixels=pixels), windows, self.config, (size, size))
        top = (size - k) // 2
        inside = valid_masks(windows, (size, size), frame.size)[:, :, top : top + k, top : top + k]
        mask = box_masks(rel, size, k) * inside
        return glimpses, self.match_templates(glimpses, mask), mask

    # -- recurrence --------------------------------------------------------------------------
    def init_state(self, frames: Tensor | Frame, boxes: Tensor) -> TrackerState:
        """Start tracking xyxy ``boxes`` ``(B, 4)`` in ``frames`` (``(B, C, H, W)``, one frame
        ``(C, H, W)`` or a :class:`Frame`).

        The glimpse at the window around each box gives the template ``f_0`` and, with the box
        in that window, the initial memory ``s_0 = tanh(W_0 [f_0, b_0^a])``. The matching
        template counts only its cells inside the box and inside the frame.
        """
        check_boxes(boxes)
        if boxes.dim() != 2:
            raise ValueError(f"boxes must be (B, 4), got {tuple(boxes.shape)}")
        B = boxes.shape[0]
        frame = self._check_frames(frames, B)
        boxes = boxes.to(frame.pixels.dtype)
        windows = self.first_windows(boxes)
        template, maps = self._look(frame, windows)  # (B, F), (B, c, h, w) or None
        kernel = template.new_zeros(B, 0)
        if maps is not None:
            kernel = template_kernels(maps, self.config.correlation_kernel).flatten(1)
        rel = boxes_in_windows(boxes, windows)  # (B, 4)
        match = spectra = template.new_zeros(B, 0)
        if self.config.match_size:
            with torch.no_grad():
                glimpses, templates, mask = self._first_templates(frame, windows, rel)
                deep = (
                    self.deep_templates(glimpses, mask) if self.config.score_deep else mask[:, :0]
                )
                match = torch.cat((templates, templates, mask, deep), 1).flatten(1)
                spectra = self.match_spectra(templates, mask)
        hidden = torch.tanh(self.init_rnn(torch.cat((template, rel), 1)))  # (B, D)
        cell_size = self.config.hidden_size if self.config.rnn_type == "lstm" else 0
        cell = hidden.new_zeros(B, cell_size)
        score = hidden.new_ones(B)
        return TrackerState(hidden, cell, windows, boxes, template, kernel, match, score, spectra)

    def step(
        self,
        frames: Tensor | Frame,
        state: TrackerState,
        *,
        reads: ReadWindows | None = None,
        grid_window: Tensor | None = None,
    ) -> tuple[StepOutput, TrackerState]:
        """Track every object of ``state`` into ``frames`` (``(B, C, H, W)``, one frame or a
        :class:`Frame`, e.g. the crop that ``reads`` needs).

        ``reads`` is :meth:`read_windows` of ``state`` when the caller computed it already (to
        crop the frame). ``grid_window`` (same values as ``state.window``) lets training sample
        the glimpse at a separate leaf tensor, whose gradient is the grid generator's gradient
        norm. A matching model holds an object's box where it was when its score falls below
        ``hold_score``; below ``lost_score`` the next step searches wider (:meth:`read_windows`).
        """
        c = self.config
        B = state.window.shape[0]
        frame = self._check_frames(frames, B)
        reads = self.read_windows(state) if reads is None else reads
        window = state.window
        sample_at = window if grid_window is None else grid_window
        features, maps = self._look(frame, sample_at)  # (B, F), (B, c, h, w) or None
        compared = features.new_zeros(B, 0)  # (B, correlation_size)
        score = features.new_ones(B)
        if maps is not None:
            kernels = state.kernel.view(B, maps.shape[1], *c.correlation_kernel)
            compared = response_features(correlation_response(maps, kernels))
            score = compared[:, -1].detach()  # the response's peak
        if c.match_size:
            matched, match_features, score, patches = self._match(frame, state, reads)
            compared = torch.cat((compared, match_features), 1)
        prev = boxes_in_windows(state.box, window).clamp(-3, 3)  # (B, 4)
        x = torch.cat((features, state.template, prev, compared), 1)  # (B, 2F + 4 + corr)
        if c.rnn_type == "gru":
            hidden, cell = self.rnn(x, state.hidden), state.cell
        else:
            hidden, cell = self.rnn(x, (state.hidden, state.cell))
        head_in = torch.cat((hidden, compared, features), 1)  # (B, D + corr + F)
        if c.match_size:  # deltas from the matched box
            box = apply_window_deltas(matched, self._residual(self.track_head(head_in)))
            rel = boxes_in_windows(box, window)
        else:
            rel = torch.tanh(self.track_head(head_in))  # (B, 4)
            box = boxes_from_windows(rel, window)
        if c.size_rate < 1:
            box = self._damp_size(box, state.box)
        if c.match_size:  # no evidence: the box stays where the object was last found
            box = torch.where((score >= c.hold_score)[:, None], box, state.box)
        if c.size_rate < 1 or c.match_size:
            rel = boxes_in_windows(box, window)
        residual = self._residual(self.loc_head(torch.cat((hidden, rel), 1)))  # (B, 4)
        anchor = self._clamp_window(target_windows(box.detach(), c.context))  # w(b_t)
        next_window = self._clamp_window(apply_window_deltas(anchor, residual))
        deltas = window_deltas(window, next_window)  # d_t relative to the current window
        carried_window = next_window.detach()  # no gradient through the window chain (stable)
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
        carried_box = box.detach()
        match, spectra = state.match, state.spectra
        if c.match_size and c.template_rate > 0:
            match, spectra = self._updated_templates(state, patches, score)
        out = StepOutput(box, rel, window, next_window, deltas, log_prob, score)
        return out, state._replace(
            hidden=hidden,
            cell=cell,
            window=carried_window,
            box=carried_box,
            score=score,
            match=match,
            spectra=spectra,
        )

    def forward(
        self, frames: Tensor, first_boxes: Tensor, *, probe_grid: bool = False
    ) -> ClipOutput:
        """Track a clip: ``frames`` ``(B, T, C, H, W)``, ``first_boxes`` ``(B, 4)`` in frame 0.

        Returns predictions for frames ``1..T-1`` (:class:`ClipOutput`, each ``(B, T-1, 4)``).
        With ``probe_grid`` every glimpse is sampled at a leaf copy of its window (values equal;
        the window chain is detached between steps, so the gradients are too), kept in
        ``grid_inputs``.
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
        """Parameters per component, for per-component gradient norms: ``conv_net``
        (``conv``), ``rnn`` (``rnn`` and ``init_rnn``), ``tracking_head`` (``track_head``),
        ``localization_head`` (``loc_head``), with learned matching ``match_net``. Training
        adds ``grid_generator``, the gradient reaching the windows."""
        groups = {
            "conv_net": list(self.conv.parameters()),
            "rnn": list(self.rnn.parameters()) + list(self.init_rnn.parameters()),
            "tracking_head": list(self.track_head.parameters()),
            "localization_head": list(self.loc_head.parameters()),
        }
        if self.config.match_features:
            groups["match_net"] = list(self.match_net.parameters())
        return groups
