"""``ratrack pretrain`` and ``ratrack train``: the conv net's pretraining and tracker training."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _data_root, _progress_bar, user_error
from ratrack.errors import RatrackError, check_number
from ratrack.outputs import check_outputs

ROOT_HELP = "Real data folder for --data natural (default: $RATRACK_DATA or ../shared/data)."
DEVICE_HELP = "auto (CUDA if available), cpu, cuda or cuda:N; under torchrun each process's GPU."
BATCH_HELP = "Global batch: under torchrun split evenly over the processes."
LR_HELP = "Peak learning rate, for the global batch (scale it with the batch, not the processes)."


def _existing(path: Path) -> Path:
    """``path``, which a run reports as its checkpoint: ``RatrackError`` if it is not there."""
    if not Path(path).is_file():
        raise RatrackError(f"{path}: the run ended without writing its checkpoint")
    return path


def _main_progress(desc: str):
    """The progress bar and callback on rank 0; nothing on the other processes."""
    from ratrack.train import distributed

    return _progress_bar(desc) if distributed.is_main() else (nullcontext(), None)


def pretrain(
    data: Annotated[str, typer.Option(help="Training data: bmnist or natural.")] = "bmnist",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/pretrain"),
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 1500,
    batch: Annotated[int, typer.Option(help=BATCH_HELP)] = 128,
    lr: Annotated[float, typer.Option(help=LR_HELP)] = 1e-3,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision (CUDA only).")] = False,
    root: Annotated[Path | None, typer.Option(help=ROOT_HELP)] = None,
    pool: Annotated[int, typer.Option(help="natural: clips in the pool.")] = 2600,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Pretrain the conv net to re-centre misaligned glimpses; print held-out window IoU."""
    from ratrack.train import distributed
    from ratrack.train.pretrain import PretrainConfig
    from ratrack.train.setup import check_data, pretrain_from_data, processes

    try:
        check_data(data, pool)
        config = PretrainConfig(steps=steps, batch_size=batch, lr=lr, seed=seed)
        check_number("pool", pool, low=1, high=10**6, integer=True)
    except ValueError as exc:
        raise user_error(exc, PretrainConfig) from None
    check_outputs(folders={"--out": out}, inputs={"--root": root})
    real = _data_root(root) if data == "natural" else None
    with processes(device, amp) as dev:
        main = distributed.is_main()
        bar, progress = _main_progress("pretraining")
        with bar:
            path, scores = pretrain_from_data(
                data,
                config,
                root=real,
                pool=pool,
                out_dir=out,
                device=dev,
                progress=progress,
                amp=amp,
            )
    if main:
        if not all(math.isfinite(scores[k]) for k in ("iou_before", "iou_after")):
            raise RatrackError(f"pretraining gave no usable result (held-out IoU {scores})")
        typer.echo(f"checkpoint: {_existing(path)}")
        typer.echo(
            f"held-out window IoU: {scores['iou_before']:.3f} -> {scores['iou_after']:.3f} "
            f"after one correction ({scores['count']} glimpses)"
        )


def train(
    data: Annotated[str, typer.Option(help="Training data: bmnist or natural.")] = "bmnist",
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, log.csv).")] = Path(
        "runs/train"
    ),
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 4000,
    batch: Annotated[int, typer.Option(help=f"Clips per step. {BATCH_HELP}")] = 64,
    lr: Annotated[float, typer.Option(help=LR_HELP)] = 1e-3,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision (CUDA only).")] = False,
    init_from: Annotated[
        Path | None, typer.Option(help="Pretraining checkpoint whose conv net starts the tracker.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt if present.")] = True,
    pool: Annotated[
        int, typer.Option(help="Pool size: bmnist sequences per digit count; natural clips.")
    ] = 2000,
    root: Annotated[Path | None, typer.Option(help=ROOT_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train the tracker (curriculum over clip length; resumable; CSV log with gradient norms)."""
    from ratrack.train import distributed
    from ratrack.train.setup import clip_length, curriculum_for, processes, train_from_data
    from ratrack.train.tracker import TrainConfig

    try:
        check_number("pool", pool, low=1, high=10**6, integer=True)
        check_number("seed", seed, low=0, high=2**63 - 1, integer=True)
        check_number("steps", steps, low=1, high=10**9, integer=True)
        curriculum = curriculum_for(steps, clip_length(data, pool, seed))
        config = TrainConfig(steps=steps, batch_size=batch, lr=lr, curriculum=curriculum)
    except ValueError as exc:
        raise user_error(exc, TrainConfig) from None
    check_outputs(folders={"--out": out}, inputs={"--init-from": init_from, "--root": root})
    real = _data_root(root) if data == "natural" else None
    with processes(device, amp) as dev:
        main = distributed.is_main()
        distributed.shard_rows(batch)  # --batch must split evenly, checked before the pool
        bar, progress = _main_progress("training")
        with bar:
            result = train_from_data(
                data,
                config,
                root=real,
                pool=pool,
                seed=seed,
                out_dir=out,
                init_from=init_from,
                resume=resume,
                device=dev,
                progress=progress,
                amp=amp,
            )
    if main:
        typer.echo(
            f"trained to step {result.step} in {result.seconds:.1f} s; "
            f"checkpoint {_existing(result.checkpoint)}"
        )
        for name, value in result.losses.items():
            typer.echo(f"  {name}: {value:.4f}")
