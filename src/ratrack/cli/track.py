"""``ratrack track``: follow objects through footage and write the tracks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ratrack.cli._common import user_error


def track(
    source: Annotated[
        Path | None, typer.Argument(help="Video file, image folder, MOT/OTB folder, KITTI drive.")
    ] = None,
    kitti: Annotated[Path | None, typer.Option(help="KITTI tracking root (+ --sequence).")] = None,
    sequence: Annotated[str | None, typer.Option(help="KITTI tracking sequence: 0001.")] = None,
    init: Annotated[
        list[str] | None, typer.Option(help="Box x,y,w,h on the first frame (repeatable).")
    ] = None,
    init_format: Annotated[
        str,
        typer.Option(
            help="--init boxes: xywh (0-based), xywh1, xyxy, or auto: xywh1 when they are the "
            "sequence's first ground-truth boxes as its file writes them, else xywh."
        ),
    ] = "auto",
    init_file: Annotated[
        Path | None, typer.Option(help="MOT or KITTI file: boxes, ids, start frames.")
    ] = None,
    detections: Annotated[
        Path | None, typer.Option(help="MOT det.txt, KITTI, or frame,x1,y1,x2,y2,score rows.")
    ] = None,
    det_format: Annotated[str, typer.Option(help="auto, mot, kitti or rrc.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Track file to write.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Track file: mot, kitti or jsonl.")] = "mot",
    video: Annotated[Path | None, typer.Option(help="Annotated video (.mp4 or .avi).")] = None,
    weights: Annotated[str, typer.Option(help="auto, natural, bmnist or a checkpoint.")] = "auto",
    device: Annotated[str, typer.Option(help="torch device: cpu or cuda.")] = "cpu",
    no_frames: Annotated[
        bool, typer.Option(help="Track --detections from boxes alone (no images read).")
    ] = False,
    iou_threshold: Annotated[
        float | None, typer.Option(help="Min IoU of a prediction and a detection to match.")
    ] = None,
    min_score: Annotated[float | None, typer.Option(help="Detections below are ignored.")] = None,
    high_score: Annotated[
        float | None, typer.Option(help="Detections from here match first; lower ones second.")
    ] = None,
    birth_score: Annotated[float | None, typer.Option(help="Min score to start a track.")] = None,
    max_misses: Annotated[
        int | None, typer.Option(help="Unmatched frames a confirmed track survives.")
    ] = None,
    min_hits: Annotated[
        int | None, typer.Option(help="Matched frames that confirm a track.")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    drop_lost: Annotated[
        bool,
        typer.Option(help="Leave out frames where the tracker lost its object (no detections)."),
    ] = False,
    object_type: Annotated[str, typer.Option(help="KITTI type of class-less tracks.")] = "Car",
    threads: Annotated[
        int,
        typer.Option(
            help="CPU threads of torch and OpenCV (0: their own; 1 holds up best "
            "when the machine does other work)."
        ),
    ] = 1,
) -> None:
    """Track objects through a video or sequence; write MOT/KITTI/JSON-lines tracks and a video.

    With --detections and no frames (--no-frames, or a KITTI root without image_02) the
    lifecycle runs on the boxes alone. Without threshold options the dashcam defaults apply
    (per class: Car, Pedestrian; README "Multi-object tracking")."""
    from tqdm import tqdm

    from ratrack.track.multi import MultiTrackConfig
    from ratrack.track.run import TrackConfig, run_track

    given = {
        "iou_threshold": iou_threshold,
        "min_score": min_score,
        "high_score": high_score,
        "birth_score": birth_score,
        "max_misses": max_misses,
        "min_hits": min_hits,
    }
    given = {k: v for k, v in given.items() if v is not None}
    try:
        # no threshold given: the dashcam defaults per class; any given: one config for all
        lifecycle = MultiTrackConfig(**given) if given else None
        config = TrackConfig(
            weights=weights,
            device=device,
            out_format=fmt,
            object_type=object_type,
            max_frames=max_frames,
            drop_lost=drop_lost,
            threads=threads,
            lifecycle=lifecycle,
        )
    except ValueError as exc:
        raise user_error(exc, TrackConfig, MultiTrackConfig) from None
    bars: list = []  # the bar starts with the first frame: input errors print one line only

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="tracking", unit="frame", dynamic_ncols=True))
        bars[0].update(done - bars[0].n)

    try:
        result = run_track(
            source,
            kitti_root=kitti,
            sequence=sequence,
            init=init or (),
            init_format=init_format,
            init_file=init_file,
            detections=detections,
            det_format=det_format,
            out=out,
            video=video,
            config=config,
            no_frames=no_frames,
            progress=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    typer.echo(result.summary())
