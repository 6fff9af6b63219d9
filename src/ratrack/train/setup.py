"""What pretraining and training share: the processes they run in and the data they learn from.

:func:`processes` resolves the device, checks mixed precision against it and joins torchrun's
process group for the length of a run (:mod:`ratrack.train.distributed`); :func:`training_data`
builds the clip pool of ``data`` (:data:`TRAIN_DATA`) and the tracker config that fits it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ratrack.data.natural_pool import natural_model_config, natural_sampler, pool_of_size
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.devices import resolve_device
from ratrack.errors import ConfigError
from ratrack.model.config import TrackerConfig
from ratrack.train import distributed

TRAIN_DATA = ("bmnist", "natural")  # Bouncing MNIST, or the natural-video pool of real data


def check_data(data: str, pool: int = 1) -> None:
    """:class:`~ratrack.errors.ConfigError` unless ``data`` is one of :data:`TRAIN_DATA` and
    the ``pool`` size is positive."""
    if data not in TRAIN_DATA:
        raise ConfigError("data", f"must be one of {', '.join(TRAIN_DATA)}, got {data!r}")
    if pool <= 0:
        raise ConfigError("pool", f"must be positive, got {pool}")


@contextmanager
def processes(device: str, amp: bool) -> Iterator[torch.device]:
    """Run inside torchrun's process group (if any) on ``device``; quiet logs off rank 0.

    Mixed precision without CUDA fails here, before any work; the group is left on exit.
    """
    dev = resolve_device(device)
    distributed.autocast_dtype(dev, amp)
    distributed.init_from_env(dev)
    if not distributed.is_main():
        logging.getLogger("ratrack").setLevel(logging.ERROR)
    try:
        yield dev
    finally:
        distributed.cleanup()


def clip_length(data: str, pool: int, seed: int) -> int:
    """Frames of the longest clip the pool of ``data`` holds."""
    check_data(data, pool)
    return pool_of_size(pool, seed=seed).length if data == "natural" else PoolConfig().length


def training_data(
    data: str,
    *,
    root: str | Path | None,
    pool: int,
    seed: int,
    batch_size: int,
    device: str | torch.device = "cpu",
) -> tuple[PoolSampler, TrackerConfig]:
    """The sampler over the pool of ``data`` and the tracker config for it.

    ``bmnist``: ``pool`` sequences per digit count (one and two digits), the default config;
    ``natural``: ``pool`` clips of the real data under ``root``, an RGB config normalized by
    the pool's pixel statistics.
    """
    check_data(data, pool)
    if data == "natural":
        if root is None:
            raise ConfigError("root", "is needed for the natural pool")
        clips = pool_of_size(pool, seed=seed)
        sampler = natural_sampler(root, clips, batch_size=batch_size, device=device)
        return sampler, natural_model_config(sampler)
    sampler = PoolSampler.build(
        PoolConfig(num_sequences=(pool, pool), seed=seed), batch_size=batch_size, device=device
    )
    return sampler, TrackerConfig()
