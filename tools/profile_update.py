"""Where an update's time goes, against the budgets of issue #14's speed targets, in one run.

For each OTB sequence (one object from its first ground-truth box, the natural weights, one
torch thread) it times :meth:`Tracker.update` over the frames, then profiles the same updates
and splits their time into the heavy kernels (FFTs, convolutions, glimpse sampling, matrix
products) and everything else (the small tensor operations around them, counted). The heavy
kernels are work every exact path must do at the shipped model's sizes, so their sum bounds
what the model can reach without an approximation. Beside them: the budgets the targets set,
400 updates/s (2.5 ms) and five times CSRT's frames/s with decoding (measured in the same run),
and, on the KITTI raw frames, ten grid objects' update time per frame against the PNG
decode's.

    python tools/profile_update.py --data ../shared/data [--sequences BlurCar2,Crossing]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.profiler import profile

from ratrack import Tracker
from ratrack.data.formats import open_sequence
from ratrack.eval.speed import IMAGE_SUFFIXES, KITTI_RAW_FRAMES, grid_boxes

KINDS = ("FFTs", "convolutions", "glimpse sampling", "matrix products")
UPDATES_TARGET = 400  # updates/s, one object, one thread
CSRT_TIMES = 5  # ratrack track end to end against CSRT with decoding


def kind_of(op: str) -> str | None:
    """The heavy kernel kind of a profiled aten op, or None for a small operation."""
    if op.startswith("aten::_fft_"):
        return "FFTs"
    if "conv" in op:
        return "convolutions"
    if op.startswith("aten::grid_sampler"):
        return "glimpse sampling"
    if op in ("aten::addmm", "aten::mm", "aten::bmm"):
        return "matrix products"
    return None


def split_update(tracker: Tracker, frames: list[np.ndarray]) -> tuple[dict[str, float], int]:
    """Self CPU milliseconds per update of each heavy kind and the small operations' count per
    update, from a profile of ``tracker.update`` over ``frames``."""
    with profile() as prof:
        for frame in frames:
            tracker.update(frame)
    ms: Counter = Counter()
    for event in prof.key_averages():
        kind = kind_of(event.key)
        if kind is not None:
            ms[kind] += event.self_cpu_time_total / 1e3
    # the operations the Python code calls (not those they call in turn), heavy ones aside
    small = sum(
        1
        for e in prof.events()
        if e.name.startswith("aten::")
        and kind_of(e.name) is None
        and not (e.cpu_parent is not None and e.cpu_parent.name.startswith("aten::"))
    )
    return {k: ms[k] / len(frames) for k in KINDS}, round(small / len(frames))


def timed_updates(tracker: Tracker, frames: list[np.ndarray]) -> float:
    """Median wall milliseconds of ``tracker.update`` over ``frames``."""
    times = []
    for frame in frames:
        start = time.perf_counter()
        tracker.update(frame)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def measure(
    tracker: Tracker, frames: list[np.ndarray], boxes: np.ndarray
) -> tuple[float, dict[str, float], int]:
    """Start ``boxes`` (xyxy) on the first of ``frames`` and update over the rest three times:
    a warm-up, then :func:`timed_updates`, then :func:`split_update`."""
    tracker.init(frames[0], boxes, fmt="xyxy")
    timed_updates(tracker, frames[1:])
    tracker.init(frames[0], boxes, fmt="xyxy")
    update_ms = timed_updates(tracker, frames[1:])
    tracker.init(frames[0], boxes, fmt="xyxy")
    heavy, small = split_update(tracker, frames[1:])
    return update_ms, heavy, small


def csrt_fps(paths: list[Path], first_box: np.ndarray) -> float:
    """CSRT's frames/s on ``paths`` decoding each frame (as ``ratrack bench speed`` runs it)."""
    tracker = cv2.TrackerCSRT_create()
    start = time.perf_counter()
    x1, y1, x2, y2 = first_box
    tracker.init(cv2.imread(str(paths[0])), (int(x1), int(y1), int(x2 - x1), int(y2 - y1)))
    for path in paths[1:]:
        tracker.update(cv2.imread(str(path)))
    return len(paths) / (time.perf_counter() - start)


def report(label: str, update_ms: float, heavy: dict[str, float], small: int) -> float:
    """Print one run's split; returns the heavy kernels' milliseconds."""
    total = sum(heavy.values())
    print(f"{label}")
    print(f"  {'update, no profiler':<34}{update_ms:>8.2f} ms   ({1e3 / update_ms:.1f} per second)")
    for kind in KINDS:
        print(f"  {kind:<34}{heavy[kind]:>8.2f} ms")
    print(
        f"  {'heavy kernels together':<34}{total:>8.2f} ms   (at most {1e3 / total:.0f} per second)"
    )
    other = update_ms - total
    print(f"  {'everything else':<34}{other:>8.2f} ms   ({small} other operations called)")
    return total


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    default = os.environ.get("RATRACK_DATA", str(repo.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default), help="the shared data folder")
    parser.add_argument("--sequences", default="BlurCar2,Crossing", help="OTB sequences")
    parser.add_argument("--frames", type=int, default=200, help="frames per sequence (0: all)")
    parser.add_argument("--objects", type=int, default=10, help="grid objects on KITTI raw frames")
    args = parser.parse_args()
    if not (args.data / KITTI_RAW_FRAMES).is_dir():
        parser.error(f"--data {args.data}: no {KITTI_RAW_FRAMES} in it (the shared data folder?)")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print(
        f"torch {torch.__version__}, one thread; heavy kernels from a profile of the same updates"
    )
    for name in args.sequences.split(","):
        sequence = open_sequence(args.data / "otb" / name, "otb")
        count = args.frames or len(sequence)
        frames = [frame for _, frame in zip(range(count), sequence.frames(), strict=False)]
        tracker = Tracker.from_pretrained("natural")
        split = measure(tracker, frames, sequence.gt[:1])
        csrt = csrt_fps(sequence.paths[:count], sequence.gt[0])
        total = report(f"otb/{name}: {len(frames)} frames, one object", *split)
        budgets = (1e3 / UPDATES_TARGET, 1e3 / (CSRT_TIMES * csrt))
        print(f"  {f'budget, {UPDATES_TARGET} updates/s':<34}{budgets[0]:>8.2f} ms")
        print(
            f"  {f'budget, {CSRT_TIMES}x CSRT end to end':<34}{budgets[1]:>8.2f} ms   "
            f"(CSRT with decoding {csrt:.1f} frames/s)"
        )
        print(f"  heavy kernels alone / tightest budget: {total / min(budgets):.1f}x")
    folder = args.data / KITTI_RAW_FRAMES
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    decode = []
    frames = []
    for path in paths:
        start = time.perf_counter()
        image = cv2.imread(str(path))
        decode.append(time.perf_counter() - start)
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    decode_ms = 1e3 * statistics.median(decode)
    height, width = frames[0].shape[:2]
    tracker = Tracker.from_pretrained("natural")
    split = measure(tracker, frames, grid_boxes(args.objects, height, width))
    label = f"KITTI raw {height}x{width}: {len(frames)} frames, {args.objects} grid objects"
    total = report(label, *split)
    print(f"  {'budget, the PNG decode per frame':<34}{decode_ms:>8.2f} ms")
    print(f"  heavy kernels alone / budget: {total / decode_ms:.1f}x")


if __name__ == "__main__":
    main()
