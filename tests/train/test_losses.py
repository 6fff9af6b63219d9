import math

import pytest
import torch

from ratrack.boxes import boxes_in_windows, target_windows
from ratrack.model.tracker import ClipOutput
from ratrack.train.losses import LossConfig, inside_loss, iou_loss, tracker_loss


def _perfect(gt: torch.Tensor, context: float) -> ClipOutput:
    windows = target_windows(gt[:, 1:], context)  # (B, T-1, 4)
    next_windows = target_windows(torch.cat((gt[:, 2:], gt[:, -1:]), 1), context)
    return ClipOutput(gt[:, 1:], boxes_in_windows(gt[:, 1:], windows), windows, next_windows, ())


def test_perfect_prediction_has_zero_loss():
    gt = torch.tensor([[[0.0, 0, 4, 6], [1, 1, 5, 7], [2, 2, 6, 8], [3, 2, 7, 8]]])
    terms = tracker_loss(_perfect(gt, 2.0), gt, config=LossConfig(), context=2.0)
    for name in ("box", "iou", "window", "inside", "total"):
        assert abs(float(terms[name])) < 1e-5, name


def test_iou_loss_known_answer():
    a, b = torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 0, 3, 2]])
    assert float(iou_loss(a, b, 1e-6)) == pytest.approx(math.log(3))


def test_inside_loss_known_answer():
    window = torch.tensor([[0.0, 0, 10, 10]])
    assert float(inside_loss(window, torch.tensor([[2.0, 2, 8, 8]]), 0.1)) == 0
    # x2 = 12 is 0.2 window sides past the right edge; with margin 0.1 the overshoot is 0.3.
    assert float(inside_loss(window, torch.tensor([[5.0, 2, 12, 8]]), 0.1)) == pytest.approx(0.3)


def test_total_is_weighted_sum_and_weights_matter():
    gt = torch.tensor([[[0.0, 0, 4, 6], [1, 1, 5, 7], [2, 2, 6, 8]]])
    out = _perfect(gt, 2.0)
    out = out._replace(boxes=out.boxes + 1, next_windows=out.next_windows + 3)
    config = LossConfig(box=0.5, iou=2.0, window=3.0, inside=4.0)
    terms = tracker_loss(out, gt, config=config, context=2.0)
    expected = 0.5 * terms["box"] + 2 * terms["iou"] + 3 * terms["window"] + 4 * terms["inside"]
    torch.testing.assert_close(terms["total"], expected)
    assert float(terms["iou"]) > 0 and float(terms["window"]) > 0


def test_bad_shapes_and_weights_raise():
    gt = torch.zeros(1, 3, 4)
    with pytest.raises(ValueError):
        tracker_loss(
            _perfect(torch.rand(1, 4, 4).cumsum(-1), 2.0), gt, config=LossConfig(), context=2.0
        )
    with pytest.raises(ValueError):
        LossConfig(iou=-1.0)


def test_reinforce_known_answer_and_direction():
    from ratrack.train.losses import reinforce_loss

    log_probs = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # baselines 0.5, 0.5
    # advantages [[0.5, -0.5], [-0.5, 0.5]]: -(0.5 - 1 - 1.5 + 2.5) / 4
    assert float(reinforce_loss(log_probs, rewards)) == pytest.approx(-0.125)
    # a descent step on the policy mean moves it towards the better-rewarded draw
    mu = torch.zeros(2, 1, requires_grad=True)
    drawn = torch.tensor([[1.0], [-1.0]])
    policy = torch.distributions.Normal(mu, 0.5)
    reinforce_loss(policy.log_prob(drawn), torch.tensor([[1.0], [0.0]])).backward()
    assert (mu.grad < 0).all()  # -grad points to +1, the rewarded draw


def test_reinforce_term_only_with_a_policy():
    gt = torch.tensor([[[0.0, 0, 4, 6], [1, 1, 5, 7], [2, 2, 6, 8], [3, 2, 7, 8]]])
    out = _perfect(gt, 2.0)
    assert float(tracker_loss(out, gt, config=LossConfig(), context=2.0)["reinforce"]) == 0
    out = out._replace(
        boxes=out.boxes + torch.tensor([0.0, 1.0, 0.0])[None, :, None],
        log_probs=torch.tensor([[0.0, 0.0, 0.0]]),
    )
    terms = tracker_loss(out, gt, config=LossConfig(reinforce=2.0), context=2.0)
    assert float(terms["reinforce"]) == 0  # one clip: every reward equals its baseline
