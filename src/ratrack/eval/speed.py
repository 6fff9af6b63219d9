"""The speed benchmark's configuration (frame sizes, batch sizes, box grid) and its report
(rows, ratios against the peer, tables)."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ratrack.errors import ConfigError, check_number
from ratrack.eval.peers import PEER_LABELS, PEERS

KITTI_RAW_FRAMES = Path("kitti_raw_frames/2011_09_26/image_02/data")
"""The real KITTI raw frames under the data folder (``RATRACK_DATA``)."""

DEFAULT_SIZES = ((188, 621), (375, 1242), (750, 2484))
"""Frame sizes ``(H, W)``: half, full and double KITTI's 375x1242."""

DEFAULT_BATCH_SIZES = (1, 10, 32, 128)
"""One object, ten (the issue's dashcam case: tracker time per frame against PNG decoding),
and large batches."""

DEFAULT_SEQUENCES = ("otb/BlurCar2", "otb/Crossing")
"""Sequences (under the data folder) that ``ratrack track`` runs on end to end beside the peer,
one object from the first ground-truth box: the natural model's validation sequences."""

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


MAX_SIDE = 8192  # frame side in pixels (a 8192x8192 RGB frame is 200 MB)
MAX_BATCH = 4096  # objects tracked together


RATRACK_RUNS = ("ratrack update", "ratrack step", "ratrack detections")  # see benchmark.py


@dataclass(frozen=True)
class SpeedConfig:
    """What :func:`run_speed_benchmark` measures."""

    weights: str = "natural"  # shipped weights name or tracker checkpoint path
    frames: int = 20  # frames per run: the first initializes, the others are timed
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES  # objects tracked together
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES  # frame sizes (H, W)
    peer: str | None = "csrt"  # OpenCV tracker run on the same frames (None: no peer)
    peer_objects: int = 8  # peer instances per size, one object each
    device: str = "cpu"  # torch device of the tracker
    threads: int = 1  # torch and OpenCV CPU threads while measuring (0: the libraries' own)
    statistic: str = "median"  # over frames: "median" or "min" (see the module docstring)
    # OTB sequences (relative to the data folder) run end to end by ``ratrack track`` and the peer
    sequences: tuple[str, ...] = DEFAULT_SEQUENCES
    repeats: int = 2  # end-to-end runs per sequence and tracker, alternating; the fastest counts

    def __post_init__(self) -> None:  # ConfigError names the field; the CLI, its option
        check_number("frames", self.frames, low=2, high=100_000, integer=True)
        if not self.batch_sizes:
            raise ConfigError("batch_sizes", "give at least one batch size")
        for count in self.batch_sizes:
            check_number("batch_sizes", count, low=1, high=MAX_BATCH, integer=True)
        if len(set(self.batch_sizes)) != len(self.batch_sizes):
            raise ConfigError("batch_sizes", f"one listed twice in {self.batch_sizes}")
        if not self.sizes or any(len(s) != 2 for s in self.sizes):
            raise ConfigError("sizes", f"must be (H, W) pairs, got {self.sizes}")
        for side in (side for pair in self.sizes for side in pair):
            check_number("sizes", side, low=32, high=MAX_SIDE, integer=True)
        if len(set(self.sizes)) != len(self.sizes):
            raise ConfigError("sizes", f"one listed twice in {self.sizes}")
        if self.peer is not None and self.peer not in PEERS:
            raise ConfigError(
                "peer", f"unknown peer {self.peer!r}; expected none or one of {', '.join(PEERS)}"
            )
        check_number("peer_objects", self.peer_objects, low=1, high=1024, integer=True)
        check_number("threads", self.threads, low=0, high=1024, integer=True)
        check_number("repeats", self.repeats, low=1, high=100, integer=True)
        if self.statistic not in STATISTICS:
            raise ConfigError(
                "statistic", f"must be one of {', '.join(STATISTICS)}, got {self.statistic!r}"
            )


def parse_batch_sizes(spec: str) -> tuple[int, ...]:
    """``"1,8,32"`` -> ``(1, 8, 32)``; raises ``ValueError`` on anything else."""
    message = f"expected comma-separated integers like 1,8,32, got {spec!r}"
    try:
        values = tuple(int(v) for v in spec.split(",") if v.strip())
    except ValueError:
        raise ConfigError("batch_sizes", message) from None
    if not values:
        raise ConfigError("batch_sizes", message)
    return values


def parse_sizes(spec: str) -> tuple[tuple[int, int], ...]:
    """``"188x621,375x1242"`` (``HxW``) -> ``((188, 621), (375, 1242))``."""
    sizes = []
    for item in (s.strip().lower() for s in spec.split(",") if s.strip()):
        parts = item.split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ConfigError("sizes", f"expected HxW sizes like 375x1242, got {item!r}")
        sizes.append((int(parts[0]), int(parts[1])))
    if not sizes:
        raise ConfigError("sizes", f"expected HxW sizes like 375x1242, got {spec!r}")
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

    tracker: str  # one of RATRACK_RUNS or the peer's name
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
class EndToEndRow:
    """One sequence tracked whole (one object) by ``ratrack track`` and by the peer."""

    sequence: str
    frames: int
    track_fps: float  # ratrack track: frames / wall time of the run (decode, track, write)
    tracker_ups: float  # the same run's Tracker.update calls per second (tracker alone)
    peer_fps: float  # the peer: frames / wall time of decoding and updating

    @property
    def ratio(self) -> float:
        """End-to-end ``ratrack track`` frames/s over the peer's."""
        return self.track_fps / self.peer_fps


@dataclass(frozen=True)
class SpeedReport:
    """Results of :func:`run_speed_benchmark` with their ratios."""

    config: SpeedConfig
    frames_dir: str
    source_size: tuple[int, int]  # (H, W) of the source frames
    sizes: tuple[SizeTiming, ...]
    rows: tuple[SpeedRow, ...]
    environment: dict = field(default_factory=dict)
    end_to_end: tuple[EndToEndRow, ...] = ()

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

        return None if self.config.peer is None else PEER_LABELS[self.config.peer]

    def size_ratios(self) -> dict[str, dict[str, float]]:
        """Object-frames/s at the largest size over the smallest, per tracker and batch size."""
        by_area = sorted(self.config.sizes, key=lambda s: s[0] * s[1])
        small, large = by_area[0], by_area[-1]
        out: dict[str, dict[str, float]] = {}
        for name in RATRACK_RUNS:
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
        out: dict[str, object] = {"size_tolerance": SIZE_TOLERANCE}
        for name in RATRACK_RUNS:
            worst = min(sizes[name].values())
            key = name.removeprefix("ratrack ")
            out[f"worst_size_ratio_{key}"] = worst
            out[f"cost_per_object_flat_{key}"] = worst >= SIZE_TOLERANCE
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
            "end_to_end": [{**asdict(r), "ratio": r.ratio} for r in self.end_to_end],
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
        for name in RATRACK_RUNS:
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
        lines += [
            "",
            f"{'tracker / decode PNG':<20}{'batch':>6}" + "".join(f"{lab:>12}" for lab in labels),
        ]
        for b in c.batch_sizes:  # ratrack update's time per frame over decoding's
            over = [self.row("ratrack update", (t.height, t.width), b).frame_ms / t.decode_ms
                    for t in self.sizes]  # fmt: skip
            lines.append(f"{'':<20}{b:>6}" + "".join(f"{r:>12.2f}" for r in over))
        if self.end_to_end:
            peer = self.peer_label or "peer"
            lines += [
                "",
                f"one object, whole sequence (fastest of {c.repeats}): ratrack track end to end "
                f"(decode, track, write) beside {peer} (decode, update)",
                f"{'sequence':<20}{'frames':>7}{'track fps':>11}{'updates/s':>11}"
                f"{peer + ' fps':>11}{'track/' + peer:>12}",
            ]
            for r in self.end_to_end:
                lines.append(
                    f"{r.sequence:<20}{r.frames:>7}{r.track_fps:>11.1f}{r.tracker_ups:>11.1f}"
                    f"{r.peer_fps:>11.1f}{r.ratio:>12.2f}"
                )
        claims = self.claims()
        lines += [
            "",
            f"cost per object flat in frame size (large/small >= {SIZE_TOLERANCE}): "
            + ", ".join(
                f"{key} {_yes(claims[f'cost_per_object_flat_{key}'])} "
                f"(worst {claims[f'worst_size_ratio_{key}']:.2f})"
                for key in (name.removeprefix("ratrack ") for name in RATRACK_RUNS)
            ),
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
