"""Speed benchmark: object-frames per second against frame size and batch size, beside a peer.

The claim it checks: ratrack looks at each object through a fixed-size glimpse, so its cost per
object does not grow with the frame's size, and it tracks all objects in one batched step, so
its throughput with many objects is far above a single-object tracker's (OpenCV's CSRT, one
instance per object). :func:`run_speed_benchmark` measures, on the same real frames in one run:

- ``decode``: reading and decoding one PNG frame of that size (``cv2.imread`` + BGR to RGB);
- ``convert``: :meth:`Tracker.frame_tensor`, the per-frame uint8 -> float tensor conversion that
  every :meth:`Tracker.update` does once whatever the number of objects;
- ``update``: :meth:`Tracker.update` on the decoded uint8 RGB frame, what a user pays per frame
  (conversion + glimpses + network for all ``B`` objects in one batch);
- ``step``: :meth:`Tracker.update` on the frame already converted to a float tensor: the glimpses,
  the network and the tracker's bookkeeping, without the conversion;
- ``detections``: :meth:`MultiTracker.step` on the decoded uint8 frame with a detection of every
  object in every frame (the grid boxes, score 0.9), the multi-object path: the update, the
  lifecycle's association, and the correction of every matched object at its detection (which,
  like ``add``, reads only the part of the frame its glimpses need);
- the peer (default CSRT): one OpenCV tracker per object (``peer_objects`` of them), updated one
  after the other on each frame (its RGB to BGR conversion included, as
  :class:`~ratrack.eval.peers.OpenCVTracker` does per object);
- end to end (:func:`run_end_to_end`), one object on whole real sequences (default
  ``otb/BlurCar2`` and ``otb/Crossing``): :func:`ratrack.track.run.run_track`, what ``ratrack
  track`` runs (decoding read ahead, tracking, writing the track file), against the peer decoding
  the same frames and updating, each timed by the wall clock, the two alternating ``repeats``
  times; the run's own tracker time gives the tracker-alone updates/s.

Frames: the first ``frames`` images of a folder (default the 78 real KITTI raw frames, 1242x375,
under ``$RATRACK_DATA``), resized to each size with OpenCV (area interpolation to shrink,
bilinear to enlarge) and written as PNG to a temporary folder, from which they are decoded while
timing (a frame whose size is the source's is read from its original file). Objects: a
deterministic grid of car-sized boxes (:func:`grid_boxes`), 6.4% of the frame's width by 13.3%
of its height (80x50 pixels at 1242x375, :data:`BOX_FRACTION`), centred in the cells of a grid
over the whole frame, so the boxes scale with the frame and the layout is the same at every
size. Every tracker initializes on the first frame and updates on the others. The runs are
interleaved frame by frame (decode, convert, every batch size, the peer, then the next size,
starting each frame at the next size in turn), so a change of load on the machine or of the
cache's content hits all of them alike.

Each figure is a statistic over frames of the per-frame time: the *median* by default (the
typical cost, robust to a few slow frames), or the *minimum* (``statistic="min"``: the cost
without interference, steadier when other processes load the machine). Object-frames per second
are ``B / frame time``, ``B`` the objects of the run (for the peer, its instances). Both trackers
run with the same number of CPU threads (``threads``, default 1: per-core throughput, and steady
on a busy machine, where two torch threads that wait on each other lose far more than they
gain). :class:`SpeedReport` prints the table and the ratios and is JSON-ready.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ratrack.devices import cpu_threads, resolve_device
from ratrack.errors import DataError
from ratrack.eval.peers import PEER_LABELS, OpenCVTracker
from ratrack.eval.speed import (
    IMAGE_SUFFIXES,
    RATRACK_RUNS,
    STATISTICS,
    EndToEndRow,
    SizeTiming,
    SpeedConfig,
    SpeedReport,
    SpeedRow,
    default_frames_dir,
    grid_boxes,
)
from ratrack.track.multi import Detections, MultiTrackConfig, MultiTracker
from ratrack.track.online import Tracker

log = logging.getLogger(__name__)


def list_frames(folder: Path, count: int) -> list[Path]:
    """The first ``count`` images of ``folder`` in name order (DataError if too few)."""
    if not folder.is_dir():
        raise DataError("frames folder not found (give frames_dir or set RATRACK_DATA)", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < count:
        raise DataError(f"{count} frames asked for, only {len(files)} images here", folder)
    return files[:count]


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError("not a readable image", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _resized_paths(
    sources: Sequence[np.ndarray], paths: Sequence[Path], size: tuple[int, int], tmp: Path
) -> list[Path]:
    """PNG files of the source frames at ``size``; the originals where the size is theirs."""
    import cv2

    h, w = size
    if sources[0].shape[:2] == size:
        return list(paths)
    shrink = h * w < sources[0].shape[0] * sources[0].shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = []
    for i, frame in enumerate(sources):
        path = tmp / f"{h}x{w}_{i:06d}.png"
        resized = cv2.resize(frame, (w, h), interpolation=interpolation)
        cv2.imwrite(str(path), cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))
        out.append(path)
    return out


def _environment(device: str) -> dict:
    import cv2
    import torch

    return {
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "device": device,
    }


def _row(
    tracker: str, size: tuple[int, int], batch: int, seconds: Sequence[float], statistic: str
) -> SpeedRow:
    frame = STATISTICS[statistic](seconds)
    return SpeedRow(
        tracker=tracker,
        height=size[0],
        width=size[1],
        batch=batch,
        frame_ms=1e3 * frame,
        median_frame_ms=1e3 * statistics.median(seconds),
        mean_frame_ms=1e3 * statistics.fmean(seconds),
        min_frame_ms=1e3 * min(seconds),
        object_fps=batch / frame if frame > 0 else math.inf,
    )


def _update_all(trackers: Sequence, frame: np.ndarray) -> None:
    for tracker in trackers:
        tracker.update(frame)


def run_speed_benchmark(
    config: SpeedConfig,
    frames_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    data_dir: str | Path | None = None,
) -> SpeedReport:
    """Measure what the module docstring lists, for every size and batch size of ``config``.

    ``frames_dir`` defaults to :func:`default_frames_dir`; ``data_dir`` (default
    ``$RATRACK_DATA``) holds ``config.sequences``. ``progress(done, total)`` is called
    after each frame (all sizes, batch sizes and trackers of that frame). Raises
    :class:`~ratrack.errors.DataError` for a missing folder, too few or unreadable images, and
    :class:`~ratrack.errors.RatrackError` for unknown weights or devices.
    """

    device = resolve_device(config.device)
    folder = Path(frames_dir) if frames_dir is not None else default_frames_dir()
    paths = list_frames(folder, config.frames)
    tracker = Tracker.from_pretrained(config.weights, device=device)
    sources = [_read_rgb(p) for p in paths]
    source_size = sources[0].shape[:2]
    if any(f.shape != sources[0].shape for f in sources):
        raise DataError("frames of different sizes in one folder", folder)
    with cpu_threads(config.threads), tempfile.TemporaryDirectory(prefix="ratrack_") as tmp:
        files = {size: _resized_paths(sources, paths, size, Path(tmp)) for size in config.sizes}
        del sources  # the runs decode their own frames from the files
        environment = _environment(str(device))
        sizes, rows = _measure(config, tracker, files, progress)
    end_to_end = ()
    if config.sequences:
        end_to_end = run_end_to_end(config, data_dir, tracker=tracker)
    return SpeedReport(
        config=config,
        frames_dir=str(folder),
        source_size=(int(source_size[0]), int(source_size[1])),
        sizes=sizes,
        rows=rows,
        environment=environment,
        end_to_end=end_to_end,
    )


def run_end_to_end(
    config: SpeedConfig, data_dir: str | Path | None = None, *, tracker: Tracker | None = None
) -> tuple[EndToEndRow, ...]:
    """``ratrack track`` end to end beside the peer, one object, on each of ``config.sequences``
    (OTB folders under ``data_dir``, default ``$RATRACK_DATA`` or ``../shared/data``), with
    ``config.threads`` threads: the module docstring's last item. ``tracker`` (loaded from
    ``config.weights`` when None) is reused, so no run pays for loading weights."""
    from ratrack.data.formats import open_sequence
    from ratrack.track.run import TrackConfig, run_track

    root = Path(data_dir or os.environ.get("RATRACK_DATA", "../shared/data"))
    if tracker is None:
        tracker = Tracker.from_pretrained(config.weights, device=resolve_device(config.device))
    peer = config.peer or "csrt"
    rows = []
    with cpu_threads(config.threads), tempfile.TemporaryDirectory(prefix="ratrack_") as tmp:
        for name in config.sequences:
            sequence = open_sequence(root / name, "otb")
            first = [float(v) for v in sequence.gt[0]]  # xyxy
            track = TrackConfig(weights=config.weights, device=config.device, threads=0)
            ours, theirs, updates = [], [], []
            for _ in range(config.repeats):
                start = time.perf_counter()
                result = run_track(
                    sequence,
                    init=[first],
                    init_format="xyxy",
                    out=Path(tmp) / "track.txt",
                    config=track,  # threads=0: keep the block's own
                    tracker=Tracker(model=tracker.model, device=tracker.device),
                )
                ours.append(result.frames / (time.perf_counter() - start))
                updates.append(result.frames / result.timing.track)
                start = time.perf_counter()
                frames = 0
                other = OpenCVTracker(name=peer)
                for t, frame in enumerate(sequence.frames()):
                    if t == 0:
                        other.init(frame, np.asarray(first))
                    else:
                        other.update(frame)
                    frames += 1
                theirs.append(frames / (time.perf_counter() - start))
            log.info("%s end to end: %.1f vs %s %.1f frames/s", name, max(ours), peer, max(theirs))
            rows.append(EndToEndRow(name, frames, max(ours), max(updates), max(theirs)))
    return tuple(rows)


def _measure(
    config: SpeedConfig,
    tracker,
    files: dict[tuple[int, int], list[Path]],
    progress: Callable[[int, int], None] | None,
) -> tuple[tuple[SizeTiming, ...], tuple[SpeedRow, ...]]:
    """Time every run frame by frame, interleaved (a change of load hits all runs alike)."""
    import torch

    device = tracker.device

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    runs = [
        (size, batch, name)
        for size in config.sizes
        for batch in config.batch_sizes
        for name in RATRACK_RUNS
    ]
    trackers = {run: Tracker(model=tracker.model, device=device) for run in runs}
    births = MultiTrackConfig(min_hits=1)  # every detected object is reported from its birth
    multis = {
        run: MultiTracker(trackers[run], births, first_id=0)
        for run in runs
        if run[2] == "ratrack detections"
    }
    peers = {
        size: [OpenCVTracker(name=config.peer) for _ in range(config.peer_objects)]
        for size in config.sizes
        if config.peer is not None
    }
    seconds: dict[tuple, list[float]] = {key: [] for key in [*runs, *peers]}
    decode: dict[tuple[int, int], list[float]] = {size: [] for size in config.sizes}
    convert: dict[tuple[int, int], list[float]] = {size: [] for size in config.sizes}

    def timed(samples: list[float], call: Callable, *args):
        start = time.perf_counter()
        result = call(*args)
        sync()
        samples.append(time.perf_counter() - start)
        return result

    n = len(config.sizes)
    for t in range(config.frames):
        # Each frame starts at another size, so that none always follows the peer's runs
        # (which leave the caches cold for the network's weights).
        for size in config.sizes[t % n :] + config.sizes[: t % n]:
            frame = timed(decode[size], _read_rgb, files[size][t])
            x = timed(convert[size], tracker.frame_tensor, frame)[0]  # (C, H, W)
            for batch in config.batch_sizes:
                boxes = grid_boxes(batch, *size)
                for name, image in (("ratrack update", frame), ("ratrack step", x)):
                    run = trackers[(size, batch, name)]
                    if t == 0:
                        run.init(image, boxes, fmt="xyxy")
                    else:
                        timed(seconds[(size, batch, name)], run.update, image)
                key = (size, batch, "ratrack detections")
                seen = Detections(boxes, np.full(len(boxes), 0.9))
                if t == 0:
                    multis[key].step(frame, seen)
                else:
                    timed(seconds[key], multis[key].step, frame, seen)
            if config.peer is not None:
                boxes = grid_boxes(config.peer_objects, *size)
                if t == 0:
                    for peer, box in zip(peers[size], boxes, strict=True):
                        peer.init(frame, box)
                else:  # one sample per frame: all instances, one after the other
                    timed(seconds[size], _update_all, peers[size], frame)
        if progress is not None:
            progress(t + 1, config.frames)
    stat = STATISTICS[config.statistic]
    sizes = tuple(
        SizeTiming(h, w, 1e3 * stat(decode[(h, w)]), 1e3 * stat(convert[(h, w)]))
        for h, w in config.sizes
    )
    rows = [_row(n, size, b, seconds[(size, b, n)], config.statistic) for size, b, n in runs]
    if config.peer is not None:
        label = PEER_LABELS[config.peer]
        k = config.peer_objects
        rows += [_row(label, size, k, seconds[size], config.statistic) for size in config.sizes]
    for row in rows:
        fps = row.object_fps
        log.info("%s %s batch %d: %.1f object-frames/s", row.tracker, row.label, row.batch, fps)
    return sizes, tuple(rows)
