"""``ratrack attention``: the attention modules (STN, DRAW, NTM, RAM) on their classic tasks."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _progress_bar
from ratrack.errors import RatrackError
from ratrack.outputs import check_outputs

app = typer.Typer(help="The attention modules (STN, DRAW, NTM, RAM) on their classic tasks.")


@app.command("train")
def attention_train(
    task: Annotated[str, typer.Argument(help="Which module to train: stn, draw, ntm or ram.")],
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the task's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for figures.")] = Path("runs/attention"),
    mnist: Annotated[
        str | None, typer.Option(help="MNIST IDX folder or images file (default: embedded digits).")
    ] = None,
) -> None:
    """Train one attention module on its classic task and print its test scores."""
    from ratrack.attention.tasks import TASKS

    if task not in TASKS:
        raise RatrackError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    check_outputs(folders={"--out": out}, inputs={"--mnist": mnist})
    module = importlib.import_module(f"ratrack.attention.tasks.{task}")
    overrides: dict[str, object] = {"seed": seed, "out_dir": str(out / task)}
    if steps is not None:
        if steps <= 0:
            raise RatrackError(f"--steps must be positive, got {steps}")
        overrides["steps"] = steps
    if mnist is not None:
        overrides["mnist"] = mnist
    fields = {f.name for f in dataclasses.fields(module.Config)}
    config = module.Config(**{k: v for k, v in overrides.items() if k in fields})
    bar, progress = _progress_bar(f"{task} training")
    with bar:
        result = module.run(config, progress=progress)
    typer.echo(f"{task}: trained in {result.seconds:.1f} s")
    for name, value in result.scores.items():
        typer.echo(f"  {name}: {value:.4f}")
    for figure in result.figures:
        typer.echo(f"  figure: {figure}")
