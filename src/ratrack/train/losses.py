"""Tracker training losses: pure functions returning dicts of named terms.

For predicted boxes ``b_t``, windows ``a_t`` and ground truth ``y_t`` (all xyxy pixels):

* ``box``: smooth L1 between ``b_t^a`` and ``y_t`` expressed in the window ``a_t``'s normalized
  coordinates (the tracking head's own output space, so the scale is object-size free);
* ``iou``: ``-log IoU(b_t, y_t)`` (HART, Kosiorek et al. 2017, eq. 9);
* ``window``: smooth L1 between the window deltas that take the predicted next window ``a_{t+1}``
  onto the target window around ``y_{t+1}`` (the localization head's supervision);
* ``inside``: how far ``y_{t+1}`` sticks out of ``a_{t+1}`` shrunk by ``margin`` on each side,
  in window units: ``sum_edges relu(edge overshoot / window side)``; zero while the object is
  well inside the next glimpse.

* ``reinforce`` (with the Gaussian location policy, ``ClipOutput.log_probs``): REINFORCE with
  a baseline for the drawn windows (Williams 1992; RAM, Mnih et al. 2014, eq. 2): the window
  drawn at step ``t`` earns the reward ``R_t = IoU(b_{t+1}, y_{t+1})`` of the box found through
  it; the baseline is the batch's mean reward at that step, so the term is
  ``-mean((R_t - mean_B R_t) log pi(a_{t+1} | s_t))``. Zero without a policy.

``total`` is the weighted sum, with weights from :class:`LossConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ratrack.boxes import box_iou_elementwise, boxes_in_windows, target_windows, window_deltas
from ratrack.model.tracker import ClipOutput


@dataclass(frozen=True)
class LossConfig:
    """Weights of the tracker loss terms."""

    box: float = 1.0  # smooth L1 in window coordinates
    iou: float = 1.0  # -log IoU
    window: float = 1.0  # next-window regression onto the target window
    inside: float = 1.0  # object inside the next window
    reinforce: float = 1.0  # REINFORCE of the drawn windows (only with location_std > 0)
    margin: float = 0.1  # fraction of the window side kept free on each edge for `inside`
    smooth_l1_beta: float = 0.05  # transition point of the smooth L1 terms
    eps: float = 1e-6  # IoU floor inside the log

    def __post_init__(self) -> None:
        if min(self.box, self.iou, self.window, self.inside, self.reinforce) < 0:
            raise ValueError(f"loss weights must be non-negative, got {self}")
        if not 0 <= self.margin < 0.5 or self.smooth_l1_beta <= 0 or self.eps <= 0:
            raise ValueError(f"need 0 <= margin < 0.5, smooth_l1_beta > 0, eps > 0, got {self}")


def box_loss(boxes_in_window: Tensor, windows: Tensor, gt: Tensor, beta: float) -> Tensor:
    """Smooth L1 of window-normalized boxes; all ``(..., 4)``; mean over everything."""
    target = boxes_in_windows(gt, windows)
    return F.smooth_l1_loss(boxes_in_window, target, beta=beta)


def iou_loss(boxes: Tensor, gt: Tensor, eps: float) -> Tensor:
    """``-log IoU`` of xyxy ``boxes`` and ``gt`` (``(..., 4)``), mean."""
    return -box_iou_elementwise(boxes, gt).clamp(min=eps).log().mean()


def window_loss(next_windows: Tensor, gt_next: Tensor, context: float, beta: float) -> Tensor:
    """Smooth L1 of the deltas from the predicted next windows to those around ``gt_next``."""
    deltas = window_deltas(next_windows, target_windows(gt_next, context))
    return F.smooth_l1_loss(deltas, torch.zeros_like(deltas), beta=beta)


def inside_loss(next_windows: Tensor, gt_next: Tensor, margin: float) -> Tensor:
    """Overshoot of ``gt_next`` beyond ``next_windows`` shrunk by ``margin`` (window units)."""
    rel = (boxes_in_windows(gt_next, next_windows) + 1) / 2  # (..., 4) in [0, 1] inside
    low = F.relu(margin - rel[..., :2])  # x1, y1 left/above the margin
    high = F.relu(rel[..., 2:] - (1 - margin))  # x2, y2 right/below
    return (low.sum(-1) + high.sum(-1)).mean()


def reinforce_loss(log_probs: Tensor, rewards: Tensor) -> Tensor:
    """REINFORCE with the batch-mean baseline: ``log_probs`` and ``rewards`` ``(B, T)``."""
    advantage = (rewards - rewards.mean(0, keepdim=True)).detach()  # (B, T)
    return -(advantage * log_probs).mean()


def tracker_loss(
    out: ClipOutput, gt: Tensor, *, config: LossConfig, context: float
) -> dict[str, Tensor]:
    """Named loss terms for a clip: ``out`` from the model, ``gt`` xyxy ``(B, T, 4)``.

    ``gt[:, 0]`` is the initializing box; predictions cover ``gt[:, 1:]``. The next-window terms
    use the pairs ``(next_windows[:, t], gt[:, t + 2])`` that exist.
    """
    if gt.dim() != 3 or gt.shape[1] != out.boxes.shape[1] + 1:
        raise ValueError(
            f"gt must be (B, T, 4) with T = {out.boxes.shape[1] + 1}, got {tuple(gt.shape)}"
        )
    target = gt[:, 1:]  # (B, T-1, 4)
    terms = {
        "box": box_loss(out.boxes_in_window, out.windows, target, config.smooth_l1_beta),
        "iou": iou_loss(out.boxes, target, config.eps),
    }
    if target.shape[1] >= 2:
        nxt, gt_next = out.next_windows[:, :-1], target[:, 1:]  # (B, T-2, 4)
        terms["window"] = window_loss(nxt, gt_next, context, config.smooth_l1_beta)
        terms["inside"] = inside_loss(nxt, gt_next, config.margin)
    else:
        zero = out.boxes.new_zeros(())
        terms["window"], terms["inside"] = zero, zero
    terms["reinforce"] = out.boxes.new_zeros(())
    if out.log_probs is not None and target.shape[1] >= 2:
        rewards = box_iou_elementwise(out.boxes[:, 1:], target[:, 1:])  # (B, T-2) R_t
        terms["reinforce"] = reinforce_loss(out.log_probs[:, :-1], rewards)
    weights = {
        "box": config.box,
        "iou": config.iou,
        "window": config.window,
        "inside": config.inside,
        "reinforce": config.reinforce,
    }
    terms["total"] = sum(weights[k] * terms[k] for k in weights)
    return terms
