"""Bouncing MNIST: determinism, shapes, tight boxes inside the canvas, motion model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratrack.data.bouncing_mnist import (
    BouncingMnist,
    BouncingMnistConfig,
    fold,
    generate_sequence,
    trajectories,
)
from ratrack.data.mnist import Digits, load_split


@pytest.fixture(scope="module")
def digits() -> Digits:
    return load_split("test")


def test_shapes_and_types(digits):
    cfg = BouncingMnistConfig(num_digits=3, length=7, canvas_size=(64, 80))
    s = BouncingMnist(cfg, num_sequences=4, digits=digits)[2]
    assert s.frames.shape == (7, 1, 64, 80) and s.frames.dtype == np.float32
    assert s.boxes.shape == (7, 3, 4) and s.boxes.dtype == np.float32
    assert s.ids.shape == (3,) and s.ids.dtype == np.int64
    assert len(set(s.ids.tolist())) == 3  # distinct digits
    assert 0.0 <= s.frames.min() and s.frames.max() <= 1.0 and s.frames.max() > 0.5


def test_default_is_ratm_recipe():
    cfg = BouncingMnistConfig()
    assert (cfg.canvas_size, cfg.digit_size, cfg.length, cfg.momentum) == ((100, 100), 28, 30, 0.9)


def test_determinism_by_seed(digits):
    cfg = BouncingMnistConfig(num_digits=2)
    a = BouncingMnist(cfg, num_sequences=5, seed=3, digits=digits)
    b = BouncingMnist(cfg, num_sequences=5, seed=3, digits=digits)
    c = BouncingMnist(cfg, num_sequences=5, seed=4, digits=digits)
    for i in (0, 4, 2):  # order of access must not matter
        for x, y in zip(a[i], b[i], strict=True):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1].boxes, c[1].boxes)
    assert not np.array_equal(a[0].boxes, a[1].boxes)
    np.testing.assert_array_equal(a[-1].frames, a[4].frames)


def _check_tight(sample, canvas):
    H, W = canvas
    frames, boxes = sample.frames[:, 0], sample.boxes
    assert (boxes[..., 0] >= 0).all() and (boxes[..., 1] >= 0).all()
    assert (boxes[..., 2] <= W).all() and (boxes[..., 3] <= H).all()
    assert (boxes[..., 2] > boxes[..., 0]).all() and (boxes[..., 3] > boxes[..., 1]).all()
    for t in range(len(frames)):
        covered = np.zeros((H, W), dtype=bool)
        for x1, y1, x2, y2 in boxes[t].astype(int):
            covered[y1:y2, x1:x2] = True
            region = frames[t, y1:y2, x1:x2] > 0
            # every border row/column of a tight box touches a lit pixel
            assert region[0].any() and region[-1].any()
            assert region[:, 0].any() and region[:, -1].any()
        assert not (frames[t] > 0)[~covered].any()  # no lit pixel outside all boxes


def test_single_digit_box_equals_pixel_extent(digits):
    cfg = BouncingMnistConfig(num_digits=1)
    data = BouncingMnist(cfg, num_sequences=20, seed=1, digits=digits)
    for i in range(len(data)):
        s = data[i]
        for t in range(cfg.length):
            ys, xs = np.nonzero(s.frames[t, 0])
            expected = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            np.testing.assert_array_equal(s.boxes[t, 0], expected)


@pytest.mark.parametrize(
    "cfg",
    [
        BouncingMnistConfig(num_digits=3),
        BouncingMnistConfig(num_digits=2, canvas_size=(40, 90), digit_size=20, speed=20.0),
        BouncingMnistConfig(num_digits=1, canvas_size=(28, 28)),  # no room to move at all
    ],
)
def test_boxes_tight_and_inside_canvas(digits, cfg):
    data = BouncingMnist(cfg, num_sequences=10, seed=2, digits=digits)
    for i in range(len(data)):
        _check_tight(data[i], cfg.canvas_size)


def test_overlap_is_pixel_maximum():
    img = np.zeros((1, 4, 4), np.uint8)
    img[0, 1:3, 1:3] = [[100, 200], [50, 255]]
    two = Digits(np.concatenate([img, img // 2]), np.array([0, 1]))
    cfg = BouncingMnistConfig(canvas_size=(4, 4), digit_size=4, num_digits=2, length=2)
    s = generate_sequence(two, cfg, np.random.default_rng(0))
    # no room to move: both digits sit on top of each other, the brighter wins everywhere
    np.testing.assert_allclose(s.frames[:, 0], np.broadcast_to(img[0] / 255.0, (2, 4, 4)))
    np.testing.assert_array_equal(s.boxes, np.full((2, 2, 4), [1, 1, 3, 3], np.float32))


def test_fold_known_answers():
    p, flip = fold(np.array([-3.0, 75.0, 150.0, 10.0, 72.0, -80.0]), 72.0)
    np.testing.assert_allclose(p, [3.0, 69.0, 6.0, 10.0, 72.0, 64.0])
    np.testing.assert_array_equal(flip, [True, True, False, False, True, False])


def test_momentum_one_is_a_straight_line_reflected():
    cfg = BouncingMnistConfig(momentum=1.0, speed=5.0)
    high = (32.0, 45.0)
    path = trajectories(4, 200, high, cfg, np.random.default_rng(7))  # (T, N, 2)
    rng = np.random.default_rng(7)  # the same draws: start position, then start velocity
    p0 = rng.uniform(0.0, 1.0, size=(4, 2)) * np.array(high)
    v0 = cfg.speed * rng.standard_normal((4, 2))
    t = np.arange(200)[:, None, None]
    straight = p0 + t * v0  # (T, N, 2) unfolded line
    expected = np.stack([fold(straight[..., a], high[a])[0] for a in range(2)], axis=-1)
    np.testing.assert_allclose(path, expected, atol=1e-9)
    assert (path >= 0).all() and (path <= np.array(high)).all()


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_velocity_is_stationary_with_lag_one_correlation_momentum(momentum):
    cfg = BouncingMnistConfig(momentum=momentum, speed=3.0)
    # a canvas so large that no digit ever reaches a border
    path = trajectories(400, 200, (1e9, 1e9), cfg, np.random.default_rng(0))
    v = np.diff(path, axis=0)  # (T-1, N, 2)
    assert abs(v.std() - 3.0) < 0.1
    corr = np.mean(v[1:] * v[:-1]) / np.mean(v * v)
    assert abs(corr - momentum) < 0.02


def test_default_speed_moves_and_bounces(digits):
    data = BouncingMnist(BouncingMnistConfig(), num_sequences=50, seed=0, digits=digits)
    centres = np.stack([(data[i].boxes[..., :2] + data[i].boxes[..., 2:]) / 2 for i in range(50)])
    step = np.abs(np.diff(centres, axis=1))  # (S, T-1, N, 2)
    assert 3.0 < step.mean() < 10.0  # px per frame per axis
    turns = np.sign(np.diff(centres[..., 0], axis=1))  # x direction changes = bounces
    assert (np.abs(np.diff(turns, axis=1)) == 2).any()


def test_dataloader_collates(digits):
    data = BouncingMnist(
        BouncingMnistConfig(num_digits=2, length=5), num_sequences=6, digits=digits
    )
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert batch.frames.shape == (3, 5, 1, 100, 100) and batch.boxes.shape == (3, 5, 2, 4)
    assert batch.ids.dtype == torch.int64


def test_digit_resize(digits):
    cfg = BouncingMnistConfig(digit_size=14, canvas_size=(50, 50), num_digits=2)
    s = BouncingMnist(cfg, num_sequences=1, digits=digits)[0]
    assert ((s.boxes[..., 2:] - s.boxes[..., :2]) <= 14).all()
    _check_tight(s, cfg.canvas_size)


def test_default_digits_are_the_split(digits):
    data = BouncingMnist(BouncingMnistConfig(), num_sequences=1, split="test")
    np.testing.assert_array_equal(data.digits.images, digits.images)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"digit_size": 101},
        {"digit_size": 0},
        {"num_digits": 0},
        {"length": 0},
        {"speed": -1.0},
        {"speed": float("nan")},
        {"momentum": 1.5},
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        BouncingMnistConfig(**kwargs)


def test_bad_arguments_raise(digits):
    cfg = BouncingMnistConfig()
    with pytest.raises(ValueError):
        BouncingMnist(cfg, num_sequences=-1, digits=digits)
    with pytest.raises(ValueError):
        BouncingMnist(cfg, num_sequences=1, split="nope")
    data = BouncingMnist(cfg, num_sequences=2, digits=digits)
    with pytest.raises(IndexError):
        data[2]
    with pytest.raises(IndexError):
        data[-3]


def test_real_mnist_idx_digits(data_dir):
    data = BouncingMnist(
        BouncingMnistConfig(num_digits=2),
        num_sequences=3,
        split="test",
        mnist=str(data_dir / "mnist"),
    )
    assert len(data.digits) == 1000  # 10% of the official 10,000 test digits
    _check_tight(data[0], (100, 100))
