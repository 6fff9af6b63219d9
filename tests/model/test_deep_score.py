"""The score's ImageNet part and the lost search's comparison (issue #13, session 16), on real
frames of ``uavdt_half/S0601`` (a car seen from a drone; a tuning sequence)."""

import dataclasses

import numpy as np
import pytest
import torch

from ratrack.data.formats import open_sequence
from ratrack.model.correlation import patch_nccs
from ratrack.model.glimpse import Frame
from ratrack.model.tracker import ReadWindows
from ratrack.track.online import Tracker


@pytest.fixture(scope="module")
def s0601(data_dir):
    return open_sequence(data_dir / "uavdt_half" / "S0601", "otb")


def _frame(image: np.ndarray) -> Frame:
    return Frame.whole(torch.from_numpy(image).float().permute(2, 0, 1)[None] / 255)


def _model_and_state(s0601, lost: tuple[bool, ...], **changes):
    """The shipped model on S0601's car and a box 40 px to its right (background), with the
    first object's score set so that ``lost`` says which are lost."""
    model = Tracker.from_pretrained("natural").model
    model.config = dataclasses.replace(model.config, **changes)
    car = torch.as_tensor(s0601.gt[0], dtype=torch.float32)
    boxes = torch.stack((car, car + torch.tensor([40.0, 0.0, 40.0, 0.0])))
    with torch.no_grad():
        state = model.init_state(_frame(s0601.frame(0)), boxes)
    low = model.config.lost_score - 0.1
    score = torch.tensor([low if x else 1.0 for x in lost])
    return model, state._replace(score=score)


def test_shipped_score_weighs_imagenet_features(s0601):
    model, state = _model_and_state(s0601, (False, False))
    config = model.config
    assert config.score_deep > 0 and len(config.score_weights) == 3
    frame = _frame(s0601.frame(1))
    with torch.no_grad():
        reads = model.read_windows(state)
        _, _, score, _ = model._match(frame, state, reads)
        # the same score with the ImageNet part's weight moved to the learned part differs:
        # the ImageNet part counts
        w = config.score_weights
        model.config = dataclasses.replace(config, score_weights=(w[0], w[1] + w[2], 0.0))
        _, _, without, _ = model._match(frame, state, reads)
    assert score.shape == (2,) and (score.abs() <= 1).all()
    assert not torch.allclose(score, without)
    # the car (and the background beside it) one frame later look like themselves
    assert (score > 0.6).all()


def test_deep_part_of_an_unmoved_patch_is_one(s0601):
    """The first frame's ImageNet template matched against the same frame's features at the
    same place: NCC 1 (the template is the features under the box)."""
    model, state = _model_and_state(s0601, (False, False))
    k = model.config.match_kernel
    _, _, mask, deep_first = model._templates(state)
    assert deep_first.shape == (2, model.deep.channels, k, k)
    size = model.config.match_size
    with torch.no_grad():
        from ratrack.model.glimpse import cut_glimpses

        pixels = _frame(s0601.frame(0)).pixels.expand(2, -1, -1, -1)
        glimpses = cut_glimpses(Frame.whole(pixels), state.window, model.config, (size, size))
        top = (size - k) // 2
        under = model.deep(glimpses)[:, :, top : top + k, top : top + k]
        ncc, _ = patch_nccs(under, torch.ones_like(mask), deep_first, mask)
    torch.testing.assert_close(ncc[:, 0], torch.ones(2), atol=1e-4, rtol=0)


def test_lost_compare_keeps_the_better_of_the_normal_and_wide_search(s0601):
    model, state = _model_and_state(s0601, (True, False), lost_compare=True)
    frame = _frame(s0601.frame(3))
    with torch.no_grad():
        reads = model.read_windows(state)
        assert reads.lost == (True, False)
        merged = model._match(frame, state, reads)
        wide = model._search_reads(frame, state, reads)
        normal = model._search_reads(frame, state, _normal_reads(model, state))
    # the object that is not lost: its normal search, unchanged
    for got, want in zip(merged, wide, strict=True):
        torch.testing.assert_close(got[1], want[1])
    # the lost one: the wide search's match only where it scores more than the margin higher
    margin = model.config.lost_margin
    better = wide if wide[2][0] > normal[2][0] + margin else normal
    for got, want in zip(merged, better, strict=True):
        torch.testing.assert_close(got[0], want[0], atol=1e-4, rtol=1e-4)


def _normal_reads(model, state) -> ReadWindows:
    """Every object searched as if none were lost."""
    calm = torch.zeros(state.box.shape[0], dtype=torch.bool)
    windows = model.match_windows(state.window, state.box, calm)
    return ReadWindows(state.window, windows, calm, (False,) * len(calm))


@pytest.mark.parametrize("margin", [-2.0, 2.0])
def test_lost_margin_decides_between_the_searches(s0601, margin):
    """A margin below -1 always keeps the wide search's match, one above 1 the normal one's."""
    model, state = _model_and_state(s0601, (True, False), lost_compare=True, lost_margin=margin)
    frame = _frame(s0601.frame(3))
    with torch.no_grad():
        merged = model._match(frame, state, model.read_windows(state))
        wide = model._search_reads(frame, state, model.read_windows(state))
        normal = model._search_reads(frame, state, _normal_reads(model, state))
    want = wide if margin < 0 else normal
    torch.testing.assert_close(merged[0][0], want[0][0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(merged[2][0], want[2][0], atol=1e-5, rtol=0)
