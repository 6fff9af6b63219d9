"""RAM: retina by hand and against a slow crop-and-average loop, the policy, the hybrid loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ratrack.attention.ram import (
    RAM,
    RAMConfig,
    gaussian_log_prob,
    locations_to_pixels,
    ram_loss,
    retina,
)

D = torch.float64


def ramp_image(size: int = 8) -> torch.Tensor:
    """``(1, 1, size, size)`` with pixel ``(row, col)`` = ``row * size + col + 1``."""
    return (torch.arange(size * size, dtype=D) + 1).view(1, 1, size, size)


def to_normalized(x_pix: float, y_pix: float, size: int = 8) -> torch.Tensor:
    return torch.tensor([[2 * x_pix / size - 1, 2 * y_pix / size - 1]], dtype=D)


def test_locations_to_pixels() -> None:
    locations = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 0.5]])
    expected = torch.tensor([[0.0, 0.0], [30.0, 20.0], [60.0, 30.0]])  # W = 60, H = 40
    torch.testing.assert_close(locations_to_pixels(locations, (40, 60)), expected)


def test_retina_known_patches_at_the_centre() -> None:
    image = ramp_image()  # value = 8 * row + col + 1
    rho = retina(image, to_normalized(4, 4), patch=2, scales=2, ratio=2)
    assert rho.shape == (1, 2, 1, 2, 2)
    # scale 0: pixels rows 3..4, cols 3..4
    torch.testing.assert_close(rho[0, 0, 0], torch.tensor([[28.0, 29.0], [36.0, 37.0]], dtype=D))
    # scale 1: rows 2..5, cols 2..5, each 2x2 block averaged
    block = [
        [(19 + 20 + 27 + 28) / 4, (21 + 22 + 29 + 30) / 4],
        [(35 + 36 + 43 + 44) / 4, (37 + 38 + 45 + 46) / 4],
    ]
    torch.testing.assert_close(rho[0, 1, 0], torch.tensor(block, dtype=D))


def test_retina_known_patch_off_centre_and_x_before_y() -> None:
    image = ramp_image()
    rho = retina(image, to_normalized(2, 6), patch=2, scales=1)  # x = 2, y = 6
    torch.testing.assert_close(rho[0, 0, 0], torch.tensor([[42.0, 43.0], [50.0, 51.0]], dtype=D))


def test_retina_reads_zero_outside_the_image() -> None:
    rho = retina(ramp_image(), to_normalized(0, 0), patch=2, scales=1)  # the top-left corner
    torch.testing.assert_close(rho[0, 0, 0], torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=D))


def slow_retina(image: np.ndarray, cx: int, cy: int, patch: int, scales: int) -> np.ndarray:
    """Crop with zero padding, then average blocks: one image ``(C, H, W)``, integer centre."""
    C, H, W = image.shape
    pad = patch * 2**scales
    padded = np.zeros((C, H + 2 * pad, W + 2 * pad))
    padded[:, pad : pad + H, pad : pad + W] = image
    out = []
    for i in range(scales):
        side, f = patch * 2**i, 2**i
        y0, x0 = cy - side // 2 + pad, cx - side // 2 + pad
        crop = padded[:, y0 : y0 + side, x0 : x0 + side]
        out.append(crop.reshape(C, patch, f, patch, f).mean(axis=(2, 4)))
    return np.stack(out)


def test_retina_matches_slow_crop_loop() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((4, 2, 20, 24))
    centres = rng.integers(0, [24, 20], size=(4, 2))  # (x, y) pixel grid points
    locations = torch.tensor(
        np.stack([2 * centres[:, 0] / 24 - 1, 2 * centres[:, 1] / 20 - 1], axis=1)
    )
    rho = retina(torch.tensor(images), locations, patch=4, scales=3)
    assert rho.shape == (4, 3, 2, 4, 4)
    for b in range(4):
        expected = slow_retina(images[b], *centres[b], patch=4, scales=3)
        np.testing.assert_allclose(rho[b].numpy(), expected, atol=1e-12)


def test_retina_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1, 9, 9, generator=g, dtype=D, requires_grad=True)
    locations = (torch.rand(2, 2, generator=g, dtype=D) * 1.2 - 0.6).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda im, loc: retina(im, loc, patch=3, scales=2), (images, locations)
    )


def test_gaussian_log_prob_matches_torch_distribution() -> None:
    mean, samples = torch.randn(5, 2, dtype=D), torch.randn(5, 2, dtype=D)
    expected = torch.distributions.Normal(mean, 0.3).log_prob(samples).sum(dim=1)
    torch.testing.assert_close(gaussian_log_prob(samples, mean, 0.3), expected)


@pytest.mark.parametrize("correct", [True, False])
def test_reinforce_gradient_sign(correct: bool) -> None:
    """Above the baseline, descent moves the policy mean towards the sampled location; below it,
    away. With one step: d(reinforce)/d(mu) = -(l - mu) / sigma^2 * (R - b)."""
    std, b = 0.1, 0.3
    mu = torch.tensor([[0.2, -0.4]], dtype=D, requires_grad=True)
    noise = torch.tensor([[1.0, -1.0]], dtype=D)
    sample = mu.detach() + std * noise
    log_prob = gaussian_log_prob(sample, mu, std)[:, None]  # (B=1, T=1)
    logits = torch.tensor([[3.0, 0.0]], dtype=D)  # predicts class 0
    labels = torch.tensor([0 if correct else 1])
    terms = ram_loss(logits, labels, log_prob, torch.tensor([[b]], dtype=D))
    terms["reinforce"].backward()
    reward = 1.0 if correct else 0.0
    torch.testing.assert_close(mu.grad, -(noise / std) * (reward - b))
    step_direction = -mu.grad.sign()  # gradient descent
    towards_sample = noise.sign()
    assert torch.equal(step_direction, towards_sample if correct else -towards_sample)


def test_ram_loss_terms_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]], dtype=D, requires_grad=True)
    labels = torch.tensor([0, 1])  # rewards 1 and 0
    log_probs = torch.tensor([[-1.0, -2.0], [-0.5, -1.5]], dtype=D, requires_grad=True)
    baselines = torch.tensor([[0.5, 0.25], [0.5, 0.0]], dtype=D, requires_grad=True)
    terms = ram_loss(
        logits, labels, log_probs, baselines, reinforce_weight=2.0, baseline_weight=0.5
    )
    nll = (-math.log(math.exp(2) / (math.exp(2) + 1)) - math.log(1 / (math.exp(2) + 1))) / 2
    # advantages (1 - 0.5, 1 - 0.25) and (0 - 0.5, 0 - 0)
    reinforce = -((-1.0 * 0.5 + -2.0 * 0.75) + (-0.5 * -0.5 + -1.5 * 0.0)) / 2
    baseline = (0.25 + 0.5625 + 0.25 + 0.0) / 4
    torch.testing.assert_close(terms["classification"].item(), nll)
    torch.testing.assert_close(terms["reinforce"].item(), reinforce)
    torch.testing.assert_close(terms["baseline"].item(), baseline)
    torch.testing.assert_close(terms["reward"].item(), 0.5)
    torch.testing.assert_close(terms["total"].item(), nll + 2.0 * reinforce + 0.5 * baseline)
    terms["reinforce"].backward()
    assert baselines.grad is None and logits.grad is None  # REINFORCE trains only the policy


def small_config(**overrides) -> RAMConfig:
    cfg = {
        "image_size": (20, 24),
        "patch": 4,
        "scales": 2,
        "glimpses": 3,
        "glimpse_hidden": 8,
        "glimpse_size": 16,
        "core_size": 12,
        "num_classes": 5,
        **overrides,
    }
    return RAMConfig(**cfg)


def test_ram_shapes_and_determinism() -> None:
    torch.manual_seed(0)
    model = RAM(config=small_config())
    images = torch.rand(4, 1, 20, 24)
    out = model(images, torch.randn(3, 4, 2) * 10)  # big noise: locations get clipped
    assert out.logits.shape == (4, 5)
    assert out.locations.shape == out.means.shape == (4, 3, 2)
    assert out.log_probs.shape == out.baselines.shape == (4, 3)
    assert out.locations.abs().max() <= 1
    mean_only = model(images)
    torch.testing.assert_close(mean_only.locations, mean_only.means)
    torch.testing.assert_close(model(images).logits, mean_only.logits)  # no state on self


def test_ram_step_matches_forward() -> None:
    torch.manual_seed(1)
    model = RAM(config=small_config())
    images, noise = torch.rand(2, 1, 20, 24), torch.randn(3, 2, 2)
    out = model(images, noise)
    state = model.init_state(2)
    for t in range(3):
        step, state = model.step(images, state, noise[t])
        torch.testing.assert_close(step.location, out.locations[:, t])
        torch.testing.assert_close(step.log_prob, out.log_probs[:, t])
    torch.testing.assert_close(model.classifier(state.hidden), out.logits)


def test_ram_gradients_reach_the_right_networks() -> None:
    """Classification trains glimpse, core and classifier; REINFORCE only the locator;
    the baseline term only the baseline."""
    torch.manual_seed(2)
    model = RAM(config=small_config())
    out = model(torch.rand(3, 1, 20, 24), torch.randn(3, 3, 2))
    terms = ram_loss(out.logits, torch.tensor([0, 1, 2]), out.log_probs, out.baselines)

    def grads(term: str) -> dict[str, bool]:
        model.zero_grad(set_to_none=True)
        terms[term].backward(retain_graph=True)
        return {
            name: any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
            for name, part in model.named_children()
        }

    assert grads("classification") == {
        "glimpse": True,
        "core": True,
        "locator": False,
        "baseline": False,
        "classifier": True,
    }
    assert grads("reinforce") == {
        "glimpse": False,
        "core": False,
        "locator": True,
        "baseline": False,
        "classifier": False,
    }
    assert grads("baseline") == {
        "glimpse": False,
        "core": False,
        "locator": False,
        "baseline": True,
        "classifier": False,
    }


def test_retina_is_batched_not_looped() -> None:
    """Each image's patches depend only on its own location (the batch is not mixed)."""
    images = torch.rand(3, 1, 16, 16, dtype=D)
    locations = torch.tensor([[0.0, 0.0], [0.5, -0.5], [-0.25, 0.75]], dtype=D)
    batched = retina(images, locations, patch=4, scales=2)
    for b in range(3):
        single = retina(images[b : b + 1], locations[b : b + 1], patch=4, scales=2)
        torch.testing.assert_close(batched[b : b + 1], single)


@pytest.mark.parametrize(
    "call",
    [
        lambda: retina(torch.zeros(1, 8, 8), torch.zeros(1, 2), patch=2, scales=1),
        lambda: retina(torch.zeros(2, 1, 8, 8), torch.zeros(1, 2), patch=2, scales=1),
        lambda: retina(torch.zeros(1, 1, 8, 8), torch.zeros(1, 2), patch=0, scales=1),
        lambda: retina(torch.zeros(1, 1, 8, 8), torch.zeros(1, 2), patch=2, scales=0),
        lambda: retina(torch.zeros(1, 1, 8, 8), torch.zeros(1, 2), patch=2, scales=2, ratio=1.5),
        lambda: locations_to_pixels(torch.zeros(3), (8, 8)),
        lambda: gaussian_log_prob(torch.zeros(1, 2), torch.zeros(1, 2), 0.0),
        lambda: RAMConfig(location_std=0.0),
        lambda: RAMConfig(glimpses=0),
        lambda: RAM(config=small_config())(torch.zeros(2, 1, 20, 20)),
        lambda: RAM(config=small_config())(torch.zeros(2, 1, 20, 24), torch.zeros(3, 1, 2)),
        lambda: RAM(config=small_config()).init_state(0),
        lambda: ram_loss(
            torch.zeros(2, 3),
            torch.zeros(3, dtype=torch.long),
            torch.zeros(2, 1),
            torch.zeros(2, 1),
        ),
        lambda: ram_loss(
            torch.zeros(2, 3),
            torch.zeros(2, dtype=torch.long),
            torch.zeros(2, 1),
            torch.zeros(2, 2),
        ),
        lambda: ram_loss(
            torch.zeros(2, 3),
            torch.zeros(2, dtype=torch.long),
            torch.zeros(2, 1),
            torch.zeros(2, 1),
            reinforce_weight=-1.0,
        ),
    ],
)
def test_bad_arguments_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_classification_term_is_cross_entropy() -> None:
    logits, labels = torch.randn(6, 10), torch.randint(0, 10, (6,))
    terms = ram_loss(logits, labels, torch.zeros(6, 2), torch.zeros(6, 2))
    torch.testing.assert_close(terms["classification"], F.cross_entropy(logits, labels))
