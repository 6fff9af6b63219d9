"""The natural-video training pool: crops, real clips, validation sequences kept out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratrack.data.natural_pool import NaturalPoolConfig, crop_clip, motion_blur, natural_pool
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from ratrack.track.sot import SingleObjectTracker


def _frame_with_box(box, size=(200, 300)) -> np.ndarray:
    image = np.zeros((*size, 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


def test_crop_clip_maps_boxes_onto_the_object_pixels():
    boxes = np.array([[100, 60, 140, 100], [120, 70, 160, 110]], np.float64)
    images = [_frame_with_box(b.astype(int)) for b in boxes]
    frames, out = crop_clip(images, boxes, context=4.0, out_size=64)
    assert frames.shape == (2, 3, 64, 64) and frames.dtype == np.uint8
    # side = max(4 * 40, 1.2 * 60) = 160 px -> 64 px: scale 0.4, centred on the span (130, 85)
    np.testing.assert_allclose(out[0], [20, 22, 36, 38], atol=1e-4)
    for t in range(2):
        x1, y1, x2, y2 = np.round(out[t]).astype(int)
        inside = frames[t, 0, y1 + 1 : y2 - 1, x1 + 1 : x2 - 1]
        assert inside.min() > 200  # the white object fills its box
        outside = frames[t, 0].astype(int).sum() - frames[t, 0, y1:y2, x1:x2].astype(int).sum()
        assert outside < 0.05 * 255 * (x2 - x1) * (y2 - y1)  # and nothing else is white


def test_validation_sequences_are_refused():
    with pytest.raises(ValueError, match="BlurCar2"):
        NaturalPoolConfig(otb=("Car1", "BlurCar2"))
    with pytest.raises(ValueError, match="context_range"):
        NaturalPoolConfig(context_range=(0.5, 2.0))


def test_pool_from_real_data(data_dir):
    config = NaturalPoolConfig(length=6, out_size=48, real_clips=4, mot_clips=4, motion_clips=4)
    frames, boxes = natural_pool(data_dir, config)
    assert frames.shape == (12, 6, 3, 48, 48) and frames.dtype == torch.uint8
    assert boxes.shape == (12, 6, 1, 4)
    b = boxes[:, :, 0]
    assert torch.isfinite(b).all()
    assert (b[..., 2] > b[..., 0]).all() and (b[..., 3] > b[..., 1]).all()
    centre = (b[..., :2] + b[..., 2:]) / 2
    assert ((centre > 0) & (centre < 48)).all()  # every object is in view
    again, _ = natural_pool(data_dir, config)
    assert torch.equal(frames, again)  # a pure function of the seed


def test_motion_blur_smears_a_point_along_a_line_and_keeps_brightness():
    frames = np.zeros((20, 3, 31, 31), np.uint8)
    frames[:, :, 15, 15] = 255
    rng = np.random.default_rng(0)
    out = motion_blur(frames, 9, rng)
    assert out.shape == frames.shape and out.dtype == np.uint8
    spread = (out[:, 0] > 0).reshape(20, -1).sum(1)
    assert spread.max() >= 7 and spread.max() <= 12  # a line of up to 9 px (rounding)
    assert (np.abs(out.reshape(20, -1).astype(int).sum(1) / 3 - 255) <= 12).all()
    assert np.array_equal(out[:, 0], out[:, 2])  # the same kernel on every channel
    assert np.array_equal(motion_blur(frames, 1, rng), frames)  # a 1-px line changes nothing


def test_blurred_pool_keeps_clips_and_boxes(data_dir):
    config = NaturalPoolConfig(length=4, out_size=48, real_clips=3, mot_clips=2, motion_clips=3)
    frames, boxes = natural_pool(data_dir, config)
    blurred, blurred_boxes = natural_pool(
        data_dir, NaturalPoolConfig(**{**config.__dict__, "blur_clips": 1.0})
    )
    assert torch.equal(boxes, blurred_boxes)
    assert not torch.equal(frames, blurred)
    diff = (frames.float() - blurred.float()).abs().mean()
    assert 0 < diff < 20  # smeared, not replaced
    with pytest.raises(ValueError, match="blur"):
        NaturalPoolConfig(blur_clips=1.5)


def test_single_object_adapter_matches_the_tracker():
    torch.manual_seed(0)
    model = RecurrentTracker(config=TrackerConfig(in_channels=3, glimpse_size=(16, 16)))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(3)]
    box = np.array([20.0, 15.0, 40.0, 35.0])
    sot = SingleObjectTracker(Tracker(model=model))
    reference = Tracker(model=model)
    sot.init(frames[0], box)
    reference.init(frames[0], box[None], fmt="xyxy")
    for frame in frames[1:]:
        out = sot.update(frame)
        assert out.shape == (4,)
        np.testing.assert_array_equal(out, reference.update(frame)[0])


def test_pretrain_and_train_commands_on_natural_data(data_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ratrack.checkpoints import load_tracker
    from ratrack.cli import app

    monkeypatch.setenv("RATRACK_DATA", str(data_dir))
    runner = CliRunner()
    pre = runner.invoke(
        app,
        [
            *("pretrain", "--data", "natural", "--pool", "8", "--steps", "3", "--batch", "4"),
            *("--device", "cpu", "--out", str(tmp_path / "pre")),
        ],
    )
    assert pre.exit_code == 0, pre.output
    assert "held-out window IoU" in pre.output
    out = runner.invoke(
        app,
        [
            *("train", "--data", "natural", "--pool", "8", "--steps", "2", "--batch", "2"),
            *("--device", "cpu", "--init-from", str(tmp_path / "pre" / "pretrain.pt")),
            *("--out", str(tmp_path / "train")),
        ],
    )
    assert out.exit_code == 0, out.output
    model, payload = load_tracker(tmp_path / "train" / "last.pt")
    assert model.config.in_channels == 3 and payload["step"] == 2
    bad = runner.invoke(
        app, ["train", "--data", "natural", "--root", str(tmp_path / "nowhere"), "--steps", "2"]
    )
    assert bad.exit_code != 0
