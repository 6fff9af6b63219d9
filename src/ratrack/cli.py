"""The ``ratrack`` command line: a thin typer layer that builds configs and calls the library.

User mistakes (bad paths, malformed files, bad option values) surface as one-line errors on
stderr with a non-zero exit, never as tracebacks.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from ratrack.errors import RatrackError

app = typer.Typer(
    help="ratrack: a recurrent attention tracker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
attention_app = typer.Typer(help="The attention modules (STN, DRAW, NTM, RAM) on their classic tasks.")
app.add_typer(attention_app, name="attention")


def _progress_bar(desc: str):
    """A tqdm bar and the ``progress(step, total, loss)`` callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="step", dynamic_ncols=True)

    def progress(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.refresh()

    return bar, progress


@attention_app.command("train")
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


# --- data commands (ratrack data ...) ---
# --- end data commands ---

# --- eval commands (ratrack eval ..., ratrack bench ...) ---
# --- end eval commands ---

# --- tracker commands (ratrack demo, pretrain, train, track) ---
# --- end tracker commands ---


def main() -> None:
    """Entry point: run the app, turning ratrack's user errors into one-line messages."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except RatrackError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
