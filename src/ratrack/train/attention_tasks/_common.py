"""Pieces every attention task shares: thread control, a guarded update, figure writing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ratrack.data.mnist import load_split
from ratrack.outputs import Output


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` torch CPU threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def guarded_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    *,
    grad_clip: float | None,
    what: str,
    step: int,
) -> None:
    """One update on ``loss``: a non-finite loss raises, the gradient norm is clipped (if set)."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{what} is {loss.item()} at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def write_png(fig, path: Path) -> Path:
    """Lay out a pyplot figure, write it as ``path`` (folders made) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with Output(path, name="figure") as out:  # the output policy: whole file or none
        fig.savefig(out.write_path, dpi=100, format="png")
    plt.close(fig)
    return path


def to_tensor(images: np.ndarray, device: torch.device) -> Tensor:
    """uint8 digits ``(N, 28, 28)`` -> float ``(N, 28, 28)`` in ``[0, 1]``."""
    return torch.from_numpy(images).to(device=device, dtype=torch.float32) / 255


def train_digits(mnist: Path | None, device: torch.device) -> tuple[Tensor, Tensor]:
    """The MNIST training digits as :func:`to_tensor` images and int64 labels on ``device``."""
    split = load_split("train", mnist)
    return to_tensor(split.images, device), torch.from_numpy(split.labels).to(device)
