"""``ratrack eval``: single-object (sot) and multi-object (mot) scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import _write_json
from ratrack.errors import RatrackError
from ratrack.outputs import check_outputs

app = typer.Typer(
    help="Evaluate trackers: single-object (sot) and multi-object (mot) scores.",
    no_args_is_help=True,
)


@app.command("sot")
def eval_sot(
    sequence_dir: Annotated[
        Path, typer.Argument(help="Sequence folder (OTB, TLP, MOTChallenge, KITTI) or video.")
    ],
    pred: Annotated[Path | None, typer.Option(help="Prediction file to score.")] = None,
    pred_format: Annotated[str, typer.Option(help="Prediction format: otb, mot or kitti.")] = "otb",
    track_id: Annotated[
        int | None,
        typer.Option(help="Object to follow in MOT/KITTI ground truth and prediction files."),
    ] = None,
    peers: Annotated[
        str, typer.Option(help="OpenCV trackers to run too: csrt,kcf,mosse,medianflow,mil.")
    ] = "",
    plot: Annotated[Path | None, typer.Option(help="Folder for the PNG plots.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write scores as JSON.")] = None,
) -> None:
    """Mean IoU, success AUC, precision at 20 px and fps on one sequence, peers side by side."""
    from tqdm import tqdm

    from ratrack.data.formats import detect_format, open_sequence
    from ratrack.eval.peers import OpenCVTracker, parse_peers
    from ratrack.eval.sot import PRED_FORMATS, evaluate_sot, read_sot_prediction, write_sot_plots

    if pred_format not in PRED_FORMATS:
        raise RatrackError(f"--pred-format must be one of {', '.join(PRED_FORMATS)}")
    try:
        names = parse_peers(peers)
    except ValueError as exc:
        raise RatrackError(f"--peers: {exc}") from None
    if pred is None and not names:
        raise RatrackError("nothing to evaluate: give --pred FILE and/or --peers")
    if pred is not None and not pred.is_file():
        raise RatrackError(f"--pred {pred}: file not found")
    check_outputs(
        {"--json": json_out},
        folders={"--plot": plot},
        inputs={"SEQUENCE": sequence_dir, "--pred": pred},
    )
    fmt = detect_format(sequence_dir)
    options = {"track_id": track_id} if track_id is not None and fmt in ("mot", "kitti") else {}
    sequence = open_sequence(sequence_dir, fmt, **options)
    preds = {}
    if pred is not None:
        preds[pred.stem] = read_sot_prediction(pred, pred_format, len(sequence), track_id)
    trackers = {name: OpenCVTracker(name=name) for name in names}
    with tqdm(total=len(sequence), desc="peers", unit="frame", disable=not names) as bar:
        report = evaluate_sot(sequence, preds, trackers, progress=lambda t: bar.update(1))
    typer.echo(report.table())
    for path in write_sot_plots(report, plot) if plot is not None else []:
        typer.echo(f"plot: {path}")
    _write_json(json_out, report.to_json())


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
    from ratrack.eval.mot_files import MOT_FORMATS, evaluate_files, format_mot_table

    if fmt not in MOT_FORMATS:
        raise RatrackError(f"--format must be one of {', '.join(MOT_FORMATS)}, got {fmt!r}")
    if not 0.0 < iou <= 1.0:
        raise RatrackError(f"--iou must be in (0, 1], got {iou}")
    if workers < 1:
        raise RatrackError(f"--workers must be >= 1, got {workers}")
    check_outputs({"--json": json_out}, inputs={"--gt": gt, "--pred": pred})
    report = evaluate_files(gt, pred, fmt, iou, workers=workers)
    typer.echo(format_mot_table(report, per_sequence=per_sequence))
    _write_json(json_out, report)
