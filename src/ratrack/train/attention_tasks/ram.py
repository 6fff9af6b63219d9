"""RAM on translated MNIST (Mnih et al., 2014, Sec. 4.1): find and read a digit in a big canvas.

Each 28x28 digit of :func:`ratrack.data.mnist.load_split` is pasted at a uniformly random
integer position inside an empty ``canvas x canvas`` image (60x60 by default, the paper's
"translated MNIST"). Training digits get fresh positions every step; each test digit (never used
for training) is placed once with a fixed seed, so the test set is the same in every run.
:class:`~ratrack.attention.ram.RAM` takes ``T`` glimpses (6, three scales of 12x12 pixels) and is
trained with the hybrid loss of :func:`~ratrack.attention.ram.ram_loss`; at test time it looks at
the policy's mean locations (no sampling). The score is the test error.

Reference: the paper reaches 1.84% error with 6 glimpses on 60x60 translated MNIST, training on
the 60,000 MNIST training digits for far longer than this task's default few minutes on 4,000.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ratrack.attention.ram import RAM, RAMConfig, locations_to_pixels, ram_loss
from ratrack.data.mnist import load_split
from ratrack.train.attention_tasks import Progress, TaskResult
from ratrack.train.attention_tasks._common import (
    guarded_step,
    to_tensor,
    torch_threads,
    train_digits,
    write_png,
)

logger = logging.getLogger(__name__)

DIGIT = 28  # MNIST digit side, pixels


@dataclass(frozen=True)
class Config:
    """The translated-MNIST task's settings (defaults: a few minutes on one CPU core)."""

    steps: int = 8000  # training steps (mini-batches)
    seed: int = 0  # model init, batch order, digit positions and policy noise
    out_dir: str = "runs/attention/ram"  # where the figure goes
    mnist: str | None = None  # IDX folder/file; None = the 5,000 embedded digits
    batch_size: int = 64  # canvases per step
    lr: float = 1e-3  # Adam learning rate
    grad_clip: float = 5.0  # max global gradient norm
    canvas: int = 60  # side of the canvas, pixels (paper: 60)
    glimpses: int = 6  # T (paper: 6 for 1.84% error)
    patch: int = 12  # retina patch side g (paper: 12)
    scales: int = 3  # retina scales k (paper: 3)
    location_std: float = 0.2  # policy standard deviation, normalized units (0.1: worse here)
    reinforce_weight: float = 1.0  # weight of the REINFORCE term in the hybrid loss
    baseline_weight: float = 1.0  # weight of the baseline regression term
    test_seed: int = 20140624  # digit positions of the test set (fixed: a fixed test set)
    eval_batch: int = 500  # canvases per evaluation batch
    figure_examples: int = 6  # test canvases shown with their glimpse paths
    device: str = "cpu"  # torch device
    threads: int | None = 1  # torch CPU threads while running (None: leave as is)

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "glimpses", "patch", "scales", "eval_batch")
        for name in (*positive, "figure_examples"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.location_std <= 0:
            raise ValueError("lr, grad_clip and location_std must be positive")
        if self.reinforce_weight < 0 or self.baseline_weight < 0:
            raise ValueError("loss weights must be non-negative")
        if self.canvas < DIGIT:
            raise ValueError(f"canvas ({self.canvas}) must hold a {DIGIT}x{DIGIT} digit")
        if self.threads is not None and self.threads <= 0:
            raise ValueError(f"threads must be positive or None, got {self.threads}")

    def model_config(self) -> RAMConfig:
        return RAMConfig(
            image_size=(self.canvas, self.canvas),
            patch=self.patch,
            scales=self.scales,
            glimpses=self.glimpses,
            location_std=self.location_std,
        )


def place_digits(digits: Tensor, canvas: int, *, generator: torch.Generator) -> Tensor:
    """Paste digits ``(N, 28, 28)`` at uniform random positions in ``(N, 1, canvas, canvas)``.

    Positions are integer pixel offsets of the digit's top-left corner, ``0..canvas - 28`` on
    each axis, drawn with ``generator`` (a CPU generator); vectorized with one scatter.
    """
    if digits.dim() != 3 or digits.shape[1:] != (DIGIT, DIGIT):
        raise ValueError(f"digits must be (N, {DIGIT}, {DIGIT}), got {tuple(digits.shape)}")
    if canvas < DIGIT:
        raise ValueError(f"canvas ({canvas}) must hold a {DIGIT}x{DIGIT} digit")
    N = digits.shape[0]
    corner = torch.randint(0, canvas - DIGIT + 1, (N, 2), generator=generator)  # (N, 2) x, y
    corner = corner.to(digits.device)
    offsets = torch.arange(DIGIT, device=digits.device)
    rows = corner[:, 1, None] + offsets  # (N, 28) canvas rows of the digit's rows
    cols = corner[:, 0, None] + offsets  # (N, 28)
    index = rows[:, :, None] * canvas + cols[:, None, :]  # (N, 28, 28) flat canvas positions
    images = digits.new_zeros(N, canvas * canvas)
    images.scatter_(1, index.view(N, DIGIT * DIGIT), digits.reshape(N, DIGIT * DIGIT))
    return images.view(N, 1, canvas, canvas)  # (N, 1, S, S)


def train(
    model: RAM,
    digits: Tensor,
    labels: Tensor,
    *,
    config: Config,
    generator: torch.Generator,
    progress: Progress | None = None,
) -> list[float]:
    """Train ``model`` on freshly placed ``digits`` ``(N, 28, 28)``; returns each step's loss.

    The returned loss is the classification term (the REINFORCE term's value is not a
    quantity that should fall; its gradient is what matters).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    losses: list[float] = []
    rewards: list[float] = []
    order = torch.empty(0, dtype=torch.long)
    for step in range(config.steps):
        if len(order) < config.batch_size:
            order = torch.randperm(len(digits), generator=generator)
        batch, order = order[: config.batch_size], order[config.batch_size :]
        batch = batch.to(digits.device)
        images = place_digits(digits[batch], config.canvas, generator=generator)
        noise = torch.randn(config.glimpses, len(batch), 2, generator=generator)
        out = model(images, noise.to(images.device))
        terms = ram_loss(
            out.logits,
            labels[batch],
            out.log_probs,
            out.baselines,
            reinforce_weight=config.reinforce_weight,
            baseline_weight=config.baseline_weight,
        )
        guarded_step(
            model, optimizer, terms["total"], grad_clip=config.grad_clip, what="RAM loss", step=step
        )
        losses.append(terms["classification"].item())
        rewards.append(terms["reward"].item())
        if progress is not None:
            progress(step + 1, config.steps, losses[-1])
        if (step + 1) % 250 == 0:
            logger.info(
                "ram step %d: nll %.3f, train accuracy %.3f",
                step + 1,
                np.mean(losses[-250:]),
                np.mean(rewards[-250:]),
            )
    return losses


@torch.inference_mode()
def predict(model: RAM, images: Tensor, *, batch_size: int) -> tuple[Tensor, Tensor]:
    """Deterministic glimpses (policy means): ``(predictions (N,), locations (N, T, 2))``."""
    model.eval()
    predictions, locations = [], []
    for start in range(0, len(images), batch_size):
        out = model(images[start : start + batch_size])
        predictions.append(out.logits.argmax(dim=1))
        locations.append(out.locations)
    return torch.cat(predictions), torch.cat(locations)


def make_test_set(config: Config, device: torch.device) -> tuple[Tensor, Tensor]:
    """The fixed test set: ``(canvases (N, 1, S, S), labels (N,))`` from the ``test`` split."""
    digits = load_split("test", config.mnist)
    generator = torch.Generator().manual_seed(config.test_seed)
    images = place_digits(to_tensor(digits.images, device), config.canvas, generator=generator)
    return images, torch.from_numpy(digits.labels).to(device)


def save_figure(
    path: Path,
    images: Tensor,
    labels: Tensor,
    predictions: Tensor,
    locations: Tensor,
    *,
    config: Config,
) -> Path:
    """PNG: test canvases with the glimpse path (numbered), the smallest and largest patch."""
    import matplotlib

    matplotlib.use("Agg")  # inside the function: no import-time side effect
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    S = config.canvas
    centres = locations_to_pixels(locations.cpu(), (S, S))  # (n, T, 2) pixels
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.imshow(images[k, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1, extent=(0, S, S, 0))
        xs, ys = centres[k, :, 0].numpy(), centres[k, :, 1].numpy()
        ax.plot(xs, ys, "-", color="tab:orange", lw=1)
        for t, (x, y) in enumerate(zip(xs, ys, strict=True)):
            ax.annotate(str(t + 1), (x, y), color="yellow", fontsize=7, ha="center", va="center")
        for side, colour in (
            (config.patch, "tab:green"),
            (config.patch * 2 ** (config.scales - 1), "tab:blue"),
        ):
            ax.add_patch(
                Rectangle(
                    (xs[-1] - side / 2, ys[-1] - side / 2),
                    side,
                    side,
                    fill=False,
                    color=colour,
                    lw=0.8,
                )
            )
        ax.set_xlim(0, S)
        ax.set_ylim(S, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{int(labels[k])} -> {int(predictions[k])}", fontsize=9)
    fig.suptitle(
        f"RAM glimpse paths on {S}x{S} test canvases (label -> prediction; boxes: last glimpse's "
        "finest and coarsest patch)",
        fontsize=8,
    )
    return write_png(fig, path)


def run(config: Config, progress: Progress | None = None) -> TaskResult:
    """Train RAM on translated digits; score the error on the fixed test canvases."""
    start = time.perf_counter()
    device = torch.device(config.device)
    digits, labels = train_digits(config.mnist, device)
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        test_images, test_labels = make_test_set(config, device)
        logger.info("RAM task: %d train digits, %d test digits", len(digits), len(test_images))
        torch.manual_seed(config.seed)
        model = RAM(config=config.model_config()).to(device)
        generator = torch.Generator().manual_seed(config.seed)
        losses = train(model, digits, labels, config=config, generator=generator, progress=progress)
        predictions, locations = predict(model, test_images, batch_size=config.eval_batch)
    error = float((predictions != test_labels).float().mean())
    logger.info("RAM test error: %.2f%% on %d digits", 100 * error, len(test_labels))
    picks = np.linspace(0, len(test_images) - 1, config.figure_examples).round().astype(np.int64)
    figure = save_figure(
        Path(config.out_dir) / "ram_glimpses.png",
        test_images[picks],
        test_labels[picks],
        predictions[picks],
        locations[picks],
        config=config,
    )
    scores = {
        "test_error": error,
        "test_error_percent": 100 * error,
        "final_train_nll": float(np.mean(losses[-100:])),
    }
    return TaskResult(scores=scores, figures=[figure], seconds=time.perf_counter() - start)
