import pytest
import torch

from ratrack.attention.stn import extract_glimpses
from ratrack.boxes import apply_window_deltas, window_deltas
from ratrack.data.canvases import Canvases, make_canvases
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.train.pretrain import (
    GlimpseCorrector,
    PerturbConfig,
    PretrainConfig,
    _laplace,
    evaluate_correction,
    load_pretrained,
    perturb_windows,
    pretrain_conv,
)
from ratrack.train.tracker import load_pretrained_conv

TINY = TrackerConfig(
    glimpse_size=(16, 16),
    conv_channels=(8, 16),
    feature_size=32,
    hidden_size=32,
    head_hidden=32,
    context=2.0,
)


def test_targets_invert_the_perturbation_exactly():
    g = torch.Generator().manual_seed(0)
    windows = torch.tensor(
        [[10.0, 20, 50, 60], [0, 0, 8, 8], [100, 5, 300, 205]], dtype=torch.float64
    )
    windows = windows.repeat(100, 1)
    perturbed, targets = perturb_windows(windows, PerturbConfig(), g)
    assert not torch.allclose(perturbed, windows)
    torch.testing.assert_close(
        apply_window_deltas(perturbed, targets), windows, rtol=1e-12, atol=1e-9
    )
    torch.testing.assert_close(targets, window_deltas(perturbed, windows))


def test_perturbations_are_laplace_and_clamped():
    g = torch.Generator().manual_seed(1)
    x = _laplace((200_000,), 0.1, g)
    assert float(x.abs().mean()) == pytest.approx(0.1, rel=0.02)  # E|X| = b
    assert float(x.median()) == pytest.approx(0.0, abs=0.002)
    config = PerturbConfig(shift_scale=1.0, log_scale_scale=1.0, max_shift=0.2, max_log_scale=0.3)
    windows = torch.tensor([[0.0, 0, 10, 10]]).repeat(1000, 1)
    perturbed, _ = perturb_windows(windows, config, g)
    deltas = window_deltas(windows, perturbed)
    assert float(deltas[:, :2].abs().max()) <= 0.2 + 1e-6
    assert float(deltas[:, 2:].abs().max()) <= 0.3 + 1e-6
    torch.testing.assert_close(deltas[:, 2], deltas[:, 3])  # square windows stay square


def test_canvas_glimpse_matches_frame_glimpse():
    ys, xs = torch.meshgrid(torch.arange(60.0), torch.arange(90.0), indexing="ij")
    frame = torch.sin(xs / 5 + ys / 11)[None]  # (1, H, W) smooth
    boxes = torch.tensor([[30.0, 20, 42, 30]])
    canvases = make_canvases(frame, boxes, size=128, context=2.0)
    a = extract_glimpses(frame[None], boxes, (8, 8))
    b = extract_glimpses(canvases.images, canvases.boxes, (8, 8))
    assert (a - b).abs().max() < 0.03


def _square_canvases(n: int, seed: int = 0) -> Canvases:
    g = torch.Generator().manual_seed(seed)
    side = 8 + 8 * torch.rand(n, generator=g)
    xy = 16 + (32 - side[:, None]) * torch.rand(n, 2, generator=g)
    boxes = torch.cat((xy, xy + side[:, None]), 1)  # (n, 4)
    c = torch.arange(64.0) + 0.5
    ix = (c >= boxes[:, 0:1]) & (c < boxes[:, 2:3])
    iy = (c >= boxes[:, 1:2]) & (c < boxes[:, 3:4])
    images = (iy[:, :, None] & ix[:, None, :]).float()[:, None]  # (n, 1, 64, 64)
    return Canvases(images, boxes)


@pytest.mark.slow
def test_tiny_pretraining_improves_the_window_and_transfers(tmp_path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GlimpseCorrector(config=TINY)
    config = PretrainConfig(
        steps=150,
        batch_size=32,
        lr=3e-3,
        log_every=50,
        perturb=PerturbConfig(shift_scale=0.1, log_scale_scale=0.1),
    )
    held_out = _square_canvases(200, seed=1)
    before = evaluate_correction(model, held_out, config)
    assert before["iou_after"] == pytest.approx(before["iou_before"])  # zero-init head
    path = pretrain_conv(model, _square_canvases(256), config, out_dir=tmp_path)
    after = evaluate_correction(load_pretrained(path), held_out, config)
    assert after["iou_after"] > after["iou_before"] + 0.05, after
    tracker = RecurrentTracker(config=TINY)
    load_pretrained_conv(tracker, path)
    for k, v in model.conv.state_dict().items():
        torch.testing.assert_close(tracker.conv.state_dict()[k], v)


def test_real_pretraining_refuses_validation_sequences():
    from ratrack.data.canvases import RealPretrainData

    with pytest.raises(ValueError):
        RealPretrainData(otb=("Car1", "BlurCar2"))


def test_real_canvases_split_and_geometry(data_dir):
    from ratrack.data.canvases import RealPretrainData, real_canvases

    train, held = real_canvases(data_dir, RealPretrainData(otb_stride=25), context=3.0)
    assert train.images.shape[1:] == held.images.shape[1:] == (3, 96, 96)
    assert len(train.images) > 10 and len(held.images) > 10
    # the box sits in the middle third of the canvas (window = 3 boxes, canvas = 2 windows)
    centres = (train.boxes[:, :2] + train.boxes[:, 2:]) / 2
    torch.testing.assert_close(centres, torch.full_like(centres, 48.0), rtol=0, atol=1e-3)
