"""Training the learned half of template matching (:class:`ratrack.model.convnet.MatchNet`).

Each template/search pair (:mod:`ratrack.data.match_pairs`) is matched exactly as
:meth:`RecurrentTracker._match <ratrack.model.tracker.RecurrentTracker>` matches at scale 1: the
template from the first box's window, the search glimpse around the same window, the blended
masked NCC (:meth:`~ratrack.model.tracker.RecurrentTracker.match_response`). The loss is the
cross-entropy between the placements' softmax (``sharpness`` times the response) and a Gaussian
of ``label_sigma`` cells around the placement where the object really is (SiamFC's training
signal, Bertinetto et al. 2016, with a softmax over the map instead of a logistic loss per
placement). Only the match net learns; the rest of the tracker is frozen.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ratrack.boxes import boxes_in_windows, convert_boxes
from ratrack.data.match_pairs import Pairs
from ratrack.model.correlation import box_masks
from ratrack.model.glimpse import Frame, cut_glimpses, valid_masks
from ratrack.model.tracker import RecurrentTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatcherTrainConfig:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    sharpness: float = 16.0  # softmax temperature: logits = sharpness * response
    label_sigma: float = 1.0  # cells
    seed: int = 0
    log_every: int = 50


def pair_responses(
    model: RecurrentTracker, pairs: Pairs, rows: np.ndarray
) -> tuple[Tensor, Tensor]:
    """Responses ``(b, P)`` over the ``(cells + 1)^2`` placements of the pairs ``rows`` and
    where the object is, ``(b, 2)`` (x, y) in placement cells (may lie outside the grid)."""
    c = model.config
    dtype = torch.float32
    templates = torch.from_numpy(pairs.templates[rows]).to(dtype) / 255
    searches = torch.from_numpy(pairs.searches[rows]).to(dtype) / 255
    first = torch.from_numpy(pairs.first[rows]).to(dtype)
    target = torch.from_numpy(pairs.target[rows]).to(dtype)
    S = templates.shape[-1]
    size, k, cells = c.match_size, c.match_kernel, c.search_cells(False)
    G = cells + k
    windows = model.first_windows(first)
    glimpses = cut_glimpses(Frame.whole(templates), windows, c, (size, size))
    top = (size - k) // 2
    inside = valid_masks(windows, (size, size), (S, S))[:, :, top : top + k, top : top + k]
    mask = box_masks(boxes_in_windows(first, windows), size, k) * inside
    kernels = model.match_templates(glimpses, mask)
    one = c.unit_scale
    wide = torch.zeros(len(rows), dtype=torch.bool)
    search = model.match_windows(windows, first, wide)[:, one]  # (b, 4)
    pixels = cut_glimpses(Frame.whole(searches), search, c, (G, G))
    valid = valid_masks(search, (G, G), (S, S))
    padded = cells if c.match_padding == "zeros" else None
    response = model.match_response(model.match_maps(pixels), valid, kernels, mask, padded)
    cell = (search[:, 2] - search[:, 0]) / G  # (b,) pixels per cell
    where = convert_boxes(target, "xyxy", "cxcywh")[:, :2] - (search[:, :2] + search[:, 2:]) / 2
    where = where / cell[:, None] + cells / 2
    return response.flatten(1), where


def _labels(where: Tensor, side: int, sigma: float) -> Tensor:
    """Gaussian label maps ``(b, side * side)`` around ``where`` (x, y) cells, summing to 1."""
    grid = torch.arange(side, dtype=where.dtype)
    gx = torch.exp(-((grid[None] - where[:, :1]) ** 2) / (2 * sigma**2))  # (b, side)
    gy = torch.exp(-((grid[None] - where[:, 1:]) ** 2) / (2 * sigma**2))
    maps = (gy[:, :, None] * gx[:, None, :]).flatten(1)
    return maps / maps.sum(1, keepdim=True).clamp(min=1e-12)


def usable(where: Tensor, cells: int) -> Tensor:
    """``(b,)`` bool: the object lies on the placement grid (away from its last cell)."""
    return ((where >= 0.5) & (where <= cells - 0.5)).all(1)


@torch.no_grad()
def pair_accuracy(model: RecurrentTracker, pairs: Pairs, *, within: float = 2.0, batch: int = 64):
    """Share of the usable pairs whose best placement lies within ``within`` cells of the
    object's, and the mean distance (cells)."""
    cells = model.config.search_cells(False)
    hits, dists = [], []
    for start in range(0, len(pairs.first), batch):
        rows = np.arange(start, min(start + batch, len(pairs.first)))
        response, where = pair_responses(model, pairs, rows)
        keep = usable(where, cells)
        best = response.argmax(1)
        found = torch.stack((best % (cells + 1), best // (cells + 1)), 1).to(where.dtype)
        dist = (found - where).norm(dim=1)[keep]
        hits.append((dist <= within).float())
        dists.append(dist)
    hits, dists = torch.cat(hits), torch.cat(dists)
    return float(hits.mean()), float(dists.mean())


def blended(model: RecurrentTracker, blend: float) -> RecurrentTracker:
    """``model`` with ``match_blend`` set to ``blend`` (the same module; config replaced)."""
    model.config = dataclasses.replace(model.config, match_blend=blend)
    return model


def train_matcher(
    model: RecurrentTracker, pairs: Pairs, config: MatcherTrainConfig = MatcherTrainConfig()
) -> list[float]:
    """Train ``model.match_net`` on ``pairs``; returns the loss per step."""
    if not model.config.match_features:
        raise ValueError("the model has no match net (match_features=0)")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(model.match_net.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, config.steps) / config.steps))
    )
    cells = model.config.search_cells(False)
    model.train()
    losses, start = [], time.perf_counter()
    for step in range(config.steps):
        rows = rng.integers(0, len(pairs.first), config.batch_size)
        response, where = pair_responses(model, pairs, rows)
        keep = usable(where, cells)
        if not keep.any():
            continue
        labels = _labels(where[keep], cells + 1, config.label_sigma)
        logp = torch.log_softmax(config.sharpness * response[keep], 1)
        loss = -(labels * logp).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (step + 1) % config.log_every == 0:
            recent = float(np.mean(losses[-config.log_every :]))
            log.info("step %d loss %.4f (%.0f s)", step + 1, recent, time.perf_counter() - start)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return losses
