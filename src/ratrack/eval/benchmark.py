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
- the peer (default CSRT): one OpenCV tracker per object (``peer_objects`` of them), updated one
  after the other on each frame (its RGB to BGR conversion included, as
  :class:`~ratrack.eval.peers.OpenCVTracker` does per object).

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ratrack.errors import DataError, RatrackError

log = logging.getLogger(__name__)

KITTI_RAW_FRAMES = Path("kitti_raw_frames/2011_09_26/image_02/data")
"""The real KITTI raw frames under the data folder (``RATRACK_DATA``)."""

DEFAULT_SIZES = ((188, 621), (375, 1242), (750, 2484))
"""Frame sizes ``(H, W)``: half, full and double KITTI's 375x1242."""

DEFAULT_BATCH_SIZES = (1, 8, 32, 128)

BOX_FRACTION = (80 / 1242, 50 / 375)
"""Box width and height as fractions of the frame's width and height: a car of 80x50 pixels at
KITTI's 1242x375, scaled with the frame."""

SIZE_TOLERANCE = 0.8
"""The claim "cost per object does not grow with frame size" holds when the largest size's
object-frames/s is at least this fraction of the smallest size's."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "median": statistics.median,
    "min": min,
}
"""How per-frame times are summarized over frames."""


def default_frames_dir() -> Path:
    """``$RATRACK_DATA/kitti_raw_frames/2011_09_26/image_02/data`` (default ``../shared/data``)."""
    return Path(os.environ.get("RATRACK_DATA", "../shared/data")) / KITTI_RAW_FRAMES


@dataclass(frozen=True)
class SpeedConfig:
    """What :func:`run_speed_benchmark` measures."""

    weights: str = "bmnist"  # shipped weights name or tracker checkpoint path
    frames: int = 20  # frames per run: the first initializes, the others are timed
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES  # objects tracked together
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES  # frame sizes (H, W)
    peer: str | None = "csrt"  # OpenCV tracker run on the same frames (None: no peer)
    peer_objects: int = 8  # peer instances per size, one object each
    device: str = "cpu"  # torch device of the tracker
    threads: int = 1  # torch and OpenCV CPU threads while measuring (0: the libraries' own)
    statistic: str = "median"  # over frames: "median" or "min" (see the module docstring)

    def __post_init__(self) -> None:  # messages name the fields as the CLI's options do
        from ratrack.eval.peers import PEERS

        if self.frames < 2:
            raise ValueError(f"frames must be >= 2 (one to initialize), got {self.frames}")
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ValueError(f"batch sizes must be positive, got {self.batch_sizes}")
        if len(set(self.batch_sizes)) != len(self.batch_sizes):
            raise ValueError(f"batch sizes: one listed twice in {self.batch_sizes}")
        if not self.sizes or any(len(s) != 2 or min(s) < 32 for s in self.sizes):
            raise ValueError(f"sizes must be (H, W) pairs of at least 32 pixels, got {self.sizes}")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes: one listed twice in {self.sizes}")
        if self.peer is not None and self.peer not in PEERS:
            raise ValueError(
                f"unknown peer {self.peer!r}; expected none or one of {', '.join(PEERS)}"
            )
        if self.peer_objects < 1:
            raise ValueError(f"peer objects must be >= 1, got {self.peer_objects}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}"
            )


def parse_batch_sizes(spec: str) -> tuple[int, ...]:
    """``"1,8,32"`` -> ``(1, 8, 32)``; raises ``ValueError`` on anything else."""
    message = f"batch sizes: expected comma-separated integers like 1,8,32, got {spec!r}"
    try:
        values = tuple(int(v) for v in spec.split(",") if v.strip())
    except ValueError:
        raise ValueError(message) from None
    if not values:
        raise ValueError(message)
    return values


def parse_sizes(spec: str) -> tuple[tuple[int, int], ...]:
    """``"188x621,375x1242"`` (``HxW``) -> ``((188, 621), (375, 1242))``."""
    sizes = []
    for item in (s.strip().lower() for s in spec.split(",") if s.strip()):
        parts = item.split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"sizes: expected HxW sizes like 375x1242, got {item!r}")
        sizes.append((int(parts[0]), int(parts[1])))
    if not sizes:
        raise ValueError(f"sizes: expected HxW sizes like 375x1242, got {spec!r}")
    return tuple(sizes)


def grid_boxes(count: int, height: int, width: int) -> np.ndarray:
    """``count`` car-sized xyxy boxes ``(count, 4)`` on a grid over a ``height x width`` frame.

    The grid has ``cols = min(count, ceil(sqrt(count * width / height)))`` columns and
    ``ceil(count / cols)`` rows; boxes fill it row by row, each centred in its cell, of size
    :data:`BOX_FRACTION` of the frame. Boxes of a large grid overlap; that changes no cost.
    """
    cols = max(1, min(count, math.ceil(math.sqrt(count * width / height))))
    rows = math.ceil(count / cols)
    k = np.arange(count)
    cx = (k % cols + 0.5) * width / cols
    cy = (k // cols + 0.5) * height / rows
    half_w, half_h = BOX_FRACTION[0] * width / 2, BOX_FRACTION[1] * height / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], 1).astype(np.float32)


@dataclass(frozen=True)
class SizeTiming:
    """Per-frame costs that depend on the frame size only (milliseconds, over frames)."""

    height: int
    width: int
    decode_ms: float  # read + decode one PNG + BGR -> RGB
    convert_ms: float  # Tracker.frame_tensor

    @property
    def label(self) -> str:
        return f"{self.height}x{self.width}"


@dataclass(frozen=True)
class SpeedRow:
    """One measurement: a tracker at one frame size and batch size."""

    tracker: str  # "ratrack update", "ratrack step" or the peer's name
    height: int
    width: int
    batch: int  # objects per frame (for the peer: instances run one after the other)
    frame_ms: float  # time per frame for all objects, the config's statistic over frames
    median_frame_ms: float  # median, mean and fastest of the same times
    mean_frame_ms: float
    min_frame_ms: float
    object_fps: float  # object-frames per second

    @property
    def label(self) -> str:
        return f"{self.height}x{self.width}"


@dataclass(frozen=True)
class SpeedReport:
    """Results of :func:`run_speed_benchmark` with their ratios."""

    config: SpeedConfig
    frames_dir: str
    source_size: tuple[int, int]  # (H, W) of the source frames
    sizes: tuple[SizeTiming, ...]
    rows: tuple[SpeedRow, ...]
    environment: dict = field(default_factory=dict)

    def row(self, tracker: str, size: tuple[int, int], batch: int | None = None) -> SpeedRow:
        for r in self.rows:
            if r.tracker == tracker and (r.height, r.width) == size and batch in (None, r.batch):
                return r
        raise KeyError((tracker, size, batch))

    def fps(self, tracker: str, size: tuple[int, int], batch: int | None = None) -> float:
        return self.row(tracker, size, batch).object_fps

    def frame_overhead_ms(self, size: tuple[int, int]) -> float:
        """What a uint8 frame costs ``update`` over a converted one (milliseconds).

        The median over batch sizes of ``update`` minus ``step`` frame time: the conversion as
        it happens inside ``update``, on a frame no longer in cache (noisy on small frames).
        """
        return statistics.median(
            self.row("ratrack update", size, b).frame_ms
            - self.row("ratrack step", size, b).frame_ms
            for b in self.config.batch_sizes
        )

    @property
    def peer_label(self) -> str | None:
        from ratrack.eval.peers import PEER_LABELS

        return None if self.config.peer is None else PEER_LABELS[self.config.peer]

    def size_ratios(self) -> dict[str, dict[str, float]]:
        """Object-frames/s at the largest size over the smallest, per tracker and batch size."""
        by_area = sorted(self.config.sizes, key=lambda s: s[0] * s[1])
        small, large = by_area[0], by_area[-1]
        out: dict[str, dict[str, float]] = {}
        for name in ("ratrack update", "ratrack step"):
            out[name] = {
                str(b): self.fps(name, large, b) / self.fps(name, small, b)
                for b in self.config.batch_sizes
            }
        if self.peer_label is not None:
            ratio = self.fps(self.peer_label, large) / self.fps(self.peer_label, small)
            out[self.peer_label] = {"per object": ratio}
        return out

    def peer_ratios(self) -> dict[str, dict[str, float]]:
        """ratrack update object-frames/s over the peer's, per size and batch size."""
        if self.peer_label is None:
            return {}
        return {
            f"{h}x{w}": {
                str(b): self.fps("ratrack update", (h, w), b) / self.fps(self.peer_label, (h, w))
                for b in self.config.batch_sizes
            }
            for h, w in self.config.sizes
        }

    def claims(self) -> dict:
        """The two claims, judged on the measured ratios (see :data:`SIZE_TOLERANCE`)."""
        sizes = self.size_ratios()
        worst_step = min(sizes["ratrack step"].values())
        worst_update = min(sizes["ratrack update"].values())
        out: dict[str, object] = {
            "size_tolerance": SIZE_TOLERANCE,
            "worst_size_ratio_step": worst_step,
            "worst_size_ratio_update": worst_update,
            "cost_per_object_flat_step": worst_step >= SIZE_TOLERANCE,
            "cost_per_object_flat_update": worst_update >= SIZE_TOLERANCE,
        }
        peers = self.peer_ratios()
        if peers:
            largest = str(max(self.config.batch_sizes))
            out["largest_batch_vs_peer"] = {size: r[largest] for size, r in peers.items()}
            out["largest_batch_faster_than_peer"] = all(r[largest] > 1 for r in peers.values())
        return out

    def to_json(self) -> dict:
        return {
            "benchmark": "speed",
            "config": asdict(self.config),
            "frames_dir": self.frames_dir,
            "source_size": list(self.source_size),
            "objects": (
                "grid_boxes: a deterministic grid over the frame, each box a fraction "
                f"{BOX_FRACTION[0]:.5f} of the width by {BOX_FRACTION[1]:.5f} of the height "
                "(80x50 px at 1242x375)"
            ),
            "statistic": f"{self.config.statistic} over frames",
            "environment": self.environment,
            "sizes": [
                {
                    **asdict(s),
                    "update_minus_step_ms": self.frame_overhead_ms((s.height, s.width)),
                    "label": s.label,
                }
                for s in self.sizes
            ],
            "rows": [{**asdict(r), "size": r.label} for r in self.rows],
            "size_ratios": self.size_ratios(),
            "peer_ratios": self.peer_ratios(),
            "claims": self.claims(),
        }

    def table(self) -> str:
        """The measurements as text: per-size costs, object-frames/s, ratios, verdicts."""
        c = self.config
        labels = [f"{h}x{w}" for h, w in c.sizes]
        h0, w0 = self.source_size
        lines = [
            f"{c.frames} frames from {self.frames_dir} ({h0}x{w0}), resized; objects on a grid, "
            f"{100 * BOX_FRACTION[0]:.1f}% x {100 * BOX_FRACTION[1]:.1f}% of the frame each; "
            f"{c.statistic} over frames; torch threads {self.environment.get('torch_threads')}, "
            f"device {c.device}",
            "",
            f"{'per frame (ms)':<26}" + "".join(f"{lab:>12}" for lab in labels),
            f"{'decode PNG':<26}" + "".join(f"{s.decode_ms:>12.2f}" for s in self.sizes),
            f"{'convert (frame_tensor)':<26}"
            + "".join(f"{s.convert_ms:>12.2f}" for s in self.sizes),
            f"{'update - step':<26}"
            + "".join(f"{self.frame_overhead_ms(s):>12.2f}" for s in c.sizes),
            "",
        ]
        head = f"{'object-frames/s':<20}{'batch':>6}" + "".join(f"{lab:>12}" for lab in labels)
        lines += [head + f"{'large/small':>13}", "-" * (len(head) + 13)]
        ratios = self.size_ratios()
        for name in ("ratrack update", "ratrack step"):
            for b in c.batch_sizes:
                cells = "".join(f"{self.fps(name, s, b):>12.1f}" for s in c.sizes)
                lines.append(f"{name:<20}{b:>6}{cells}{ratios[name][str(b)]:>13.2f}")
        if self.peer_label is not None:
            cells = "".join(f"{self.fps(self.peer_label, s):>12.1f}" for s in c.sizes)
            ratio = ratios[self.peer_label]["per object"]
            name, k = f"{self.peer_label} x{c.peer_objects}", c.peer_objects
            lines.append(f"{name:<20}{k:>6}{cells}{ratio:>13.2f}")
            lines += ["", f"{'ratrack update / ' + self.peer_label:<20}{'batch':>6}"]
            peers = self.peer_ratios()
            for b in c.batch_sizes:
                cells = "".join(f"{peers[lab][str(b)]:>12.2f}" for lab in labels)
                lines.append(f"{'':<20}{b:>6}{cells}")
        claims = self.claims()
        lines += [
            "",
            f"cost per object flat in frame size (large/small >= {SIZE_TOLERANCE}): "
            f"step {_yes(claims['cost_per_object_flat_step'])} "
            f"(worst {claims['worst_size_ratio_step']:.2f}), "
            f"update {_yes(claims['cost_per_object_flat_update'])} "
            f"(worst {claims['worst_size_ratio_update']:.2f})",
        ]
        if "largest_batch_faster_than_peer" in claims:
            worst = min(claims["largest_batch_vs_peer"].values())
            lines.append(
                f"batch {max(c.batch_sizes)} faster than {self.peer_label} at every size: "
                f"{_yes(claims['largest_batch_faster_than_peer'])} (worst {worst:.1f}x)"
            )
        return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def list_frames(folder: Path, count: int) -> list[Path]:
    """The first ``count`` images of ``folder`` in name order (DataError if too few)."""
    if not folder.is_dir():
        raise DataError("frames folder not found (give --frames-dir or set RATRACK_DATA)", folder)
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


def _torch_device(name: str):
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise RatrackError(f"device: unknown torch device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RatrackError(f"device: {name!r} asked for, but CUDA is not available")
    return device


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


@contextmanager
def _cpu_threads(count: int) -> Iterator[None]:
    """Set torch's and OpenCV's CPU threads to ``count`` (0: unchanged), restored on exit."""
    import cv2
    import torch

    if count == 0:
        yield
        return
    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(count)
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def run_speed_benchmark(
    config: SpeedConfig,
    frames_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SpeedReport:
    """Measure what the module docstring lists, for every size and batch size of ``config``.

    ``frames_dir`` defaults to :func:`default_frames_dir`. ``progress(done, total)`` is called
    after each frame (all sizes, batch sizes and trackers of that frame). Raises
    :class:`~ratrack.errors.DataError` for a missing folder, too few or unreadable images, and
    :class:`~ratrack.errors.RatrackError` for unknown weights or devices.
    """
    from ratrack.tracker.online import Tracker

    device = _torch_device(config.device)
    folder = Path(frames_dir) if frames_dir is not None else default_frames_dir()
    paths = list_frames(folder, config.frames)
    tracker = Tracker.from_pretrained(config.weights, device=device)
    sources = [_read_rgb(p) for p in paths]
    source_size = sources[0].shape[:2]
    if any(f.shape != sources[0].shape for f in sources):
        raise DataError("frames of different sizes in one folder", folder)
    with _cpu_threads(config.threads), tempfile.TemporaryDirectory(prefix="ratrack_") as tmp:
        files = {size: _resized_paths(sources, paths, size, Path(tmp)) for size in config.sizes}
        del sources  # the runs decode their own frames from the files
        environment = _environment(str(device))
        sizes, rows = _measure(config, tracker, files, progress)
    return SpeedReport(
        config=config,
        frames_dir=str(folder),
        source_size=(int(source_size[0]), int(source_size[1])),
        sizes=sizes,
        rows=rows,
        environment=environment,
    )


def _measure(
    config: SpeedConfig,
    tracker,
    files: dict[tuple[int, int], list[Path]],
    progress: Callable[[int, int], None] | None,
) -> tuple[tuple[SizeTiming, ...], tuple[SpeedRow, ...]]:
    """Time every run frame by frame, interleaved (a change of load hits all runs alike)."""
    import torch

    from ratrack.eval.peers import PEER_LABELS, OpenCVTracker
    from ratrack.tracker.online import Tracker

    device = tracker.device

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    runs = [
        (size, batch, name)
        for size in config.sizes
        for batch in config.batch_sizes
        for name in ("ratrack update", "ratrack step")
    ]
    trackers = {run: Tracker(model=tracker.model, device=device) for run in runs}
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
