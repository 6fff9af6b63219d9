"""``ratrack bench``: benchmarks of tracker speed, and multi-object trackers side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _write_json, user_error
from ratrack.errors import RatrackError
from ratrack.eval.speed import DEFAULT_SEQUENCES
from ratrack.outputs import check_outputs

app = typer.Typer(
    help="Benchmarks: tracker speed; multi-object trackers side by side.", no_args_is_help=True
)


@app.command("speed")
def bench_speed(
    frames: Annotated[int, typer.Option(help="Frames per run (the first initializes).")] = 20,
    batch_sizes: Annotated[str, typer.Option(help="Objects tracked together.")] = "1,10,32,128",
    sizes: Annotated[str, typer.Option(help="Frame sizes, HxW.")] = "188x621,375x1242,750x2484",
    peer: Annotated[str, typer.Option(help="OpenCV peer (csrt, kcf, ...) or none.")] = "csrt",
    peer_objects: Annotated[int, typer.Option(help="Peer instances, one object each.")] = 8,
    weights: Annotated[str, typer.Option(help="Shipped weights name or checkpoint.")] = "natural",
    device: Annotated[str, typer.Option(help="torch device of the tracker.")] = "cpu",
    threads: Annotated[int, typer.Option(help="torch and OpenCV threads (0: theirs).")] = 1,
    statistic: Annotated[str, typer.Option(help="Over frames: median or min.")] = "median",
    frames_dir: Annotated[
        Path | None, typer.Option(help="Folder of frames (default: KITTI raw in RATRACK_DATA).")
    ] = None,
    sequences: Annotated[
        str, typer.Option(help="OTB sequences under --data run end to end by track, or none.")
    ] = ",".join(DEFAULT_SEQUENCES),
    repeats: Annotated[int, typer.Option(help="End-to-end runs per sequence (fastest).")] = 2,
    data: Annotated[
        Path | None, typer.Option(help="Data folder of --sequences (default: RATRACK_DATA).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
) -> None:
    """Object-frames/s against frame size and batch size, and one object end to end on real
    sequences, beside a peer; prints the ratios."""
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
            sequences=tuple(
                s.strip() for s in sequences.split(",") if s.strip() and s.strip() != "none"
            ),
            repeats=repeats,
        )
    except ValueError as exc:
        raise user_error(exc, SpeedConfig) from None
    check_outputs({"--json": json_out}, inputs={"--frames-dir": frames_dir, "--data": data})
    with tqdm(total=frames, desc="bench", unit="frame") as bar:
        report = run_speed_benchmark(config, frames_dir, lambda n, total: bar.update(1), data)
    typer.echo(report.table())
    _write_json(json_out, report.to_json())


@app.command("mot")
def bench_mot(
    kitti: Annotated[
        Path, typer.Option(help="KITTI tracking root: training/label_02, detections_rrc.")
    ],
    sequences: Annotated[
        str, typer.Option(help="Sequences: all, 0011-0020, or 0001,0005.")
    ] = "all",
    peers: Annotated[
        str, typer.Option(help="Peers (extra 'peers'): sort,bytetrack,ocsort,sv-bytetrack, all.")
    ] = "all",
    classes: Annotated[str, typer.Option(help="KITTI classes: Car,Pedestrian.")] = "Car,Pedestrian",
    repeats: Annotated[
        int, typer.Option(help="Runs of each sequence per tracker, taking turns (fastest).")
    ] = 3,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write rows as JSON.")] = None,
) -> None:
    """ratrack and peer trackers on the same KITTI detections from boxes alone: HOTA, DetA,
    AssA, MOTA, IDF1, ID switches (KITTI rules) and tracker frames/s, one table."""
    import torch
    from tqdm import tqdm

    from ratrack.eval.mot_bench import (
        CLASSES,
        format_bench_table,
        kitti_sequences,
        parse_peers,
        parse_sequences,
        peer_runner,
        ratrack_runner,
        run_bench,
    )

    torch.set_num_threads(1)
    try:
        names = parse_peers(peers) if peers.strip() else []
        seqs = parse_sequences(sequences)
    except ValueError as exc:
        raise RatrackError(f"--peers/--sequences: {exc}") from None
    if not 1 <= repeats <= 100:
        raise RatrackError(f"--repeats: must be 1 to 100, got {repeats}")
    wanted = [c.strip() for c in classes.split(",") if c.strip()]
    for c in wanted:
        if c not in CLASSES:
            raise RatrackError(f"--classes: {c!r} is not one of {', '.join(CLASSES)}")
    runners = {"ratrack": ratrack_runner(), **{n: peer_runner(n) for n in names}}
    count = len(kitti_sequences(kitti, seqs or None)) * len(wanted)
    with tqdm(total=count, desc="bench mot", unit="seq") as bar:
        rows = run_bench(
            kitti,
            runners,
            seqs or None,
            wanted,
            progress=lambda _: bar.update(1),
            repeats=repeats,
        )
    typer.echo(format_bench_table(rows))
    _write_json(
        json_out,
        {
            "sequences": sequences,
            "rows": [
                {"tracker": r.tracker, "class": r.cls, "fps": r.fps, **r.scores} for r in rows
            ],
        },
    )
