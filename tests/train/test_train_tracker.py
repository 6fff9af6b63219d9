import csv
import dataclasses

import pytest
import torch

from ratrack.checkpoints import load_tracker, save_tracker
from ratrack.data.pools import Batch
from ratrack.model.tracker import RecurrentTracker
from ratrack.train.tracker import TrainConfig, grad_components, train_tracker
from tracker_helpers import TINY, FixedSampler, square_clips


def _model(seed: int = 0, **changes) -> RecurrentTracker:
    torch.manual_seed(seed)
    return RecurrentTracker(config=dataclasses.replace(TINY, **changes))


def _config(**changes) -> TrainConfig:
    base = dict(
        steps=6,
        batch_size=4,
        lr=3e-3,
        warmup=1,
        curriculum=((0, 3), (3, 5)),
        checkpoint_every=2,
        log_every=1,
    )
    return TrainConfig(**{**base, **changes})


def test_curriculum_and_learning_rate_schedule():
    config = _config(steps=100, warmup=10, curriculum=((0, 5), (20, 10), (50, 30)))
    assert [config.length_at(s) for s in (0, 19, 20, 49, 50, 99)] == [5, 5, 10, 10, 30, 30]
    assert config.lr_at(0) == pytest.approx(3e-4)
    assert config.lr_at(10) == pytest.approx(3e-3)
    assert config.lr_at(100) == pytest.approx(3e-3 * config.lr_final)
    with pytest.raises(ValueError):
        TrainConfig(curriculum=((5, 10),))


@pytest.mark.slow
def test_tiny_overfit_loss_falls_fivefold(tmp_path):
    torch.set_num_threads(1)
    sampler = FixedSampler(square_clips(4, 6, seed=3))
    config = _config(
        steps=150, curriculum=((0, 6),), checkpoint_every=1000, log_every=10, warmup=10
    )
    result = train_tracker(_model(), sampler, config, out_dir=tmp_path)
    with (tmp_path / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    first, last = float(rows[0]["total"]), float(rows[-1]["total"])
    assert last < first / 5, (first, last)
    assert float(rows[-1]["mean_iou"]) > 0.7
    assert result.step == 150


@pytest.mark.parametrize("correlation_stage", [0, 2])
def test_checkpoint_round_trip_weights_only(tmp_path, correlation_stage):
    model = _model(correlation_stage=correlation_stage)
    path = save_tracker(tmp_path / "t.pt", model, train_config=_config(), step=7)
    payload = torch.load(path, weights_only=True)
    assert payload["step"] == 7 and payload["config"]["model"]["glimpse_size"] == (16, 16)
    loaded, _ = load_tracker(path)
    assert loaded.config == model.config
    clips = square_clips(2, 4)
    torch.testing.assert_close(
        loaded(clips.frames, clips.boxes[:, 0]).boxes, model(clips.frames, clips.boxes[:, 0]).boxes
    )


class _Interrupt(Exception):
    pass


def test_resume_after_kill_continues_step_count_and_optimizer(tmp_path):
    torch.set_num_threads(1)
    sampler = FixedSampler(square_clips(4, 5, seed=4))
    config = _config()
    straight = _model()
    train_tracker(straight, sampler, config, out_dir=tmp_path / "straight")

    def kill_at_3(step, total, loss):
        if step == 3:
            raise _Interrupt

    killed = _model()
    with pytest.raises(_Interrupt):
        train_tracker(killed, sampler, config, out_dir=tmp_path / "killed", progress=kill_at_3)
    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["step"] == 2
    resumed = _model(seed=99)  # weights come from the checkpoint, not from this init
    seen = []
    result = train_tracker(
        resumed,
        sampler,
        config,
        out_dir=tmp_path / "killed",
        progress=lambda s, t, loss: seen.append(s),
    )
    assert seen == [3, 4, 5, 6] and result.step == 6
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    with (tmp_path / "killed" / "log.csv").open() as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_log_has_loss_terms_and_gradient_norms(tmp_path):
    sampler = FixedSampler(square_clips(4, 5))
    model = _model()
    train_tracker(model, sampler, _config(steps=2), out_dir=tmp_path)
    with (tmp_path / "log.csv").open() as f:
        row = next(csv.DictReader(f))
    names = grad_components(model)
    assert names == ("grid_generator", "conv_net", "rnn", "tracking_head", "localization_head")
    for name in names:
        assert float(row[f"grad_{name}"]) > 0, name
    assert float(row["total"]) > 0


def test_a_learned_matching_model_logs_its_match_net(tmp_path):
    """Training a model with a match net (issue #13's natural model) logs its gradient norm
    too. Matching runs without autograd (the match net is trained by ratrack.train.matcher), so
    tracker training leaves it as it was and logs 0."""
    model = _model(match_size=16, match_features=4)
    before = [p.clone() for p in model.match_net.parameters()]
    train_tracker(model, FixedSampler(square_clips(4, 5)), _config(steps=2), out_dir=tmp_path)
    with (tmp_path / "log.csv").open() as f:
        row = next(csv.DictReader(f))
    assert float(row["grad_match_net"]) == 0 and float(row["grad_tracking_head"]) > 0
    after = model.match_net.parameters()
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_non_finite_loss_is_skipped_then_stops(tmp_path):
    clean = square_clips(4, 5)
    nan = Batch(clean.frames.clone().fill_(float("nan")), clean.boxes)

    def sometimes_nan(step, length):
        batch = nan if step == 1 else clean
        return Batch(batch.frames[:, :length], batch.boxes[:, :length])

    model = _model()
    result = train_tracker(model, sometimes_nan, _config(steps=3), out_dir=tmp_path / "a")
    assert result.skipped == 1 and result.step == 3
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(FloatingPointError):
        train_tracker(
            _model(),
            lambda s, n: Batch(nan.frames[:, :n], nan.boxes[:, :n]),
            _config(steps=5, max_bad_steps=2),
            out_dir=tmp_path / "b",
        )
