"""Data-parallel training: 2 gloo processes on the CPU against 1 process with the same batch.

One spawn of two processes (torchrun's environment variables set by hand, a free localhost
port) runs a few tracker training steps and a few pretraining steps; the tests compare their
checkpoints and logs with single-process runs of the same global batch, then resume the
2-process tracker checkpoint in this (single) process.
"""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from ratrack.data.canvases import Canvases
from ratrack.data.pools import Batch, PoolSampler
from ratrack.devices import resolve_device
from ratrack.model.tracker import RecurrentTracker
from ratrack.train import distributed
from ratrack.train.pretrain import GlimpseCorrector, PerturbConfig, PretrainConfig, pretrain_conv
from ratrack.train.tracker import TrainConfig, train_tracker
from tracker_helpers import TINY, square_clips

WORLD = 2
# Sums over 2 shards differ from 1 sum in the last bits. Adam divides by sqrt(v), so where a
# gradient is nearly zero (the localization head, behind its zero-initialized last layer) those
# bits grow to ~6e-7 in the weights after 4 steps; a wrong shard or average shows up as ~lr.
ATOL = 1e-5


class _RecordingSampler(PoolSampler):
    """Remembers which rows of each batch it built."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[slice] = []

    def sample_rows(self, step: int, length: int, rows: slice) -> Batch:
        self.rows.append(rows)
        return super().sample_rows(step, length, rows)


def _sampler() -> _RecordingSampler:
    """A pool of 8 square clips; batches of 4 (2 rows per process)."""
    clips = square_clips(8, 6, seed=5)
    return _RecordingSampler(
        frames=(clips.frames * 255).round().to(torch.uint8),  # (8, 6, 1, 48, 48)
        boxes=clips.boxes[:, :, None],  # (8, 6, 1, 4)
        counts=torch.ones(8, dtype=torch.long),
        batch_size=4,
        seed=1,
    )


def _train_config(steps: int) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        schedule_steps=6,  # the same learning rates whether a run stops at 4 or 6
        batch_size=4,
        lr=3e-3,
        warmup=1,
        curriculum=((0, 3), (3, 5)),
        checkpoint_every=2,
        log_every=1,
    )


def _tracker() -> RecurrentTracker:
    torch.manual_seed(0)
    return RecurrentTracker(config=TINY)


def _canvases() -> Canvases:
    g = torch.Generator().manual_seed(0)
    side = 8 + 8 * torch.rand(64, generator=g)
    xy = 16 + (32 - side[:, None]) * torch.rand(64, 2, generator=g)
    boxes = torch.cat((xy, xy + side[:, None]), 1)  # (64, 4)
    c = torch.arange(64.0) + 0.5
    ix = (c >= boxes[:, 0:1]) & (c < boxes[:, 2:3])
    iy = (c >= boxes[:, 1:2]) & (c < boxes[:, 3:4])
    return Canvases((iy[:, :, None] & ix[:, None, :]).float()[:, None], boxes)  # (64, 1, 64, 64)


PRETRAIN = PretrainConfig(
    steps=4, batch_size=8, lr=3e-3, log_every=1, perturb=PerturbConfig(shift_scale=0.1)
)


def _corrector() -> GlimpseCorrector:
    torch.manual_seed(0)
    return GlimpseCorrector(config=TINY)


def _worker(rank: int, port: int, out: Path) -> None:
    """One of the two processes, started as torchrun would start it."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
    )
    torch.set_num_threads(1)
    assert distributed.init_from_env(resolve_device("cpu"))
    try:
        assert (distributed.world(), distributed.rank()) == (WORLD, rank)
        sampler = _sampler()
        train_tracker(_tracker(), sampler, _train_config(4), out_dir=out / "train")
        assert sampler.rows == [slice(2 * rank, 2 * rank + 2)] * 4  # each process its own half
        pretrain_conv(_corrector(), _canvases(), PRETRAIN, out_dir=out / "pretrain")
    finally:
        distributed.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), out), nprocs=WORLD, join=True)
    return out


def _rows(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=ATOL, msg=name)


def test_sample_rows_is_a_slice_of_the_batch():
    sampler = _sampler()
    whole = sampler(7, 4)
    for rows in (slice(0, 2), slice(2, 4)):
        part = sampler.sample_rows(7, 4, rows)
        assert torch.equal(part.frames, whole.frames[rows])
        assert torch.equal(part.boxes, whole.boxes[rows])


def test_two_processes_train_like_one_with_the_same_global_batch(two_process_run, tmp_path):
    torch.set_num_threads(1)
    one = _tracker()
    train_tracker(one, _sampler(), _train_config(4), out_dir=tmp_path)
    two = torch.load(two_process_run / "train" / "last.pt", weights_only=True)
    assert two["step"] == 4
    _assert_same_weights(two["model"], one.state_dict())
    # log.csv: written once (by rank 0), with the whole global batch's losses and gradient norms
    rows_two, rows_one = _rows(two_process_run / "train" / "log.csv"), _rows(tmp_path / "log.csv")
    assert [r["step"] for r in rows_two] == [1, 2, 3, 4]
    for r2, r1 in zip(rows_two, rows_one, strict=True):
        for key in r1:
            if key != "seconds":
                assert r2[key] == pytest.approx(r1[key], rel=1e-5, abs=1e-7), key
    assert sorted(p.name for p in (two_process_run / "train").iterdir()) == ["last.pt", "log.csv"]


def test_two_process_checkpoint_resumes_in_one_process(two_process_run, tmp_path):
    torch.set_num_threads(1)
    reference = _tracker()  # 1 process: 4 steps, then resumed to 6
    train_tracker(reference, _sampler(), _train_config(4), out_dir=tmp_path / "reference")
    train_tracker(reference, _sampler(), _train_config(6), out_dir=tmp_path / "reference")
    run = tmp_path / "resumed"
    run.mkdir()
    for name in ("last.pt", "log.csv"):
        (run / name).write_bytes((two_process_run / "train" / name).read_bytes())
    resumed = RecurrentTracker(config=TINY)  # weights come from the 2-process checkpoint
    seen: list[int] = []
    result = train_tracker(
        resumed,
        _sampler(),
        _train_config(6),
        out_dir=run,
        progress=lambda step, total, loss: seen.append(step),
    )
    assert seen == [5, 6] and result.step == 6
    _assert_same_weights(resumed.state_dict(), reference.state_dict())
    assert [r["step"] for r in _rows(run / "log.csv")] == [1, 2, 3, 4, 5, 6]


def test_two_processes_pretrain_like_one(two_process_run, tmp_path):
    torch.set_num_threads(1)
    one = _corrector()
    pretrain_conv(one, _canvases(), PRETRAIN, out_dir=tmp_path)
    two = torch.load(two_process_run / "pretrain" / "pretrain.pt", weights_only=True)
    _assert_same_weights(two["model"], one.state_dict())
    losses_two = [r["loss"] for r in _rows(two_process_run / "pretrain" / "log.csv")]
    losses_one = [r["loss"] for r in _rows(tmp_path / "log.csv")]
    assert losses_two == pytest.approx(losses_one, rel=1e-5)


def test_a_batch_that_does_not_split_is_refused_before_training(monkeypatch, tmp_path):
    monkeypatch.setattr(distributed, "world", lambda: 3)
    with pytest.raises(Exception, match="not divisible by the 3 processes"):
        train_tracker(_tracker(), _sampler(), _train_config(2), out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_sampler_with_the_wrong_batch_size_is_refused(tmp_path):
    clips = square_clips(3, 5)

    def three(step: int, length: int) -> Batch:
        return Batch(clips.frames[:, :length], clips.boxes[:, :length])

    with pytest.raises(ValueError, match="gave 3 clips"):
        train_tracker(_tracker(), three, _train_config(2), out_dir=tmp_path)
