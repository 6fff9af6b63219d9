"""Detection and init files: MOTChallenge, KITTI and RRC rows read into one frame table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ratrack.data._text import numbered_lines, split_fields
from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.mot import read_mot_file
from ratrack.errors import DataError

log = logging.getLogger(__name__)

INIT_FILE_FORMATS = ("auto", "mot", "kitti")
DET_FORMATS = ("auto", "mot", "kitti", "rrc")
"""Detection files: MOTChallenge ``det.txt`` (1-based frames, ``conf`` as score), KITTI format
(0-based frames, the 18th column as score, the type as class) and RRC's
``frame,x1,y1,x2,y2,score`` (0-based frames, xyxy). ``auto`` reads the first line: 17 or 18
fields with a type name is KITTI, 6 fields RRC, 7 to 10 MOTChallenge."""


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


def sniff_format(path: Path, allowed: tuple[str, ...]) -> str:
    """Which of the ``allowed`` row formats ``path`` holds, from its first non-blank row:
    ``kitti`` (17 or 18 fields, a class name third), ``rrc`` (6), ``mot`` (6 to 10) or ``otb``
    (4: one box per frame). A row like none of them, or like one not allowed, raises
    ``DataError`` naming the file (and line)."""
    for number, text in numbered_lines(path):
        fields = split_fields(text)
        if len(fields) in (17, 18) and not _is_number(fields[2]):
            fmt = "kitti"
        elif len(fields) == 4 and "otb" in allowed:
            fmt = "otb"
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

    Malformed lines (wrong column count, non-numbers, negative or non-integer frames, boxes
    without positive size, scores outside [0, 1]: rescale the detector's scores) raise
    ``DataError`` naming the file and line. Rows may come in any frame order: they are sorted
    by frame (stably). A file with no rows (empty or blank) is a sequence without detections:
    an empty table. Duplicates (rows of one frame with the same box) are merged into one
    detection, the one with the highest score (logged). :func:`check_table_boxes` checks the
    boxes against the frame once its size is known.
    """
    return merge_duplicates(_read_detection_table(path, fmt), path)


def merge_duplicates(table: FrameTable, path: object = None) -> FrameTable:
    """``table`` with each set of rows that share a frame and a box (all four coordinates
    equal) reduced to its row of highest score (the first such row on a tie)."""
    n = len(table.frame)
    if n < 2:
        return table
    b = table.boxes
    order = np.lexsort(
        (table.lines, -table.scores, b[:, 3], b[:, 2], b[:, 1], b[:, 0], table.frame)
    )
    key = np.column_stack((table.frame[order], b[order]))  # (N, 5)
    first = np.ones(n, bool)
    first[1:] = (key[1:] != key[:-1]).any(1)
    if first.all():
        return table
    keep = np.sort(order[first])  # back to frame order (the table is sorted by frame)
    log.warning(
        "%s: %d duplicate detections (same frame and box) merged into the highest-scoring one",
        path,
        n - len(keep),
    )
    return FrameTable(*(column[keep] for column in table))


def _read_detection_table(path: str | Path, fmt: str) -> FrameTable:
    path = Path(path)
    if fmt not in DET_FORMATS:
        raise ValueError(f"unknown detection format {fmt!r}; expected one of {DET_FORMATS}")
    if not path.is_file():
        raise DataError("detection file not found", path)
    if fmt == "auto":
        if not any(True for _ in numbered_lines(path)):
            return _table([], np.zeros((0, 4)), [], [], [], [])  # no detections at all
        fmt = sniff_format(path, DET_FORMATS[1:])
    table = _read_detection_rows(path, fmt)
    bad = np.flatnonzero(~((table.scores >= 0) & (table.scores <= 1)))
    if len(bad):
        row = int(bad[np.argmin(table.lines[bad])])
        raise DataError(
            f"detection score {table.scores[row]:g} is outside [0, 1] (rescale the detector's "
            "scores to [0, 1])",
            path,
            int(table.lines[row]),
        )
    return table


def read_detection_folder(folder: str | Path, sequence: str, fmt: str = "auto") -> FrameTable:
    """Detections of ``sequence`` from a folder: ``CLASS/SSSS.txt`` files (RRC's layout,
    ``detections_rrc/training/{Car,Pedestrian}/0001.txt``: each file's rows get its folder's
    name as class) or ``SSSS.txt`` itself (a ``label_02``-style folder). A class folder without
    the sequence's file is skipped; no file at all raises ``DataError``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("detection folder not found", folder)
    direct = folder / f"{sequence}.txt"
    if direct.is_file():
        return read_detection_file(direct, fmt)
    parts = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = sub / f"{sequence}.txt"
        if path.is_file():
            t = read_detection_file(path, fmt)
            parts.append(t._replace(labels=np.where(t.labels == "", sub.name, t.labels)))
    if not parts:
        raise DataError(f"no detections for sequence {sequence} (CLASS/{sequence}.txt)", folder)
    return _table(*(np.concatenate([getattr(t, f) for t in parts]) for f in FrameTable._fields))


def _read_detection_rows(path: Path, fmt: str) -> FrameTable:
    if fmt == "rrc":
        frame, boxes, score = read_detections(path)
        lines = _line_numbers(path)[: len(frame)]
        return _table(frame, boxes, score, [""] * len(frame), np.full(len(frame), -1), lines)
    if fmt == "mot":
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

    return read_kitti_labels(path)


def read_init_file(path: str | Path, fmt: str = "auto") -> FrameTable:
    """Boxes with track ids from a MOTChallenge or KITTI file (module docstring). A track id
    given two boxes on one frame raises ``DataError`` naming the second line."""
    table = _read_init_table(path, fmt)
    pairs = np.column_stack((table.frame, table.ids))  # (N, 2)
    order = np.lexsort((table.lines, table.ids, table.frame))
    same = (pairs[order][1:] == pairs[order][:-1]).all(1)
    if same.any():
        k = int(np.flatnonzero(same)[0])
        first, second = order[k], order[k + 1]
        raise DataError(
            f"track id {int(table.ids[second])} already has a box on this frame "
            f"(line {int(table.lines[first])})",
            path,
            int(table.lines[second]),
        )
    return table


def _read_init_table(path: str | Path, fmt: str) -> FrameTable:
    path = Path(path)
    if fmt not in INIT_FILE_FORMATS:
        raise ValueError(f"unknown init file format {fmt!r}; expected one of {INIT_FILE_FORMATS}")
    if not path.is_file():
        raise DataError("init file not found", path)
    if fmt == "auto":
        fmt = sniff_format(path, ("mot", "kitti"))
    if fmt == "mot":
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


BOX_RULE = (
    "finite, with positive width and height, overlapping the frame and reaching at most one "
    "frame width (height) beyond its left or right (top or bottom) edge"
)
"""What every given box must be: ``--init`` boxes, init-file rows and detections."""


def first_bad_box(boxes: np.ndarray, frame_size: tuple[int, int]) -> tuple[int, str] | None:
    """``(row, reason)`` of the first of xyxy ``boxes`` ``(N, 4)`` that breaks :data:`BOX_RULE`
    in an ``(H, W)`` frame, or None when every box keeps it."""
    height, width = frame_size
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        checks = (
            (~np.isfinite(b).all(1), "box is not finite"),
            ((b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1]), "box has zero or negative size"),
            (
                (b[:, 2] <= 0) | (b[:, 3] <= 0) | (b[:, 0] >= width) | (b[:, 1] >= height),
                f"box lies outside the {width}x{height} frame",
            ),
            (
                (b[:, 0] < -width)
                | (b[:, 1] < -height)
                | (b[:, 2] > 2 * width)
                | (b[:, 3] > 2 * height),
                f"box reaches more than one frame size outside the {width}x{height} frame",
            ),
        )
    bad = np.zeros(len(b), bool)
    for mask, _ in checks:
        bad |= mask
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    return row, next(reason for mask, reason in checks if np.asarray(mask)[row])


def check_table_boxes(
    table: FrameTable, path: str | Path, frame_size: tuple[int, int], what: str = "box"
) -> None:
    """``DataError`` naming the first line of ``table`` whose box breaks :data:`BOX_RULE`."""
    order = np.argsort(table.lines, kind="stable")  # report the first line of the file
    found = first_bad_box(table.boxes[order], frame_size)
    if found is not None:
        row, reason = found
        raise DataError(reason.replace("box", what, 1), path, int(table.lines[order][row]))


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


def read_detections(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a detection file of ``frame,x1,y1,x2,y2,score`` rows (KITTI RRC detections).

    Commas or whitespace separate the columns; boxes are xyxy pixels. Returns ``(frame (N,)
    int64, boxes (N, 4) float64, score (N,) float64)``. Malformed rows raise ``DataError`` naming
    the file and line; an empty file gives empty arrays.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(f"cannot read detections ({exc.strerror})", path) from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        if len(fields) != 6:
            raise DataError(
                f"expected 6 columns (frame,x1,y1,x2,y2,score), got {len(fields)}", path, number
            )
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise DataError(f"non-numeric value in {line.strip()!r}", path, number) from None
        if not np.isfinite(values).all() or values[0] != int(values[0]) or values[0] < 0:
            raise DataError(
                f"bad frame number or non-finite value in {line.strip()!r}", path, number
            )
        if not (values[3] > values[1] and values[4] > values[2]):
            raise DataError("box must have x1 < x2 and y1 < y2", path, number)
        rows.append(values)
    data = np.asarray(rows, np.float64).reshape(-1, 6)
    return data[:, 0].astype(np.int64), data[:, 1:5].copy(), data[:, 5].copy()
