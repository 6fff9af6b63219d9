"""Multi-object trackers side by side on KITTI detections: ratrack and its peers, one table.

Every tracker gets the same per-class detections of the same sequences (RRC's
``detections_rrc/training/{Car,Pedestrian}/SSSS.txt`` rows ``frame,x1,y1,x2,y2,score``), one
frame at a time, frames without detections included, from boxes alone (no images). Each class is
tracked on its own, by a fresh tracker per sequence. The boxes each tracker reports are scored
with KITTI's rules (:func:`ratrack.eval.kitti.evaluate_kitti`, the evaluation that agrees with
trackeval's), pooled over the sequences per class.

Frames per second count only the time spent inside the trackers' own per-frame calls (the same
``time.perf_counter`` around each call, all trackers in one process and one run), over every
frame of every sequence: what a tracker costs behind a detector. The trackers take turns on each
sequence, and with ``repeats`` each one's fastest run of it counts (:func:`run_bench`).

Peers (:data:`PEERS`) come from the optional extra ``ratrack[peers]``: SORT, ByteTrack and
OC-SORT of Roboflow's ``trackers`` and ByteTrack of ``supervision``. They are imported only when
used; a missing package raises :class:`~ratrack.errors.RatrackError` naming the extra.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ratrack.errors import DataError, RatrackError
from ratrack.eval.peers import parse_names

log = logging.getLogger(__name__)

CLASSES = ("Car", "Pedestrian")
"""KITTI types tracked (RRC detection folders of the same names)."""

PEERS = ("sort", "bytetrack", "ocsort", "sv-bytetrack")
"""Peer trackers by the names the command accepts."""

PEER_LABELS = {
    "ratrack": "ratrack",
    "sort": "SORT (trackers)",
    "bytetrack": "ByteTrack (trackers)",
    "ocsort": "OC-SORT (trackers)",
    "sv-bytetrack": "ByteTrack (supervision)",
}

FRAME_RATE = 10.0
"""KITTI's frame rate, given to every peer that scales its buffers by it."""

PEER_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "sort": {
        "Car": {"lost_track_buffer": 60, "minimum_consecutive_frames": 2},
        "Pedestrian": {"min_score": 0.5, "track_activation_threshold": 0.7},
    },
    "bytetrack": {
        "Car": {
            "high_conf_det_threshold": 0.4,
            "track_activation_threshold": 0.5,
            "minimum_consecutive_frames": 1,
        },
        "Pedestrian": {"minimum_consecutive_frames": 3},
    },
    "ocsort": {
        "Car": {"high_conf_det_threshold": 0.3, "minimum_consecutive_frames": 1},
        "Pedestrian": {"high_conf_det_threshold": 0.5},
    },
    "sv-bytetrack": {
        "Car": {},
        "Pedestrian": {"min_score": 0.5, "track_activation_threshold": 0.7},
    },
}
"""Each peer's knobs per class as ``tools/tune_mot.py`` chose them on KITTI 0000-0010 (HOTA;
score threshold, activation and high/low split, lost-track buffer, confirmation frames; frame
rate 10), starting from the peer's own defaults; ratrack's are its dashcam defaults."""


class SequenceDetections(NamedTuple):
    """One class's detections of one sequence: ``frames`` per-frame ``(boxes (N, 4) xyxy,
    scores (N,))`` for frames ``0 .. len(frames) - 1``; ``cls`` the KITTI type."""

    name: str
    frames: list[tuple[np.ndarray, np.ndarray]]
    cls: str = ""


class TrackRows(NamedTuple):
    """Reported boxes of one sequence: ``frame``, ``ids`` ``(R,)`` int64, ``boxes`` ``(R, 4)``
    xyxy, ``scores`` ``(R,)``."""

    frame: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray


MotRunner = Callable[[SequenceDetections], tuple[TrackRows, float]]
"""A tracker run on one sequence: its reported rows and the seconds spent in its calls."""


# --- data -------------------------------------------------------------------------------------


def kitti_sequences(
    kitti_root: str | Path, sequences: Sequence[str] | None = None
) -> dict[str, Path]:
    """``{sequence: label file}`` of a KITTI tracking root (``training/label_02`` or
    ``label_02``), all of them or the named ``sequences``."""
    root = Path(kitti_root)
    for folder in (root / "training" / "label_02", root / "label_02", root):
        files = {f.stem: f for f in sorted(folder.glob("*.txt"))} if folder.is_dir() else {}
        if files:
            break
    else:
        raise DataError("no KITTI label files (training/label_02/SSSS.txt)", root)
    if sequences is None:
        return files
    missing = [s for s in sequences if s not in files]
    if missing:
        raise DataError(f"no labels for sequence(s) {', '.join(missing)}", root)
    return {s: files[s] for s in sequences}


def rrc_folder(kitti_root: str | Path) -> Path:
    """The RRC detections beside a KITTI tracking root (``detections_rrc/training``)."""
    root = Path(kitti_root)
    for folder in (
        root / "detections_rrc" / "training",
        root.parent / "detections_rrc" / "training",
    ):
        if folder.is_dir():
            return folder
    raise DataError("no RRC detections (detections_rrc/training/{Car,Pedestrian})", root)


def parse_sequences(spec: str) -> list[str]:
    """``"0000-0010"``, ``"0011,0015"`` or ``"all"`` (``[]``) as 4-digit sequence names."""
    if spec.strip() == "all":
        return []
    names: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError(f"bad sequence range {part!r}: expected e.g. 0000-0010 or 0013")
        last = int(hi) if hi else int(lo)
        if last < int(lo):
            raise ValueError(f"empty sequence range {part!r}")
        names += [f"{i:04d}" for i in range(int(lo), last + 1)]
    return names


def load_detections(path: Path, num_frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-frame detections of an RRC file, frames ``0 .. num_frames - 1``."""
    from ratrack.data.detections import read_detections

    frame, boxes, scores = read_detections(path)
    if len(frame) and frame.max() >= num_frames:
        raise DataError(
            f"detection in frame {int(frame.max())}, past the labels' {num_frames} frames", path
        )
    order = np.argsort(frame, kind="stable")
    frame, boxes, scores = frame[order], boxes[order], scores[order]
    bounds = np.searchsorted(frame, np.arange(num_frames + 1))
    return [(boxes[a:b], scores[a:b]) for a, b in itertools.pairwise(bounds)]


# --- trackers ---------------------------------------------------------------------------------


def _rows(frames: list, ids: list, boxes: list, scores: list) -> TrackRows:
    if not frames:
        return TrackRows(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0)
        )
    return TrackRows(
        np.concatenate(frames).astype(np.int64),
        np.concatenate(ids).astype(np.int64),
        np.concatenate(boxes).astype(np.float64).reshape(-1, 4),
        np.concatenate(scores).astype(np.float64),
    )


def ratrack_runner(config: Any = None) -> MotRunner:
    """ratrack's :class:`~ratrack.track.multi.MultiTracker` from boxes alone; ``config`` a
    :class:`~ratrack.track.multi.MultiTrackConfig` for every class, ``None`` for the dashcam
    defaults per class (:data:`~ratrack.track.multi.DASHCAM`). The rows are those a file of
    ``ratrack track`` holds: each frame complete (:meth:`MultiTracker.held`, its time counted
    as the tracker's), with the tentative frames of confirmed tracks and the filled gaps."""
    from ratrack.track.multi import DASHCAM, Detections, MultiTracker

    def run(seq: SequenceDetections) -> tuple[TrackRows, float]:
        # one class per run: its config applies to the class-less detections given
        cfg = config if config is not None else DASHCAM.get(seq.cls)
        multi = MultiTracker(None, cfg)
        held = multi.held()
        out_f, out_i, out_b, out_s = [], [], [], []
        seconds = 0.0

        def keep(frames) -> None:
            for t, _, rows in frames:
                if len(rows.ids):
                    out_f.append(np.full(len(rows.ids), t))
                    out_i.append(rows.ids)
                    out_b.append(rows.boxes)
                    out_s.append(rows.scores)

        for t, (boxes, scores) in enumerate(seq.frames):
            det = Detections(boxes, scores)
            start = time.perf_counter()
            done = held.push(t, None, multi.step(None, det))
            seconds += time.perf_counter() - start
            keep(done)
        start = time.perf_counter()
        done = held.flush()
        seconds += time.perf_counter() - start
        keep(done)
        return _rows(out_f, out_i, out_b, out_s), seconds

    return run


def _import_peer(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RatrackError(
            f"peer trackers need the '{module}' package: pip install -e .[peers]"
        ) from None


def peer_runner(name: str, params: Mapping[str, Any] | None = None) -> MotRunner:
    """A peer (:data:`PEERS`) with ``params``: ``min_score`` (detections below it are not
    given to the peer) and the peer's own constructor arguments; ``None``: its tuned
    :data:`PEER_PARAMS` for the sequence's class."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; expected one of {', '.join(PEERS)}")
    if params is None:
        return lambda seq: peer_runner(name, PEER_PARAMS[name].get(seq.cls, {}))(seq)
    params = dict(params)
    min_score = float(params.pop("min_score", 0.0))
    sv = _import_peer("supervision")
    if name == "sv-bytetrack":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from supervision.tracker.byte_tracker.core import ByteTrack

        def make():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ByteTrack(frame_rate=FRAME_RATE, **params)

        def call(tracker, det):
            return tracker.update_with_detections(det)
    else:
        trackers = _import_peer("trackers")
        cls = {
            "sort": trackers.SORTTracker,
            "bytetrack": trackers.ByteTrackTracker,
            "ocsort": trackers.OCSORTTracker,
        }[name]

        def make():
            return cls(frame_rate=FRAME_RATE, **params)

        def call(tracker, det):
            return tracker.update(det)

    def run(seq: SequenceDetections) -> tuple[TrackRows, float]:
        tracker = make()
        out_f, out_i, out_b, out_s = [], [], [], []
        seconds = 0.0
        for t, (boxes, scores) in enumerate(seq.frames):
            keep = scores >= min_score
            det = sv.Detections(
                xyxy=boxes[keep].astype(np.float32),
                confidence=scores[keep].astype(np.float32),
                class_id=np.zeros(int(keep.sum()), int),
            )
            start = time.perf_counter()
            out = call(tracker, det)
            seconds += time.perf_counter() - start
            ids = np.asarray(out.tracker_id if out.tracker_id is not None else [], np.int64)
            ok = ids >= 0
            if ok.any():
                out_f.append(np.full(int(ok.sum()), t))
                out_i.append(ids[ok])
                out_b.append(np.asarray(out.xyxy)[ok])
                conf = out.confidence if out.confidence is not None else np.ones(len(ids))
                out_s.append(np.asarray(conf)[ok])
        return _rows(out_f, out_i, out_b, out_s), seconds

    return run


# --- scoring ----------------------------------------------------------------------------------


def kitti_results(rows: TrackRows, kitti_type: str):
    """``rows`` as :class:`~ratrack.data.kitti_labels.KittiLabels` results of one type, by frame."""
    from ratrack.data.kitti_labels import KittiLabels

    n = len(rows.frame)
    order = np.lexsort((rows.ids, rows.frame))
    return KittiLabels(
        frame=rows.frame[order],
        track_id=rows.ids[order],
        type=np.full(n, kitti_type),
        truncated=np.full(n, -1.0),
        occluded=np.full(n, -1),
        alpha=np.full(n, -10.0),
        boxes=rows.boxes[order],
        dimensions=np.full((n, 3), -1.0),
        location=np.full((n, 3), -1000.0),
        rotation_y=np.full(n, -10.0),
        score=rows.scores[order],
    )


@dataclass(frozen=True)
class BenchRow:
    """One line of the table: a tracker's pooled scores on one class."""

    tracker: str
    cls: str
    scores: dict = field(repr=False)
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def score_runs(
    gt: Mapping[str, Any], preds: Mapping[str, Any], cls: str, num_frames: Mapping[str, int]
) -> dict:
    """KITTI-rules scores of class ``cls`` pooled over the sequences of ``gt`` / ``preds``."""
    from ratrack.eval.kitti import KittiRules, evaluate_kitti

    rules = KittiRules(classes=(cls.lower(),))
    report = evaluate_kitti(gt, preds, num_frames, rules)
    return report["combined"][cls.lower()]


def run_bench(
    kitti_root: str | Path,
    runners: Mapping[str, MotRunner],
    sequences: Sequence[str] | None = None,
    classes: Sequence[str] = CLASSES,
    detections_root: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    repeats: int = 1,
) -> list[BenchRow]:
    """Run every tracker of ``runners`` on ``sequences`` (default: all) of each class and score
    it (module docstring). Returns one :class:`BenchRow` per tracker and class; ``progress``
    is called with ``"CLASS SEQUENCE"`` as each sequence of each class is done.

    Each sequence is run by every tracker in turn, ``repeats`` times over, and each tracker's
    time on it is its fastest run's: a change of load on a shared machine then hits every
    tracker alike instead of deciding which is faster. The boxes scored are the first run's
    (the trackers are deterministic)."""
    from ratrack.data.kitti_labels import read_kitti_labels
    from ratrack.eval.kitti import kitti_num_frames

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    labels = kitti_sequences(kitti_root, sequences or None)
    det_root = Path(detections_root) if detections_root is not None else rrc_folder(kitti_root)
    gt = {s: read_kitti_labels(p) for s, p in labels.items()}
    num_frames = {s: kitti_num_frames(g) for s, g in gt.items()}
    out = []
    for cls in classes:
        dets = {  # every file read (and checked) before any tracker runs
            s: SequenceDetections(
                s, load_detections(det_root / cls / f"{s}.txt", num_frames[s]), cls
            )
            for s in labels
        }
        preds: dict[str, dict] = {name: {} for name in runners}
        seconds = dict.fromkeys(runners, 0.0)
        for s, seq in dets.items():
            fastest = dict.fromkeys(runners, float("inf"))
            for turn in range(repeats):
                for name, runner in runners.items():
                    rows, sec = runner(seq)
                    if turn == 0:
                        preds[name][s] = kitti_results(rows, cls)
                    fastest[name] = min(fastest[name], sec)
            for name in runners:
                seconds[name] += fastest[name]
            if progress is not None:
                progress(f"{cls} {s}")
        for name in runners:
            scores = score_runs(gt, preds[name], cls, num_frames)
            out.append(BenchRow(name, cls, scores, sum(num_frames.values()), seconds[name]))
    return out


TABLE_COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")


def parse_peers(spec: str) -> list[str]:
    """Peer names from ``"sort,bytetrack"``; ``"all"``: every one of :data:`PEERS`."""
    return parse_names(spec, PEERS, every=True)


def format_bench_table(rows: Sequence[BenchRow]) -> str:
    """The rows as one text table: tracker, class, HOTA .. IDSW, frames/s."""
    head = f"{'tracker':<26}{'class':<12}" + "".join(f"{c:>8}" for c in TABLE_COLUMNS)
    head += f"{'frames/s':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(
            f"{r.scores[c]:>8d}" if isinstance(r.scores[c], int) else f"{r.scores[c]:>8.3f}"
            for c in TABLE_COLUMNS
        )
        lines.append(f"{PEER_LABELS.get(r.tracker, r.tracker):<26}{r.cls:<12}{cells}{r.fps:>10.0f}")
    return "\n".join(lines)
