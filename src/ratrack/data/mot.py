"""MOTChallenge text files (``gt/gt.txt``, ``det/det.txt``, tracker results) and ``seqinfo.ini``.

One comma-separated line per box: ``frame, id, bb_left, bb_top, bb_width, bb_height`` (1-based
pixels, as MOTChallenge writes them) followed, depending on the file, by:

=======  ===========================================================================
columns  meaning of the extra columns
=======  ===========================================================================
6        none (conf is then 1)
7        ``conf`` (detection score; in ground truth the 0/1 "consider" flag)
8        ``conf, class``
9        ``conf, class, visibility`` (MOT16/17/20 ground truth)
10       ``conf, x, y, z`` (world coordinates, ``-1`` when unknown: MOT15/16 detections and
         the results format MOTChallenge asks trackers to submit)
=======  ===========================================================================

Boxes are converted to ratrack's ``xyxy`` (0-based continuous pixels, see :mod:`ratrack.boxes`):
``x1 = bb_left - 1``, ``x2 = x1 + bb_width``; the writer converts back. Numbers are written in
their shortest form after rounding to 9 decimals (integral values without a decimal point,
visibility always with one, as MOT17 writes them), so the files of MOT17 round-trip
byte-identically.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratrack.boxes import convert_boxes
from ratrack.data._text import (
    atomic_write_text,
    format_number,
    numbered_lines,
    read_text,
    split_fields,
    to_float,
    to_int,
)
from ratrack.data.images import list_images
from ratrack.data.sequence import ImageSequence
from ratrack.errors import DataError

MOT_COLUMNS = (6, 7, 8, 9, 10)


@dataclass(frozen=True)
class MotRecords:
    """Columnar MOTChallenge records, one row per line of the file.

    ``frame`` int64 ``(N,)`` (1-based, as in the file); ``track_id`` int64 ``(N,)`` (``-1`` for
    detections); ``boxes`` float64 ``(N, 4)`` xyxy pixels; ``conf`` float64 ``(N,)``; ``cls``
    int64 ``(N,)`` (``-1`` if absent); ``visibility`` float64 ``(N,)`` (``-1`` if absent);
    ``world`` float64 ``(N, 3)`` (``-1`` if absent); ``columns``: the column count of the file
    read (``0`` for records built in memory: the writer then picks one).
    """

    frame: np.ndarray
    track_id: np.ndarray
    boxes: np.ndarray
    conf: np.ndarray
    cls: np.ndarray = None  # type: ignore[assignment]
    visibility: np.ndarray = None  # type: ignore[assignment]
    world: np.ndarray = None  # type: ignore[assignment]
    columns: int = 0

    def __post_init__(self) -> None:
        n = len(self.frame)
        put = object.__setattr__
        put(self, "frame", np.asarray(self.frame, dtype=np.int64).reshape(n))
        put(self, "track_id", np.asarray(self.track_id, dtype=np.int64).reshape(n))
        put(self, "boxes", np.asarray(self.boxes, dtype=np.float64).reshape(n, 4))
        put(self, "conf", np.asarray(self.conf, dtype=np.float64).reshape(n))
        for name, dtype, shape in (
            ("cls", np.int64, (n,)),
            ("visibility", np.float64, (n,)),
            ("world", np.float64, (n, 3)),
        ):
            value = getattr(self, name)
            value = np.full(shape, -1, dtype) if value is None else np.asarray(value, dtype)
            put(self, name, value.reshape(shape))
        if self.columns not in (0, *MOT_COLUMNS):
            raise ValueError(f"columns must be 0 or one of {MOT_COLUMNS}, got {self.columns}")

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask: np.ndarray) -> MotRecords:
        """The rows where ``mask`` (bool or index array) selects, same column count."""
        return MotRecords(
            frame=self.frame[mask],
            track_id=self.track_id[mask],
            boxes=self.boxes[mask],
            conf=self.conf[mask],
            cls=self.cls[mask],
            visibility=self.visibility[mask],
            world=self.world[mask],
            columns=self.columns,
        )

    def boxes_xywh1(self) -> np.ndarray:
        """Boxes as MOTChallenge writes them: ``(N, 4)`` 1-based ``bb_left, bb_top, w, h``."""
        return convert_boxes(self.boxes, "xyxy", "xywh1")


def read_mot_file(path: str | Path) -> MotRecords:
    """Read a MOTChallenge ``gt.txt``, ``det.txt`` or results file (6 to 10 columns).

    Malformed lines (wrong or changing column count, non-numbers, frame < 1, non-positive box
    size) raise ``DataError`` naming the file and line. Blank lines are skipped; an empty file
    gives zero records.
    """
    path = Path(path)
    frame, ids, boxes, extra = [], [], [], []
    columns = 0
    for number, text in numbered_lines(path):
        fields = split_fields(text, "," if "," in text else None)
        n = len(fields)
        if n not in MOT_COLUMNS:
            raise DataError(f"expected 6 to 10 columns, found {n}", path, number)
        if columns and n != columns:
            raise DataError(f"{n} columns, but earlier lines have {columns}", path, number)
        columns = n
        f = to_int(fields[0], path, number, "frame")
        if f < 1:
            raise DataError(
                f"frame {f} out of range (MOTChallenge frames start at 1)", path, number
            )
        x, y, w, h = (
            to_float(v, path, number, k) for v, k in zip(fields[2:6], "xywh", strict=True)
        )
        if w <= 0 or h <= 0:
            raise DataError(f"box has non-positive size {w} x {h}", path, number)
        frame.append(f)
        ids.append(to_int(fields[1], path, number, "track id"))
        boxes.append((x, y, w, h))  # xywh1, converted below
        extra.append([to_float(v, path, number, "column") for v in fields[6:]])
    n = len(frame)
    conf = np.ones(n)
    cls = np.full(n, -1, np.int64)
    visibility = np.full(n, -1.0)
    world = np.full((n, 3), -1.0)
    if n:
        rest = np.asarray(extra, dtype=np.float64).reshape(n, columns - 6)  # (N, columns - 6)
        if columns >= 7:
            conf = rest[:, 0]
        if columns in (8, 9):
            if (rest[:, 1] != np.round(rest[:, 1])).any():
                bad = int(np.flatnonzero(rest[:, 1] != np.round(rest[:, 1]))[0])
                raise DataError("class is not an integer", path, line_of(path, bad))
            cls = rest[:, 1].astype(np.int64)
        if columns == 9:
            visibility = rest[:, 2]
        if columns == 10:
            world = rest[:, 1:4]
    return MotRecords(
        frame=np.asarray(frame, np.int64),
        track_id=np.asarray(ids, np.int64),
        boxes=convert_boxes(np.asarray(boxes, np.float64).reshape(n, 4), "xywh1", "xyxy"),
        conf=conf,
        cls=cls,
        visibility=visibility,
        world=world,
        columns=columns,
    )


def line_of(path: Path, row: int) -> int:
    """Line number of the ``row``-th non-blank line (only for error messages)."""
    for i, (number, _) in enumerate(numbered_lines(path)):
        if i == row:
            return number
    return 0


def _default_columns(records: MotRecords) -> int:
    if records.columns:
        return records.columns
    if (records.visibility != -1).any():
        return 9
    if (records.cls != -1).any():
        return 8
    return 10  # the results format: conf then world x, y, z = -1


def format_mot_lines(records: MotRecords, columns: int | None = None) -> str:
    """The text of a MOTChallenge file holding ``records`` (see :func:`write_mot_file`)."""
    columns = columns or _default_columns(records)
    if columns not in MOT_COLUMNS:
        raise ValueError(f"columns must be one of {MOT_COLUMNS}, got {columns}")
    box = records.boxes_xywh1()  # (N, 4)
    if len(records) and not ((box[:, 2] > 0) & (box[:, 3] > 0)).all():
        raise ValueError("cannot write boxes with non-positive size")
    lines = []
    for i in range(len(records)):
        fields = [str(int(records.frame[i])), str(int(records.track_id[i]))]
        fields += [format_number(v) for v in box[i]]
        if columns >= 7:
            fields.append(format_number(records.conf[i]))
        if columns in (8, 9):
            fields.append(str(int(records.cls[i])))
        if columns == 9:
            fields.append(format_number(records.visibility[i], keep_point=True))
        if columns == 10:
            fields += [format_number(v) for v in records.world[i]]
        lines.append(",".join(fields) + "\n")
    return "".join(lines)


def write_mot_file(path: str | Path, records: MotRecords, *, columns: int | None = None) -> None:
    """Write ``records`` as a MOTChallenge file, atomically (temp file + rename).

    ``columns`` defaults to the column count the records were read with; records built in
    memory get 9 columns when they have a visibility, 8 with a class only, else the 10-column
    results format (``conf, -1, -1, -1``). Rows keep their order.
    """
    atomic_write_text(path, format_mot_lines(records, columns))


_SEQINFO_INTS = ("frameRate", "seqLength", "imWidth", "imHeight")


def read_seqinfo(path: str | Path) -> dict:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini`` (or of the one inside the
    folder ``path``): keys as written (``name, imDir, frameRate, seqLength, imWidth, imHeight,
    imExt``), the four numeric ones as ``int``."""
    path = Path(path)
    if path.is_dir():
        path = path / "seqinfo.ini"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep 'imWidth'
    try:
        parser.read_string(read_text(path), source=str(path))
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        raise DataError(f"malformed ini file ({type(exc).__name__})", path, line) from None
    if not parser.has_section("Sequence"):
        raise DataError("no [Sequence] section", path)
    info: dict = dict(parser.items("Sequence"))
    for key in _SEQINFO_INTS:
        if key in info:
            try:
                info[key] = int(info[key])
            except ValueError:
                raise DataError(f"{key} is not an integer: {info[key]!r}", path) from None
            if info[key] <= 0:
                raise DataError(f"{key} must be positive, got {info[key]}", path)
    return info


def write_seqinfo(path: str | Path, info: dict) -> None:
    """Write a ``seqinfo.ini`` with a ``[Sequence]`` section holding ``info``, atomically."""
    lines = ["[Sequence]"] + [f"{k}={v}" for k, v in info.items()]
    atomic_write_text(path, "\n".join(lines) + "\n")


def single_track(
    frame: np.ndarray,
    track_id: np.ndarray,
    boxes: np.ndarray,
    num_frames: int,
    first: int,
    chosen: int | None,
    source: object,
) -> np.ndarray | None:
    """One track's boxes ``(num_frames, 4)`` (NaN where absent); ``None`` when ``chosen`` is
    None and the records hold more than one track."""
    ids = np.unique(track_id)
    if chosen is None:
        if len(ids) != 1:
            return None
        chosen = int(ids[0])
    keep = track_id == chosen
    if not keep.any():
        raise DataError(f"no track {chosen}", source)
    gt = np.full((num_frames, 4), np.nan)
    index = frame[keep] - first
    inside = (index >= 0) & (index < num_frames)
    gt[index[inside]] = boxes[keep][inside]
    return gt


def open_mot(path: str | Path, *, track_id: int | None = None) -> ImageSequence:
    """A MOTChallenge sequence folder. Frame ``t`` is image ``t + 1`` of ``imDir`` (frames
    beyond the images present, as in MOT17-mini, are not part of the sequence). Attributes
    ``info`` (seqinfo), ``gt_records`` and ``det_records`` (:class:`MotRecords` or ``None``)."""

    path = Path(path)
    info = read_seqinfo(path) if (path / "seqinfo.ini").is_file() else {}
    folder = path / str(info.get("imDir", "img1"))
    images = list_images(folder)
    ext = info.get("imExt")
    if ext:
        images = [p for p in images if p.suffix.lower() == str(ext).lower()]
    numbers = []
    for p in images:
        if not p.stem.isdigit():
            raise DataError("MOTChallenge image names must be frame numbers", p)
        numbers.append(int(p.stem))
    if numbers != list(range(1, len(numbers) + 1)):
        raise DataError("images must be numbered 1, 2, ... without gaps", folder)
    gt_path, det_path = path / "gt" / "gt.txt", path / "det" / "det.txt"
    gt_records = read_mot_file(gt_path) if gt_path.is_file() else None
    det_records = read_mot_file(det_path) if det_path.is_file() else None
    gt = None
    if gt_records is not None and len(gt_records):
        gt = single_track(
            gt_records.frame,
            gt_records.track_id,
            gt_records.boxes,
            len(images),
            1,
            track_id,
            gt_path,
        )
    seq = ImageSequence(
        name=str(info.get("name", path.name)), path=path, paths=images, gt=gt, format="mot"
    )
    seq.info, seq.gt_records, seq.det_records = info, gt_records, det_records
    return seq
