"""Spatial transformer on distorted MNIST: the same classifier with and without an STN.

Digits of :func:`ratrack.data.mnist.load_split` are rotated, scaled and translated at random
inside a larger canvas (the STN paper's "RTS" setting: rotation within +-45 degrees, scale 0.7 to
1.2, random position in a 42x42 canvas). Training digits get fresh distortions every step; each
test digit (never used for training) is distorted once with a fixed seed, so the test set is the
same in every run. A :class:`~ratrack.attention.stn.DigitClassifier` is trained on the raw
canvas, and an identical one behind a :class:`~ratrack.attention.stn.SpatialTransformer`, on the
same batches for the same number of steps; both are scored on the test set.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.attention.stn import DigitClassifier, STNClassifier, affine_grid, bilinear_sample
from ratrack.data.mnist import load_split
from ratrack.train.attention_tasks import Progress, TaskResult
from ratrack.train.attention_tasks._common import (
    guarded_step,
    torch_threads,
    train_digits,
    write_png,
)
from ratrack.train.attention_tasks._common import to_tensor as digit_tensor

logger = logging.getLogger(__name__)

DIGIT = 28  # MNIST digit side, pixels


@dataclass(frozen=True)
class Config:
    """The STN task's settings (defaults: about 2.5 minutes on one CPU core, both models)."""

    steps: int = 1000  # training steps of each model (same budget for both)
    seed: int = 0  # model init, batch order and training distortions
    out_dir: str = "runs/attention/stn"  # where the figure goes
    mnist: str | None = None  # IDX folder/file; None = the 5,000 embedded digits
    batch_size: int = 64  # digits per step
    lr: float = 1e-3  # Adam learning rate (classifier)
    loc_lr_scale: float = 1.0  # localization net learning rate, relative to lr (0.1, 0.3: slower)
    canvas: int = 42  # side of the distorted image, pixels
    max_rotation: float = 45.0  # degrees, uniform in [-max, max]
    min_scale: float = 0.7  # digit scale, uniform in [min, max]
    max_scale: float = 1.2
    test_seed: int = 20150605  # distortions of the test digits (fixed: a fixed test set)
    eval_batch: int = 500  # digits per evaluation batch
    figure_examples: int = 10  # test inputs shown beside their glimpses
    device: str = "cpu"  # torch device
    threads: int | None = 1  # torch CPU threads while running (None: leave as is)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_batch", "figure_examples"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.loc_lr_scale <= 0:
            raise ValueError(f"lr and loc_lr_scale must be positive, got {self.lr}")
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(
                f"need 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}"
            )
        if self.canvas < 4 or self.canvas < self.max_scale * DIGIT:
            raise ValueError(
                f"canvas ({self.canvas}) must hold the largest digit "
                f"({self.max_scale * DIGIT:.0f} px)"
            )
        if self.max_rotation < 0:
            raise ValueError(f"max_rotation must be non-negative, got {self.max_rotation}")
        if self.threads is not None and self.threads <= 0:
            raise ValueError(f"threads must be positive or None, got {self.threads}")


def distortion_theta(
    n: int, *, config: Config, generator: torch.Generator, device: torch.device | None = None
) -> Tensor:
    """Random ``theta (n, 2, 3)`` mapping canvas-normalized points to digit-normalized points.

    A digit scaled by ``s``, rotated by ``r`` and centred ``t`` pixels from the canvas centre
    (``|t|`` small enough that the scaled digit box stays inside the canvas) lands on canvas
    point ``P = c + t + s R(r) (q - 14)`` for digit pixel ``q``; inverting in normalized
    coordinates gives ``q_n = (S / (28 s)) R(-r) p_n - R(-r) t / (14 s)``.
    """
    rotation = (torch.rand(n, generator=generator, device=device) * 2 - 1) * math.radians(
        config.max_rotation
    )  # (n,)
    scale = config.min_scale + torch.rand(n, generator=generator, device=device) * (
        config.max_scale - config.min_scale
    )
    room = (config.canvas - DIGIT * scale) / 2  # (n,) largest shift keeping the digit box inside
    shift = (torch.rand(n, 2, generator=generator, device=device) * 2 - 1) * room[
        :, None
    ]  # (n, 2) pixels (x, y)
    cos, sin = rotation.cos(), rotation.sin()
    inverse_rotation = torch.stack((torch.stack((cos, sin), -1), torch.stack((-sin, cos), -1)), -2)
    linear = inverse_rotation * (config.canvas / (DIGIT * scale))[:, None, None]  # (n, 2, 2)
    offset = -(inverse_rotation @ shift[:, :, None]) / (
        DIGIT / 2 * scale[:, None, None]
    )  # (n, 2, 1)
    return torch.cat((linear, offset), dim=2)  # (n, 2, 3)


def distort(digits: Tensor, theta: Tensor, canvas: int) -> Tensor:
    """Render ``digits`` ``(N, 1, 28, 28)`` into ``canvas x canvas`` images under ``theta``."""
    return bilinear_sample(digits, affine_grid(theta, (canvas, canvas)))  # (N, 1, S, S)


def to_tensor(images: np.ndarray, device: torch.device) -> Tensor:
    """uint8 digits ``(N, 28, 28)`` -> float ``(N, 1, 28, 28)`` in ``[0, 1]``."""
    return digit_tensor(images, device)[:, None]


def _logits(model: nn.Module, images: Tensor) -> Tensor:
    out = model(images)
    return out[0] if isinstance(out, tuple) else out


def train_classifier(
    model: nn.Module,
    digits: Tensor,
    labels: Tensor,
    *,
    config: Config,
    generator: torch.Generator,
    progress: Progress | None = None,
    progress_offset: int = 0,
    progress_total: int | None = None,
) -> list[float]:
    """Train ``model`` on freshly distorted ``digits`` ``(N, 1, 28, 28)`` for ``config.steps``.

    ``model`` returns logits, or a tuple whose first item is the logits. Parameters of a
    ``transformer`` submodule (the localization net) learn at ``lr * loc_lr_scale``. Returns
    the training cross-entropy of every step.
    """
    loc = getattr(model, "transformer", None)
    loc_ids = {id(p) for p in loc.parameters()} if loc is not None else set()
    groups: list[dict[str, Any]] = [
        {"params": [p for p in model.parameters() if id(p) not in loc_ids]}
    ]
    if loc is not None:
        groups.append({"params": list(loc.parameters()), "lr": config.lr * config.loc_lr_scale})
    optimizer = torch.optim.Adam(groups, lr=config.lr)
    total = config.steps if progress_total is None else progress_total
    model.train()
    losses: list[float] = []
    order = torch.empty(0, dtype=torch.long)
    for step in range(config.steps):
        if len(order) < config.batch_size:
            order = torch.randperm(len(digits), generator=generator)
        batch, order = order[: config.batch_size], order[config.batch_size :]
        theta = distortion_theta(len(batch), config=config, generator=generator)
        batch = batch.to(digits.device)
        images = distort(digits[batch], theta.to(digits.device), config.canvas)
        loss = F.cross_entropy(_logits(model, images), labels[batch])
        guarded_step(
            model, optimizer, loss, grad_clip=None, what="STN task training loss", step=step
        )
        losses.append(loss.item())
        if progress is not None:
            progress(progress_offset + step + 1, total, losses[-1])
        if (step + 1) % 250 == 0:
            logger.info("stn task step %d: loss %.3f", step + 1, np.mean(losses[-250:]))
    return losses


@torch.inference_mode()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, *, batch_size: int) -> float:
    """Fraction of ``images`` ``(N, 1, S, S)`` classified as ``labels``."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = _logits(model, images[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def make_test_set(config: Config, device: torch.device) -> tuple[Tensor, Tensor]:
    """The fixed distorted test set: ``(images (N, 1, S, S), labels (N,))``."""
    digits = load_split("test", config.mnist)
    generator = torch.Generator().manual_seed(config.test_seed)
    theta = distortion_theta(len(digits), config=config, generator=generator)
    images = distort(to_tensor(digits.images, device), theta.to(device), config.canvas)
    return images, torch.from_numpy(digits.labels).to(device)


def save_figure(path: Path, model: STNClassifier, images: Tensor, labels: Tensor) -> Path:
    """PNG: test inputs (top row) above the glimpses the transformer cut from them."""
    import matplotlib

    matplotlib.use("Agg")  # inside the function: no import-time side effect
    import matplotlib.pyplot as plt

    with torch.inference_mode():
        model.eval()
        logits, glimpses, _ = model(images)
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.1, 2.6), squeeze=False)
    for k in range(n):
        for row, picture in enumerate((images[k, 0], glimpses[k, 0])):
            ax = axes[row, k]
            ax.imshow(picture.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, k].set_title(f"{int(labels[k])} -> {int(logits[k].argmax())}", fontsize=8)
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("STN glimpse", fontsize=8)
    fig.suptitle(
        "Distorted test digits and the spatial transformer's output (label -> prediction)",
        fontsize=9,
    )
    return write_png(fig, path)


def run(config: Config, progress: Progress | None = None) -> TaskResult:
    """Train the classifier with and without an STN on distorted digits; score both on test."""
    start = time.perf_counter()
    device = torch.device(config.device)
    digits, labels = train_digits(config.mnist, device)
    digits = digits[:, None]  # (N, 1, 28, 28)
    size = (config.canvas, config.canvas)
    scores: dict[str, float] = {}
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        test_images, test_labels = make_test_set(config, device)
        logger.info("STN task: %d train digits, %d test digits", len(digits), len(test_images))
        torch.manual_seed(config.seed)
        baseline = DigitClassifier(in_channels=1, in_size=size)
        with_stn = STNClassifier(in_channels=1, in_size=size, out_size=size)
        with_stn.classifier.load_state_dict(baseline.state_dict())  # the same starting classifier
        models = {"without_stn": baseline, "with_stn": with_stn}
        for k, (name, model) in enumerate(models.items()):
            model.to(device)
            generator = torch.Generator().manual_seed(config.seed)  # the same batches for both
            train_classifier(
                model,
                digits,
                labels,
                config=config,
                generator=generator,
                progress=progress,
                progress_offset=k * config.steps,
                progress_total=2 * config.steps,
            )
            scores[f"test_accuracy_{name}"] = accuracy(
                model, test_images, test_labels, batch_size=config.eval_batch
            )
    picks = np.linspace(0, len(test_images) - 1, config.figure_examples).round().astype(np.int64)
    figure = save_figure(
        Path(config.out_dir) / "stn_glimpses.png",
        with_stn,
        test_images[picks],
        test_labels[picks],
    )
    ordered = {k: scores[k] for k in ("test_accuracy_with_stn", "test_accuracy_without_stn")}
    return TaskResult(scores=ordered, figures=[figure], seconds=time.perf_counter() - start)
