"""Pairs of real frames for learned matching, and its training (issue #13)."""

import dataclasses

import numpy as np
import pytest
import torch

from ratrack.data.match_pairs import PairConfig, make_pairs
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from ratrack.train.matcher import MatcherTrainConfig, blended, pair_accuracy, train_matcher


@pytest.fixture(scope="module")
def pairs(data_dir):
    return make_pairs(data_dir, 24, PairConfig(seed=3, canvas=128))


def test_pairs_are_real_canvases_with_the_object_in_both(pairs):
    assert pairs.templates.shape == pairs.searches.shape == (24, 3, 128, 128)
    assert pairs.templates.dtype == np.uint8 and pairs.templates.std() > 10  # real texture
    for box in (pairs.first, pairs.target):
        assert box.shape == (24, 4)
        assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()
        centres = (box[:, :2] + box[:, 2:]) / 2
        assert ((centres > 0) & (centres < 128)).all()
    # the first box sits at the template canvas's centre, span box sides wide
    np.testing.assert_allclose((pairs.first[:, :2] + pairs.first[:, 2:]) / 2, 64, atol=1e-3)


def _model(features: int = 4) -> RecurrentTracker:
    base = Tracker.from_pretrained("natural").model
    model = RecurrentTracker(config=dataclasses.replace(base.config, match_features=features))
    weights = {k: v for k, v in base.state_dict().items() if not k.startswith("match_net.")}
    model.load_state_dict(weights, strict=False)
    model.match_net.start_from(model.conv)
    return model.eval()


def test_pixel_matching_finds_most_objects_of_the_pairs(pairs):
    hits, dist = pair_accuracy(blended(_model(), 0.0), pairs)
    assert hits >= 0.5 and dist < 10  # a random placement would be ~20 cells off


def test_training_moves_the_match_net_only(pairs):
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = train_matcher(model, pairs, MatcherTrainConfig(steps=3, batch_size=8, log_every=1))
    assert len(losses) == 3 and np.isfinite(losses).all()
    after = model.state_dict()
    for name, value in before.items():
        changed = not torch.equal(value, after[name])
        assert changed == name.startswith("match_net."), name
    assert all(p.requires_grad for p in model.parameters())  # handed back trainable


def test_training_needs_a_match_net(pairs):
    with pytest.raises(ValueError, match="match net"):
        base = Tracker.from_pretrained("natural").model
        config = dataclasses.replace(base.config, match_features=0, score_deep=0, score_weights=())
        plain = RecurrentTracker(config=config)
        train_matcher(plain, pairs)
