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


def _smooth(n: int) -> int:
    """The smallest integer >= ``n`` whose prime factors are all 2, 3 or 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def zero_padded(
    glimpses: Tensor, valid: Tensor, cells: int, square: tuple[int, int, int, int] | None = None
) -> tuple[Tensor, Tensor]:
    """A match glimpse ``(B, C, G, G)`` with its validity ``valid`` ``(B, 1, G, G)`` as the
    original matcher saw it: only its central ``cells`` square is the search glimpse, and the
    ring around it (half a template wide) is that glimpse's zero padding. Returns the glimpse
    with the ring set to zero and the evidence mask for :func:`masked_ncc`: the ring always
    counts (as zero-valued pixels, wherever it lies), the central square where it lies inside
    the frame. Pass ``valid`` itself as ``masked_ncc``'s ``inside``, so the visible share
    still counts the frame only. ``square``: where the central square's rows and columns
    ``(top, left, bottom, right)`` (ends excluded) lie when the glimpses are a crop of the
    whole ones (:meth:`RecurrentTracker._search`); by default at the centre."""
    if square is None:
        edge = (glimpses.shape[-1] - cells) // 2
        square = (edge, edge, edge + cells, edge + cells)
    top, left, bottom, right = (max(0, side) for side in square)
    core = torch.zeros_like(valid)
    core[:, :, top:bottom, left:right] = 1
    return glimpses * core, valid * core + 1 - core


def frame_reach(valid: Tensor, k: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The rows ``(top, bottom)`` and columns ``(left, right)`` (ends excluded) of glimpses
    whose samples inside the frame are ``valid`` ``(B, 1, h, w)`` that the placements of a
    ``k`` wide template read when they cover a sample inside the frame in any of the glimpses.
    Every other placement has no share inside the frame (:func:`masked_ncc`'s ``visible`` is
    0), so matching that part of the glimpses alone gives every score that can count. All of
    an axis when no sample is inside."""
    reach = []
    for axis, side in ((3, valid.shape[2]), (2, valid.shape[3])):  # rows, then columns
        inside = valid.amax((0, 1, axis)).nonzero()
        if not len(inside):
            reach.append((0, side))
            continue
        first, last = int(inside[0, 0]), int(inside[-1, 0])
        reach.append((max(0, first - k + 1), min(side, last + k)))
    return reach[0], reach[1]


def fft_size(h: int, w: int) -> tuple[int, int]:
    """The FFT size :func:`masked_ncc` correlates an ``h x w`` glimpse at: each side the
    smallest at least as long with prime factors 2, 3 and 5 only (a fast FFT). Circular
    correlation over it wraps only into the placements that run past the glimpse's edge, which
    are dropped."""
    return _smooth(h), _smooth(w)


def template_spectra(
    kernels: Tensor, mask: Tensor, size: tuple[int, int], parts: tuple[int, ...] | None = None
) -> Tensor:
    """The spectra :func:`masked_nccs` multiplies a glimpse's with: ``(B, C + 2P + 1, n_h, n_w
    // 2 + 1)`` complex, the real FFTs at ``size`` (from :func:`fft_size`) of the flipped
    ``kernels`` ``(B, C, k, k)``, then of each part's sum and sum of squares over its channels
    (``parts``: the channel count of each of the ``P`` parts, default one part of all ``C``),
    then of their ``mask`` ``(B, 1, k, k)``. They depend on the template alone: a tracker
    computes them once per template and FFT size, not per frame."""
    parts = parts or (kernels.shape[1],)
    sums = [
        stat
        for part in kernels.split(parts, 1)
        for stat in (part.sum(1, keepdim=True), part.square().sum(1, keepdim=True))
    ]
    templates = torch.cat((kernels, *sums, mask), 1).flip(-1, -2)  # (B, C + 2P + 1, k, k)
    # rfft2 at `size`, one axis at a time: the rows past the template's k are zeros, so the
    # first pass transforms k rows, not n_h (the same numbers). Contiguous as rfft2's output,
    # so that the products with it round alike.
    rows = torch.fft.rfft(templates, n=size[1], dim=-1)  # (B, C + 2P + 1, k, n_w // 2 + 1)
    return torch.fft.fft(rows, n=size[0], dim=-2).contiguous()


def masked_ncc(
    search: Tensor,
    valid: Tensor,
    kernels: Tensor,
    mask: Tensor,
    inside: Tensor | None = None,
    *,
    spectra: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Normalized cross-correlation of box-shaped templates over search glimpses, counting only
    the glimpse samples that lie inside the frame.

    ``search`` ``(B, C, h, w)`` with ``valid`` ``(B, 1, h, w)`` (ones inside the frame, see
    :func:`ratrack.model.glimpse.valid_masks`); ``kernels`` ``(B', C, k, k)`` and their ``mask``
    ``(B', 1, k, k)`` from :func:`template_kernels`, where ``B`` is a multiple of ``B'`` and
    each template serves ``B / B'`` consecutive glimpses (e.g. the scales of one object).
    Every placement of the template wholly inside the glimpse is scored ("valid" correlation,
    no padding): ``(B, h - k + 1, w - k + 1)``.

    At each placement the NCC runs over the cells where the template's mask and the frame's
    validity are both one (Padfield's masked NCC, 2012): with ``W`` those cells, ``n`` their
    count times ``C``, template ``t`` and search ``s``::

        ncc = (sum_W ts - sum_W t sum_W s / n) / sqrt((sum_W t^2 - (sum_W t)^2 / n)
                                                       (sum_W s^2 - (sum_W s)^2 / n))

    so padding outside the frame is never evidence. Returns ``ncc`` (0 where no cell is valid)
    and ``visible``, the share of the template's cells inside the frame at each placement
    (``(B, h', w')`` each). All six sums are correlations, computed in one batched FFT;
    ``spectra``, :func:`template_spectra` of the templates at :func:`fft_size` ``(h, w)``, saves
    transforming the templates again.

    ``inside`` ``(B, 1, h, w)``, when given, is the frame's validity for ``visible`` where it
    differs from ``valid`` (zero padding that counts as evidence but is not in the frame).
    """
    ncc, visible = masked_nccs(search, valid, kernels, mask, None, inside, spectra=spectra)
    return ncc[:, 0], visible


def masked_nccs(
    search: Tensor,
    valid: Tensor,
    kernels: Tensor,
    mask: Tensor,
    parts: tuple[int, ...] | None = None,
    inside: Tensor | None = None,
    *,
    spectra: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`masked_ncc` of each of ``P`` parts of the channels at once (``parts``: their
    channel counts, summing to ``C``; default one part), e.g. pixels and learned features:
    ``ncc`` ``(B, P, h', w')``, each part's NCC as if it were matched alone, and ``visible``
    ``(B, h', w')``. The parts share one forward and one inverse FFT, and the planes they have
    in common (the validity and the template's mask) are transformed once. ``spectra``:
    :func:`template_spectra` with the same ``parts``."""
    B, C, h, w = search.shape
    k = kernels.shape[-1]
    parts = parts or (C,)
    P = len(parts)
    size = fft_size(h, w)
    # The signals, written straight into the FFT's zero-padded input: each part's search
    # channels (centred, zero outside the frame), then each part's sum and sum of squares over
    # its channels, the validity and, when given, the frame's validity.
    planes = C + 2 * P + 1 + (inside is not None)
    signals = search.new_zeros(B, planes, *size)
    x = signals[:, :, :h, :w]  # (B, planes, h, w)
    framed = valid if inside is None else inside
    cells_framed = framed.sum((1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    first = 0
    for i, part in enumerate(search.split(parts, 1)):
        c = part.shape[1]
        # Subtracting one constant, the mean over the part's channels of the samples inside
        # the frame, changes no NCC and keeps the sums of squares small (a mean per channel
        # would: the template is zero-mean over its part's channels together, not per
        # channel). Zero padding is left out of it, so that a crop of the glimpse holding every
        # sample inside the frame subtracts the same constant (RecurrentTracker._search).
        count = (c * cells_framed).clamp(min=1)
        centre = (part * framed).sum((1, 2, 3), keepdim=True) / count
        s = (part - centre) * valid  # (B, c, h, w)
        x[:, first : first + c] = s
        x[:, C + 2 * i : C + 2 * i + 1] = s.sum(1, keepdim=True)
        x[:, C + 2 * i + 1 : C + 2 * i + 2] = s.square().sum(1, keepdim=True)
        first += c
    x[:, C + 2 * P] = valid[:, 0]
    if inside is not None:
        x[:, C + 2 * P + 1] = inside[:, 0]
    X = torch.fft.rfft2(signals)  # (B, planes, n_h, n_w // 2 + 1)
    if spectra is None:
        spectra = template_spectra(kernels, mask, size, parts)
    K = spectra  # (B', C + 2P + 1, n_h, n_w // 2 + 1)
    groups = K.shape[0]
    X = X.view(groups, B // groups, *X.shape[1:])  # (B', B / B', planes, n_h, n_w // 2 + 1)
    K = K[:, None]
    v, kmask = X[:, :, C + 2 * P], K[:, :, C + 2 * P]
    # Products, per part: sum_W t s, sum_W t, sum_W t^2, sum_W s, sum_W s^2; then for all
    # parts: |W| and the cells inside the frame.
    products = []
    first = 0
    for i, c in enumerate(parts):
        channels = slice(first, first + c)
        products += [
            (X[:, :, channels] * K[:, :, channels]).sum(2),  # s is zero outside the frame
            v * K[:, :, C + 2 * i],
            v * K[:, :, C + 2 * i + 1],
            X[:, :, C + 2 * i] * kmask,
            X[:, :, C + 2 * i + 1] * kmask,
        ]
        first += c
    products.append(v * kmask)
    if inside is not None:
        products.append(X[:, :, C + 2 * P + 1] * kmask)
    spectrum = torch.stack(products, 2).flatten(0, 1)  # (B, 5P + 1 (+1), n_h, n_w // 2 + 1)
    # irfft2 in its two passes, the second over the rows of placements alone (the same
    # numbers: torch's irfft2 runs these passes, but over every row, copying its input twice)
    rows = torch.fft.ifft(spectrum, dim=-2)[:, :, k - 1 : h]
    full = torch.fft.irfft(rows, n=size[1], dim=-1)[:, :, :, k - 1 : w]
    hr, wr = full.shape[-2:]
    dot, t1, t2, s1, s2 = full[:, : 5 * P].view(B, P, 5, hr, wr).unbind(2)  # (B, P, h', w')
    cells = full[:, 5 * P : 5 * P + 1].round()  # (B, 1, h', w')
    n = (cells * search.new_tensor(parts)[:, None, None]).clamp(min=1)  # (B, P, h', w')
    spread_t = (t2 - t1.square() / n).clamp(min=0)
    spread_s = (s2 - s1.square() / n).clamp(min=0)
    ncc = (dot - t1 * s1 / n) / ((spread_t * spread_s).sqrt() + 1e-6)
    # A patch whose spread is below a thousand rounding units of its sum of squares (1e-4 in
    # float32) is flat as far as these sums can tell (the spread is then mostly rounding): no
    # evidence either way, its NCC is 0, never the huge ratio of two rounding errors.
    flat_share = 1000 * torch.finfo(s2.dtype).eps
    flat = (spread_s <= flat_share * s2) | (spread_t <= flat_share * t2)
    ncc = torch.where((cells > 0) & ~flat, ncc.clamp(-1, 1), torch.zeros_like(ncc))
    framed_cells = full[:, 5 * P + 1].round() if inside is not None else cells[:, 0]
    shares = mask.sum((1, 2, 3)).clamp(min=1).repeat_interleave(B // groups)  # (B,)
    visible = framed_cells / shares[:, None, None]
    return ncc, visible


def patch_nccs(
    patches: Tensor,
    valid: Tensor,
    kernels: Tensor,
    mask: Tensor,
    parts: tuple[int, ...] | None = None,
) -> tuple[Tensor, Tensor]:
    """Each part's masked NCC of ``kernels`` ``(B, C, k, k)`` with ``patches`` of their size
    (the template's footprint at one placement), counting the cells where ``mask`` and
    ``valid`` (``(B, 1, k, k)`` each) are one: ``ncc`` ``(B, P)`` and ``visible`` ``(B,)``, as
    :func:`masked_nccs` gives at that placement (``parts`` likewise; default one part).

    The same NCC, computed the stable way: both sides centred on their mean over ``W`` before
    the products are summed (in float64), so a near-uniform patch cannot lose its spread to
    cancellation (the FFT's sums of squares can, by up to a few 1e-3 on real frames)."""
    parts = parts or (patches.shape[1],)
    cells = mask.double() * valid  # (B, 1, k, k): W
    count = cells.sum((1, 2, 3))  # (B,)
    nccs = []
    for patch, kernel in zip(patches.split(parts, 1), kernels.split(parts, 1), strict=True):
        n = (patch.shape[1] * count).clamp(min=1)[:, None, None, None]
        t, s = kernel.double() * cells, patch.double() * cells
        t = (t - t.sum((1, 2, 3), keepdim=True) / n) * cells  # centred on W, zero elsewhere
        s = (s - s.sum((1, 2, 3), keepdim=True) / n) * cells
        spread = (t.square().sum((1, 2, 3)) * s.square().sum((1, 2, 3))).sqrt()
        nccs.append((t * s).sum((1, 2, 3)) / (spread + 1e-6))
    ncc = torch.where(count[:, None] > 0, torch.stack(nccs, 1), 0.0).to(patches.dtype)
    return ncc, (count / mask.sum((1, 2, 3)).clamp(min=1)).to(patches.dtype)
