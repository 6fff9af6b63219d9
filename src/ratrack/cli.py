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
attention_app = typer.Typer(
    help="The attention modules (STN, DRAW, NTM, RAM) on their classic tasks."
)
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
data_app = typer.Typer(
    help="Datasets: generate Bouncing MNIST, describe dataset folders and files.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@data_app.command("bmnist")
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
    from ratrack.datasets.bouncing_mnist import BouncingMnistConfig
    from ratrack.datasets.export import export_bouncing_mnist

    try:
        config = BouncingMnistConfig(canvas_size=(canvas, canvas), num_digits=digits, length=length)
        if num < 1 or seed < 0:
            raise ValueError(f"--num must be >= 1 and --seed >= 0, got {num} and {seed}")
        if split not in ("train", "val", "test"):
            raise ValueError(f"--split must be train, val or test, got {split!r}")
    except ValueError as exc:
        raise RatrackError(str(exc)) from None
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


@data_app.command("info")
def data_info(
    path: Annotated[Path, typer.Argument(help="Dataset folder or file (KITTI, MOT, OTB, ...).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a dataset: format, sequences, frames, sizes, objects per class, tracks."""
    import json

    from ratrack.datasets.info import describe, format_info

    info = describe(path)
    typer.echo(json.dumps(info, indent=2) if json_out else format_info(info))


# --- end data commands ---

# --- eval commands (ratrack eval ..., ratrack bench ...) ---
eval_app = typer.Typer(
    help="Evaluate trackers: single-object (sot) and multi-object (mot) scores.",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")


def _write_json(path: Path | None, data: dict) -> None:
    import json

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)  # atomic: a reader never sees half a file
    typer.echo(f"json: {path}")


@eval_app.command("sot")
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

    from ratrack.datasets.sequences import detect_format, open_sequence
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


@eval_app.command("mot")
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
    report = evaluate_files(gt, pred, fmt, iou, workers=workers)
    typer.echo(format_mot_table(report, per_sequence=per_sequence))
    _write_json(json_out, report)


bench_app = typer.Typer(help="Benchmarks: tracker speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("speed")
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

    from ratrack.eval import benchmark as bench

    try:
        config = bench.SpeedConfig(
            weights=weights,
            frames=frames,
            batch_sizes=bench.parse_batch_sizes(batch_sizes),
            sizes=bench.parse_sizes(sizes),
            peer=None if peer.lower() == "none" else peer.lower(),
            peer_objects=peer_objects,
            device=device,
            threads=threads,
            statistic=statistic,
        )
    except ValueError as exc:
        raise RatrackError(str(exc)) from None
    with tqdm(total=frames, desc="bench", unit="frame") as bar:
        report = bench.run_speed_benchmark(config, frames_dir, lambda n, total: bar.update(1))
    typer.echo(report.table())
    _write_json(json_out, report.to_json())


# --- end eval commands ---

# --- tracker commands (ratrack demo, pretrain, train, track) ---
TRAIN_DATA = ("bmnist", "natural")
ROOT_HELP = "Real data folder for --data natural (default: $RATRACK_DATA or ../shared/data)."


def _data_root(root: Path | None) -> Path:
    """The real data folder: ``root``, else ``$RATRACK_DATA``, else ``../shared/data``."""
    import os

    path = root or Path(os.environ.get("RATRACK_DATA", "../shared/data"))
    if not path.is_dir():
        raise RatrackError(f"{path}: real data folder not found (give --root or RATRACK_DATA)")
    return path


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Annotated video (mp4v).")] = Path("ratrack_demo.mp4"),
    sequences: Annotated[int, typer.Option(help="Bouncing MNIST sequences to track.")] = 20,
    digits: Annotated[int, typer.Option(help="Digits per sequence, each one tracked.")] = 2,
    weights: Annotated[str, typer.Option(help="Shipped weights name or checkpoint.")] = "bmnist",
    video: Annotated[bool, typer.Option(help="Write the video.")] = True,
) -> None:
    """Track Bouncing MNIST of unseen digits with the shipped weights; print scores, write video."""
    from ratrack.tracker.demo import DemoConfig, run_demo

    try:
        config = DemoConfig(weights=weights, sequences=sequences, digits=digits)
    except ValueError as exc:
        raise RatrackError(str(exc)) from None
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


DEVICE_HELP = "auto (CUDA if available), cpu, cuda or cuda:N; under torchrun each process's GPU."
BATCH_HELP = "Global batch: under torchrun split evenly over the processes."
LR_HELP = "Peak learning rate, for the global batch (scale it with the batch, not the processes)."


def _join_processes(device: str, amp: bool):
    """Resolve ``--device``, join torchrun's process group (if any); quiet logs off rank 0."""
    from ratrack import distributed

    dev = distributed.resolve_device(device)
    distributed.autocast_dtype(dev, amp)  # --amp without CUDA fails here, before any work
    distributed.init_from_env(dev)
    if not distributed.is_main():
        logging.getLogger("ratrack").setLevel(logging.ERROR)
    return dev


def _main_progress(desc: str):
    """The progress bar and callback on rank 0; nothing on the other processes."""
    from contextlib import nullcontext

    from ratrack import distributed

    return _progress_bar(desc) if distributed.is_main() else (nullcontext(), None)


@app.command("pretrain")
def pretrain(
    data: Annotated[str, typer.Option(help=f"Training data: {', '.join(TRAIN_DATA)}.")] = "bmnist",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/pretrain"),
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 1500,
    batch: Annotated[int, typer.Option(help=BATCH_HELP)] = 128,
    lr: Annotated[float, typer.Option(help=LR_HELP)] = 1e-3,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision (CUDA only).")] = False,
    root: Annotated[Path | None, typer.Option(help=ROOT_HELP)] = None,
    pool: Annotated[int, typer.Option(help="natural: clips in the pool.")] = 2600,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Pretrain the conv net to re-centre misaligned glimpses; print held-out window IoU."""
    from ratrack import distributed
    from ratrack.pretrain.bmnist import pretrain_on_bmnist
    from ratrack.pretrain.misalignment import PretrainConfig
    from ratrack.tracker import natural

    if data not in TRAIN_DATA:
        raise RatrackError(f"--data must be one of {', '.join(TRAIN_DATA)}, got {data!r}")
    try:
        config = PretrainConfig(steps=steps, batch_size=batch, lr=lr, seed=seed)
        if pool <= 0:
            raise ValueError(f"--pool must be positive, got {pool}")
    except ValueError as exc:
        raise RatrackError(str(exc)) from None
    dev = _join_processes(device, amp)
    main = distributed.is_main()
    try:
        if data == "natural":
            real = _data_root(root)
            clips = natural.pool_of_size(pool, seed=seed)
            sampler = natural.natural_sampler(real, clips, batch_size=1, device=dev)
            model_config = natural.natural_model_config(sampler)
        bar, progress = _main_progress("pretraining")
        with bar:
            if data == "natural":
                path, scores = natural.pretrain_on_natural(
                    config,
                    root=real,
                    sampler=sampler,
                    model_config=model_config,
                    out_dir=out,
                    device=dev,
                    progress=progress,
                    amp=amp,
                )
            else:
                path, scores = pretrain_on_bmnist(
                    config, out_dir=out, device=dev, progress=progress, amp=amp
                )
    finally:
        distributed.cleanup()
    if main:
        typer.echo(f"checkpoint: {path}")
        typer.echo(
            f"held-out window IoU: {scores['iou_before']:.3f} -> {scores['iou_after']:.3f} "
            f"after one correction ({scores['count']} glimpses)"
        )


@app.command("train")
def train(
    data: Annotated[str, typer.Option(help=f"Training data: {', '.join(TRAIN_DATA)}.")] = "bmnist",
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, log.csv).")] = Path(
        "runs/train"
    ),
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 4000,
    batch: Annotated[int, typer.Option(help=f"Clips per step. {BATCH_HELP}")] = 64,
    lr: Annotated[float, typer.Option(help=LR_HELP)] = 1e-3,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision (CUDA only).")] = False,
    init_from: Annotated[
        Path | None, typer.Option(help="Pretraining checkpoint whose conv net starts the tracker.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt if present.")] = True,
    pool: Annotated[
        int, typer.Option(help="Pool size: bmnist sequences per digit count; natural clips.")
    ] = 2000,
    root: Annotated[Path | None, typer.Option(help=ROOT_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train the tracker (curriculum over clip length; resumable; CSV log with gradient norms)."""
    import torch

    from ratrack import distributed
    from ratrack.tracker import natural
    from ratrack.tracker.data import PoolConfig, PoolSampler
    from ratrack.tracker.model import RecurrentTracker, TrackerConfig
    from ratrack.tracker.train import TrainConfig, load_pretrained_conv, train_tracker

    if data not in TRAIN_DATA:
        raise RatrackError(f"--data must be one of {', '.join(TRAIN_DATA)}, got {data!r}")
    if pool <= 0:
        raise RatrackError(f"--pool must be positive, got {pool}")
    real_pool = natural.pool_of_size(pool, seed=seed)
    longest = real_pool.length if data == "natural" else PoolConfig().length
    try:
        config = TrainConfig(
            steps=steps,
            batch_size=batch,
            lr=lr,
            curriculum=tuple(
                (start, min(n, longest))
                for start, n in ((0, 5), (steps // 8, 10), (steps // 4, 20), (steps // 2, 30))
            ),
        )
    except ValueError as exc:
        raise RatrackError(str(exc)) from None
    dev = _join_processes(device, amp)
    main = distributed.is_main()
    try:
        distributed.shard_rows(batch)  # --batch must split evenly, checked before the pool
        if data == "natural":
            sampler = natural.natural_sampler(
                _data_root(root), real_pool, batch_size=batch, device=dev
            )
            model_config = natural.natural_model_config(sampler)
        else:
            sampler = PoolSampler.build(
                PoolConfig(num_sequences=(pool, pool), seed=seed), batch_size=batch, device=dev
            )
            model_config = TrackerConfig()
        torch.manual_seed(seed)  # the same initial weights in every process
        model = RecurrentTracker(config=model_config)
        if init_from is not None:
            load_pretrained_conv(model, init_from)
        bar, progress = _main_progress("training")
        with bar:
            result = train_tracker(
                model,
                sampler,
                config,
                out_dir=out,
                resume=resume,
                device=dev,
                progress=progress,
                amp=amp,
            )
    finally:
        distributed.cleanup()
    if main:
        typer.echo(
            f"trained to step {result.step} in {result.seconds:.1f} s; "
            f"checkpoint {result.checkpoint}"
        )
        for name, value in result.losses.items():
            typer.echo(f"  {name}: {value:.4f}")


# --- track command ---
TRACK_OPTIONS = {
    "iou_threshold": "--iou-threshold",
    "min_score": "--min-score",
    "birth_score": "--birth-score",
    "max_misses": "--max-misses",
    "max_frames": "--max-frames",
    "out_format": "--format",
}


@app.command("track")
def track(
    source: Annotated[
        Path | None, typer.Argument(help="Video file, image folder, MOT/OTB folder, KITTI drive.")
    ] = None,
    kitti: Annotated[Path | None, typer.Option(help="KITTI tracking root (+ --sequence).")] = None,
    sequence: Annotated[str | None, typer.Option(help="KITTI tracking sequence: 0001.")] = None,
    init: Annotated[
        list[str] | None, typer.Option(help="Box x,y,w,h on the first frame (repeatable).")
    ] = None,
    init_format: Annotated[str, typer.Option(help="--init boxes: xywh, xywh1 or xyxy.")] = "xywh",
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
    iou_threshold: Annotated[float, typer.Option(help="Min IoU of a track-detection match.")] = 0.3,
    min_score: Annotated[float, typer.Option(help="Detections below are ignored.")] = 0.3,
    birth_score: Annotated[float, typer.Option(help="Min score to start a new track.")] = 0.5,
    max_misses: Annotated[int, typer.Option(help="Unmatched frames before a track ends.")] = 5,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    object_type: Annotated[str, typer.Option(help="KITTI type of class-less tracks.")] = "Car",
) -> None:
    """Track objects through a video or sequence; write MOT/KITTI/JSON-lines tracks and a video."""
    from tqdm import tqdm

    from ratrack.tracker.multi import MultiTrackConfig
    from ratrack.tracker.track import TrackConfig, run_track

    try:
        lifecycle = MultiTrackConfig(
            iou_threshold=iou_threshold,
            min_score=min_score,
            birth_score=birth_score,
            max_misses=max_misses,
        )
        config = TrackConfig(
            weights=weights,
            device=device,
            out_format=fmt,
            object_type=object_type,
            max_frames=max_frames,
            lifecycle=lifecycle,
        )
    except ValueError as exc:
        message = str(exc)  # config field names -> the options that set them
        for field, option in TRACK_OPTIONS.items():
            message = message.replace(field, option)
        raise RatrackError(message) from None
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
            progress=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    typer.echo(result.summary())


# --- end track command ---

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
        typer.echo("\ninterrupted", err=True)  # below any progress bar line
        sys.exit(130)
