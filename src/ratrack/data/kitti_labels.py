"""KITTI tracking files: labels and results (17 or 18 columns) and per-sequence calibration.

Label columns: ``frame track_id type truncated occluded alpha left top right bottom h w l x y z
rotation_y [score]``. ``left top right bottom`` are KITTI's 0-based pixel box, read as ratrack's
``xyxy`` unchanged. ``DontCare`` rows (track_id -1) mark regions where objects are not labelled:
they are ignore regions, never objects.

Tracking calibration is parsed here (line-numbered errors, and the colon-less ``R_rect ...``
variant of the tracking devkit); its values match ``pykitti.utils.read_calib_file`` on the
colon form (tested).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ratrack.data._text import atomic_write_text, numbered_lines, to_float, to_int
from ratrack.errors import ConfigError, DataError

log = logging.getLogger(__name__)


KITTI_TYPES = (
    "Car",
    "Van",
    "Truck",
    "Pedestrian",
    "Person",
    "Person_sitting",
    "Cyclist",
    "Tram",
    "Misc",
)  # object types of KITTI labels (tracking writes 'Person', detection 'Person_sitting')
DONTCARE = "DontCare"


@dataclass(frozen=True)
class KittiLabels:
    """Columnar KITTI labels, one row per line.

    ``frame`` int64 ``(N,)`` (0-based); ``track_id`` int64 (``-1``: DontCare); ``type`` str
    ``(N,)``; ``truncated`` float64; ``occluded`` int64; ``alpha`` float64; ``boxes`` float64
    ``(N, 4)`` xyxy pixels; ``dimensions`` ``(N, 3)`` (h, w, l metres); ``location`` ``(N, 3)``
    (x, y, z camera coordinates); ``rotation_y`` ``(N,)``; ``score`` ``(N,)`` (NaN when the file
    has 17 columns); ``line`` int64 ``(N,)``: source line numbers (0 for rows built in memory).
    """

    frame: np.ndarray
    track_id: np.ndarray
    type: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    boxes: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    score: np.ndarray = None  # type: ignore[assignment]
    line: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.frame)
        put = object.__setattr__
        spec = {
            "frame": (np.int64, (n,)),
            "track_id": (np.int64, (n,)),
            "truncated": (np.float64, (n,)),
            "occluded": (np.int64, (n,)),
            "alpha": (np.float64, (n,)),
            "boxes": (np.float64, (n, 4)),
            "dimensions": (np.float64, (n, 3)),
            "location": (np.float64, (n, 3)),
            "rotation_y": (np.float64, (n,)),
        }
        for name, (dtype, shape) in spec.items():
            put(self, name, np.asarray(getattr(self, name), dtype=dtype).reshape(shape))
        put(self, "type", np.asarray(self.type, dtype=str).reshape(n))
        score = np.full(n, np.nan) if self.score is None else self.score
        put(self, "score", np.asarray(score, dtype=np.float64).reshape(n))
        line = np.zeros(n, np.int64) if self.line is None else self.line
        put(self, "line", np.asarray(line, dtype=np.int64).reshape(n))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_score(self) -> bool:
        """Whether the rows carry scores (a results file)."""
        return bool(len(self)) and bool(np.isfinite(self.score).all())

    @property
    def is_dontcare(self) -> np.ndarray:
        """``(N,)`` bool: DontCare rows (ignore regions)."""
        return (self.type == DONTCARE) | (self.track_id < 0)

    def select(self, mask: np.ndarray) -> KittiLabels:
        """The rows selected by ``mask`` (bool or index array)."""
        return KittiLabels(**{name: getattr(self, name)[mask] for name in _FIELDS})

    @staticmethod
    def concatenate(parts: list[KittiLabels]) -> KittiLabels:
        if not parts:
            return empty_labels()
        return KittiLabels(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS}
        )


_FIELDS = (
    "frame",
    "track_id",
    "type",
    "truncated",
    "occluded",
    "alpha",
    "boxes",
    "dimensions",
    "location",
    "rotation_y",
    "score",
    "line",
)


def empty_labels() -> KittiLabels:
    z = np.zeros(0)
    return KittiLabels(z, z, np.zeros(0, str), z, z, z, z, z, z, z)


def read_kitti_labels(path: str | Path) -> KittiLabels:
    """Read a KITTI tracking label file (17 columns) or results file (18: plus score).

    Every column is parsed; a wrong or changing column count, a non-number, a frame < 0, a
    track id < -1, a non-DontCare row with track id -1, or a box with non-positive size raise
    ``DataError`` naming the file and line.
    """
    path = Path(path)
    rows: list[list[float]] = []
    types: list[str] = []
    lines: list[int] = []
    columns = 0
    for number, text in numbered_lines(path):
        fields = text.split()
        n = len(fields)
        if n not in (17, 18):
            raise DataError(f"expected 17 or 18 columns, found {n}", path, number)
        if columns and n != columns:
            raise DataError(f"{n} columns, but earlier lines have {columns}", path, number)
        columns = n
        frame = to_int(fields[0], path, number, "frame")
        if frame < 0:
            raise DataError(f"frame {frame} out of range (KITTI frames start at 0)", path, number)
        track = to_int(fields[1], path, number, "track id")
        kind = fields[2]
        if track < -1:
            raise DataError(f"track id {track} < -1", path, number)
        if (track == -1) != (kind == DONTCARE):
            raise DataError(
                f"type {kind!r} with track id {track}: only DontCare has -1", path, number
            )
        values = [to_float(v, path, number, f"column {i + 4}") for i, v in enumerate(fields[3:])]
        occluded = values[1]
        if occluded != int(occluded):
            raise DataError(f"occluded is not an integer: {fields[4]!r}", path, number)
        left, top, right, bottom = values[3:7]
        if right <= left or bottom <= top:
            raise DataError(
                f"box has non-positive size {right - left:g} x {bottom - top:g}", path, number
            )
        rows.append([frame, track, *values])
        types.append(kind)
        lines.append(number)
    if not rows:
        return empty_labels()
    a = np.asarray(rows, dtype=np.float64)  # (N, columns - 1): type column removed
    return KittiLabels(
        frame=a[:, 0].astype(np.int64),
        track_id=a[:, 1].astype(np.int64),
        type=np.asarray(types, dtype=str),
        truncated=a[:, 2],
        occluded=a[:, 3].astype(np.int64),
        alpha=a[:, 4],
        boxes=a[:, 5:9],
        dimensions=a[:, 9:12],
        location=a[:, 12:15],
        rotation_y=a[:, 15],
        score=a[:, 16] if columns == 18 else np.full(len(a), np.nan),
        line=np.asarray(lines, np.int64),
    )


def _f6(v: float) -> str:
    return f"{v:.6f}"


def check_kitti_type(name: str, field: str = "type") -> str:
    """``name`` if it can be a KITTI type column (one non-empty word: the columns are separated
    by whitespace, so anything else makes a row :func:`read_kitti_labels` rejects), else
    ``ConfigError`` naming ``field``."""
    if not name or len(name.split()) != 1 or name != name.strip():
        raise ConfigError(
            field, f"must be one word without spaces (a KITTI type such as Car), got {name!r}"
        )
    return name


def format_kitti_lines(labels: KittiLabels, *, with_score: bool | None = None) -> str:
    """The text of a KITTI label file (``with_score``: 18 columns; default when every row has a
    finite score). Integers and integral truncation print as integers, other numbers with 6
    decimals, as the KITTI devkit writes them."""
    if with_score is None:
        with_score = labels.has_score
    if with_score and len(labels) and not np.isfinite(labels.score).all():
        raise ValueError("with_score needs a finite score on every row")
    for name in np.unique(labels.type):
        check_kitti_type(str(name))
    out = []
    for i in range(len(labels)):
        tr = labels.truncated[i]
        fields = [
            str(int(labels.frame[i])),
            str(int(labels.track_id[i])),
            str(labels.type[i]),
            str(int(tr)) if tr == int(tr) else _f6(tr),
            str(int(labels.occluded[i])),
            _f6(labels.alpha[i]),
            *map(_f6, labels.boxes[i]),
            *map(_f6, labels.dimensions[i]),
            *map(_f6, labels.location[i]),
            _f6(labels.rotation_y[i]),
        ]
        if with_score:
            fields.append(_f6(labels.score[i]))
        out.append(" ".join(fields) + "\n")
    return "".join(out)


def write_kitti_labels(
    path: str | Path, labels: KittiLabels, *, with_score: bool | None = None
) -> None:
    """Write ``labels`` as a KITTI tracking label/results file, atomically (temp + rename)."""
    atomic_write_text(path, format_kitti_lines(labels, with_score=with_score))


# --- calibration ----------------------------------------------------------------------------


class KittiCalib(NamedTuple):
    """Calibration of one tracking sequence: projections ``P0..P3`` ``(3, 4)``, rectifying
    rotation ``R_rect`` ``(3, 3)``, rigid transforms ``Tr_velo_cam`` and ``Tr_imu_velo``
    ``(4, 4)``; ``raw`` holds every key of the file as a flat array."""

    P0: np.ndarray
    P1: np.ndarray
    P2: np.ndarray
    P3: np.ndarray
    R_rect: np.ndarray
    Tr_velo_cam: np.ndarray
    Tr_imu_velo: np.ndarray
    raw: dict


_CALIB_KEYS = {  # our name: (accepted names in files, shape)
    "P0": (("P0",), (3, 4)),
    "P1": (("P1",), (3, 4)),
    "P2": (("P2",), (3, 4)),
    "P3": (("P3",), (3, 4)),
    "R_rect": (("R_rect", "R0_rect"), (3, 3)),
    "Tr_velo_cam": (("Tr_velo_cam", "Tr_velo_to_cam"), (3, 4)),
    "Tr_imu_velo": (("Tr_imu_velo", "Tr_imu_to_velo"), (3, 4)),
}


def read_kitti_calib(path: str | Path) -> KittiCalib:
    """Parse a KITTI tracking ``calib/SSSS.txt`` (``key: values`` or ``key values`` lines)."""
    path = Path(path)
    raw: dict[str, np.ndarray] = {}
    where: dict[str, int] = {}
    for number, text in numbered_lines(path):
        if ":" in text:
            key, rest = text.split(":", 1)
        else:
            key, _, rest = text.partition(" ")
        key = key.strip()
        values = [to_float(v, path, number, key) for v in rest.split()]
        raw[key] = np.asarray(values, dtype=np.float64)
        where[key] = number
    out = {}
    for name, (aliases, shape) in _CALIB_KEYS.items():
        found = [k for k in aliases if k in raw]
        if not found:
            raise DataError(f"calibration has no {' or '.join(aliases)}", path)
        key = found[0]
        if raw[key].size != math.prod(shape):
            raise DataError(
                f"{key} has {raw[key].size} values, expected {math.prod(shape)}", path, where[key]
            )
        matrix = raw[key].reshape(shape)
        if shape == (3, 4) and name.startswith("Tr"):
            matrix = np.vstack([matrix, [0.0, 0.0, 0.0, 1.0]])
        out[name] = matrix
    return KittiCalib(**out, raw=raw)


# --- the tracking dataset -------------------------------------------------------------------
