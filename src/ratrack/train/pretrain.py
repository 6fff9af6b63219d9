"""Glimpse-misalignment pretraining: the conv net learns to re-centre a misaligned glimpse.

For an object with true window ``a`` (:func:`ratrack.boxes.target_windows` of its box)
a perturbed window ``a~ = apply_window_deltas(a, d)`` is drawn with

    d = (dx, dy, s, s),   dx, dy ~ Laplace(0, b_shift),   s ~ Laplace(0, b_scale)

(GOTURN, Held et al. 2016, sec. 4.2, samples motion from Laplace distributions the same way;
shifts are in units of the window side, ``s`` is the log change of its side, clamped to
``max_shift`` / ``max_log_scale`` so the object stays at least partly in view). The
:class:`GlimpseCorrector` sees the glimpse at ``a~`` and regresses the target
``window_deltas(a~, a)``, the change of window parameters that re-centres the object:
``apply_window_deltas(a~, target) == a`` exactly.

The corrector's conv net is the tracker's :class:`~ratrack.model.convnet.ConvNet` (same
config, same parameter names ``conv.*``), so :func:`ratrack.train.tracker.load_pretrained_conv`
copies it into a tracker.

Samples are fixed-size *canvases*: each (frame, box) pair is resampled once to an ``S x S`` crop
around the box (:func:`make_canvases`), so frames of any size batch together.

Under ``torchrun`` :func:`pretrain_conv` trains data-parallel like the tracker's training
(:mod:`ratrack.train.distributed`): ``batch_size`` is the global batch, each process takes its equal
contiguous share of every step's glimpses, the learning rate belongs to the global batch, and
rank 0 alone writes the checkpoint and ``log.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.boxes import (
    apply_window_deltas,
    box_iou_elementwise,
    target_windows,
    window_deltas,
)
from ratrack.checkpoints import (
    PRETRAIN_KIND,
    config_from_dict,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from ratrack.data.canvases import Canvases, RealPretrainData, pool_canvases, real_canvases
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.errors import check_number
from ratrack.model.config import TrackerConfig
from ratrack.model.convnet import ConvNet
from ratrack.model.glimpse import cut_glimpses
from ratrack.outputs import stop_on_signal
from ratrack.train import distributed
from ratrack.train.tracker import finish_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerturbConfig:
    """Laplace window perturbations (scales in window sides / log side)."""

    shift_scale: float = 0.08  # b of dx, dy (GOTURN: 1/5 of the box; our window is ~2.5 boxes)
    log_scale_scale: float = 0.08  # b of the log side change (GOTURN: 1/15 on the box side)
    max_shift: float = 0.3  # |dx|, |dy| clamp: the box stays (mostly) inside the window
    max_log_scale: float = 0.4  # |s| clamp

    def __post_init__(self) -> None:
        if min(self.shift_scale, self.log_scale_scale, self.max_shift, self.max_log_scale) <= 0:
            raise ValueError(f"PerturbConfig values must be positive, got {self}")


@dataclass(frozen=True)
class PretrainConfig:
    """Hyperparameters of :func:`pretrain_conv`."""

    steps: int = 2000  # optimizer steps
    batch_size: int = 128  # glimpses per step
    lr: float = 1e-3  # Adam learning rate (cosine decay to 5 %)
    checkpoint_every: int = 500  # steps between checkpoints
    log_every: int = 25  # steps between CSV rows
    seed: int = 0  # perturbations and sample choice are a pure function of (seed, step)
    perturb: PerturbConfig = dataclasses.field(default_factory=PerturbConfig)

    def __post_init__(self) -> None:
        check_number("steps", self.steps, low=1, high=10**9, integer=True)
        check_number("batch_size", self.batch_size, low=1, high=2**16, integer=True)
        check_number("lr", self.lr, low=0, high=1, low_open=True)
        check_number("checkpoint_every", self.checkpoint_every, low=1, integer=True)
        check_number("log_every", self.log_every, low=1, integer=True)
        check_number("seed", self.seed, low=0, high=2**63 - 1, integer=True)


def _laplace(shape: tuple[int, ...], scale: float, generator: torch.Generator) -> Tensor:
    u = torch.rand(shape, generator=generator) - 0.5  # U(-1/2, 1/2)
    return -scale * u.sign() * torch.log1p(-2 * u.abs())  # inverse CDF of Laplace(0, scale)


def perturb_windows(
    windows: Tensor, config: PerturbConfig, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Perturb xyxy ``windows`` ``(B, 4)``: returns ``(perturbed, targets)``, both ``(B, 4)``.

    ``targets = window_deltas(perturbed, windows)`` re-centres each perturbed window.
    """
    B = windows.shape[0]
    shift = _laplace((B, 2), config.shift_scale, generator).clamp(
        -config.max_shift, config.max_shift
    )
    scale = _laplace((B, 1), config.log_scale_scale, generator)
    scale = scale.clamp(-config.max_log_scale, config.max_log_scale).expand(B, 2)
    deltas = torch.cat((shift, scale), 1).to(windows)  # (B, 4)
    perturbed = apply_window_deltas(windows, deltas)
    return perturbed, window_deltas(perturbed, windows)


class GlimpseCorrector(nn.Module):
    """Conv net + linear head: glimpse at a window -> deltas that re-centre the object."""

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        self.config = config
        self.conv = ConvNet(config=config)
        self.head = nn.Linear(config.feature_size, 4)
        nn.init.zeros_(self.head.weight)  # start at "no correction"
        nn.init.zeros_(self.head.bias)

    def forward(self, images: Tensor, windows: Tensor) -> Tensor:
        """``images`` ``(B, C, H, W)``, xyxy ``windows`` ``(B, 4)`` -> deltas ``(B, 4)``."""
        return self.head(self.conv(cut_glimpses(images, windows, self.config)))


def correction_batch(
    canvases: Canvases,
    step: int,
    batch_size: int,
    config: PretrainConfig,
    context: float,
    rows: slice = slice(None),
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(images, true windows, perturbed windows, targets)`` of a step (pure in ``step``).

    The batch is drawn whole (on the CPU generator); ``rows`` selects the part returned.
    """
    g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    index = torch.randint(len(canvases.images), (batch_size,), generator=g).to(
        canvases.images.device
    )
    windows = target_windows(canvases.boxes[index], context)  # (B, 4)
    perturbed, targets = perturb_windows(windows, config.perturb, g)
    return canvases.images[index[rows]], windows[rows], perturbed[rows], targets[rows]


def pretrain_conv(
    model: GlimpseCorrector,
    canvases: Canvases,
    config: PretrainConfig,
    *,
    out_dir: str | Path,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
    amp: bool = False,
) -> Path:
    """Train ``model`` to correct perturbed windows; writes ``pretrain.pt`` and ``log.csv``.

    ``amp``: mixed precision (CUDA only). In a process group every process calls this with the
    same arguments (see the module docstring); ``progress`` is called on rank 0 only.
    """
    out_dir = Path(out_dir)
    device = torch.device(device)
    main = distributed.is_main()
    rows = distributed.shard_rows(config.batch_size)
    half = distributed.autocast_dtype(device, amp)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    model.to(device).train()
    ddp = distributed.wrap(model, device)
    canvases = Canvases(canvases.images.to(device), canvases.boxes.to(device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    scaler = torch.amp.GradScaler(device.type, enabled=half == torch.float16)
    path = out_dir / "pretrain.pt"
    start = time.perf_counter()
    skipped, saved, done = 0, None, 0

    def save() -> None:
        nonlocal saved
        if main:
            save_pretrained(path, model, config, done)
        saved = done

    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(stop_on_signal())
        writer = None
        if main:
            writer = csv.writer(stack.enter_context((out_dir / "log.csv").open("w", newline="")))
            writer.writerow(["step", "loss", "seconds"])
        for step in range(config.steps):
            progress_frac = step / config.steps
            lr = config.lr * (
                0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * progress_frac)).item())
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            images, _, perturbed, targets = correction_batch(
                canvases, step, config.batch_size, config, model.config.context, rows
            )
            with torch.autocast(device.type, dtype=half, enabled=half is not None):
                deltas = ddp(images, perturbed)
            loss = F.smooth_l1_loss(deltas.float(), targets, beta=0.05)  # mean over the rows
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            if distributed.any_process(~torch.isfinite(loss), device):
                log.warning("step %d: non-finite loss, skipped", step)
                skipped += 1
                if distributed.any_process(bool(stop), device):
                    break
                continue
            scaler.scale(loss).backward()
            scaler.step(optimizer)  # skipped by the scaler on float16 overflow
            scaler.update()
            if (step + 1) % config.log_every == 0:
                mean_loss = float(distributed.mean_over_processes(loss.detach()))
                if writer is not None:
                    writer.writerow([step + 1, mean_loss, round(time.perf_counter() - start, 2)])
            if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
                save()
            if progress is not None and main:
                progress(step + 1, config.steps, float(loss.detach()))
            if distributed.any_process(bool(stop), device):
                break
        finish_run(model, done, 0, skipped, saved, save)
    distributed.barrier()  # the checkpoint exists when any process returns
    stop.raise_if_set(f"interrupted at step {done}: {path} holds it")
    return path


def save_pretrained(
    path: str | Path, model: GlimpseCorrector, config: PretrainConfig, step: int
) -> Path:
    """Write a ``pretrain`` checkpoint (tracker config under ``config["model"]``)."""
    cfg = {"model": dataclasses.asdict(model.config), "pretrain": dataclasses.asdict(config)}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint(path, kind=PRETRAIN_KIND, config=cfg, model=state, step=step)


def load_pretrained(path: str | Path) -> GlimpseCorrector:
    """Rebuild a :class:`GlimpseCorrector` from a ``pretrain`` checkpoint."""
    payload = load_checkpoint(path, kind=PRETRAIN_KIND)
    model = GlimpseCorrector(config=config_from_dict(TrackerConfig, payload["config"]["model"]))
    load_weights(model, payload["model"], path)
    return model


@torch.inference_mode()
def evaluate_correction(
    model: GlimpseCorrector, canvases: Canvases, config: PretrainConfig, *, seed: int = 12345
) -> dict[str, float]:
    """Mean IoU with the true window of the perturbed window and of it after one correction."""
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    windows = target_windows(canvases.boxes, model.config.context).to(device)
    perturbed, _ = perturb_windows(windows, config.perturb, g)
    images = canvases.images.to(device)
    corrected = torch.cat(
        [
            apply_window_deltas(
                perturbed[i : i + 256], model(images[i : i + 256], perturbed[i : i + 256])
            )
            for i in range(0, len(images), 256)
        ]
    )
    return {
        "iou_before": float(box_iou_elementwise(perturbed, windows).mean()),
        "iou_after": float(box_iou_elementwise(corrected, windows).mean()),
        "count": len(images),
    }


def pretrain_on_bmnist(
    config: PretrainConfig,
    *,
    out_dir: str | Path,
    model_config: TrackerConfig | None = None,
    pool: tuple[int, int] = (2000, 2000),
    canvases: int = 10_000,
    device: str | torch.device = "cpu",
    mnist=None,
    progress: Callable[[int, int, float], None] | None = None,
    train_pool: PoolSampler | None = None,
    workers: int = 1,
    amp: bool = False,
) -> tuple[Path, dict[str, float]]:
    """Pretrain a :class:`GlimpseCorrector`; returns its checkpoint and held-out scores.

    ``train_pool`` reuses an already generated training pool instead of building ``pool``.
    Under torchrun every process builds the pools and trains on its share of each batch
    (:func:`~ratrack.train.pretrain.pretrain_conv`); every process returns the scores.
    """
    model_config = model_config or TrackerConfig()
    train = train_pool or PoolSampler.build(
        PoolConfig(num_sequences=pool, split="train", seed=config.seed),
        batch_size=1,
        device=device,
        mnist=mnist,
        workers=workers,
    )
    held = PoolSampler.build(
        PoolConfig(num_sequences=(200, 200), split="val", seed=config.seed + 7),
        batch_size=1,
        device=device,
        mnist=mnist,
        workers=workers,
    )
    torch.manual_seed(config.seed)
    model = GlimpseCorrector(config=model_config)
    train_canvases = pool_canvases(train, canvases, seed=config.seed, context=model_config.context)
    held_canvases = pool_canvases(held, 2000, seed=config.seed + 1, context=model_config.context)
    path = pretrain_conv(
        model, train_canvases, config, out_dir=out_dir, device=device, progress=progress, amp=amp
    )
    return path, evaluate_correction(model, held_canvases, config)


def pretrain_on_natural(
    config: PretrainConfig,
    *,
    root: str | Path,
    sampler: PoolSampler,
    model_config: TrackerConfig,
    out_dir: str | Path,
    canvases: int = 10_000,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
    amp: bool = False,
) -> tuple[Path, dict[str, float]]:
    """Glimpse-misalignment pretraining on frames of the natural pool; returns the checkpoint
    and the window IoU before/after one correction on held-out real frames (the last 20 % of
    the OTB training sequences, the labelled boxes of KITTI 0016: see
    :class:`~ratrack.data.canvases.RealPretrainData`)."""
    context = model_config.context
    train = pool_canvases(sampler, canvases, seed=config.seed, context=context)
    _, held = real_canvases(root, RealPretrainData(), context=context)
    torch.manual_seed(config.seed)
    model = GlimpseCorrector(config=model_config)
    path = pretrain_conv(
        model, train, config, out_dir=out_dir, device=device, progress=progress, amp=amp
    )
    return path, evaluate_correction(model, held, config)
