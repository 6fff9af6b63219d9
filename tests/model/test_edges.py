"""Frame edges (issue #13): samples outside the frame are never evidence for the matcher.

Every test cuts its glimpses from a real frame (``otb/Car1``, a tuning sequence) at a window
around an object at the frame's top-left corner, so the window reaches past two edges.
"""

import numpy as np
import pytest
import torch

from ratrack.attention.stn import extract_glimpses
from ratrack.data.formats import open_sequence
from ratrack.model.config import TrackerConfig
from ratrack.model.correlation import (
    box_masks,
    correlation_response,
    fft_size,
    frame_reach,
    masked_ncc,
    masked_nccs,
    patch_nccs,
    template_kernels,
    template_spectra,
    zero_padded,
)
from ratrack.model.glimpse import Frame, cut_glimpses, valid_masks
from ratrack.track.online import Tracker

CORNER_BOX = (1.0, 2.0, 31.0, 26.0)  # xyxy: a patch of road and car in Car1's top-left corner


@pytest.fixture(scope="module")
def car1(data_dir):
    return open_sequence(data_dir / "otb" / "Car1", "otb")


def _tensor(frame: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(frame).float() / 255
    return (x[None] if x.dim() == 2 else x.permute(2, 0, 1))[None]  # (1, C, H, W)


def test_valid_masks_equal_bilinear_sampling_of_a_frame_of_ones(car1):
    H, W = car1.frame(0).shape[:2]
    windows = torch.tensor([[-40.0, -30.0, 50.0, 60.0], [W - 20.0, H - 70.0, W + 60.0, H + 10.0]])
    sampled = extract_glimpses(torch.ones(2, 1, H, W), windows, (37, 37))  # (2, 1, 37, 37)
    mask = valid_masks(windows, (37, 37), (H, W))
    assert torch.equal(mask, (sampled >= 0.5 - 1e-5).float())
    assert 0 < mask[0].mean() < 1 and 0 < mask[1].mean() < 1  # both windows cross two edges


def test_masked_ncc_counts_only_pixels_inside_the_frame(car1):
    frame = _tensor(car1.frame(0))  # (1, 3, 240, 320): Car1 is gray, read as RGB
    H, W = frame.shape[-2:]
    config = TrackerConfig(in_channels=frame.shape[1], match_size=32)
    box = torch.tensor([CORNER_BOX])
    side = 3 * 30.0
    cx, cy = 16.0, 14.0
    window = torch.tensor([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]])
    k, size = config.match_kernel, 32
    glimpse = cut_glimpses(frame, window, config, (size, size))
    rel = (box - window[:, [0, 1, 0, 1]]) / side * 2 - 1
    top = (size - k) // 2
    inside = valid_masks(window, (size, size), (H, W))[:, :, top : top + k, top : top + k]
    mask = box_masks(rel, size, k) * inside
    assert 0 < inside.mean() < 1  # the template itself reaches past the corner
    kernel = template_kernels(glimpse, (k, k), mask)
    # search the next frame's glimpse (the car moved) around the same corner window
    search = cut_glimpses(Frame.whole(_tensor(car1.frame(1))), window, config, (size, size))
    valid = valid_masks(window, (size, size), (H, W))
    ncc, visible = masked_ncc(search, valid, kernel, mask)
    n = size - k + 1
    assert ncc.shape == visible.shape == (1, n, n)
    # slow reference: plain NCC over the cells inside both the template's mask and the frame
    for i, j in [(0, 0), (n // 2, n // 2), (3, n - 1), (n - 1, 2)]:
        cells = (mask[0, 0] * valid[0, 0, i : i + k, j : j + k]).bool()
        t = kernel[0][:, cells].flatten().double()
        s = search[0, :, i : i + k, j : j + k][:, cells].flatten().double()
        share = float(cells.sum() / mask.sum())
        assert visible[0, i, j].item() == pytest.approx(share)
        if cells.sum() < 2:
            assert ncc[0, i, j] == 0
            continue
        t, s = t - t.mean(), s - s.mean()
        expected = float((t * s).sum() / (t.norm() * s.norm()))
        assert ncc[0, i, j].item() == pytest.approx(expected, abs=2e-3)
    # zero padding is not evidence: the unmoved placement of the template on its own frame
    # scores 1 although a third of the template lies outside the frame
    ncc0, _ = masked_ncc(glimpse, valid, kernel, mask)
    assert ncc0[0, n // 2, n // 2].item() == pytest.approx(1.0, abs=1e-3)


def test_one_placement_and_shared_templates_equal_the_whole_map(car1):
    """The fast paths of the matcher give the map's own numbers: :func:`patch_nccs` at a
    few placements (summed directly) and :func:`masked_ncc` with one template serving two
    glimpses and its :func:`template_spectra` given (Car1's corner, so the frame's edge
    cuts both the template and the search)."""
    frame, following = _tensor(car1.frame(0)), _tensor(car1.frame(1))
    H, W = frame.shape[-2:]
    config = TrackerConfig(in_channels=frame.shape[1], match_size=32)
    k, size = config.match_kernel, 32
    windows = torch.tensor([[-29.0, -31.0, 61.0, 59.0], [-40.0, -42.0, 72.0, 70.0]])
    glimpse = cut_glimpses(frame, windows[:1], config, (size, size))
    rel = (torch.tensor([CORNER_BOX]) - windows[:1, [0, 1, 0, 1]]) / 90 * 2 - 1
    top = (size - k) // 2
    inside = valid_masks(windows[:1], (size, size), (H, W))[:, :, top : top + k, top : top + k]
    mask = box_masks(rel, size, k) * inside
    kernel = template_kernels(glimpse, (k, k), mask)
    search = cut_glimpses(following.expand(2, -1, -1, -1), windows, config, (size, size))
    valid = valid_masks(windows, (size, size), (H, W))
    each = [masked_ncc(search[i : i + 1], valid[i : i + 1], kernel, mask) for i in range(2)]
    spectra = template_spectra(kernel, mask, fft_size(size, size))
    ncc, visible = masked_ncc(search, valid, kernel, mask, spectra=spectra)
    assert torch.equal(ncc, torch.cat([e[0] for e in each]))
    assert torch.equal(visible, torch.cat([e[1] for e in each]))
    exact, _ = masked_ncc(search.double(), valid.double(), kernel.double(), mask.double())
    n, kernels, masks = size - k + 1, kernel.expand(2, -1, -1, -1), mask.expand(2, -1, -1, -1)
    for i, j in [(0, 0), (n // 2, n // 2), (3, n - 1), (n - 1, 2)]:
        where = [(i, j), (j, i)]  # (row, column) of each glimpse's placement
        patches, inside = (
            torch.stack([x[g, :, r : r + k, c : c + k] for g, (r, c) in enumerate(where)])
            for x in (search, valid)
        )
        at, shown = patch_nccs(patches, inside, kernels, masks)
        at = at[:, 0]
        picked = ([0, 1], [i, j], [j, i])
        torch.testing.assert_close(at, ncc[picked], rtol=0, atol=1e-3)  # float32 FFT rounding
        torch.testing.assert_close(at.double(), exact[picked], rtol=0, atol=1e-5)  # closer
        assert torch.equal(shown, visible[picked])


def test_patch_nccs_of_two_parts_are_the_maps_at_that_placement(car1):
    """:func:`patch_nccs` scores each part (pixels and a second, made-up feature part) at one
    placement from the patch alone, as :func:`masked_nccs` does over the whole map (Car1's
    corner: the frame's edge cuts the template and the patch)."""
    frame, following = _tensor(car1.frame(0)), _tensor(car1.frame(1))
    H, W = frame.shape[-2:]
    config = TrackerConfig(in_channels=frame.shape[1], match_size=32)
    k, size = config.match_kernel, 32
    windows = torch.tensor([[-29.0, -31.0, 61.0, 59.0]])
    maps = [cut_glimpses(f, windows, config, (size, size)) for f in (frame, following)]
    maps = [torch.cat((m, m.square(), m.flip(-1)), 1) for m in maps]  # parts of 3 and 6
    parts = (frame.shape[1], 2 * frame.shape[1])
    top = (size - k) // 2
    valid = valid_masks(windows, (size, size), (H, W))
    mask = (torch.rand(1, 1, k, k, generator=torch.Generator().manual_seed(0)) > 0.3).float()
    mask = mask * valid[:, :, top : top + k, top : top + k]
    kernels = torch.cat([template_kernels(p, (k, k), mask) for p in maps[0].split(parts, 1)], 1)
    whole, visible = masked_nccs(maps[1], valid, kernels, mask, parts)  # (1, 2, n, n)
    for i, j in [(0, 0), (4, 9), (size - k, 2)]:
        patch = maps[1][:, :, i : i + k, j : j + k]
        ncc, shown = patch_nccs(patch, valid[:, :, i : i + k, j : j + k], kernels, mask, parts)
        torch.testing.assert_close(ncc, whole[:, :, i, j], rtol=0, atol=1e-3)  # FFT rounding
        torch.testing.assert_close(shown, visible[:, i, j], rtol=0, atol=1e-6)


def test_a_box_at_the_corner_is_never_placed_mostly_outside_the_frame(car1):
    frame = car1.frame(0)
    H, W = frame.shape[:2]
    tracker = Tracker.from_pretrained("natural")
    tracker.init(frame, np.array([CORNER_BOX]), fmt="xyxy")
    for t in range(1, 6):
        box = tracker.update(car1.frame(t))[0]
        x1, y1, x2, y2 = box
        inside = max(0.0, min(x2, W) - max(x1, 0)) * max(0.0, min(y2, H) - max(y1, 0))
        assert inside >= 0.5 * (x2 - x1) * (y2 - y1), (t, box)
        assert np.isfinite(tracker.scores).all()


def test_zero_padding_reproduces_the_original_correlation_on_a_colour_frame(data_dir):
    """``match_padding="zeros"``: a match glimpse wholly inside the frame, its ring beyond the
    search cells zeroed, scores every placement as the original matcher's 'same'-size,
    zero-padded :func:`correlation_response` over the search cells did (BlurCar2's first two
    frames, colour, so the NCC's mean must run over the channels together)."""
    sequence = open_sequence(data_dir / "otb" / "BlurCar2", "otb")
    first, second = (_tensor(sequence.frame(t)) for t in (0, 1))
    H, W = first.shape[-2:]
    config = TrackerConfig(in_channels=3, match_size=32)
    S, k = config.match_size, config.match_kernel
    x1, y1, x2, y2 = (float(v) for v in sequence.gt[0])
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, 1.2 * max(x2 - x1, y2 - y1)  # well inside
    window = torch.tensor([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]])
    glimpse = cut_glimpses(first, window, config, (S, S))
    rel = (torch.tensor([[x1, y1, x2, y2]]) - window[:, [0, 1, 0, 1]]) / side * 2 - 1
    mask = box_masks(rel, S, k)
    kernel = template_kernels(glimpse, (k, k), mask)
    grow = side * k / S / 2  # the match glimpse: the search cells and half a template around
    wide = window + torch.tensor([[-grow, -grow, grow, grow]])
    G = S + k
    search = cut_glimpses(second, wide, config, (G, G))
    valid = valid_masks(wide, (G, G), (H, W))
    assert valid.min() == 1
    padded, evidence = zero_padded(search, valid, S)
    ncc, visible = masked_ncc(padded, evidence, kernel, mask, valid)
    original = correlation_response(cut_glimpses(second, window, config, (S, S)), kernel, mask)
    assert ncc.shape == original.shape == (1, S + 1, S + 1)
    torch.testing.assert_close(ncc, original, rtol=0, atol=1e-4)
    assert torch.all(visible == 1)
    # without the padding the far placements see the image instead: other scores
    plain, _ = masked_ncc(search, valid, kernel, mask)
    assert (plain - original).abs().max() > 0.05


def test_one_placement_on_a_near_uniform_patch_keeps_its_spread():
    """A nearly flat bright patch in a dark glimpse: the sums of squares about the glimpse's
    mean cancel in float32, the centred sums of :func:`patch_nccs` do not (a wide search on
    KITTI scored 171 before they were centred)."""
    g = torch.Generator().manual_seed(0)
    search = torch.full((1, 3, 40, 40), 0.05)
    search[:, :, 10:30, 10:30] = 0.9 + 1e-4 * torch.rand(1, 3, 20, 20, generator=g)
    valid = torch.ones(1, 1, 40, 40)
    mask = torch.ones(1, 1, 8, 8)
    kernel = template_kernels(torch.rand(1, 3, 8, 8, generator=g), (8, 8), mask)
    exact, _ = masked_ncc(search.double(), valid.double(), kernel.double(), mask.double())
    for where in ([12, 12], [15, 20], [5, 5]):
        r, c = where
        at, _ = patch_nccs(
            search[..., r : r + 8, c : c + 8], valid[..., r : r + 8, c : c + 8], kernel, mask
        )
        assert abs(at.item()) <= 1
        assert at.item() == pytest.approx(exact[0, where[0], where[1]].item(), abs=1e-5)


def test_a_wide_search_past_the_frame_is_matched_on_its_crop_alone(data_dir):
    """A lost object's wide match glimpse at a frame's corner reaches far past two edges: only
    the rows and columns that placements touching the frame read are matched
    (:meth:`RecurrentTracker._search`, :func:`frame_reach`), and they give the whole glimpse's
    scores to float rounding (their FFT is smaller); every placement outside them scores -1
    in the whole glimpse too. On ``otb/BlurCar2``'s first frames, a box at the bottom-left
    corner."""
    sequence = open_sequence(data_dir / "otb" / "BlurCar2", "otb")
    tracker = Tracker.from_pretrained("natural")
    model, c = tracker.model, tracker.model.config
    tracker.init(sequence.frame(0), np.array([[2.0, 380.0, 90.0, 470.0]]), fmt="xyxy")
    state = tracker._state
    memory, first, mask, _ = model._templates(state)
    templates = model._matched_templates(memory, first)
    k, cells = c.match_kernel, c.search_cells(True)
    G = cells + k
    windows = model.match_windows(state.window, state.box, torch.ones(1, dtype=torch.bool))
    windows = windows[:, c.unit_scale]  # (1, 4): the one scale a lost object is searched at
    frame = _tensor(sequence.frame(1))
    glimpses = cut_glimpses(frame, windows, c, (G, G))
    valid = valid_masks(windows, (G, G), frame.shape[-2:])
    whole = model.match_response(model.match_maps(glimpses), valid, templates, mask, cells)

    (top, bottom), (left, right) = frame_reach(valid, k)
    maps, _, response, corner = model._search(glimpses, valid, templates, mask, cells, None)
    assert corner == (top, left) and maps.shape[-2:] == (bottom - top, right - left)
    assert maps.shape[-2] * maps.shape[-1] < G * G / 2  # the part matched
    assert (response > -1).sum() > 1000  # placements on the frame, scored
    torch.testing.assert_close(response, whole, rtol=0, atol=1e-3)
    assert response.argmax() == whole.argmax()
    inside = torch.zeros_like(whole, dtype=torch.bool)
    inside[:, top : bottom - k + 1, left : right - k + 1] = True
    assert torch.all(whole[~inside] == -1) and torch.all(response[~inside] == -1)
