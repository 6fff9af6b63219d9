"""``ratrack attention``: the attention modules (STN, DRAW, NTM, RAM) on their classic tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _progress_bar
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
    from ratrack.train.attention_tasks.run import run_task

    check_outputs(folders={"--out": out}, inputs={"--mnist": mnist})
    bar, progress = _progress_bar(f"{task} training")
    with bar:
        result = run_task(
            task, out_dir=out / task, seed=seed, steps=steps, mnist=mnist, progress=progress
        )
    typer.echo(f"{task}: trained in {result.seconds:.1f} s")
    for name, value in result.scores.items():
        typer.echo(f"  {name}: {value:.4f}")
    for figure in result.figures:
        typer.echo(f"  figure: {figure}")
