"""The matcher's template memory, its learned half and its guard against flat patches (issue
#13), on real frames of ``otb/Car1`` (a tuning sequence)."""

import dataclasses

import numpy as np
import pytest
import torch

from ratrack.data.formats import open_sequence
from ratrack.model.config import TrackerConfig
from ratrack.model.correlation import masked_ncc, template_kernels
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker


@pytest.fixture(scope="module")
def car1(data_dir):
    return open_sequence(data_dir / "otb" / "Car1", "otb")


def _tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).float().permute(2, 0, 1)[None] / 255  # (1, 3, H, W)


def test_flat_search_patch_scores_zero_not_a_rounding_ratio(car1):
    """A saturated (constant) region of a real frame is no evidence: NCC 0, and never outside
    [-1, 1] anywhere (the old sums gave 1930 on such a patch of Car1)."""
    frame = _tensor(car1.frame(0))[:, :, :48, :48].clone()
    kernel_source = frame[:, :, 10:26, 10:26]
    mask = torch.ones(1, 1, 16, 16)
    kernel = template_kernels(kernel_source, (16, 16), mask)
    search = frame.clone()
    search[:, :, :, 28:] = 0.83  # a flat, bright half (sky or a blown-out wall)
    ncc, _ = masked_ncc(search, torch.ones(1, 1, 48, 48), kernel, mask)
    assert ncc.abs().max() <= 1.0
    assert torch.all(ncc[0, :, 28:] == 0)  # placements wholly on the flat half
    assert ncc[0, 10, 10] == pytest.approx(1.0, abs=1e-3)  # the template's own place


def _car1_tracker(car1, **changes) -> tuple[Tracker, np.ndarray]:
    tracker = Tracker.from_pretrained("natural")
    tracker.model.config = dataclasses.replace(tracker.model.config, **changes)
    x1, y1, x2, y2 = car1.gt[0]
    tracker.init(car1.frame(0), [(x1, y1, x2 - x1, y2 - y1)])
    return tracker, car1.gt


def _unpacked(tracker: Tracker):
    return tracker.model._templates(tracker._state)[:3]  # memory, first, mask


def test_template_memory_follows_confident_matches_and_keeps_the_first(car1):
    tracker, _ = _car1_tracker(car1, template_rate=0.1, update_score=0.5)
    memory0, first0, mask0 = _unpacked(tracker)
    assert torch.equal(memory0, first0)
    for t in range(1, 6):
        tracker.update(car1.frame(t))
    assert (tracker.scores >= 0.5).all()  # Car1's first frames match well: every one updates
    memory, first, mask = _unpacked(tracker)
    assert torch.equal(first, first0) and torch.equal(mask, mask0)
    assert not torch.allclose(memory, memory0, atol=1e-3)
    for part in tracker.model._parts(memory):  # pixels, learned features: each unit-norm
        assert part.flatten(1).norm(dim=1).item() == pytest.approx(1.0, abs=1e-5)
    # zero-mean over the mask, as every template
    assert (memory * mask).sum().item() == pytest.approx(0.0, abs=1e-4)
    # 5 updates at 0.1 move it less than a fresh template would be from the first
    assert float((memory * first0).sum()) > 0.9


def test_no_update_below_update_score_or_with_rate_zero(car1):
    for changes in ({"template_rate": 0.1, "update_score": 1.0}, {"template_rate": 0.0}):
        tracker, _ = _car1_tracker(car1, **changes)
        memory0, _, _ = _unpacked(tracker)
        for t in range(1, 4):
            tracker.update(car1.frame(t))
        assert torch.equal(_unpacked(tracker)[0], memory0), changes


def test_learned_matching_blend_zero_is_the_pixel_matcher(car1):
    """With match_blend 0 a model with a match net places exactly the pixel matcher's boxes;
    with its features in the blend the boxes still follow the car."""
    base = Tracker.from_pretrained("natural").model
    base.config = dataclasses.replace(base.config, match_blend=0.0)  # its own match net unused
    config = dataclasses.replace(base.config, match_features=4)
    model = RecurrentTracker(config=config)
    weights = {k: v for k, v in base.state_dict().items() if not k.startswith("match_net.")}
    model.load_state_dict(weights, strict=False)
    model.match_net.start_from(model.conv)
    assert torch.equal(model.match_net.first.weight, model.conv.stages[0].weight)
    plain, learned = Tracker(model=base), Tracker(model=model.eval())
    x1, y1, x2, y2 = car1.gt[0]
    for tracker in (plain, learned):
        tracker.init(car1.frame(0), [(x1, y1, x2 - x1, y2 - y1)])
    k = config.match_kernel
    deep = model.deep.channels if config.score_deep else 0  # the score's ImageNet template
    assert learned._state.match.shape == (1, (2 * (3 + 4) + 1 + deep) * k * k)
    for t in range(1, 6):
        a, b = plain.update(car1.frame(t)), learned.update(car1.frame(t))
        np.testing.assert_allclose(a, b, atol=1e-3)
    model.config = dataclasses.replace(config, match_blend=0.5)
    learned.add(car1.frame(5), [(x1, y1, x2 - x1, y2 - y1)])  # a second object, blended
    box = learned.update(car1.frame(6))[1]
    gt = car1.gt[6]
    assert abs((box[0] + box[2] / 2) - (gt[0] + gt[2]) / 2) < 10  # the car moves ~1 px a frame


def test_config_rejects_bad_memory_and_blend():
    with pytest.raises(ValueError, match="template_rate"):
        TrackerConfig(template_rate=1.5)
    with pytest.raises(ValueError, match="template_anchor"):
        TrackerConfig(template_anchor=-0.1)
    with pytest.raises(ValueError, match="match_blend"):
        TrackerConfig(match_features=8, match_blend=2.0)
