import math

import numpy as np
import pytest
import torch

from ratrack.attention.draw import DRAW
from ratrack.attention.stn import STNClassifier
from ratrack.data.mnist import load_split
from ratrack.train.attention_tasks import TaskResult
from ratrack.train.attention_tasks import draw as draw_task
from ratrack.train.attention_tasks import stn as stn_task


@pytest.fixture(scope="module")
def train_digits():
    return load_split("train")


def falls(losses, margin, k=10):
    """Mean of the last k losses below margin x the mean of the first k."""
    return np.mean(losses[-k:]) < margin * np.mean(losses[:k])


def test_distortion_keeps_the_digit_inside_and_identity_case():
    config = stn_task.Config(max_rotation=0.0, min_scale=1.0, max_scale=1.0, canvas=28)
    theta = stn_task.distortion_theta(3, config=config, generator=torch.Generator())
    # Canvas = digit, no rotation, no scale change, no room to move: the identity.
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(3, 2, 3))
    config = stn_task.Config()
    digits = torch.zeros(64, 1, 28, 28)
    digits[:, :, 4:24, 4:24] = 1.0
    theta = stn_task.distortion_theta(64, config=config, generator=torch.Generator().manual_seed(0))
    images = stn_task.distort(digits, theta, config.canvas)
    assert images.shape == (64, 1, 42, 42)
    # Rotated by up to 45 degrees, the 20x20 square's corners stay inside the canvas, so no
    # mass is lost: each image keeps 400 * scale^2 of it.
    scale = 42 / 28 / theta[:, :, :2].det().sqrt()
    torch.testing.assert_close(images.sum((1, 2, 3)), 400 * scale**2, rtol=0.03, atol=0)


@pytest.mark.slow
def test_stn_classifier_training_loss_falls(train_digits, one_thread):
    # Milder distortions in a 28x28 canvas and a higher rate, so 40 steps show the fall.
    config = stn_task.Config(
        steps=40, batch_size=32, canvas=28, max_rotation=20.0, min_scale=0.8, max_scale=1.0, lr=3e-3
    )
    digits = stn_task.to_tensor(train_digits.images, torch.device("cpu"))
    labels = torch.from_numpy(train_digits.labels)
    torch.manual_seed(0)
    model = STNClassifier(in_channels=1, in_size=(28, 28), out_size=(28, 28))
    seen = []
    losses = stn_task.train_classifier(
        model,
        digits,
        labels,
        config=config,
        generator=torch.Generator().manual_seed(0),
        progress=lambda step, total, loss: seen.append((step, total)),
    )
    assert len(losses) == 40 and seen[-1] == (40, 40)
    assert falls(losses, margin=0.7), (np.mean(losses[:10]), np.mean(losses[-10:]))


@pytest.mark.slow
def test_draw_training_loss_falls(train_digits, one_thread):
    config = draw_task.Config(steps=40, batch_size=32, hidden=64, latent=10, glimpses=4)
    images = draw_task.binarize(train_digits.images, config.binarize_above)
    torch.manual_seed(0)
    model = DRAW(config=config.model_config())
    losses = draw_task.train(
        model, images, config=config, generator=torch.Generator().manual_seed(0)
    )
    assert len(losses) == 40
    assert falls(losses, margin=0.6), (np.mean(losses[:10]), np.mean(losses[-10:]))


def test_stn_run_smoke(tmp_path):
    config = stn_task.Config(steps=3, batch_size=8, out_dir=str(tmp_path), figure_examples=4)
    calls = []
    result = stn_task.run(config, progress=lambda s, t, loss: calls.append((s, t)))
    assert isinstance(result, TaskResult)
    assert list(result.scores) == ["test_accuracy_with_stn", "test_accuracy_without_stn"]
    assert all(0 <= v <= 1 for v in result.scores.values())
    assert calls[-1] == (6, 6)  # both models, one progress sequence
    assert result.figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.seconds > 0


def test_draw_run_smoke(tmp_path):
    config = draw_task.Config(
        steps=2, batch_size=8, hidden=16, latent=4, glimpses=2, out_dir=str(tmp_path), figure_rows=2
    )
    result = draw_task.run(config)
    assert set(result.scores) == {
        "test_negative_elbo_nats",
        "test_reconstruction_nats",
        "test_kl_nats",
    }
    elbo = result.scores["test_negative_elbo_nats"]
    assert math.isfinite(elbo) and 0 < elbo < 784 * 2
    assert elbo == pytest.approx(
        result.scores["test_reconstruction_nats"] + result.scores["test_kl_nats"], rel=1e-5
    )
    assert result.figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stn_test_set_is_fixed():
    config = stn_task.Config()
    a, la = stn_task.make_test_set(config, torch.device("cpu"))
    b, lb = stn_task.make_test_set(config, torch.device("cpu"))
    assert torch.equal(a, b) and torch.equal(la, lb)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: stn_task.Config(steps=0), "steps"),
        (lambda: stn_task.Config(min_scale=1.3, max_scale=1.2), "min_scale"),
        (lambda: stn_task.Config(canvas=30), "canvas"),
        (lambda: stn_task.Config(lr=0), "lr"),
        (lambda: draw_task.Config(glimpses=0), "glimpses"),
        (lambda: draw_task.Config(binarize_above=300), "binarize_above"),
        (lambda: draw_task.Config(threads=0), "threads"),
    ],
)
def test_bad_task_configs_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
