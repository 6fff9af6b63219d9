"""The same runs on a CUDA device as on the CPU: model, sampler, training, pretraining, tracking.

Skipped where no CUDA device exists (CI has none); on a GPU machine run
``python -m pytest -q tests/train/test_cuda.py``. Every tensor must be created on the input's
device, so the CUDA results agree with the CPU ones (TF32 off: only summation order differs).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ratrack.checkpoints import load_tracker
from ratrack.data.canvases import Canvases
from ratrack.data.pools import PoolSampler
from ratrack.devices import resolve_device
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from ratrack.train import distributed
from ratrack.train.pretrain import GlimpseCorrector, PretrainConfig, load_pretrained, pretrain_conv
from ratrack.train.tracker import TrainConfig, train_tracker
from tracker_helpers import TINY, FixedSampler, square_clips

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device (these tests need a GPU)"
)

CUDA = torch.device("cuda", 0)


@pytest.fixture(autouse=True)
def _no_tf32():
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    old = matmul.allow_tf32, cudnn.allow_tf32
    matmul.allow_tf32 = cudnn.allow_tf32 = False
    yield
    matmul.allow_tf32, cudnn.allow_tf32 = old


def _model() -> RecurrentTracker:
    torch.manual_seed(0)
    return RecurrentTracker(config=TINY)


def _config(**changes) -> TrainConfig:
    base = dict(steps=3, batch_size=4, lr=3e-3, warmup=1, curriculum=((0, 4),), log_every=1)
    return TrainConfig(**{**base, **changes})


def _log(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_devices_resolve_to_the_gpu():
    assert resolve_device("auto") == CUDA
    assert resolve_device("cuda") == CUDA
    assert distributed.autocast_dtype(CUDA, True) in (torch.bfloat16, torch.float16)


def test_model_runs_on_the_input_device_and_agrees_with_the_cpu():
    clips = square_clips(3, 5)
    model = _model()
    cpu = model(clips.frames, clips.boxes[:, 0])
    gpu = model.to(CUDA)(clips.frames.to(CUDA), clips.boxes[:, 0].to(CUDA))
    for a, b in zip(cpu[:4], gpu[:4], strict=True):
        assert b.device == CUDA
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-3)


def test_sampler_batches_are_the_same_on_the_gpu():
    clips = square_clips(6, 6)
    pool = dict(
        frames=(clips.frames * 255).round().to(torch.uint8),
        boxes=clips.boxes[:, :, None],
        counts=torch.ones(6, dtype=torch.long),
        batch_size=4,
    )
    cpu = PoolSampler(**pool)(3, 5)
    gpu = PoolSampler(**{**pool, "frames": pool["frames"].to(CUDA)})
    batch = gpu(3, 5)
    assert batch.frames.device == CUDA
    torch.testing.assert_close(batch.frames.cpu(), cpu.frames, rtol=0, atol=0)
    torch.testing.assert_close(batch.boxes.cpu(), cpu.boxes, rtol=0, atol=0)


def test_training_on_the_gpu_matches_the_cpu_and_saves_cpu_checkpoints(tmp_path):
    sampler = FixedSampler(square_clips(4, 4, seed=2))
    train_tracker(_model(), sampler, _config(), out_dir=tmp_path / "cpu")
    model = _model()
    result = train_tracker(model, sampler, _config(), out_dir=tmp_path / "gpu", device="cuda")
    assert result.step == 3 and next(model.parameters()).device == CUDA
    first_cpu, first_gpu = (
        _log(tmp_path / "cpu" / "log.csv")[0],
        _log(tmp_path / "gpu" / "log.csv")[0],
    )
    assert float(first_gpu["total"]) == pytest.approx(float(first_cpu["total"]), rel=1e-4)
    payload = torch.load(tmp_path / "gpu" / "last.pt", weights_only=True, map_location="cpu")
    assert all(v.device.type == "cpu" for v in payload["model"].values())
    loaded, _ = load_tracker(tmp_path / "gpu" / "last.pt")  # a GPU run resumes on a CPU
    for name, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value.cpu())


def test_mixed_precision_training_and_pretraining_run(tmp_path):
    sampler = FixedSampler(square_clips(4, 4, seed=2))
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train_tracker(
        model, sampler, _config(), out_dir=tmp_path / "train", device=CUDA, amp=True
    )
    assert result.step == 3 and result.skipped <= 2
    assert all(math.isfinite(float(r["total"])) for r in _log(tmp_path / "train" / "log.csv"))
    assert any(not torch.equal(before[k], v.cpu()) for k, v in model.state_dict().items())
    images = torch.rand(32, 1, 64, 64)
    boxes = torch.tensor([[24.0, 24, 40, 40]]).expand(32, 4)
    torch.manual_seed(0)
    corrector = GlimpseCorrector(config=TINY)
    path = pretrain_conv(
        corrector,
        Canvases(images, boxes),
        PretrainConfig(steps=3, batch_size=8, log_every=1),
        out_dir=tmp_path / "pretrain",
        device=CUDA,
        amp=True,
    )
    assert all(torch.isfinite(p).all() for p in load_pretrained(path).parameters())


def test_online_tracker_on_the_gpu_agrees_with_the_cpu():
    clips = square_clips(1, 6, seed=7)
    frames = [(f[0].numpy() * 255).round().astype(np.uint8) for f in clips.frames[0]]
    results = []
    for device in ("cpu", "cuda"):
        tracker = Tracker(model=_model().eval(), device=device)
        tracker.init(frames[0], clips.boxes[0, :1].numpy(), fmt="xyxy")
        results.append(np.stack([tracker.update(f) for f in frames[1:]]))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-4, atol=1e-2)
