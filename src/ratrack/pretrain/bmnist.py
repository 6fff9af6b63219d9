"""Glimpse-misalignment pretraining on Bouncing MNIST frames (train-split digits).

Held-out glimpses come from sequences of val-split digits, so the reported correction is on
digits the conv net never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ratrack.pretrain.misalignment import (
    Canvases,
    GlimpseCorrector,
    PretrainConfig,
    evaluate_correction,
    make_canvases,
    pretrain_conv,
)
from ratrack.tracker.data import PoolConfig, PoolSampler
from ratrack.tracker.model import TrackerConfig

CANVAS_SIZE = 96  # pixels of a canvas (the digit's window is about half of it)


def pool_canvases(sampler: PoolSampler, count: int, *, seed: int, context: float) -> Canvases:
    """``count`` canvases of random (sequence, frame, digit) triples of a sampler's pool."""
    g = torch.Generator().manual_seed(seed)
    N, T = sampler.frames.shape[:2]
    seq = torch.randint(N, (count,), generator=g)
    t = torch.randint(T, (count,), generator=g)
    k = (torch.rand(count, generator=g) * sampler.counts.cpu()[seq]).long()
    dev = sampler.frames.device
    seq, t, k = seq.to(dev), t.to(dev), k.to(dev)
    frames = sampler.frames[seq, t].float() / 255  # (count, 1, H, W)
    boxes = sampler.boxes[seq, t, k]  # (count, 4)
    return make_canvases(frames, boxes, size=CANVAS_SIZE, context=context)


def pretrain_on_bmnist(
    config: PretrainConfig,
    *,
    out_dir: str | Path,
    model_config: TrackerConfig | None = None,
    pool: tuple[int, int] = (2000, 2000),
    canvases: int = 10_000,
    device: str | torch.device = "cpu",
    mnist=None,
    progress: Callable[[int, int, float], None] | None = None,
    train_pool: PoolSampler | None = None,
    workers: int = 1,
    amp: bool = False,
) -> tuple[Path, dict[str, float]]:
    """Pretrain a :class:`GlimpseCorrector`; returns its checkpoint and held-out scores.

    ``train_pool`` reuses an already generated training pool instead of building ``pool``.
    Under torchrun every process builds the pools and trains on its share of each batch
    (:func:`~ratrack.pretrain.misalignment.pretrain_conv`); every process returns the scores.
    """
    model_config = model_config or TrackerConfig()
    train = train_pool or PoolSampler.build(
        PoolConfig(num_sequences=pool, split="train", seed=config.seed),
        batch_size=1,
        device=device,
        mnist=mnist,
        workers=workers,
    )
    held = PoolSampler.build(
        PoolConfig(num_sequences=(200, 200), split="val", seed=config.seed + 7),
        batch_size=1,
        device=device,
        mnist=mnist,
        workers=workers,
    )
    torch.manual_seed(config.seed)
    model = GlimpseCorrector(config=model_config)
    train_canvases = pool_canvases(train, canvases, seed=config.seed, context=model_config.context)
    held_canvases = pool_canvases(held, 2000, seed=config.seed + 1, context=model_config.context)
    path = pretrain_conv(
        model, train_canvases, config, out_dir=out_dir, device=device, progress=progress, amp=amp
    )
    return path, evaluate_correction(model, held_canvases, config)
