"""``ratrack track``: follow objects through a user's footage and write the tracks.

Sources (:func:`open_source`): a video file (anything OpenCV decodes), a folder of images, an
OTB/TLP folder, a MOTChallenge sequence folder, a KITTI tracking sequence (``kitti_root`` and
``sequence``, or its ``image_02/SSSS`` folder), or a KITTI raw drive (the drive folder, its date
folder, or a raw root holding exactly one drive). Frames are decoded one at a time, so memory
stays flat however long the footage.

Frames whose image is absent (a KITTI tracking sequence whose labels cover more frames than the
images present, as in the sample data: sequence 0001 has only frames 10, 15 and 20) are skipped:
the tracker steps from one present frame to the next, outputs carry the dataset's own frame
numbers, and detection or init rows on absent frames are ignored. A MOTChallenge folder whose
``seqinfo.ini`` declares more frames than its images hold is tracked over the images present.

Who is tracked:

* ``init``: boxes on the first frame (the first frame with an image), in ``init_format``
  (``xywh`` 0-based pixels by default, ``xywh1`` 1-based as OTB/MOT write them, or ``xyxy``);
* ``init_file``: a MOTChallenge (1-based frames) or KITTI (0-based) file; each track id starts
  on the first frame with an image on which the file gives it a box, and keeps its id (rows with
  MOT ``conf`` 0 and KITTI ``DontCare`` rows are skipped);
* ``detections``: a detection file (:func:`read_detection_file`) driving the lifecycle of
  :class:`~ratrack.tracker.multi.MultiTracker` (births, Hungarian matching on IoU, correction,
  ends).

Outputs: a track file (:data:`OUT_FORMATS`: MOTChallenge results ``frame,id,x,y,w,h,conf,-1,-1,
-1`` with 1-based frames, KITTI tracking results with 0-based frames and scores, or JSON lines
with one object per frame) and an annotated video (boxes, ids, glimpse windows). Track ids start
at 1 (after the largest id of an init file). Both are written to a temporary file beside the
target and renamed when the run ends, so a failed run leaves nothing behind; an interrupted run
(``KeyboardInterrupt``) keeps everything up to the last finished frame, complete and valid.
Every input is read and checked before the first frame is tracked.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ratrack.datasets._text import numbered_lines, split_fields
from ratrack.datasets.sequences import Sequence, open_sequence
from ratrack.errors import DataError, RatrackError
from ratrack.tracker.multi import Detections, FrameTracks, MultiTrackConfig, MultiTracker, Starts
from ratrack.tracker.online import Tracker, pretrained_path

log = logging.getLogger(__name__)

OUT_FORMATS = ("mot", "kitti", "jsonl")
INIT_BOX_FORMATS = ("xywh", "xywh1", "xyxy")
INIT_FILE_FORMATS = ("auto", "mot", "kitti")
DET_FORMATS = ("auto", "mot", "kitti", "rrc")
"""Detection files: MOTChallenge ``det.txt`` (1-based frames, ``conf`` as score), KITTI format
(0-based frames, the 18th column as score, the type as class) and RRC's
``frame,x1,y1,x2,y2,score`` (0-based frames, xyxy). ``auto`` reads the first line: 17 or 18
fields with a type name is KITTI, 6 fields RRC, 7 to 10 MOTChallenge."""


@dataclass(frozen=True)
class TrackConfig:
    """How ``ratrack track`` tracks and writes (inputs and output paths are arguments)."""

    weights: str = "auto"  # "auto": natural weights if installed, else bmnist (with a warning)
    device: str = "cpu"  # torch device the tracker runs on
    out_format: str = "mot"  # one of OUT_FORMATS
    object_type: str = "Car"  # KITTI type written for tracks whose class is unknown
    max_frames: int | None = None  # stop after this many frames with images (None: all)
    video_fps: float | None = None  # annotated video's frame rate (None: the source's, else 10)
    lifecycle: MultiTrackConfig = field(default_factory=MultiTrackConfig)

    def __post_init__(self) -> None:
        if self.out_format not in OUT_FORMATS:
            raise ValueError(
                f"output format must be one of {', '.join(OUT_FORMATS)}, got {self.out_format!r}"
            )
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.video_fps is not None and self.video_fps <= 0:
            raise ValueError(f"video_fps must be positive, got {self.video_fps}")


@dataclass
class Timing:
    """Seconds spent decoding frames, inside the tracker, and writing outputs."""

    decode: float = 0.0
    track: float = 0.0
    write: float = 0.0


@dataclass(frozen=True)
class TrackResult:
    """Summary of a run."""

    frames: int  # frames tracked
    skipped: int  # frames without an image, skipped
    tracks: int  # distinct track ids reported
    boxes: int  # (object, frame) rows reported
    timing: Timing
    weights: str
    device: str
    out: Path | None
    video: Path | None

    @property
    def fps(self) -> float:
        """Frames per second end to end (decode + track + write)."""
        total = self.timing.decode + self.timing.track + self.timing.write
        return self.frames / total if total > 0 else float("inf")

    def summary(self) -> str:
        """A few lines for the end of a run."""
        t = self.timing
        per = 1000.0 / max(self.frames, 1)
        lines = [
            f"tracked {self.frames} frames ({self.skipped} without an image skipped): "
            f"{self.tracks} tracks, {self.boxes} boxes; weights {self.weights} on {self.device}",
            f"  {self.fps:.1f} frames/s end to end; per frame: decode {t.decode * per:.1f} ms, "
            f"tracker {t.track * per:.1f} ms, writing {t.write * per:.1f} ms",
        ]
        lines += [f"  wrote {p}" for p in (self.out, self.video) if p is not None]
        return "\n".join(lines)


# --- inputs -----------------------------------------------------------------------------------


def open_source(
    path: str | Path | None = None,
    *,
    kitti_root: str | Path | None = None,
    sequence: str | None = None,
) -> Sequence:
    """The frames to track: ``path`` (video file or folder, see the module docstring) or the
    KITTI tracking ``sequence`` of ``kitti_root``. Raises ``RatrackError`` / ``DataError``."""
    if (path is None) == (kitti_root is None):
        raise RatrackError("give either a video file or folder, or --kitti ROOT --sequence SSSS")
    if kitti_root is not None:
        from ratrack.datasets.kitti import KittiTracking

        if sequence is None:
            raise RatrackError("--kitti needs --sequence (for example --sequence 0001)")
        return KittiTracking(kitti_root, missing_images="keep").sequence(sequence)
    if sequence is not None:
        raise RatrackError("--sequence needs --kitti ROOT")
    if path is None:  # (checked above; narrows the type)
        raise RatrackError("give a video file or folder")
    path = Path(path)
    if path.is_dir():
        if not any(path.iterdir()):
            raise DataError("folder is empty", path)
        from ratrack.datasets.kitti import find_kitti_raw_drives, looks_like_date

        dates = [p for p in path.iterdir() if p.is_dir() and looks_like_date(p.name)]
        if dates and not looks_like_date(path.name):
            drives = find_kitti_raw_drives(path)
            if len(drives) != 1:
                names = ", ".join(f"{d}/{d}_drive_{n}_sync" if n else d for _, d, n in drives)
                raise DataError(f"holds {len(drives)} KITTI raw drives; pass one: {names}", path)
            base, date, drive = drives[0]
            path = base / date / f"{date}_drive_{drive}_sync" if drive else base / date
    seq = open_sequence(path)
    if len(seq) == 0 or len(present_frames(seq)) == 0:
        raise DataError("no frames to track", path)
    return seq


def present_frames(seq: Sequence) -> np.ndarray:
    """Indices of the frames that have an image (every frame of a video)."""
    paths = getattr(seq, "paths", None)
    if paths is None:
        return np.arange(len(seq), dtype=np.int64)
    return np.array([t for t, p in enumerate(paths) if p is not None], np.int64)


def declared_length(seq: Sequence) -> int:
    """Frames the sequence declares: ``seqLength`` of a MOTChallenge ``seqinfo.ini`` when it is
    larger than the images present, else ``len(seq)``. Rows of init and detection files past it
    are errors."""
    info = getattr(seq, "info", None) or {}
    return max(len(seq), int(info.get("seqLength", 0)))


class FrameTable(NamedTuple):
    """Rows of a box file, sorted by frame: ``frame`` ``(N,)`` int64 0-based sequence index,
    ``boxes`` ``(N, 4)`` float64 xyxy, ``scores`` ``(N,)``, ``labels`` ``(N,)`` str (``""``: no
    class), ``ids`` ``(N,)`` int64 (``-1``: none), ``lines`` ``(N,)`` int64 source lines."""

    frame: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    lines: np.ndarray

    def rows(self, t: int) -> slice:
        """The rows of frame ``t``."""
        lo, hi = np.searchsorted(self.frame, [t, t + 1])
        return slice(int(lo), int(hi))


def _table(frame, boxes, scores, labels, ids, lines) -> FrameTable:
    n = len(frame)
    order = np.argsort(np.asarray(frame, np.int64), kind="stable")
    return FrameTable(
        frame=np.asarray(frame, np.int64).reshape(n)[order],
        boxes=np.asarray(boxes, np.float64).reshape(n, 4)[order],
        scores=np.asarray(scores, np.float64).reshape(n)[order],
        labels=np.asarray(labels, dtype=str).reshape(n)[order] if n else np.zeros(0, str),
        ids=np.asarray(ids, np.int64).reshape(n)[order],
        lines=np.asarray(lines, np.int64).reshape(n)[order],
    )


def _line_numbers(path: Path) -> np.ndarray:
    """Line numbers of the non-blank lines (the rows the readers return, in order)."""
    return np.array([number for number, _ in numbered_lines(path)], np.int64)


def _sniff(path: Path, allowed: tuple[str, ...]) -> str:
    for number, text in numbered_lines(path):
        fields = split_fields(text)
        if len(fields) in (17, 18) and not _is_number(fields[2]):
            fmt = "kitti"
        elif len(fields) == 6 and "rrc" in allowed:
            fmt = "rrc"
        elif 6 <= len(fields) <= 10:
            fmt = "mot"
        else:
            raise DataError(
                f"cannot tell the format from {len(fields)} fields; "
                f"expected {' or '.join(f for f in allowed if f != 'auto')}",
                path,
                number,
            )
        if fmt not in allowed:
            raise DataError(f"looks like a {fmt} file, expected {' or '.join(allowed)}", path)
        return fmt
    raise DataError("file is empty", path)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_detection_file(path: str | Path, fmt: str = "auto") -> FrameTable:
    """Detections of a whole sequence as a :class:`FrameTable` (see :data:`DET_FORMATS`).

    Malformed lines raise ``DataError`` naming the file and line.
    """
    path = Path(path)
    if fmt not in DET_FORMATS:
        raise ValueError(f"unknown detection format {fmt!r}; expected one of {DET_FORMATS}")
    if not path.is_file():
        raise DataError("detection file not found", path)
    if fmt == "auto":
        fmt = _sniff(path, DET_FORMATS[1:])
    if fmt == "rrc":
        from ratrack.eval.associate import read_detections

        frame, boxes, score = read_detections(path)
        lines = _line_numbers(path)[: len(frame)]
        return _table(frame, boxes, score, [""] * len(frame), np.full(len(frame), -1), lines)
    if fmt == "mot":
        from ratrack.datasets.mot import read_mot_file

        rec = read_mot_file(path)
        n = len(rec)
        return _table(rec.frame - 1, rec.boxes, rec.conf, [""] * n, [-1] * n, _line_numbers(path))
    labels = _read_kitti(path)
    real = ~labels.is_dontcare
    score = np.where(np.isfinite(labels.score), labels.score, 1.0)
    return _table(
        labels.frame[real],
        labels.boxes[real],
        score[real],
        labels.type[real],
        np.full(int(real.sum()), -1),
        labels.line[real],
    )


def _read_kitti(path: Path):
    from ratrack.datasets.kitti import read_kitti_labels

    return read_kitti_labels(path)


def read_init_file(path: str | Path, fmt: str = "auto") -> FrameTable:
    """Boxes with track ids from a MOTChallenge or KITTI file (module docstring)."""
    path = Path(path)
    if fmt not in INIT_FILE_FORMATS:
        raise ValueError(f"unknown init file format {fmt!r}; expected one of {INIT_FILE_FORMATS}")
    if not path.is_file():
        raise DataError("init file not found", path)
    if fmt == "auto":
        fmt = _sniff(path, ("mot", "kitti"))
    if fmt == "mot":
        from ratrack.datasets.mot import read_mot_file

        rec = read_mot_file(path)
        keep = (rec.conf != 0) if rec.columns >= 7 else np.ones(len(rec), bool)
        if (rec.track_id[keep] < 0).any():
            line = int(_line_numbers(path)[np.flatnonzero(keep & (rec.track_id < 0))[0]])
            raise DataError("init boxes need track ids >= 0", path, line)
        lines = _line_numbers(path)[keep]
        n = int(keep.sum())
        return _table(
            rec.frame[keep] - 1, rec.boxes[keep], np.ones(n), [""] * n, rec.track_id[keep], lines
        )
    labels = _read_kitti(path)
    real = ~labels.is_dontcare
    n = int(real.sum())
    return _table(
        labels.frame[real],
        labels.boxes[real],
        np.ones(n),
        labels.type[real],
        labels.track_id[real],
        labels.line[real],
    )


def check_frames(table: FrameTable, path: str | Path, num_frames: int, what: str) -> None:
    """``DataError`` naming the first line whose frame is past the sequence's ``num_frames``."""
    beyond = np.flatnonzero(table.frame >= num_frames)
    if len(beyond):
        row = int(beyond[np.argmin(table.lines[beyond])])
        raise DataError(
            f"{what} frame {int(table.frame[row])} (0-based) is past the end of the "
            f"{num_frames}-frame video",
            path,
            int(table.lines[row]),
        )


def _outside(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(N,)`` bool: xyxy boxes that do not overlap the frame at all."""
    return (
        (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0) | (boxes[:, 0] >= width) | (boxes[:, 1] >= height)
    )


def parse_init_boxes(
    boxes, fmt: str, frame_size: tuple[int, int], option: str = "--init"
) -> np.ndarray:
    """``(N, 4)`` xyxy from ``boxes`` (strings ``"x,y,w,h"`` or sequences of 4 numbers in
    ``fmt``); a malformed box, one of zero size or one wholly outside the ``(H, W)`` frame raises
    ``RatrackError`` naming ``option`` and the box's position (1-based)."""
    from ratrack.boxes import convert_boxes

    if fmt not in INIT_BOX_FORMATS:
        raise RatrackError(f"{option}-format must be one of {', '.join(INIT_BOX_FORMATS)}")
    height, width = frame_size
    out = []
    for k, box in enumerate(boxes, start=1):
        text = box if isinstance(box, str) else ",".join(str(v) for v in box)
        fields = split_fields(text)
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 4 or not np.isfinite(values).all():
            raise RatrackError(f"{option} #{k} {text!r}: expected four numbers {','.join(fmt)}")
        xyxy = convert_boxes(torch.tensor(values, dtype=torch.float64), fmt, "xyxy").numpy()
        if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
            raise RatrackError(f"{option} #{k} {text!r}: box has zero or negative size")
        if _outside(xyxy[None], height, width)[0]:
            raise RatrackError(
                f"{option} #{k} {text!r}: box lies outside the {width}x{height} frame"
            )
        out.append(xyxy)
    return np.asarray(out, np.float64).reshape(-1, 4)


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
    of ``table`` starts on its first row in a ``present`` frame. A row of ``table`` whose box lies
    wholly outside the frame raises ``DataError``.
    """
    starts: dict[int, list[tuple[np.ndarray, int, str]]] = {}
    first_free = 1
    if table is not None and len(table.frame):
        bad = np.flatnonzero(_outside(table.boxes, *frame_size))
        if len(bad):
            raise DataError("box lies outside the frame", path, int(table.lines[bad[0]]))
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


def check_device(device: str) -> str:
    """``device`` if torch can use it, else ``RatrackError``."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise RatrackError(f"--device {device!r}: not a torch device (cpu, cuda, cuda:1)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RatrackError(f"--device {device}: CUDA is not available on this machine")
    return device


# --- streaming --------------------------------------------------------------------------------


def iter_frames(seq: Sequence, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(t, frame)`` for every frame with an image, decoded one at a time."""
    count = 0
    frames: Iterator[tuple[int, np.ndarray]]
    if getattr(seq, "paths", None) is None:
        frames = enumerate(seq.frames())
    else:
        frames = ((int(t), seq.frame(int(t))) for t in present_frames(seq))
    for t, frame in frames:
        if max_frames is not None and count >= max_frames:
            return
        count += 1
        yield t, frame


def iter_tracks(
    seq: Sequence,
    multi: MultiTracker,
    *,
    starts: dict[int, Starts] | None = None,
    detections: FrameTable | None = None,
    max_frames: int | None = None,
    timing: Timing | None = None,
) -> Iterator[tuple[int, np.ndarray, FrameTracks]]:
    """Track ``seq`` frame by frame: yields ``(t, frame, tracks)`` (``t`` the frame index)."""
    timing = timing if timing is not None else Timing()
    starts = starts or {}
    frames = iter_frames(seq, max_frames)
    while True:
        start = time.perf_counter()
        item = next(frames, None)
        timing.decode += time.perf_counter() - start
        if item is None:
            return
        t, frame = item
        det = None
        if detections is not None:
            rows = detections.rows(t)
            det = Detections(
                detections.boxes[rows], detections.scores[rows], detections.labels[rows]
            )
        start = time.perf_counter()
        tracks = multi.step(frame, det, starts.get(t))
        timing.track += time.perf_counter() - start
        yield t, frame, tracks


# --- outputs ----------------------------------------------------------------------------------


def format_frame(t: int, tracks: FrameTracks, fmt: str, object_type: str = "Car") -> str:
    """The lines of frame ``t`` in output format ``fmt`` (see :data:`OUT_FORMATS`)."""
    n = len(tracks.ids)
    if fmt == "jsonl":
        objects = [
            {
                "id": int(tracks.ids[k]),
                "box_xyxy": [float(v) for v in tracks.boxes[k]],
                "window_xyxy": [float(v) for v in tracks.windows[k]],
                "score": float(tracks.scores[k]),
                "class": str(tracks.labels[k]) or None,
                "matched": bool(tracks.matched[k]),
            }
            for k in range(n)
        ]
        ended = [int(i) for i in tracks.ended]
        return json.dumps({"frame": t, "objects": objects, "ended": ended}) + "\n"
    if n == 0:
        return ""
    if fmt == "mot":
        from ratrack.datasets.mot import MotRecords, format_mot_lines

        records = MotRecords(
            frame=np.full(n, t + 1), track_id=tracks.ids, boxes=tracks.boxes, conf=tracks.scores
        )
        return format_mot_lines(records, columns=10)
    from ratrack.datasets.kitti import KittiLabels, format_kitti_lines

    types = np.where(tracks.labels == "", object_type, tracks.labels).astype(str)
    labels = KittiLabels(
        frame=np.full(n, t),
        track_id=tracks.ids,
        type=types,
        truncated=np.full(n, -1.0),
        occluded=np.full(n, -1),
        alpha=np.full(n, -10.0),
        boxes=tracks.boxes,
        dimensions=np.full((n, 3), -1.0),
        location=np.full((n, 3), -1000.0),
        rotation_y=np.full(n, -10.0),
        score=tracks.scores,
    )
    return format_kitti_lines(labels, with_score=True)


def _partial_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial{path.suffix}")


class TrackFile:
    """A text output written frame by frame into a hidden partial file, renamed on
    :meth:`commit`. :meth:`keep` (after an interruption) truncates it to the last finished
    frame first; :meth:`discard` removes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = _partial_path(self.path)
        self._file = open(self.partial, "wb")  # closed by commit/keep/discard
        self._done = 0  # bytes of finished frames

    def write_frame(self, text: str) -> None:
        self._file.write(text.encode())
        self._file.flush()
        self._done = self._file.tell()

    def commit(self) -> None:
        self._file.close()
        os.replace(self.partial, self.path)

    def keep(self) -> None:
        self._file.truncate(self._done)
        self.commit()

    def discard(self) -> None:
        self._file.close()
        self.partial.unlink(missing_ok=True)


def _colour(track_id: int) -> tuple[int, int, int]:
    """A BGR colour per id (golden-ratio hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618034) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(frame: np.ndarray, tracks: FrameTracks) -> np.ndarray:
    """``frame`` (``(H, W, 3)`` RGB) as BGR with each object's box (thick), glimpse window (thin)
    and id drawn in its colour."""
    import cv2

    img = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
    for k, tid in enumerate(tracks.ids):
        colour = _colour(int(tid))
        wx1, wy1, wx2, wy2 = np.round(tracks.windows[k]).astype(int)
        cv2.rectangle(img, (wx1, wy1), (wx2, wy2), colour, 1)
        x1, y1, x2, y2 = np.round(tracks.boxes[k]).astype(int)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(
            img, str(int(tid)), (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1
        )
    return img


class TrackVideo:
    """An annotated video written to a hidden partial file, renamed on :meth:`commit`."""

    def __init__(self, path: str | Path, fps: float, frame_size: tuple[int, int]) -> None:
        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = _partial_path(self.path)
        fourcc = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        height, width = frame_size
        code = cv2.VideoWriter_fourcc(*fourcc)  # type: ignore[attr-defined]
        self._writer = cv2.VideoWriter(str(self.partial), code, fps, (width, height))
        if not self._writer.isOpened():
            self._writer.release()
            self.partial.unlink(missing_ok=True)
            raise RatrackError(f"{self.path}: OpenCV cannot write a {fourcc} video here")
        self.size = (width, height)

    def write_frame(self, frame: np.ndarray, tracks: FrameTracks) -> None:
        import cv2

        img = draw_tracks(frame, tracks)
        if (img.shape[1], img.shape[0]) != self.size:  # frame size varies (KITTI): fit
            img = cv2.resize(img, self.size)
        self._writer.write(img)

    def commit(self) -> None:
        self._writer.release()
        os.replace(self.partial, self.path)

    keep = commit

    def discard(self) -> None:
        self._writer.release()
        self.partial.unlink(missing_ok=True)


def _source_fps(seq: Sequence) -> float:
    info = getattr(seq, "info", None) or {}
    if "frameRate" in info:
        return float(info["frameRate"])
    if seq.format == "video":
        import cv2

        cap = cv2.VideoCapture(str(seq.path))
        fps = cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        if fps and np.isfinite(fps) and fps > 0:
            return float(fps)
    return 10.0


# --- the run ----------------------------------------------------------------------------------


def run_track(
    source: str | Path | Sequence | None = None,
    *,
    kitti_root: str | Path | None = None,
    sequence: str | None = None,
    init=(),
    init_format: str = "xywh",
    init_file: str | Path | None = None,
    detections: str | Path | None = None,
    det_format: str = "auto",
    out: str | Path | None = None,
    video: str | Path | None = None,
    config: TrackConfig = TrackConfig(),
    tracker: Tracker | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrackResult:
    """Track objects through ``source`` and write ``out`` (and ``video``); see the module
    docstring. ``init`` holds boxes (``"x,y,w,h"`` strings or 4 numbers) in ``init_format``;
    ``tracker`` (a :class:`Tracker` without objects) replaces loading ``config.weights``.
    ``progress(done, total)`` is called after each frame. Bad input raises ``RatrackError``
    before any output file is created."""
    seq = (
        source
        if isinstance(source, Sequence)
        else open_source(source, kitti_root=kitti_root, sequence=sequence)
    )
    present = present_frames(seq)
    if config.max_frames is not None:
        present = present[: config.max_frames]
    num_frames = declared_length(seq)
    frame_size = seq.frame_size()
    if not init and init_file is None and detections is None:
        raise RatrackError("nothing to track: give --init boxes, --init-file or --detections")
    if det_format not in DET_FORMATS:
        raise RatrackError(f"--det-format must be one of {', '.join(DET_FORMATS)}")
    init_xyxy = parse_init_boxes(list(init), init_format, frame_size)
    table = None
    if init_file is not None:
        table = read_init_file(init_file)
        check_frames(table, init_file, num_frames, "init")
    det_table = None
    if detections is not None:
        det_table = read_detection_file(detections, det_format)
        check_frames(det_table, detections, num_frames, "detection")
    starts, first_id = plan_starts(
        init_xyxy, int(present[0]), table, present, frame_size, init_file
    )
    weights = "(given)"
    if tracker is None:
        weights = resolve_weights(config.weights)
        tracker = Tracker.from_pretrained(weights, device=check_device(config.device))
    multi = MultiTracker(tracker, config.lifecycle, first_id=first_id)
    skipped = len(seq) - len(present_frames(seq))
    if skipped:
        log.warning(
            "%s: %d of %d frames have no image and are skipped", seq.path, skipped, len(seq)
        )

    outputs: list[TrackFile | TrackVideo] = []
    text_out = video_out = None
    try:
        if out is not None:
            text_out = TrackFile(out)
            outputs.append(text_out)
        if video is not None:
            fps = config.video_fps or _source_fps(seq)
            video_out = TrackVideo(video, fps, frame_size)
            outputs.append(video_out)
    except BaseException:
        for o in outputs:
            o.discard()
        raise
    timing = Timing()
    ids: set[int] = set()
    frames = boxes = 0
    total = len(present)
    try:
        for t, frame, tracks in iter_tracks(
            seq,
            multi,
            starts=starts,
            detections=det_table,
            max_frames=config.max_frames,
            timing=timing,
        ):
            start = time.perf_counter()
            if text_out is not None:
                text_out.write_frame(format_frame(t, tracks, config.out_format, config.object_type))
            if video_out is not None:
                video_out.write_frame(frame, tracks)
            timing.write += time.perf_counter() - start
            frames += 1
            boxes += len(tracks.ids)
            ids.update(int(i) for i in tracks.ids)
            if progress is not None:
                progress(frames, total)
    except KeyboardInterrupt:
        for o in outputs:
            o.keep()
        log.warning("interrupted: outputs hold the %d frames tracked before", frames)
        raise
    except BaseException:
        for o in outputs:
            o.discard()
        raise
    for o in outputs:
        o.commit()
    return TrackResult(
        frames=frames,
        skipped=skipped,
        tracks=len(ids),
        boxes=boxes,
        timing=timing,
        weights=weights,
        device=str(tracker.device),
        out=Path(out) if out is not None else None,
        video=Path(video) if video is not None else None,
    )
