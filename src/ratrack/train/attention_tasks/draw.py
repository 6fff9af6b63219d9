"""DRAW with attention on binarized MNIST: train, score the test negative ELBO, draw the canvas.

Trains :class:`ratrack.attention.draw.DRAW` (read 2x2, write 5x5) on the ``train`` split of
:func:`ratrack.data.mnist.load_split` and reports the negative evidence lower bound, in nats
per image summed over the 784 pixels, on the ``test`` split (digits never used for training).
Digits are binarized by a fixed threshold (pixel > 127), so the task is deterministic given the
seed; the paper's benchmark uses a different (stochastic) binarization of all 60,000 digits, so
its numbers (below 81 nats after long training) are a reference point, not a like-for-like one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ratrack.attention.draw import DRAW, DrawConfig, DrawSample
from ratrack.data.mnist import load_split
from ratrack.train.attention_tasks import Progress, TaskResult
from ratrack.train.attention_tasks._common import guarded_step, torch_threads, write_png

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """The DRAW task's settings (defaults: about 3.5 minutes on one CPU core)."""

    steps: int = 2000  # training steps (mini-batches)
    seed: int = 0  # model init, batch order and latent noise
    out_dir: str = "runs/attention/draw"  # where the figure goes
    mnist: str | None = None  # IDX folder/file; None = the 5,000 embedded digits
    batch_size: int = 64  # digits per step
    lr: float = 3e-3  # Adam learning rate (3e-3 beat 1e-3 and 5e-3 in a short sweep)
    grad_clip: float = 10.0  # max global gradient norm
    glimpses: int = 8  # DRAW steps T (paper: 64; 8 learns the most per CPU second here)
    read_n: int = 2  # read patch N x N
    write_n: int = 5  # write patch N x N
    hidden: int = 256  # units of the encoder and of the decoder LSTM
    latent: int = 100  # latent units per step
    binarize_above: int = 127  # a pixel is 1 when its uint8 value exceeds this
    eval_seed: int = 1234  # latent noise of the test evaluation (fixed: same test score)
    eval_batch: int = 500  # digits per evaluation batch
    figure_rows: int = 6  # generated samples (and test reconstructions) in the figure
    device: str = "cpu"  # torch device
    threads: int | None = 1  # torch CPU threads while running (None: leave as is)

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "glimpses", "read_n", "write_n", "hidden", "latent")
        for name in (*positive, "eval_batch", "figure_rows"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError(f"lr and grad_clip must be positive, got {self.lr}, {self.grad_clip}")
        if not 0 <= self.binarize_above < 255:
            raise ValueError(f"binarize_above must be in [0, 255), got {self.binarize_above}")
        if self.threads is not None and self.threads <= 0:
            raise ValueError(f"threads must be positive or None, got {self.threads}")

    def model_config(self) -> DrawConfig:
        return DrawConfig(
            steps=self.glimpses,
            read_n=self.read_n,
            write_n=self.write_n,
            enc_hidden=self.hidden,
            dec_hidden=self.hidden,
            latent=self.latent,
        )


def binarize(images: np.ndarray, above: int, device: str | torch.device = "cpu") -> Tensor:
    """uint8 digits ``(N, 28, 28)`` -> float ``{0, 1}`` tensor ``(N, 28, 28)``."""
    return torch.from_numpy(images > above).to(device=device, dtype=torch.float32)


def train(
    model: DRAW,
    images: Tensor,
    *,
    config: Config,
    generator: torch.Generator,
    progress: Progress | None = None,
) -> list[float]:
    """Train ``model`` on binary ``images`` ``(N, H, W)`` for ``config.steps`` steps.

    Batches are drawn epoch by epoch in a random order from ``generator``, which also drives the
    latent noise. Returns the training loss (negative ELBO, nats per image) of every step.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    losses: list[float] = []
    order = torch.empty(0, dtype=torch.long)
    for step in range(config.steps):
        if len(order) < config.batch_size:
            order = torch.randperm(len(images), generator=generator)
        batch, order = order[: config.batch_size], order[config.batch_size :]
        terms = model.loss(images[batch.to(images.device)], generator=generator)
        loss = terms["total"]
        guarded_step(
            model, optimizer, loss, grad_clip=config.grad_clip, what="DRAW training loss", step=step
        )
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, config.steps, losses[-1])
        if (step + 1) % 250 == 0:
            logger.info("draw step %d: loss %.2f nats", step + 1, np.mean(losses[-250:]))
    return losses


@torch.inference_mode()
def evaluate(model: DRAW, images: Tensor, *, batch_size: int, seed: int) -> dict[str, float]:
    """Mean negative ELBO terms (nats per image) over ``images``, one latent sample each."""
    model.eval()
    generator = torch.Generator(device=images.device).manual_seed(seed)
    sums = {"reconstruction": 0.0, "kl": 0.0, "total": 0.0}
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        terms = model.loss(batch, generator=generator)
        for name in sums:
            sums[name] += terms[name].item() * len(batch)
    return {name: value / len(images) for name, value in sums.items()}


def _write_boxes(sample: DrawSample, n: int) -> Tensor:
    """xyxy boxes ``(T, B, 4)`` (continuous pixels) covering each step's write patch centres."""
    w = sample.write
    half = w.stride * (n - 1) / 2  # (T, B)
    # 1-based filter centres -> ratrack's continuous coordinates: index a sits at x = a - 0.5.
    cx, cy = w.centre_x - 0.5, w.centre_y - 0.5
    return torch.stack((cx - half, cy - half, cx + half, cy + half), dim=-1)


def save_figure(
    path: Path, sample: DrawSample, reconstructions: Tensor, targets: Tensor, write_n: int
) -> Path:
    """PNG: generated samples (canvas after every step, write patch in red), then test digits'
    canvases over the steps beside the digit itself."""
    import matplotlib

    matplotlib.use("Agg")  # inside the function: no import-time side effect
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    T, n_samples = sample.canvases.shape[:2]
    n_recon = reconstructions.shape[1]
    rows, cols = n_samples + n_recon, T + 1
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.85), squeeze=False)
    boxes = _write_boxes(sample, write_n)
    for r in range(rows):
        for t in range(cols):
            ax = axes[r, t]
            ax.set_xticks([])
            ax.set_yticks([])
            if r < n_samples:
                if t == T:
                    ax.axis("off")
                    continue
                ax.imshow(sample.canvases[t, r].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
                x1, y1, x2, y2 = boxes[t, r].tolist()
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="red", lw=0.8))
                ax.set_xlim(-0.5, 27.5)
                ax.set_ylim(27.5, -0.5)
            else:
                image = targets[r - n_samples] if t == T else reconstructions[t, r - n_samples]
                ax.imshow(image.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            if r == 0 and t < T:
                ax.set_title(f"t={t + 1}", fontsize=7)
            if r == n_samples and t == T:
                ax.set_title("digit", fontsize=7)
        axes[r, 0].set_ylabel("sample" if r < n_samples else "test", fontsize=7)
    fig.suptitle("DRAW: canvas after each step (red: write patch)", fontsize=9)
    return write_png(fig, path)


def run(config: Config, progress: Progress | None = None) -> TaskResult:
    """Train DRAW on the train digits, score the test negative ELBO, save the canvas figure."""
    start = time.perf_counter()
    device = torch.device(config.device)
    train_images = binarize(load_split("train", config.mnist).images, config.binarize_above, device)
    test_images = binarize(load_split("test", config.mnist).images, config.binarize_above, device)
    logger.info("DRAW: %d train, %d test digits", len(train_images), len(test_images))
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # model initialization
        model = DRAW(config=config.model_config()).to(device)
        generator = torch.Generator(device=device).manual_seed(config.seed)
        train(model, train_images, config=config, generator=generator, progress=progress)
        terms = evaluate(model, test_images, batch_size=config.eval_batch, seed=config.eval_seed)
        figure_gen = torch.Generator(device=device).manual_seed(config.eval_seed)
        sample = model.sample(config.figure_rows, generator=figure_gen)
        picks = torch.linspace(0, len(test_images) - 1, config.figure_rows).round().long()
        targets = test_images[picks.to(device)]  # spread: embedded digits come by class
        with torch.inference_mode():
            recon = torch.sigmoid(model(targets, generator=figure_gen).canvases)  # (T, n, H, W)
    figure = save_figure(
        Path(config.out_dir) / "draw_canvas.png", sample, recon, targets, config.write_n
    )
    scores = {
        "test_negative_elbo_nats": terms["total"],
        "test_reconstruction_nats": terms["reconstruction"],
        "test_kl_nats": terms["kl"],
    }
    if not all(math.isfinite(v) for v in scores.values()):
        raise FloatingPointError(f"DRAW test scores are not finite: {scores}")
    return TaskResult(scores=scores, figures=[figure], seconds=time.perf_counter() - start)
