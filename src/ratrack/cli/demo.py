"""``ratrack demo``: Bouncing MNIST tracked with the shipped weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import config_error


def demo(
    out: Annotated[Path, typer.Option(help="Annotated video (mp4v).")] = Path("ratrack_demo.mp4"),
    sequences: Annotated[int, typer.Option(help="Bouncing MNIST sequences to track.")] = 20,
    digits: Annotated[int, typer.Option(help="Digits per sequence, each one tracked.")] = 2,
    weights: Annotated[str, typer.Option(help="Shipped weights name or checkpoint.")] = "bmnist",
    video: Annotated[bool, typer.Option(help="Write the video.")] = True,
) -> None:
    """Track Bouncing MNIST of unseen digits with the shipped weights; print scores, write video."""
    from ratrack.demo import DemoConfig, run_demo

    try:
        config = DemoConfig(weights=weights, sequences=sequences, digits=digits)
    except ValueError as exc:
        raise config_error(exc) from None
    from tqdm import tqdm

    with tqdm(total=sequences, desc="tracking", unit="seq") as bar:
        result = run_demo(
            config, out=out if video else None, progress=lambda n, total: bar.update(1)
        )
    mot = result.mot
    typer.echo(f"{sequences} sequences x {digits} digits, {result.object_frames} object-frames")
    typer.echo(f"  mean IoU     {result.mean_iou:.3f}")
    typer.echo(f"  success AUC  {result.success_auc:.3f}")
    typer.echo(
        f"  MOTA         {mot['MOTA']:.3f}   MOTP {mot['MOTP']:.3f}   IDF1 {mot['IDF1']:.3f}"
    )
    typer.echo(f"  speed        {result.object_frames / result.seconds:.0f} object-frames/s")
    if result.video is not None:
        typer.echo(f"  video        {result.video}")
