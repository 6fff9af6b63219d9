"""``ratrack bench``: benchmarks of tracker speed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _write_json, config_error
from ratrack.outputs import check_outputs

app = typer.Typer(help="Benchmarks: tracker speed.", no_args_is_help=True)


@app.command("speed")
def bench_speed(
    frames: Annotated[int, typer.Option(help="Frames per run (the first initializes).")] = 20,
    batch_sizes: Annotated[str, typer.Option(help="Objects tracked together.")] = "1,8,32,128",
    sizes: Annotated[str, typer.Option(help="Frame sizes, HxW.")] = "188x621,375x1242,750x2484",
    peer: Annotated[str, typer.Option(help="OpenCV peer (csrt, kcf, ...) or none.")] = "csrt",
    peer_objects: Annotated[int, typer.Option(help="Peer instances, one object each.")] = 8,
    weights: Annotated[str, typer.Option(help="Shipped weights name or checkpoint.")] = "bmnist",
    device: Annotated[str, typer.Option(help="torch device of the tracker.")] = "cpu",
    threads: Annotated[int, typer.Option(help="torch and OpenCV threads (0: theirs).")] = 1,
    statistic: Annotated[str, typer.Option(help="Over frames: median or min.")] = "median",
    frames_dir: Annotated[
        Path | None, typer.Option(help="Folder of frames (default: KITTI raw in RATRACK_DATA).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
) -> None:
    """Object-frames/s against frame size and batch size, beside a peer; prints the ratios."""
    from tqdm import tqdm

    from ratrack.eval.benchmark import run_speed_benchmark
    from ratrack.eval.speed import SpeedConfig, parse_batch_sizes, parse_sizes

    try:
        config = SpeedConfig(
            weights=weights,
            frames=frames,
            batch_sizes=parse_batch_sizes(batch_sizes),
            sizes=parse_sizes(sizes),
            peer=None if peer.lower() == "none" else peer.lower(),
            peer_objects=peer_objects,
            device=device,
            threads=threads,
            statistic=statistic,
        )
    except ValueError as exc:
        raise config_error(exc) from None
    check_outputs({"--json": json_out}, inputs={"--frames-dir": frames_dir})
    with tqdm(total=frames, desc="bench", unit="frame") as bar:
        report = run_speed_benchmark(config, frames_dir, lambda n, total: bar.update(1))
    typer.echo(report.table())
    _write_json(json_out, report.to_json())
