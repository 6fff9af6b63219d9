"""``ratrack eval``: single-object (sot) and multi-object (mot) scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _write_json
from ratrack.devices import cpu_threads
from ratrack.errors import RatrackError, check_number
from ratrack.outputs import check_outputs

app = typer.Typer(
    help="Evaluate trackers: single-object (sot) and multi-object (mot) scores.",
    no_args_is_help=True,
)


@app.command("sot")
def eval_sot(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Sequence folders (OTB, TLP, MOTChallenge, KITTI), videos, or roots holding "
            "OTB/TLP folders."
        ),
    ],
    pred: Annotated[
        Path | None, typer.Option(help="Prediction file to score (one sequence).")
    ] = None,
    pred_format: Annotated[
        str, typer.Option(help="Prediction format: auto (from the first row), otb, mot or kitti.")
    ] = "auto",
    track_id: Annotated[
        int | None,
        typer.Option(help="Object to follow in MOT/KITTI ground truth and prediction files."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="ratrack's weights (natural, bmnist or a checkpoint; none: not run). Default: "
            "natural, or none with --pred."
        ),
    ] = None,
    peers: Annotated[
        str, typer.Option(help="OpenCV trackers to run too: csrt,kcf,mosse,medianflow,mil.")
    ] = "",
    device: Annotated[str, typer.Option(help="torch device of ratrack.")] = "cpu",
    threads: Annotated[
        int, typer.Option(help="CPU threads of torch and OpenCV for every tracker (0: their own).")
    ] = 1,
    plot: Annotated[Path | None, typer.Option(help="Folder for the PNG plots.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write scores as JSON.")] = None,
) -> None:
    """Mean IoU, success AUC, precision at 20 px and fps of ratrack and peers, per sequence
    and over all of them."""
    check_number("threads", threads, low=0, high=1024, integer=True)
    if pred is not None and not pred.is_file():
        raise RatrackError(f"--pred {pred}: file not found")
    check_outputs(
        {"--json": json_out}, folders={"--plot": plot}, inputs={"SEQUENCE": paths, "--pred": pred}
    )
    with cpu_threads(threads):
        _eval_sot(paths, pred, pred_format, track_id, weights, peers, device, plot, json_out)


def _eval_sot(paths, pred, pred_format, track_id, weights, peers, device, plot, json_out) -> None:
    from tqdm import tqdm

    from ratrack.eval.sot import evaluate_sot_files, write_sot_plots
    from ratrack.eval.sot_benchmark import evaluate_sot_benchmark

    bars: list = []  # the bar starts with the first frame: input errors print one line only

    def progress(done: int, total: int, desc: str = "peers") -> None:
        if not bars or bars[-1].desc.rstrip(": ") != desc:
            if bars:
                bars[-1].close()
            bars.append(tqdm(total=total, desc=desc, unit="frame"))
        bars[-1].update(done - bars[-1].n)

    if pred is not None:
        if len(paths) != 1:
            raise RatrackError("--pred scores one sequence: give exactly one sequence folder")
        if weights not in (None, "none"):
            raise RatrackError("--weights runs ratrack on a benchmark: leave it out with --pred")
        try:
            report = evaluate_sot_files(
                paths[0],
                pred=pred,
                pred_format=pred_format,
                track_id=track_id,
                peers=peers,
                progress=progress,
            )
        finally:
            for bar in bars:
                bar.close()
        typer.echo(report.table())
        for path in write_sot_plots(report, plot) if plot is not None else []:
            typer.echo(f"plot: {path}")
        _write_json(json_out, report.to_json())
        return
    chosen = "natural" if weights is None else None if weights == "none" else weights
    try:
        bench = evaluate_sot_benchmark(
            paths,
            weights=chosen,
            peers=peers,
            device=device,
            progress=lambda name, done, total: progress(done, total, name),
        )
    finally:
        for bar in bars:
            bar.close()
    typer.echo(bench.table())
    for path in bench.write_plots(plot) if plot is not None else []:
        typer.echo(f"plot: {path}")
    _write_json(json_out, bench.to_json())


@app.command("mot")
def eval_mot(
    gt: Annotated[Path, typer.Option(help="Ground-truth file or folder.")],
    pred: Annotated[Path, typer.Option(help="Prediction file or folder (same names).")],
    fmt: Annotated[str, typer.Option("--format", help="File format: kitti or mot.")],
    iou: Annotated[float, typer.Option(help="IoU threshold of CLEAR MOT and IDF1.")] = 0.5,
    per_sequence: Annotated[bool, typer.Option(help="Print a row per sequence.")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write scores as JSON.")] = None,
    workers: Annotated[
        int, typer.Option(help="Processes scoring sequences in parallel (same scores as 1).")
    ] = 1,
) -> None:
    """CLEAR MOT, IDF1 (motmetrics) and HOTA (trackeval), per class and combined."""
    from ratrack.eval.mot_files import evaluate_files, format_mot_table

    if not 0.0 < iou <= 1.0:  # checked here: elsewhere iou_threshold is --iou-threshold
        raise RatrackError(f"--iou must be in (0, 1], got {iou}")
    if workers < 1:
        raise RatrackError(f"--workers must be >= 1, got {workers}")
    check_outputs({"--json": json_out}, inputs={"--gt": gt, "--pred": pred})
    report = evaluate_files(gt, pred, fmt, iou, workers=workers)
    typer.echo(format_mot_table(report, per_sequence=per_sequence))
    _write_json(json_out, report)
