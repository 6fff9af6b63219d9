"""Tracker training: a library loop with curriculum, checkpoints, resume and diagnostics.

The loop is deterministic in the step number: batches come from a ``sampler(step, length)``
that is a pure function of its arguments, the learning rate is a pure function of the step, so a
run killed and resumed from its last checkpoint continues exactly where the checkpoint was taken
(model, optimizer state and step count are restored from it).

Each logged step records the loss terms and the gradient norm of every component: the grid
generator (the gradient reaching the sampling windows), the conv net, the RNN, the tracking head
and the localization head (and with learned matching the match net), as in RATM's (Kahou et al.
2017) figure on pretraining.

Data parallel (``torchrun``, see :mod:`ratrack.train.distributed`): ``batch_size`` is the *global*
batch; each of the N processes trains on its contiguous ``batch_size / N`` rows of the step's
batch and DDP averages the gradients, so the run equals the 1-process run with the same
``batch_size`` and ``lr``. The learning rate belongs to the global batch: keep it when only the
number of processes changes; when the global batch grows k-fold, scale ``lr`` by k (the linear
scaling rule, Goyal et al. 2017) and keep the warm-up. Rank 0 alone writes checkpoints (of the
unwrapped model, so they resume under any world size) and ``log.csv`` (loss terms and gradient
norms of the whole global batch).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from ratrack.boxes import box_iou_elementwise
from ratrack.checkpoints import (
    PRETRAIN_KIND,
    TRACKER_KIND,
    config_from_dict,
    load_checkpoint,
    load_weights,
    save_tracker,
)
from ratrack.data.pools import Batch
from ratrack.errors import RatrackError, check_number
from ratrack.model.tracker import ClipOutput, RecurrentTracker
from ratrack.outputs import stop_on_signal, write_text
from ratrack.train import distributed
from ratrack.train.losses import LossConfig, tracker_loss

log = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
LOG_FILE = "log.csv"


class Sampler(Protocol):
    """Gives the (global) batch of a step; must be a pure function of ``(step, length)``.

    Under data parallelism each process trains on some ``rows`` of that batch. A sampler that
    can build just those rows cheaply also has ``sample_rows(step, length, rows)`` returning
    ``sampler(step, length)[rows]`` (:class:`~ratrack.data.pools.PoolSampler` does);
    from any other sampler the loop slices the whole batch.
    """

    def __call__(self, step: int, length: int) -> Batch: ...


def sample_shard(sampler: Sampler, step: int, length: int, rows: slice) -> Batch:
    """``rows`` of the step's batch, through ``sampler.sample_rows`` where the sampler has it."""
    sample_rows = getattr(sampler, "sample_rows", None)
    if sample_rows is not None:
        return sample_rows(step, length, rows)
    batch = sampler(step, length)
    return Batch(batch.frames[rows], batch.boxes[rows])


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`train_tracker`."""

    steps: int = 6000  # optimizer steps in total
    batch_size: int = 64  # clips per step (the sampler is built with it)
    lr: float = 1e-3  # peak Adam learning rate
    lr_final: float = 0.05  # final learning rate as a fraction of the peak (cosine decay)
    warmup: int = 200  # linear warm-up steps
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    grad_clip: float = 5.0  # global gradient-norm clip
    # (first step, clip length) pairs: short clips first (RATM's curriculum on sequence length).
    curriculum: tuple[tuple[int, int], ...] = ((0, 5), (500, 10), (1500, 20), (3000, 30))
    checkpoint_every: int = 500  # steps between checkpoints (and one at the end)
    log_every: int = 25  # steps between CSV rows
    max_bad_steps: int = 20  # consecutive non-finite steps tolerated before the run stops
    schedule_steps: int | None = None  # horizon of the cosine decay (default: steps)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        check_number("steps", self.steps, low=1, high=10**9, integer=True)
        check_number("batch_size", self.batch_size, low=1, high=2**16, integer=True)
        check_number("lr", self.lr, low=0, high=1, low_open=True)
        check_number("lr_final", self.lr_final, low=0, high=1)
        check_number("warmup", self.warmup, low=0, integer=True)
        check_number("weight_decay", self.weight_decay, low=0, high=1)
        check_number("grad_clip", self.grad_clip, low=0, low_open=True)
        for name in ("checkpoint_every", "log_every", "max_bad_steps"):
            check_number(name, getattr(self, name), low=1, integer=True)
        if not self.curriculum or self.curriculum[0][0] != 0:
            raise ValueError(f"curriculum must start at step 0, got {self.curriculum}")
        starts = [s for s, _ in self.curriculum]
        if starts != sorted(starts) or min(n for _, n in self.curriculum) < 2:
            raise ValueError(
                f"curriculum steps must increase and lengths be >= 2: {self.curriculum}"
            )

    def length_at(self, step: int) -> int:
        """Clip length of the curriculum at ``step``."""
        length = self.curriculum[0][1]
        for start, n in self.curriculum:
            if step >= start:
                length = n
        return length

    def lr_at(self, step: int) -> float:
        """Warm-up then cosine decay from ``lr`` to ``lr * lr_final``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        horizon = self.schedule_steps or self.steps
        progress = min(1.0, (step - self.warmup) / max(1, horizon - self.warmup))
        return self.lr * (
            self.lr_final + (1 - self.lr_final) * 0.5 * (1 + math.cos(math.pi * progress))
        )


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or resumed-and-finished) run reports."""

    step: int  # last completed step
    seconds: float  # wall time of this call
    losses: dict[str, float]  # loss terms of the last logged step
    checkpoint: Path  # last checkpoint written (it exists: a run without one raises)
    skipped: int  # non-finite steps skipped in this call


Progress = Callable[[int, int, float], None]
"""``progress(step, total, loss)``, called after every step (on rank 0: the loss of its rows)."""


def grad_components(model: RecurrentTracker) -> tuple[str, ...]:
    """The components :func:`grad_norms` reports for ``model``: the grid generator, then
    :meth:`RecurrentTracker.components` (with learned matching, the match net too)."""
    return ("grid_generator", *model.components())


def grad_norms(
    model: RecurrentTracker, grid_inputs: tuple[Tensor, ...], *, grid_scale: float = 1.0
) -> dict[str, float]:
    """L2 norm of the current gradient of each component (see the module docstring).

    Parameter gradients are the global batch's (DDP has averaged them). The windows' gradients
    are local to each process's rows of a loss averaged over those rows only, i.e. ``world``
    times (and, with a float16 loss scale, ``grid_scale`` times) the global loss's; their norm
    is combined over the processes and divided back.
    """
    norms: dict[str, float] = {}
    grads = [g.grad for g in grid_inputs if g.grad is not None]
    if grid_inputs:
        squares = sum((g.square().sum() for g in grads), grid_inputs[0].new_zeros(()))
        squares = distributed.sum_over_processes(squares)
        norms["grid_generator"] = float(squares.sqrt()) / (distributed.world() * grid_scale)
    else:
        norms["grid_generator"] = 0.0
    for name, params in model.components().items():
        parts = [p.grad.norm() for p in params if p.grad is not None]
        norms[name] = float(torch.linalg.vector_norm(torch.stack(parts))) if parts else 0.0
    return norms


def load_pretrained_conv(model: RecurrentTracker, path: str | Path) -> None:
    """Copy the conv net of a pretraining checkpoint (``ratrack.train.pretrain``) into ``model``."""
    payload = load_checkpoint(path, kind=PRETRAIN_KIND)
    conv = {
        k.removeprefix("conv."): v for k, v in payload["model"].items() if k.startswith("conv.")
    }
    load_weights(model.conv, conv, path)


def _truncate_log(path: Path, step: int) -> None:
    """Drop CSV rows past ``step`` (written after the checkpoint a resumed run starts from)."""
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
    text = io.StringIO(newline="")
    csv.writer(text).writerows(kept)
    write_text(path, text.getvalue())


def _float_outputs(out: ClipOutput) -> ClipOutput:
    """``out`` in float32 (under autocast the heads give half-precision tensors)."""
    return out._replace(
        boxes=out.boxes.float(),
        boxes_in_window=out.boxes_in_window.float(),
        windows=out.windows.float(),
        next_windows=out.next_windows.float(),
    )


def train_tracker(
    model: RecurrentTracker,
    sampler: Sampler,
    config: TrainConfig,
    *,
    out_dir: str | Path,
    resume: bool = True,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    time_limit_s: float | None = None,
    amp: bool = False,
) -> TrainResult:
    """Train ``model`` on batches from ``sampler``; checkpoints and ``log.csv`` in ``out_dir``.

    With ``resume`` and an ``out_dir/last.pt`` present, model weights, optimizer state and the
    step count are restored from it and training continues from the next step. With
    ``time_limit_s`` the call checkpoints and returns once that much wall time has passed
    (``TrainResult.step`` then tells how far it got; calling again resumes). ``amp`` trains
    in mixed precision (CUDA only, see :func:`ratrack.train.distributed.autocast_dtype`).

    Inside a process group (torchrun) every process calls this with the same arguments; see
    the module docstring for how the batch is shared. ``progress`` is called on rank 0 only.
    """
    out_dir = Path(out_dir)
    device = torch.device(device)
    main = distributed.is_main()
    rows = distributed.shard_rows(config.batch_size)
    half = distributed.autocast_dtype(device, amp)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    model.to(device).train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scaler = torch.amp.GradScaler(device.type, enabled=half == torch.float16)
    last = out_dir / LAST_CHECKPOINT
    log_path = out_dir / LOG_FILE
    step = 0
    payload = None
    if resume and main and last.is_file():
        payload = load_checkpoint(last, kind=TRACKER_KIND)
    payload = distributed.from_main(payload)  # every process resumes from rank 0's file
    if payload is not None:
        check_same_config(model, payload, last)
        load_weights(model, payload["model"], last)
        if payload["optimizer"] is not None:
            optimizer.load_state_dict(payload["optimizer"])
        step = payload["step"]
        if main:
            _truncate_log(log_path, step)
        log.info("resumed from %s at step %d", last, step)
    # Clips of 2 frames leave the localization head out of the loss; DDP must then be told.
    ddp = distributed.wrap(model, device, find_unused=min(n for _, n in config.curriculum) == 2)
    fields = [
        "step",
        "length",
        "lr",
        "seconds",
        "total",
        "box",
        "iou",
        "window",
        "inside",
        "reinforce",
        "mean_iou",
    ]
    fields += [f"grad_{name}" for name in grad_components(model)]
    start = time.perf_counter()
    skipped = bad_run = 0
    losses: dict[str, float] = {}
    checkpoint = last

    first_step, saved = step, step if payload is not None else None

    def save() -> Path:
        nonlocal saved
        if main:
            save_tracker(
                last, model, train_config=config, optimizer=optimizer, step=step, metrics=losses
            )
        saved = step
        return last

    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(stop_on_signal())
        writer = log_file = None
        if main:
            new_log = not log_path.is_file() or log_path.stat().st_size == 0
            log_file = stack.enter_context(log_path.open("a", newline=""))
            writer = csv.DictWriter(log_file, fieldnames=fields)
            if new_log:
                writer.writeheader()
        while step < config.steps:
            length = config.length_at(step)
            lr = config.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = sample_shard(sampler, step, length, rows)
            if batch.frames.shape[0] != rows.stop - rows.start:
                raise ValueError(
                    f"the sampler gave {batch.frames.shape[0]} clips for rows {rows} of a "
                    f"batch of {config.batch_size} (TrainConfig.batch_size)"
                )
            frames = batch.frames.to(device, non_blocking=True)
            boxes = batch.boxes.to(device, non_blocking=True)
            record = (step + 1) % config.log_every == 0
            with torch.autocast(device.type, dtype=half, enabled=half is not None):
                out = ddp(frames, boxes[:, 0], probe_grid=record)
            out = _float_outputs(out)
            terms = tracker_loss(out, boxes, config=config.loss, context=model.config.context)
            total = terms["total"]
            optimizer.zero_grad(set_to_none=True)
            if distributed.any_process(~torch.isfinite(total), device):
                skipped, bad_run = skipped + 1, bad_run + 1
                log.warning("step %d: non-finite loss, skipped", step)
                if bad_run >= config.max_bad_steps:
                    raise FloatingPointError(f"{bad_run} non-finite losses in a row at step {step}")
                step += 1
                continue
            scaler.scale(total).backward()
            scaler.unscale_(optimizer)  # a no-op without float16 loss scaling
            gnorms = (
                grad_norms(model, out.grid_inputs, grid_scale=scaler.get_scale()) if record else {}
            )  # before clipping
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            if not torch.isfinite(norm):  # the same on every process: gradients are averaged
                skipped, bad_run = skipped + 1, bad_run + 1
                if scaler.is_enabled():
                    scaler.update()  # lower the loss scale
                optimizer.zero_grad(set_to_none=True)
                log.warning("step %d: non-finite gradient, skipped", step)
                if bad_run >= config.max_bad_steps:
                    raise FloatingPointError(
                        f"{bad_run} non-finite gradients in a row at step {step}"
                    )
                step += 1
                continue
            scaler.step(optimizer)
            scaler.update()
            bad_run = 0
            step += 1
            if record:
                with torch.no_grad():
                    miou = box_iou_elementwise(out.boxes, boxes[:, 1:]).mean()
                    names = [*terms, "mean_iou"]
                    values = torch.stack([*(v.detach() for v in terms.values()), miou])
                    values = distributed.mean_over_processes(values).tolist()
                named = dict(zip(names, values, strict=True))
                miou = named.pop("mean_iou")
                losses = named
                if writer is not None and log_file is not None:
                    row = {"step": step, "length": length, "lr": lr, "mean_iou": miou}
                    row["seconds"] = round(time.perf_counter() - start, 2)
                    row.update(
                        {
                            k: losses[k]
                            for k in ("total", "box", "iou", "window", "inside", "reinforce")
                        }
                    )
                    row.update({f"grad_{k}": v for k, v in gnorms.items()})
                    writer.writerow(row)
                    log_file.flush()
                log.info("step %d len %d loss %.4f iou %.3f", step, length, losses["total"], miou)
            if step % config.checkpoint_every == 0 or step == config.steps:
                checkpoint = save()
            if progress is not None and main:
                progress(step, config.steps, float(total.detach()))
            if time_limit_s is not None and distributed.any_process(
                time.perf_counter() - start > time_limit_s, device
            ):
                log.warning("time limit reached at step %d of %d", step, config.steps)
                break
            if distributed.any_process(bool(stop), device):
                break
        finish_run(model, step, first_step, skipped, saved, save)
        checkpoint = last
    distributed.barrier()  # the last checkpoint exists when any process returns
    stop.raise_if_set(f"interrupted at step {step}: {checkpoint} holds it; rerun to resume")
    return TrainResult(step, time.perf_counter() - start, losses, checkpoint, skipped)


def finish_run(
    model: torch.nn.Module,
    step: int,
    first_step: int,
    skipped: int,
    saved: int | None,
    save: Callable[[], object],
) -> None:
    """Call ``save()`` if step ``step`` is not saved yet, unless the run has nothing usable (no
    step since ``first_step`` updated the weights, or they are not finite): ``RatrackError``
    then, so that no run reports a checkpoint it did not write."""
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if not finite or (step > first_step and skipped == step - first_step):
        why = "the weights are not finite" if not finite else "every loss was non-finite"
        raise RatrackError(
            f"training produced no usable weights ({why}; {skipped} of {step - first_step} "
            "steps skipped); no checkpoint written for them: try a lower learning rate"
        )
    if saved != step:
        save()


def check_same_config(model: RecurrentTracker, payload: dict, path: Path) -> None:
    """``RatrackError`` when the checkpoint a run would resume from was made for another model
    config (naming the fields that differ), so it is never silently mixed with this one."""
    try:
        stored = config_from_dict(type(model.config), payload["config"]["model"])
    except (KeyError, TypeError, ValueError):
        raise RatrackError(f"{path}: not a tracker training checkpoint (no model config)") from None
    differ = [
        f.name
        for f in dataclasses.fields(model.config)
        if getattr(stored, f.name) != getattr(model.config, f.name)
    ]
    if differ:
        names = ", ".join(differ[:4]) + (", ..." if len(differ) > 4 else "")
        raise RatrackError(
            f"{path}: made with another model config (differs in {names}); resume with the "
            "options that made it, or give another --out"
        )


@torch.inference_mode()
def track_clips(
    model: RecurrentTracker, frames: Tensor, first_boxes: Tensor, *, batch_size: int = 256
) -> Tensor:
    """Boxes ``(N, T-1, 4)`` predicted for clips ``frames`` ``(N, T, C, H, W)`` in chunks."""
    model.eval()
    device = next(model.parameters()).device
    outs = []
    for i in range(0, frames.shape[0], batch_size):
        clip = frames[i : i + batch_size].to(device)
        outs.append(model(clip, first_boxes[i : i + batch_size].to(device)).boxes.cpu())
    return torch.cat(outs)  # (N, T-1, 4)
