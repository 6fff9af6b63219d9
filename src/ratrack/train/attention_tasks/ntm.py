"""NTM on the copy task (Graves et al., 2014, Sec. 4.1): read a sequence, then write it back.

Each example is a sequence of ``T`` random ``bits``-bit vectors (each bit 0 or 1 with probability
1/2), followed by a delimiter (an extra input channel set to 1 for one step), followed by ``T``
blank steps during which the network must output the sequence again. The loss is the binary
cross-entropy of the outputs on those ``T`` steps; nothing is asked of the network while it reads.

Training lengths are drawn uniformly from ``min_length..max_length`` (1..20, as in the paper),
one length per mini-batch. (A curriculum that started at length 2 and grew the longest length
whenever the training bit error fell below half a bit per sequence learned *slower*: after 3,000
steps it had only reached length 3, whereas 1..20 from the start copies length 20 with about one
wrong bit after 2,000 steps, and with 0.34 wrong bits (of 160) after the default 2,500; long
sequences are what force the network to use its memory.)

Scores are bit errors per sequence (outputs thresholded at 1/2, summed over the sequence,
averaged over a fixed test batch drawn with ``test_seed``), at lengths seen in training and at
longer ones the network never saw.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ratrack.attention.ntm import NTM, NTMConfig
from ratrack.train.attention_tasks import Progress, TaskResult
from ratrack.train.attention_tasks._common import guarded_step, torch_threads, write_png

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """The copy task's settings (defaults: a few minutes on one CPU core)."""

    steps: int = 2500  # training steps (mini-batches)
    seed: int = 0  # model init and training sequences
    out_dir: str = "runs/attention/ntm"  # where the figure goes
    batch_size: int = 16  # sequences per step (all of one length)
    lr: float = 1e-3  # Adam learning rate
    grad_clip: float = 10.0  # max global gradient norm (the paper clips too)
    bits: int = 8  # width of each vector (paper: 8)
    min_length: int = 1  # shortest training sequence (paper: 1)
    max_length: int = 20  # longest training sequence (paper: 20)
    test_lengths: tuple[int, ...] = (10, 20, 30, 40)  # scored lengths (> max_length: unseen)
    test_batch: int = 64  # sequences per test length
    test_seed: int = 20141020  # test sequences (fixed: the same test set in every run)
    controller_size: int = 100  # LSTM units (paper: 100)
    memory_slots: int = 128  # N (paper: 128); must exceed the longest test length
    memory_width: int = 20  # M (paper: 20)
    figure_length: int = 30  # sequence length shown in the figure
    device: str = "cpu"  # torch device
    threads: int | None = 1  # torch CPU threads while running (None: leave as is)

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "bits", "min_length", "test_batch", "figure_length")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError(f"lr and grad_clip must be positive, got {self.lr}, {self.grad_clip}")
        if self.max_length < self.min_length:
            raise ValueError(
                f"max_length ({self.max_length}) must be >= min_length ({self.min_length})"
            )
        if not self.test_lengths or min(self.test_lengths) <= 0:
            raise ValueError(f"test_lengths must be positive lengths, got {self.test_lengths}")
        if self.memory_slots < max(*self.test_lengths, self.figure_length):
            raise ValueError(
                f"memory_slots ({self.memory_slots}) cannot hold the longest test sequence"
            )
        if self.threads is not None and self.threads <= 0:
            raise ValueError(f"threads must be positive or None, got {self.threads}")

    def model_config(self) -> NTMConfig:
        return NTMConfig(
            input_size=self.bits + 1,
            output_size=self.bits,
            controller_size=self.controller_size,
            memory_slots=self.memory_slots,
            memory_width=self.memory_width,
        )


def copy_batch(
    batch: int,
    length: int,
    bits: int,
    *,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor]:
    """Random copy-task examples: ``(inputs (B, 2T + 1, bits + 1), targets (B, T, bits))``.

    ``inputs[:, :T, :bits]`` is the sequence, ``inputs[:, T, bits] = 1`` the delimiter, and the
    last ``T`` steps are blank; ``targets`` is the sequence, expected on those last ``T`` steps.
    """
    if batch <= 0 or length <= 0 or bits <= 0:
        raise ValueError(f"batch, length and bits must be positive, got {batch}, {length}, {bits}")
    sequence = torch.randint(0, 2, (batch, length, bits), generator=generator).float()
    sequence = sequence.to(device)
    inputs = torch.zeros(batch, 2 * length + 1, bits + 1, device=device)
    inputs[:, :length, :bits] = sequence
    inputs[:, length, bits] = 1
    return inputs, sequence


def copy_loss(outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Loss terms of a copy batch: ``outputs`` ``(B, 2T + 1, bits)`` logits, ``targets``
    ``(B, T, bits)``.

    ``bce``: binary cross-entropy per bit over the last ``T`` output steps (the recall phase);
    ``bit_errors``: wrong bits (logit sign) per sequence, averaged over the batch (no gradient).
    """
    T = targets.shape[1]
    if outputs.dim() != 3 or outputs.shape[1] != 2 * T + 1 or outputs.shape[2] != targets.shape[2]:
        raise ValueError(
            f"outputs must be (B, {2 * T + 1}, {targets.shape[2]}), got {tuple(outputs.shape)}"
        )
    recalled = outputs[:, T + 1 :]  # (B, T, bits)
    bce = F.binary_cross_entropy_with_logits(recalled, targets)
    wrong = ((recalled > 0).to(targets.dtype) != targets).sum(dim=(1, 2)).float()  # (B,)
    return {"bce": bce, "bit_errors": wrong.mean().detach()}


def train(
    model: NTM, *, config: Config, generator: torch.Generator, progress: Progress | None = None
) -> list[float]:
    """Train ``model`` on the copy task for ``config.steps`` steps; returns each step's BCE."""
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    losses: list[float] = []
    for step in range(config.steps):
        length = int(
            torch.randint(config.min_length, config.max_length + 1, (1,), generator=generator)
        )
        inputs, targets = copy_batch(
            config.batch_size, length, config.bits, generator=generator, device=device
        )
        terms = copy_loss(model(inputs).outputs, targets)
        loss = terms["bce"]
        guarded_step(
            model, optimizer, loss, grad_clip=config.grad_clip, what="NTM copy loss", step=step
        )
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, config.steps, losses[-1])
        if (step + 1) % 250 == 0:
            logger.info("ntm copy step %d: bce %.4f", step + 1, np.mean(losses[-250:]))
    return losses


@torch.inference_mode()
def bit_errors(model: NTM, *, config: Config, device: torch.device) -> dict[int, float]:
    """Mean bit errors per sequence at every test length, on the fixed test batch."""
    model.eval()
    generator = torch.Generator().manual_seed(config.test_seed)
    errors = {}
    for length in config.test_lengths:
        inputs, targets = copy_batch(
            config.test_batch, length, config.bits, generator=generator, device=device
        )
        errors[length] = float(copy_loss(model(inputs).outputs, targets)["bit_errors"])
    return errors


def save_figure(path: Path, model: NTM, *, config: Config, device: torch.device) -> Path:
    """PNG: one test sequence, its copy, and the write and read weightings over time."""
    import matplotlib

    matplotlib.use("Agg")  # inside the function: no import-time side effect
    import matplotlib.pyplot as plt

    generator = torch.Generator().manual_seed(config.test_seed + 1)
    inputs, targets = copy_batch(
        1, config.figure_length, config.bits, generator=generator, device=device
    )
    with torch.inference_mode():
        model.eval()
        out = model(inputs)
    T = config.figure_length
    recalled = torch.sigmoid(out.outputs[0, T + 1 :]).cpu()  # (T, bits)
    panels = [
        ("input (sequence, then delimiter)", inputs[0, : T + 1].cpu().T.numpy(), "gray"),
        ("target", targets[0].cpu().T.numpy(), "gray"),
        (
            f"output ({int(((recalled > 0.5) != targets[0].cpu()).sum())} wrong bits)",
            recalled.T.numpy(),
            "gray",
        ),
        ("write weighting (slot x time)", out.write_weights[0, :, 0].cpu().T.numpy(), "magma"),
        ("read weighting (slot x time)", out.read_weights[0, :, 0].cpu().T.numpy(), "magma"),
    ]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, 9), gridspec_kw={"height_ratios": [1, 1, 1, 3, 3]}
    )
    for ax, (title, picture, cmap) in zip(axes, panels, strict=True):
        ax.imshow(picture, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_yticks([])
    axes[-1].set_xlabel("time step")
    fig.suptitle(f"NTM copy task, length {T} (trained on 1..{config.max_length})", fontsize=10)
    return write_png(fig, path)


def run(config: Config, progress: Progress | None = None) -> TaskResult:
    """Train an NTM on the copy task and score bit errors per sequence at the test lengths."""
    start = time.perf_counter()
    device = torch.device(config.device)
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = NTM(config=config.model_config()).to(device)
        generator = torch.Generator().manual_seed(config.seed)
        losses = train(model, config=config, generator=generator, progress=progress)
        errors = bit_errors(model, config=config, device=device)
        figure = save_figure(
            Path(config.out_dir) / "ntm_copy.png", model, config=config, device=device
        )
    scores = {f"bit_errors_len{length}": value for length, value in errors.items()}
    scores["final_train_bce"] = float(np.mean(losses[-50:]))
    return TaskResult(scores=scores, figures=[figure], seconds=time.perf_counter() - start)
