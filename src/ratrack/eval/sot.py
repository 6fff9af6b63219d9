"""Single-object evaluation of a sequence: prediction files and live trackers, one table
(over a benchmark of many sequences: :mod:`ratrack.eval.sot_benchmark`).

:func:`evaluate_sot` scores every tracker on one sequence with the OTB metrics of
:mod:`ratrack.eval.metrics`. Trackers come as prediction files (read by
:func:`read_sot_prediction`) or as live :class:`~ratrack.eval.peers.SotTracker` objects, which
:func:`~ratrack.eval.peers.run_trackers` runs together on the same decoded frames. Live trackers
start on the sequence's first ground-truth box; the initial frame counts in the scores (it is the
given box, as in OTB's one-pass evaluation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ratrack.boxes import convert_boxes
from ratrack.data._text import numbered_lines
from ratrack.data.detections import sniff_format
from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.mot import read_mot_file
from ratrack.errors import ConfigError, DataError, RatrackError
from ratrack.eval.metrics import (
    as_box_array,
    frame_ious,
    precision_curve,
    sot_summary,
    success_curve,
)
from ratrack.eval.peers import (
    OpenCVTracker,
    SotTracker,
    peer_option,
    run_trackers,
)
from ratrack.eval.plots import plot_iou_over_time, plot_precision, plot_success

PRED_FORMATS = ("auto", "otb", "mot", "kitti")
"""Prediction file formats: OTB rows ``x y w h`` (1-based, one per frame; a row with zero width
or height means lost), MOTChallenge files (1-based frames) and KITTI label files (0-based);
``auto`` tells them apart by the first row (:func:`detect_prediction_format`)."""


def detect_prediction_format(path: str | Path) -> str:
    """The format of a prediction file from its first non-blank row: ``otb`` (4 values),
    ``mot`` (as ``ratrack track`` writes by default) or ``kitti`` (``--format kitti``;
    :func:`~ratrack.data.detections.sniff_format`); JSON lines or anything else raise
    ``DataError`` naming the file and line."""
    number, text = next(numbered_lines(path), (0, ""))
    if text.startswith("{"):
        raise DataError(
            "JSON-lines predictions cannot be scored: write them with --format mot or kitti",
            path,
            number,
        )
    return sniff_format(Path(path), ("otb", "mot", "kitti"))


@dataclass(frozen=True)
class SotResult:
    """One tracker's scores on one sequence."""

    boxes: np.ndarray  # (T, 4) xyxy, NaN rows where the tracker gave no box
    ious: np.ndarray  # (T,) per-frame IoU; NaN where the ground truth has no box
    summary: dict  # sot_summary: mean_iou, success_auc, precision_20, failures, ...
    success: np.ndarray  # (21,) success curve
    precision: np.ndarray  # (51,) precision curve over 0..50 px
    fps: float | None  # frames per second inside the tracker's calls; None for files


@dataclass(frozen=True)
class SotReport:
    """All trackers' results on one sequence, in the order they were given."""

    sequence: str
    frames: int
    results: dict[str, SotResult]

    def to_json(self) -> dict:
        """A JSON-ready dict (NaN and infinity become ``null``)."""

        def clean(values) -> list:
            return [None if not math.isfinite(v) else float(v) for v in np.ravel(values)]

        trackers = {}
        for name, r in self.results.items():
            trackers[name] = {
                **r.summary,
                "fps": r.fps,
                "success_curve": clean(r.success),
                "precision_curve": clean(r.precision),
                "ious": clean(r.ious),
                "boxes_xyxy": [clean(b) for b in r.boxes],
            }
        return {"sequence": self.sequence, "frames": self.frames, "trackers": trackers}

    def table(self) -> str:
        """The results as one text table, best mean IoU first."""
        head = f"{'tracker':<14}{'mean IoU':>9}{'AUC':>8}{'prec@20':>9}{'failures':>10}{'fps':>9}"
        lines = [f"{self.sequence} ({self.frames} frames)", head, "-" * len(head)]
        ranked = sorted(self.results.items(), key=lambda kv: -kv[1].summary["mean_iou"])
        for name, r in ranked:
            s = r.summary
            fps = "-" if r.fps is None else f"{r.fps:.1f}"
            lines.append(
                f"{name:<14}{s['mean_iou']:>9.3f}{s['success_auc']:>8.3f}"
                f"{s['precision_20']:>9.3f}{s['failures']:>10d}{fps:>9}"
            )
        return "\n".join(lines)


def score_sot(boxes, gt, fps: float | None = None) -> SotResult:
    """Score one tracker's boxes ``(T, 4)`` xyxy (NaN rows: lost) against ``gt`` ``(T, 4)``."""
    gt = as_box_array(gt)
    boxes = as_box_array(boxes, length=len(gt))
    ious = frame_ious(boxes, gt)
    return SotResult(
        boxes=boxes,
        ious=ious,
        summary=sot_summary(boxes, gt),
        success=success_curve(ious[np.isfinite(ious)]),
        precision=precision_curve(boxes, gt),
        fps=fps,
    )


def _parse_otb(path: Path, num_frames: int) -> np.ndarray:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(f"cannot read predictions ({exc.strerror})", path) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f for f in re.split(r"[,\s]+", line.strip()) if f]
        if not fields:
            continue
        if len(fields) != 4:
            raise DataError(f"expected 4 values (x y w h), got {len(fields)}", path, number)
        try:
            values = np.array([float(f) for f in fields])
        except ValueError:
            raise DataError(f"non-numeric value in {line.strip()!r}", path, number) from None
        if not np.isfinite(values).all():
            raise DataError(f"NaN or infinite box {line.strip()!r}", path, number)
        rows.append(values)
    if not rows:
        raise DataError("empty prediction file", path)
    if len(rows) != num_frames:
        raise DataError(f"has {len(rows)} boxes but the sequence has {num_frames} frames", path)
    xywh1 = np.stack(rows)  # (T, 4)
    boxes = convert_boxes(torch.from_numpy(xywh1), "xywh1", "xyxy").numpy()
    lost = (xywh1[:, 2] <= 0) | (xywh1[:, 3] <= 0)
    boxes[lost] = np.nan
    return boxes


def _from_tracks(
    path: Path, frame, track_id, boxes, num_frames: int, first: int, chosen: int | None
) -> np.ndarray:
    frame = np.asarray(frame, np.int64)
    track_id = np.asarray(track_id, np.int64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(frame) == 0:
        raise DataError("empty prediction file", path)
    if not np.isfinite(boxes).all():
        raise DataError("contains NaN or infinite boxes", path)
    ids = np.unique(track_id)
    if chosen is None:
        if len(ids) != 1:
            raise DataError(f"holds {len(ids)} tracks; choose one with track_id", path)
        chosen = int(ids[0])
    keep = track_id == chosen
    if not keep.any():
        raise DataError(f"has no track {chosen}", path)
    index = frame[keep] - first
    if index.min() < 0 or index.max() >= num_frames:
        last = num_frames - 1 + first
        raise DataError(
            f"frame {frame[keep][(index < 0) | (index >= num_frames)][0]} is outside the "
            f"sequence's frames {first}..{last}",
            path,
        )
    if len(np.unique(index)) != len(index):
        raise DataError(f"track {chosen} has two boxes in one frame", path)
    out = np.full((num_frames, 4), np.nan)
    out[index] = boxes[keep]
    return out


def read_sot_prediction(
    path: str | Path, fmt: str, num_frames: int, track_id: int | None = None
) -> np.ndarray:
    """One object's predicted boxes ``(num_frames, 4)`` xyxy from a file; NaN rows: no box.

    ``fmt`` is one of :data:`PRED_FORMATS`. MOT and KITTI files must hold one track, or
    ``track_id`` picks one (KITTI ``DontCare`` rows are ignored). An empty file, NaN boxes, a
    count of OTB rows different from ``num_frames`` or frames outside the sequence raise
    ``DataError`` naming the file.
    """
    path = Path(path)
    if fmt not in PRED_FORMATS:
        raise ValueError(
            f"unknown prediction format {fmt!r}; expected one of {', '.join(PRED_FORMATS)}"
        )
    if not path.is_file():
        raise DataError("prediction file not found", path)
    if fmt == "auto":
        fmt = detect_prediction_format(path)
    if fmt == "otb":
        return _parse_otb(path, num_frames)
    if fmt == "mot":
        rec = read_mot_file(path)
        return _from_tracks(path, rec.frame, rec.track_id, rec.boxes, num_frames, 1, track_id)

    lab = read_kitti_labels(path)
    real = np.char.lower(np.asarray(lab.type, str)) != "dontcare"
    frame, ids, boxes = (
        np.asarray(lab.frame)[real],
        np.asarray(lab.track_id)[real],
        np.asarray(lab.boxes)[real],
    )
    return _from_tracks(path, frame, ids, boxes, num_frames, 0, track_id)


def evaluate_sot(
    sequence,
    predictions: Mapping[str, np.ndarray] | None = None,
    trackers: Mapping[str, SotTracker] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SotReport:
    """Score prediction boxes and live trackers on one sequence.

    ``sequence`` is a :class:`ratrack.data.sequence.Sequence` (``name``, ``len()``,
    ``frames()``, ``gt`` ``(T, 4)`` xyxy with NaN rows). ``predictions`` maps names to ``(T, 4)``
    xyxy boxes; ``trackers`` maps names to live trackers, all run in one pass over the frames
    from the first ground-truth box on (frames before it get no box). ``progress(t)`` is called
    per decoded frame.
    """
    gt = getattr(sequence, "gt", None)
    if gt is None:
        raise DataError(
            "sequence has no single-object ground truth", getattr(sequence, "name", None)
        )
    gt = as_box_array(gt)
    num_frames = len(gt)
    results: dict[str, SotResult] = {}
    for name, boxes in (predictions or {}).items():
        results[name] = score_sot(as_box_array(boxes, length=num_frames), gt)
    if trackers:
        has_gt = np.flatnonzero(np.isfinite(gt).all(axis=1))
        if len(has_gt) == 0:
            raise DataError("ground truth has no box to start trackers from", sequence.name)
        start = int(has_gt[0])

        def frames():
            for t, frame in enumerate(sequence.frames()):
                if t >= start:
                    yield frame

        runs = run_trackers(frames(), gt[start], trackers, progress=progress)
        for name, run in runs.items():
            boxes = np.full((num_frames, 4), np.nan)
            boxes[start : start + len(run.boxes)] = run.boxes
            if start + len(run.boxes) != num_frames:
                raise DataError(
                    f"decoded {start + len(run.boxes)} frames but ground truth has {num_frames}",
                    sequence.name,
                )
            results[name] = score_sot(boxes, gt, fps=run.fps)
    if not results:
        raise ValueError("nothing to evaluate: give predictions or trackers")
    return SotReport(sequence=str(sequence.name), frames=num_frames, results=results)


def evaluate_sot_files(
    sequence_dir: str | Path,
    *,
    pred: str | Path | None = None,
    pred_format: str = "auto",
    track_id: int | None = None,
    peers: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> SotReport:
    """Score the prediction file ``pred`` (in ``pred_format``) and/or the OpenCV ``peers``
    (comma-separated names) on the sequence folder or video ``sequence_dir``; ``track_id`` picks
    the object of MOT/KITTI ground truth and predictions. ``progress(done, total)`` is called
    per frame the peers track."""
    if pred_format not in PRED_FORMATS:
        raise ConfigError("pred_format", f"must be one of {', '.join(PRED_FORMATS)}")
    names = peer_option(peers)
    if pred is None and not names:
        raise RatrackError("nothing to evaluate: give a prediction file and/or peers")
    fmt = detect_format(sequence_dir)
    options = {"track_id": track_id} if track_id is not None and fmt in ("mot", "kitti") else {}
    sequence = open_sequence(sequence_dir, fmt, **options)
    preds = {}
    if pred is not None:
        preds[Path(pred).stem] = read_sot_prediction(pred, pred_format, len(sequence), track_id)
    trackers = {name: OpenCVTracker(name=name) for name in names}
    done = [0]

    def step(_t: int) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(sequence))

    return evaluate_sot(sequence, preds, trackers, progress=step)


def write_sot_plots(report: SotReport, out_dir: str | Path) -> list[Path]:
    """Success, precision and IoU-over-time plots of ``report`` as PNG files in ``out_dir``."""

    out_dir = Path(out_dir)
    title = f"({report.sequence})"
    res = report.results
    return [
        plot_success({n: r.success for n, r in res.items()}, out_dir / "success.png", title),
        plot_precision({n: r.precision for n, r in res.items()}, out_dir / "precision.png", title),
        plot_iou_over_time(
            {n: r.ious for n, r in res.items()}, out_dir / "iou_over_time.png", title
        ),
    ]
