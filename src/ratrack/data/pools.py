"""Training batches for the tracker: samplers that are pure functions of ``(step, length)``.

:class:`PoolSampler` draws clips from a pool of sequences generated once and stored as uint8 on
the training device (generation, not the model, is the slow part on a GPU): Bouncing MNIST
(:func:`bouncing_mnist_pool`, :meth:`PoolSampler.build`) or natural video
(:mod:`ratrack.data.natural_pool`). Each clip is a random window in time of a random pool sequence,
played forwards or backwards (bouncing motion is reversible; so is a real clip, as far as a
tracker is concerned), tracking one randomly chosen object of that sequence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ratrack.data.bouncing_mnist import BouncingMnist, BouncingMnistConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolConfig:
    """How the sequence pool is built."""

    num_sequences: tuple[int, ...] = (4000, 4000)  # pool size for 1, 2, ... digits per canvas
    length: int = 30  # frames per pool sequence (the longest clip the curriculum asks for)
    canvas_size: tuple[int, int] = (100, 100)  # RATM's canvas
    split: str = "train"  # MNIST split the digits come from
    seed: int = 0  # the pool's sequences are a pure function of this

    def __post_init__(self) -> None:
        if not self.num_sequences or min(self.num_sequences) < 0 or sum(self.num_sequences) == 0:
            raise ValueError(f"num_sequences must be non-negative with a positive sum: {self}")
        if self.length < 2:
            raise ValueError(f"length must be >= 2, got {self.length}")


def _generate_chunk(
    config: PoolConfig, k: int, start: int, stop: int, kmax: int, mnist
) -> tuple[Tensor, Tensor]:
    """Sequences ``start..stop-1`` of the ``k``-digit dataset: uint8 frames and padded boxes."""

    cfg = BouncingMnistConfig(canvas_size=config.canvas_size, num_digits=k, length=config.length)
    data = BouncingMnist(
        cfg, num_sequences=stop, split=config.split, seed=config.seed + 1000 * k, mnist=mnist
    )
    frames = torch.empty((stop - start, config.length, 1, *config.canvas_size), dtype=torch.uint8)
    boxes = torch.full((stop - start, config.length, kmax, 4), float("nan"))
    for j, i in enumerate(range(start, stop)):
        sample = data[i]
        frames[j] = torch.from_numpy(np.round(sample.frames * 255).astype(np.uint8))
        boxes[j, :, :k] = torch.from_numpy(np.asarray(sample.boxes, dtype=np.float32))
    return frames, boxes


def bouncing_mnist_pool(
    config: PoolConfig, *, mnist=None, workers: int = 1
) -> tuple[Tensor, Tensor, Tensor]:
    """Generate the pool: frames uint8 ``(N, T, 1, H, W)``, boxes ``(N, T, K, 4)``, counts ``(N,)``.

    Sequences with fewer digits than the most crowded ones have their missing boxes set to NaN;
    ``counts`` holds each sequence's number of digits. Sequence ``i`` of the ``k``-digit part is
    sample ``i`` of ``BouncingMnist(num_digits=k, seed=config.seed + 1000 k)``, so the pool is
    the same whatever ``workers`` (processes) generate it.
    """
    kmax = len(config.num_sequences)
    jobs = []
    for k, n in enumerate(config.num_sequences, start=1):
        step = max(1, -(-n // max(1, workers)))
        jobs += [(config, k, a, min(n, a + step), kmax, mnist) for a in range(0, n, step)]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            parts = list(pool.map(_generate_chunk, *zip(*jobs, strict=True)))
    else:
        parts = [_generate_chunk(*job) for job in jobs]
    frames = torch.cat([f for f, _ in parts])
    boxes = torch.cat([b for _, b in parts])
    counts = torch.cat(
        [torch.full((len(f),), job[1]) for (f, _), job in zip(parts, jobs, strict=True)]
    )
    return frames, boxes, counts


class PoolSampler:
    """Clips of ``length`` frames from a pool; ``sampler(step, length)`` -> :class:`Batch`."""

    def __init__(
        self,
        *,
        frames: Tensor,
        boxes: Tensor,
        counts: Tensor,
        batch_size: int,
        seed: int = 0,
        reverse: bool = True,
    ) -> None:
        if (
            frames.dim() != 5
            or boxes.shape[:2] != frames.shape[:2]
            or counts.shape != frames.shape[:1]
        ):
            raise ValueError(
                "frames (N, T, C, H, W), boxes (N, T, K, 4) and counts (N,) must agree"
            )
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.frames, self.boxes, self.counts = frames, boxes, counts.to(frames.device)
        self._counts_cpu = counts.cpu()  # the draws happen on the CPU, whatever the pool's device
        self.batch_size, self.seed, self.reverse = batch_size, seed, reverse

    @classmethod
    def build(
        cls,
        pool: PoolConfig,
        *,
        batch_size: int,
        device: str | torch.device = "cpu",
        mnist=None,
        workers: int = 1,
    ) -> PoolSampler:
        """Generate ``pool`` (with ``workers`` processes) and keep it on ``device``."""
        frames, boxes, counts = bouncing_mnist_pool(pool, mnist=mnist, workers=workers)
        log.info("bouncing mnist pool: %d sequences, %.1f MB", len(counts), frames.numel() / 2**20)
        return cls(
            frames=frames.to(device),
            boxes=boxes.to(device),
            counts=counts,
            batch_size=batch_size,
            seed=pool.seed,
        )

    def __call__(self, step: int, length: int) -> Batch:
        return self.sample_rows(step, length, slice(None))

    def sample_rows(self, step: int, length: int, rows: slice) -> Batch:
        """``rows`` of the batch of ``step``: ``sampler(step, length)[rows]``, building only them.

        Every clip of the whole batch is drawn (a few random numbers each, on the CPU, so the
        batch is the same on every device), then only ``rows`` are cut from the pool: each
        data-parallel process builds just its shard.
        """
        N, T = self.frames.shape[:2]
        if not 2 <= length <= T:
            raise ValueError(f"length must be in [2, {T}], got {length}")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        B = self.batch_size
        index = torch.randint(N, (B,), generator=g)  # (B,)
        start = torch.randint(T - length + 1, (B,), generator=g)
        target = (torch.rand(B, generator=g) * self._counts_cpu[index]).long()  # digit to track
        flip = (torch.rand(B, generator=g) < 0.5) & self.reverse
        t = start[:, None] + torch.arange(length)  # (B, L)
        t = torch.where(flip[:, None], t.flip(1), t)
        dev = self.frames.device
        index, t, target = index[rows].to(dev), t[rows].to(dev), target[rows].to(dev)
        frames = self.frames[index[:, None], t].float() / 255  # (b, L, C, H, W), b rows
        boxes = self.boxes[index[:, None], t, target[:, None]]  # (b, L, 4)
        return Batch(frames, boxes)


class Batch(NamedTuple):
    """A training batch: ``frames`` ``(B, T, C, H, W)`` float, ``boxes`` xyxy ``(B, T, 4)``."""

    frames: Tensor
    boxes: Tensor
