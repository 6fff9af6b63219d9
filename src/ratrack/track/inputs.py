"""What ``ratrack track`` reads before the first frame: ``--init`` boxes, the plan of which
objects start on which frame, the weights, the detections (a file or a folder), and whether a
run tracks from boxes alone. Everything here checks its input and raises a one-line
:class:`~ratrack.errors.RatrackError` (a :class:`~ratrack.errors.ConfigError` naming the
setting) before any output exists."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ratrack.boxes import convert_boxes
from ratrack.data._text import split_fields
from ratrack.data.detections import (
    FrameTable,
    first_bad_box,
    read_detection_file,
    read_detection_folder,
)
from ratrack.data.otb import gt_files, read_otb_groundtruth
from ratrack.data.sequence import Sequence
from ratrack.errors import ConfigError, RatrackError
from ratrack.track.multi import Starts
from ratrack.track.online import pretrained_path

log = logging.getLogger(__name__)

INIT_BOX_FORMATS = ("auto", "xywh", "xywh1", "xyxy")
ONE_BASED_TRUTH = ("otb", "tlp")  # single-object sequence formats whose ground truth counts from 1


def parse_init_boxes(
    boxes, fmt: str, frame_size: tuple[int, int], field: str = "init", truth=None
) -> np.ndarray:
    """``(N, 4)`` xyxy from ``boxes`` (strings ``"x,y,w,h"`` or sequences of 4 numbers in
    ``fmt``); a malformed box or one that breaks :data:`~ratrack.data.detections.BOX_RULE` in the
    ``(H, W)`` frame raises :class:`~ratrack.errors.ConfigError` for ``field`` naming the box's
    position (1-based).

    ``fmt="auto"`` reads the boxes 1-based (``xywh1``) when each of them, so read, is one of
    ``truth`` (``(K, 4)`` xyxy, the sequence's ground-truth boxes on the first frame as its
    1-based files give them, :func:`first_truth`): boxes copied from a benchmark's ground truth
    keep its convention, so the track and the ground truth agree to the pixel. Any other boxes
    are read 0-based (``xywh``)."""
    if fmt not in INIT_BOX_FORMATS:
        raise ConfigError(f"{field}_format", f"must be one of {', '.join(INIT_BOX_FORMATS)}")
    given = []
    for k, box in enumerate(boxes, start=1):
        text = box if isinstance(box, str) else ",".join(str(v) for v in box)
        fields = split_fields(text)
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 4 or not np.isfinite(values).all():
            shown = "x,y,w,h" if fmt == "auto" else ",".join(fmt)
            raise ConfigError(field, f"#{k} {text!r}: expected four numbers {shown}")
        given.append((k, text, values))
    if fmt == "auto":
        fmt = "xywh1" if given and _copied(np.array([v for *_, v in given]), truth) else "xywh"
        if fmt == "xywh1":
            log.info(
                "%s: the sequence's first ground-truth boxes, read 1-based as it counts", field
            )
    out = []
    for k, text, values in given:
        xyxy = convert_boxes(torch.tensor(values, dtype=torch.float64), fmt, "xyxy").numpy()
        bad = first_bad_box(xyxy, frame_size)
        if bad is not None:
            raise ConfigError(field, f"#{k} {text!r}: {bad[1]}")
        out.append(xyxy)
    return np.asarray(out, np.float64).reshape(-1, 4)


def _copied(values: np.ndarray, truth) -> bool:
    """Whether every row of ``values`` ``(N, 4)``, read as ``xywh1``, is a row of ``truth``."""
    if truth is None or not len(truth):
        return False
    boxes = convert_boxes(torch.from_numpy(values), "xywh1", "xyxy").numpy()
    near = np.abs(boxes[:, None] - np.asarray(truth, np.float64)[None]).max(-1) < 1e-6
    return bool(near.any(1).all())


def first_truth(seq: Sequence, frame: int) -> np.ndarray:
    """``(K, 4)`` xyxy: the boxes that ``seq``'s 1-based ground truth (:data:`ONE_BASED_TRUTH`)
    gives on ``frame``, one per ground-truth file of an OTB-style folder (a file that does not
    read is passed over: tracking does not need it), else its ``gt`` row; ``(0, 4)`` without."""
    tables = []
    if seq.format == "otb":  # seq.gt is one of its files (or none, if it did not fit)
        for path in gt_files(Path(seq.path)):
            try:
                tables.append(read_otb_groundtruth(path))
            except RatrackError:
                continue
    elif seq.format in ONE_BASED_TRUTH and seq.gt is not None:
        tables.append(seq.gt)
    rows = [table[frame] for table in tables if frame < len(table)]
    rows = np.asarray(rows, np.float64).reshape(-1, 4)
    return rows[np.isfinite(rows).all(1)]


def plan_starts(
    init_xyxy: np.ndarray,
    first_frame: int,
    table: FrameTable | None,
    present: np.ndarray,
    frame_size: tuple[int, int],
    path: str | Path | None = None,
) -> tuple[dict[int, Starts], int]:
    """Objects to start per frame, and the first id free for new tracks.

    ``init_xyxy`` boxes start on ``first_frame`` with ids after those of ``table``; each track
    of ``table`` starts on its first row in a ``present`` frame. A row of ``table`` whose box
    breaks :data:`~ratrack.data.detections.BOX_RULE` raises ``DataError``.
    """
    starts: dict[int, list[tuple[np.ndarray, int, str]]] = {}
    first_free = 1
    if table is not None and len(table.frame):
        first_free = max(first_free, int(table.ids.max()) + 1)
        on_image = np.isin(table.frame, present)
        skipped = 0
        for tid in np.unique(table.ids):
            rows = np.flatnonzero((table.ids == tid) & on_image)
            if len(rows) == 0:
                skipped += 1
                continue
            r = rows[0]
            starts.setdefault(int(table.frame[r]), []).append(
                (table.boxes[r], int(tid), str(table.labels[r]))
            )
        if skipped:
            log.warning("%s: %d tracks have no box on a frame with an image", path, skipped)
    for k, box in enumerate(init_xyxy):
        starts.setdefault(first_frame, []).append((box, first_free + k, ""))
    first_free += len(init_xyxy)
    out = {
        t: Starts(
            boxes=np.stack([b for b, _, _ in rows]),
            ids=np.array([i for _, i, _ in rows], np.int64),
            labels=np.array([c for _, _, c in rows], dtype=str),
        )
        for t, rows in starts.items()
    }
    return out, first_free


def resolve_weights(name: str) -> str:
    """``"auto"`` becomes ``"natural"`` when those weights are installed, else ``"bmnist"``
    (logged as a warning: they were trained on digits, not natural video)."""
    if name != "auto":
        return name
    try:
        pretrained_path("natural")
        return "natural"
    except RatrackError:
        log.warning(
            "the 'natural' weights are not installed; tracking with 'bmnist' (trained on "
            "Bouncing MNIST digits, not on natural video)"
        )
        return "bmnist"


def boxes_only(
    kitti_root: str | Path | None, sequence: str | None, source, no_frames: bool
) -> bool:
    """Whether to track from boxes alone: ``no_frames``, or a KITTI root without the
    sequence's images (``image_02/SSSS``) and no other source."""
    if no_frames:
        return True
    if source is not None or kitti_root is None or sequence is None:
        return False
    root = Path(kitti_root)
    return not any((base / "image_02" / sequence).is_dir() for base in (root, root / "training"))


def kitti_length(kitti_root: str | Path | None, sequence: str | None) -> int:
    """Frames of a KITTI sequence by its labels (0 when there are none)."""
    if kitti_root is None or sequence is None:
        return 0
    from ratrack.data.kitti_labels import read_kitti_labels

    root = Path(kitti_root)
    for base in (root, root / "training"):
        path = base / "label_02" / f"{sequence}.txt"
        if path.is_file():
            labels = read_kitti_labels(path)
            return int(labels.frame.max()) + 1 if len(labels.frame) else 0
    return 0


def read_detections_of(path: str | Path, fmt: str, sequence: str | None) -> FrameTable:
    if Path(path).is_dir():
        if sequence is None:
            raise RatrackError(f"{path}: a detection folder needs --sequence SSSS")
        return read_detection_folder(path, sequence, fmt)
    return read_detection_file(path, fmt)
