"""Pretraining and training runs from named data, and what they share.

:func:`processes` resolves the device, checks mixed precision against it and joins torchrun's
process group for the length of a run (:mod:`ratrack.train.distributed`); :func:`training_data`
builds the clip pool of ``data`` (:data:`TRAIN_DATA`) and the tracker config that fits it;
:func:`pretrain_from_data` and :func:`train_from_data` are the runs ``ratrack pretrain`` and
``ratrack train`` start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ratrack.data.natural_pool import natural_model_config, natural_sampler, pool_of_size
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.devices import resolve_device
from ratrack.errors import ConfigError
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.train import distributed
from ratrack.train.pretrain import PretrainConfig, pretrain_on_bmnist, pretrain_on_natural
from ratrack.train.tracker import TrainConfig, TrainResult, load_pretrained_conv, train_tracker

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


def pretrain_from_data(
    data: str,
    config: PretrainConfig,
    *,
    root: str | Path | None = None,
    pool: int = 2600,
    out_dir: str | Path,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
    amp: bool = False,
) -> tuple[Path, dict[str, float]]:
    """Pretrain on ``data`` (``bmnist``, or ``natural``: a pool of ``pool`` clips of the real
    data under ``root``); returns the checkpoint and the held-out window IoU before/after one
    correction (:func:`pretrain_on_bmnist`, :func:`pretrain_on_natural`)."""
    check_data(data)
    if data == "natural":
        sampler, model_config = training_data(
            data, root=root, pool=pool, seed=config.seed, batch_size=1, device=device
        )
        return pretrain_on_natural(
            config,
            root=root,
            sampler=sampler,
            model_config=model_config,
            out_dir=out_dir,
            device=device,
            progress=progress,
            amp=amp,
        )
    return pretrain_on_bmnist(config, out_dir=out_dir, device=device, progress=progress, amp=amp)


def curriculum_for(steps: int, longest: int) -> tuple[tuple[int, int], ...]:
    """Clip lengths 5, 10, 20, 30 (at most ``longest``) from steps 0, 1/8, 1/4 and 1/2 of
    ``steps``."""
    return tuple(
        (start, min(n, longest))
        for start, n in ((0, 5), (steps // 8, 10), (steps // 4, 20), (steps // 2, 30))
    )


def train_from_data(
    data: str,
    config: TrainConfig,
    *,
    root: str | Path | None = None,
    pool: int = 2000,
    seed: int = 0,
    out_dir: str | Path,
    init_from: str | Path | None = None,
    resume: bool = True,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
    amp: bool = False,
) -> TrainResult:
    """Train a new tracker on ``data`` (:func:`~ratrack.train.setup.training_data`), its conv
    net copied from the pretraining checkpoint ``init_from`` if given (:func:`train_tracker`).
    The same ``seed`` gives every process the same pool and initial weights."""
    distributed.shard_rows(config.batch_size)  # the batch must split evenly, before the pool
    sampler, model_config = training_data(
        data, root=root, pool=pool, seed=seed, batch_size=config.batch_size, device=device
    )
    torch.manual_seed(seed)
    model = RecurrentTracker(config=model_config)
    if init_from is not None:
        load_pretrained_conv(model, init_from)
    return train_tracker(
        model,
        sampler,
        config,
        out_dir=out_dir,
        resume=resume,
        device=device,
        progress=progress,
        amp=amp,
    )
