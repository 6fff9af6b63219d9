"""``ratrack data``: generate Bouncing MNIST, describe dataset folders and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import user_error
from ratrack.errors import RatrackError, check_number
from ratrack.outputs import check_outputs

app = typer.Typer(
    help="Datasets: generate Bouncing MNIST, describe dataset folders and files.",
    no_args_is_help=True,
)


@app.command("bmnist")
def data_bmnist(
    out: Annotated[Path, typer.Option(help="Output folder (a MOTChallenge folder per sequence).")],
    num: Annotated[int, typer.Option(help="Number of sequences.")] = 100,
    digits: Annotated[int, typer.Option(help="Digits per sequence.")] = 1,
    length: Annotated[int, typer.Option(help="Frames per sequence.")] = 30,
    canvas: Annotated[int, typer.Option(help="Canvas side in pixels.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (sequence i depends on seed and i).")] = 0,
    split: Annotated[str, typer.Option(help="MNIST split the digits come from.")] = "test",
    mnist: Annotated[
        str | None, typer.Option(help="MNIST IDX folder or images file (default: embedded digits).")
    ] = None,
) -> None:
    """Write Bouncing MNIST sequences as image folders with MOTChallenge gt.txt; print speed."""
    from ratrack.data.bouncing_mnist import MAX_CANVAS, BouncingMnistConfig
    from ratrack.data.export import export_bouncing_mnist

    try:
        check_number("canvas_size", canvas, low=1, high=MAX_CANVAS, integer=True)
        config = BouncingMnistConfig(canvas_size=(canvas, canvas), num_digits=digits, length=length)
        check_number("num_sequences", num, low=1, high=10**6, integer=True)
        check_number("seed", seed, low=0, high=2**63 - 1, integer=True)
        if split not in ("train", "val", "test"):
            raise RatrackError(f"--split must be train, val or test, got {split!r}")
    except ValueError as exc:
        raise user_error(exc, BouncingMnistConfig) from None
    check_outputs(folders={"--out": out}, inputs={"--mnist": mnist})
    from tqdm import tqdm

    with tqdm(total=num, desc="bmnist", unit="seq") as bar:
        stats = export_bouncing_mnist(
            out,
            config,
            num_sequences=num,
            seed=seed,
            split=split,
            mnist=mnist,
            progress=lambda done, total: bar.update(1),
        )
    typer.echo(f"wrote {stats.sequences} sequences ({stats.frames} frames) to {out}")
    typer.echo(
        f"generated {stats.frames_per_second:.0f} frames/s; "
        f"with PNG and gt.txt writing {stats.frames / max(stats.write_seconds, 1e-9):.0f} "
        "frames/s"
    )


@app.command("info")
def data_info(
    path: Annotated[Path, typer.Argument(help="Dataset folder or file (KITTI, MOT, OTB, ...).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a dataset: format, sequences, frames, sizes, objects per class, tracks."""

    from ratrack.data.info import describe, format_info

    info = describe(path)
    typer.echo(json.dumps(info, indent=2) if json_out else format_info(info))
