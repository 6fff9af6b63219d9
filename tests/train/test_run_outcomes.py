"""Issue #16 in the training loops: ranges checked up front with the field's name, no checkpoint
claimed that is not there, a run with nothing usable raises, SIGTERM stops after the step with
the checkpoint written, and a checkpoint of another config is refused in one line."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest
import torch

from ratrack.checkpoints import save_tracker
from ratrack.data.pools import Batch
from ratrack.errors import ConfigError, RatrackError
from ratrack.model.tracker import RecurrentTracker
from ratrack.outputs import Interrupted
from ratrack.train.pretrain import PretrainConfig
from ratrack.train.tracker import TrainConfig, train_tracker
from tracker_helpers import TINY, FixedSampler, square_clips


def _model(**changes) -> RecurrentTracker:
    torch.manual_seed(0)
    return RecurrentTracker(config=dataclasses.replace(TINY, **changes))


def _config(**changes) -> TrainConfig:
    base = dict(steps=3, batch_size=2, lr=3e-3, warmup=1, curriculum=((0, 3),), log_every=1)
    return TrainConfig(**{**base, **changes})


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (TrainConfig, "lr", float("inf")),
        (TrainConfig, "lr", float("nan")),
        (TrainConfig, "lr", 5.0),
        (TrainConfig, "steps", 0),
        (TrainConfig, "batch_size", -2),
        (TrainConfig, "grad_clip", float("nan")),
        (PretrainConfig, "lr", float("inf")),
        (PretrainConfig, "steps", 0),
        (PretrainConfig, "seed", -1),
    ],
)
def test_configs_name_the_field(cls, field, value):
    with pytest.raises(ConfigError) as info:
        cls(**{field: value})
    assert info.value.field == field and str(info.value).startswith(f"{field} must be")


def test_all_steps_non_finite_raises_and_writes_no_checkpoint(tmp_path):
    clips = square_clips(2, 3)
    sampler = FixedSampler(Batch(torch.full_like(clips.frames, float("nan")), clips.boxes))
    with pytest.raises(RatrackError, match="no usable weights"):
        train_tracker(_model(), sampler, _config(), out_dir=tmp_path)
    assert not (tmp_path / "last.pt").exists()


def test_the_reported_checkpoint_exists_when_the_last_step_is_skipped(tmp_path):
    clips = square_clips(2, 3)

    class LastStepBad:
        def __call__(self, step: int, length: int) -> Batch:
            frames = clips.frames[:, :length]
            return Batch(frames * float("nan") if step == 2 else frames, clips.boxes[:, :length])

    result = train_tracker(_model(), LastStepBad(), _config(), out_dir=tmp_path)
    assert result.skipped == 1 and result.checkpoint.is_file()
    assert torch.load(result.checkpoint, weights_only=True)["step"] == 3


def test_sigterm_finishes_the_step_and_checkpoints(tmp_path):
    sent = []

    def progress(step: int, total: int, loss: float) -> None:
        if step == 2 and not sent:
            sent.append(step)
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted) as info:
        train_tracker(
            _model(), FixedSampler(square_clips(2, 3)), _config(steps=50),
            out_dir=tmp_path, progress=progress,
        )  # fmt: skip
    assert info.value.exit_code == 143
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "log.csv"]


def test_resume_from_another_config_is_one_line(tmp_path):
    save_tracker(tmp_path / "last.pt", _model(hidden_size=16), train_config=_config(), step=1)
    with pytest.raises(RatrackError) as info:
        train_tracker(_model(), FixedSampler(square_clips(2, 3)), _config(), out_dir=tmp_path)
    message = str(info.value)
    assert "another model config" in message and "hidden_size" in message
    assert "\n" not in message and len(message) < 250


def test_pretraining_without_a_finite_loss_writes_no_checkpoint(tmp_path):
    from ratrack.data.canvases import Canvases
    from ratrack.train.pretrain import GlimpseCorrector, pretrain_conv

    torch.manual_seed(0)
    boxes = torch.tensor([[20.0, 20, 40, 40]]).repeat(8, 1)
    nan_images = torch.full((8, 1, 64, 64), float("nan"))
    config = PretrainConfig(steps=3, batch_size=4, lr=1e-3, log_every=1)
    with pytest.raises(RatrackError, match="no usable weights"):
        pretrain_conv(
            GlimpseCorrector(config=TINY), Canvases(nan_images, boxes), config, out_dir=tmp_path
        )
    assert not (tmp_path / "pretrain.pt").exists()
