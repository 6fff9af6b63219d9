"""KITTI tracking (labels, images, calibration, HART's track windows) and KITTI raw drives.

Tracking layout (``<root>`` holds ``training/``, or is that folder)::

    training/image_02/SSSS/NNNNNN.png    frames of sequence SSSS (the size varies by sequence)
    training/label_02/SSSS.txt           one object per line, 17 columns (results files: 18)
    training/calib/SSSS.txt              P0..P3, R_rect, Tr_velo_cam, Tr_imu_velo

Label columns: ``frame track_id type truncated occluded alpha left top right bottom h w l x y z
rotation_y [score]``. ``left top right bottom`` are KITTI's 0-based pixel box, read as ratrack's
``xyxy`` unchanged. ``DontCare`` rows (track_id -1) mark regions where objects are not labelled:
they are ignore regions, never objects.

pykitti, where it fits and where it does not:

* KITTI raw drives are read through ``pykitti.raw`` (its file lists and image loading), in a
  subclass that tolerates absent calibration, timestamps and OXTS files (``calib`` is then
  ``None``) and also reads a date folder holding ``image_02/data`` directly (drive unknown).
* ``pykitti.tracking`` (0.3.1) is not used: its constructor prints, ``len()`` reads timestamps it
  never loads, ``frames=`` refers to file lists it does not build, and its calibration loader is
  disabled and points at a path the benchmark does not have. Tracking file lists are globbed here.
* Tracking calibration is parsed here (line-numbered errors, and the colon-less ``R_rect ...``
  variant of the tracking devkit); its values match ``pykitti.utils.read_calib_file`` on the
  colon form (tested).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch.utils.data

from ratrack.datasets._text import atomic_write_text, numbered_lines, to_float, to_int
from ratrack.errors import DataError

log = logging.getLogger(__name__)

KITTI_CLASSES = (
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
MISSING_IMAGES = ("error", "keep", "drop")


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


def format_kitti_lines(labels: KittiLabels, *, with_score: bool | None = None) -> str:
    """The text of a KITTI label file (``with_score``: 18 columns; default when every row has a
    finite score). Integers and integral truncation print as integers, other numbers with 6
    decimals, as the KITTI devkit writes them."""
    if with_score is None:
        with_score = labels.has_score
    if with_score and len(labels) and not np.isfinite(labels.score).all():
        raise ValueError("with_score needs a finite score on every row")
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


class KittiTracking:
    """A KITTI tracking split folder: sequences, frame sizes, image paths, labels, calibration.

    ``root`` holds ``training/`` (or ``testing/``, by ``split``) or is that folder.
    ``missing_images`` says what a label row whose frame has no image does: ``"error"``
    (``DataError`` naming the label line), ``"keep"`` (rows kept; reading that frame fails), or
    ``"drop"`` (rows dropped). The real data beside the repo has 3 images per sequence, so it
    needs ``keep`` or ``drop``.
    """

    def __init__(
        self, root: str | Path, *, split: str = "training", missing_images: str = "error"
    ) -> None:
        if missing_images not in MISSING_IMAGES:
            raise ValueError(
                f"missing_images must be one of {MISSING_IMAGES}, got {missing_images!r}"
            )
        root = Path(root)
        if (root / split).is_dir():
            root = root / split
        if not root.is_dir():
            raise DataError("KITTI tracking folder not found", root)
        if not (root / "label_02").is_dir() and not (root / "image_02").is_dir():
            raise DataError("not a KITTI tracking folder (no label_02/ or image_02/)", root)
        self.root = root
        self.missing_images = missing_images
        names = set()
        if (root / "label_02").is_dir():
            names |= {p.stem for p in (root / "label_02").glob("*.txt")}
        if (root / "image_02").is_dir():
            names |= {p.name for p in (root / "image_02").iterdir() if p.is_dir()}
        self.sequences: list[str] = sorted(names)
        self._seqmap = self._read_seqmaps()
        self._labels: dict[str, KittiLabels] = {}

    def _read_seqmaps(self) -> dict[str, int]:
        """Sequence lengths from the devkit's ``evaluate_tracking.seqmap*`` files."""
        lengths: dict[str, int] = {}
        for path in sorted(self.root.glob("evaluate_tracking.seqmap*")):
            for number, text in numbered_lines(path):
                fields = text.split()
                if len(fields) != 4:
                    raise DataError(f"expected 4 seqmap fields, found {len(fields)}", path, number)
                # the devkit's seqmap rows are "SSSS empty first_frame num_frames"
                count = to_int(fields[3], path, number, "frame count")
                if count < 1:
                    raise DataError(f"frame count must be positive, got {count}", path, number)
                lengths[fields[0]] = max(lengths.get(fields[0], 0), count)
        return lengths

    def _check(self, sequence: str) -> str:
        if sequence not in self.sequences:
            raise DataError(f"no sequence {sequence!r}", self.root)
        return sequence

    def label_path(self, sequence: str) -> Path:
        return self.root / "label_02" / f"{self._check(sequence)}.txt"

    def calib_path(self, sequence: str) -> Path:
        return self.root / "calib" / f"{self._check(sequence)}.txt"

    def image_dir(self, sequence: str) -> Path:
        return self.root / "image_02" / self._check(sequence)

    def _present(self, sequence: str) -> dict[int, Path]:
        folder = self.image_dir(sequence)
        if not folder.is_dir():
            return {}
        out = {}
        for p in folder.glob("*.png"):
            if p.stem.isdigit():
                out[int(p.stem)] = p
        return out

    def _all_labels(self, sequence: str) -> KittiLabels:
        if sequence not in self._labels:
            path = self.label_path(sequence)
            if not path.is_file():
                raise DataError("label file not found", path)
            self._labels[sequence] = read_kitti_labels(path)
        return self._labels[sequence]

    def has_labels(self, sequence: str) -> bool:
        return self.label_path(sequence).is_file()

    def num_frames(self, sequence: str) -> int:
        """Frames of the sequence: the seqmap's count when listed, else the largest of the last
        image and the last labelled frame, plus one."""
        present = self._present(sequence)
        last_image = max(present, default=-1)
        labels = self._all_labels(sequence) if self.has_labels(sequence) else empty_labels()
        last_label = int(labels.frame.max()) if len(labels) else -1
        if sequence in self._seqmap:
            n = self._seqmap[sequence]
            if last_label >= n:
                row = int(np.flatnonzero(labels.frame >= n)[0])
                raise DataError(
                    f"frame {labels.frame[row]} out of range: the seqmap gives {n} frames",
                    self.label_path(sequence),
                    int(labels.line[row]),
                )
            return max(n, last_image + 1)
        return max(last_image, last_label) + 1

    def image_paths(self, sequence: str) -> list[Path | None]:
        """Image path of every frame, ``None`` where the image is absent."""
        present = self._present(sequence)
        return [present.get(t) for t in range(self.num_frames(sequence))]

    def present_frames(self, sequence: str) -> np.ndarray:
        """Frame numbers whose image exists, sorted."""
        return np.array(sorted(self._present(sequence)), dtype=np.int64)

    def frame_size(self, sequence: str) -> tuple[int, int]:
        """``(H, W)`` of the sequence's frames (from its first image present)."""
        from ratrack.datasets.sequences import image_size

        present = self._present(sequence)
        if not present:
            raise DataError("no images for this sequence", self.image_dir(sequence))
        return image_size(present[min(present)])

    def read_frame(self, sequence: str, frame: int) -> np.ndarray:
        """Frame ``frame`` as ``(H, W, 3)`` uint8 RGB."""
        from ratrack.datasets.sequences import read_image

        n = self.num_frames(sequence)
        if not 0 <= frame < n:
            raise DataError(f"frame {frame} out of range [0, {n})", self.image_dir(sequence))
        return read_image(self.image_dir(sequence) / f"{frame:06d}.png")

    def labels(
        self,
        sequence: str,
        *,
        classes: SequenceABC[str] | None = None,
        max_truncation: float | None = None,
        max_occlusion: int | None = None,
        include_dontcare: bool = False,
    ) -> KittiLabels:
        """The sequence's labels, filtered: ``classes`` (types kept; ``None``: all),
        truncation and occlusion at most the given levels; DontCare rows only when asked
        (they are ignore regions, see :meth:`ignore_regions`). Rows of frames without images
        follow ``missing_images``."""
        labels = self._all_labels(sequence)
        labels = self._apply_missing(sequence, labels)
        dont = labels.is_dontcare
        keep = ~dont
        if classes is not None:
            keep &= np.isin(labels.type, list(classes))
        if max_truncation is not None:
            keep &= labels.truncated <= max_truncation
        if max_occlusion is not None:
            keep &= labels.occluded <= max_occlusion
        if include_dontcare:
            keep |= dont
        return labels.select(keep)

    def _apply_missing(self, sequence: str, labels: KittiLabels) -> KittiLabels:
        if self.missing_images == "keep" or not len(labels):
            return labels
        present = self.present_frames(sequence)
        has_image = np.isin(labels.frame, present)
        if self.missing_images == "drop":
            return labels.select(has_image)
        if not has_image.all():
            row = int(np.flatnonzero(~has_image)[0])
            raise DataError(
                f"frame {labels.frame[row]} has no image in {self.image_dir(sequence)} "
                "(open with missing_images='keep' or 'drop' to allow it)",
                self.label_path(sequence),
                int(labels.line[row]),
            )
        return labels

    def ignore_regions(self, sequence: str) -> dict[int, np.ndarray]:
        """DontCare boxes per frame: ``{frame: (K, 4) xyxy}`` (frames without any are absent)."""
        labels = self._apply_missing(sequence, self._all_labels(sequence))
        dont = labels.select(labels.is_dontcare)
        return {int(f): dont.boxes[dont.frame == f] for f in np.unique(dont.frame)}

    def calib(self, sequence: str) -> KittiCalib:
        return read_kitti_calib(self.calib_path(sequence))

    def sequence(self, sequence: str, *, track_id: int | None = None):
        """The sequence as a :class:`ratrack.datasets.sequences.Sequence` (see
        :func:`ratrack.datasets.sequences.open_kitti_sequence`)."""
        from ratrack.datasets.sequences import open_kitti_sequence

        return open_kitti_sequence(self.image_dir(sequence), track_id=track_id)


# --- HART's training sampler ----------------------------------------------------------------


@dataclass(frozen=True)
class KittiWindowConfig:
    """Track windows for training, HART's protocol by default (Kosiorek et al., 2017)."""

    length: int = 10  # frames per window (a choice; the tracker's curriculum picks its own)
    stride: int = 1  # frames between the starts of consecutive windows of one track
    max_truncation: float = 1.0  # HART: truncation <= 1 (0 visible, 1 partly, 2 largely cut)
    max_occlusion: int = 1  # HART: occlusion <= 1 (0 visible, 1 partly, 2 largely, 3 unknown)
    train_fraction: float = 0.8  # HART: first 80% of each sequence trains, the rest tests
    classes: tuple[str, ...] | None = None  # None: class-agnostic, every object type
    resize: tuple[int, int] | None = None  # (H, W) frames are resized to; boxes follow
    require_images: bool = True  # keep only windows whose every frame has an image

    def __post_init__(self) -> None:
        if self.length < 1 or self.stride < 1:
            raise ValueError(f"length and stride must be >= 1: {self}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if self.resize is not None and min(self.resize) < 1:
            raise ValueError(f"resize must be positive (H, W), got {self.resize}")


class TrackWindow(NamedTuple):
    """One training window: ``frames`` int64 ``(T,)``, ``boxes`` float64 ``(T, 4)`` xyxy in the
    original frame's pixels."""

    sequence: str
    track_id: int
    type: str
    frames: np.ndarray
    boxes: np.ndarray


class KittiWindowSample(NamedTuple):
    """``frames`` float32 ``(T, 3, H, W)`` in [0, 1], ``boxes`` float32 ``(T, 4)`` xyxy (in the
    resized frame when resizing), ``label`` int64: index of the type in ``config.classes``
    (``-1`` when class-agnostic)."""

    frames: np.ndarray
    boxes: np.ndarray
    label: int


def split_range(num_frames: int, split: str, train_fraction: float) -> tuple[int, int]:
    """Frames ``[lo, hi)`` of ``split`` ("train": first ``train_fraction``, "test": the rest)."""
    cut = math.floor(num_frames * train_fraction)
    if split == "train":
        return 0, cut
    if split == "test":
        return cut, num_frames
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def track_windows(
    dataset: KittiTracking,
    config: KittiWindowConfig,
    *,
    split: str = "train",
    sequences: SequenceABC[str] | None = None,
) -> list[TrackWindow]:
    """Every window of ``config.length`` consecutive frames in which one track is labelled and
    passes the filters, inside the ``split`` part of each sequence. Runs of a track are cut at
    gaps (frames where it is absent or filtered out); a window never spans a gap."""
    out: list[TrackWindow] = []
    for seq in sequences if sequences is not None else dataset.sequences:
        if not dataset.has_labels(seq):
            continue
        lo, hi = split_range(dataset.num_frames(seq), split, config.train_fraction)
        labels = dataset.labels(
            seq,
            classes=config.classes,
            max_truncation=config.max_truncation,
            max_occlusion=config.max_occlusion,
        )
        inside = (labels.frame >= lo) & (labels.frame < hi)
        if config.require_images:
            inside &= np.isin(labels.frame, dataset.present_frames(seq))
        labels = labels.select(inside)
        for tid in np.unique(labels.track_id):
            rows = np.flatnonzero(labels.track_id == tid)
            rows = rows[np.argsort(labels.frame[rows], kind="stable")]
            frames = labels.frame[rows]
            breaks = np.flatnonzero(np.diff(frames) != 1) + 1
            for run in np.split(np.arange(len(rows)), breaks):
                for s in range(0, len(run) - config.length + 1, config.stride):
                    r = rows[run[s : s + config.length]]
                    out.append(
                        TrackWindow(
                            seq, int(tid), str(labels.type[r[0]]), labels.frame[r], labels.boxes[r]
                        )
                    )
    return out


class KittiTrackWindows(torch.utils.data.Dataset):
    """HART-protocol windows of KITTI object tracks as a torch ``Dataset`` of
    :class:`KittiWindowSample` (frames read lazily per item)."""

    def __init__(
        self,
        dataset: KittiTracking,
        config: KittiWindowConfig,
        *,
        split: str = "train",
        sequences: SequenceABC[str] | None = None,
    ) -> None:
        self.dataset, self.config, self.split = dataset, config, split
        self.windows = track_windows(dataset, config, split=split, sequences=sequences)
        log.info("KITTI %s windows: %d", split, len(self.windows))

    def __len__(self) -> int:
        return len(self.windows)

    def by_class(self) -> dict[str, np.ndarray]:
        """Window indices per object type (for per-class sampling)."""
        types = np.array([w.type for w in self.windows], dtype=str)
        return {str(t): np.flatnonzero(types == t) for t in np.unique(types)}

    def __getitem__(self, i: int) -> KittiWindowSample:
        import cv2

        w = self.windows[i]
        images = [self.dataset.read_frame(w.sequence, int(f)) for f in w.frames]
        boxes = w.boxes.copy()
        if self.config.resize is not None:
            H, W = images[0].shape[:2]
            h, wd = self.config.resize
            images = [cv2.resize(im, (wd, h), interpolation=cv2.INTER_AREA) for im in images]
            boxes *= np.array([wd / W, h / H, wd / W, h / H])
        frames = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # (T,3,H,W)
        classes = self.config.classes
        label = classes.index(w.type) if classes is not None else -1
        return KittiWindowSample(frames, boxes.astype(np.float32), label)


# --- KITTI raw ------------------------------------------------------------------------------


def _raw_class():
    import pykitti

    class KittiRawDrive(pykitti.raw):
        """``pykitti.raw`` that works without calibration, timestamps or OXTS files, and on a
        date folder holding ``image_02/data`` itself (``drive=None``)."""

        def __init__(self, base_path, date, drive=None, **kwargs):
            self._flat = drive is None
            super().__init__(str(base_path), date, drive or "", **kwargs)
            if self._flat:
                self.drive = date

        def _get_file_lists(self):
            if self._flat:
                self.data_path = self.calib_path  # <base>/<date>
            super()._get_file_lists()

        def _load_calib(self):
            try:
                super()._load_calib()
            except (FileNotFoundError, KeyError):
                self.calib = None

        def _load_timestamps(self):
            try:
                super()._load_timestamps()
            except FileNotFoundError:
                self.timestamps = []

        def __len__(self):
            return len(self.timestamps) or len(self.cam2_files)

    return KittiRawDrive


def find_kitti_raw_drives(root: str | Path) -> list[tuple[Path, str, str | None]]:
    """``(base, date, drive)`` of every KITTI raw drive under ``root`` (the base folder holding
    date folders, or a date folder); ``drive`` is ``None`` for a date folder holding
    ``image_02/data`` directly."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("KITTI raw folder not found", root)
    dates = (
        [root]
        if looks_like_date(root.name)
        else sorted(p for p in root.iterdir() if p.is_dir() and looks_like_date(p.name))
    )
    out: list[tuple[Path, str, str | None]] = []
    for d in dates:
        for drive in sorted(d.glob(f"{d.name}_drive_*_sync")):
            number = drive.name[len(d.name) + len("_drive_") : -len("_sync")]
            out.append((d.parent, d.name, number))
        if (d / "image_02" / "data").is_dir():
            out.append((d.parent, d.name, None))
    return out


def looks_like_date(name: str) -> bool:
    """Whether ``name`` is a KITTI raw date folder's name (``YYYY_MM_DD``)."""
    parts = name.split("_")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4


def open_kitti_raw(base: str | Path, date: str, drive: str | None = None, **kwargs):
    """A KITTI raw drive through ``pykitti.raw`` (``cam2_files``, ``get_cam2(i)``, ``calib`` or
    ``None`` without calibration files). ``drive`` ``None``: ``<base>/<date>/image_02/data``."""
    folder = Path(base) / date
    if not folder.is_dir():
        raise DataError("KITTI raw date folder not found", folder)
    drive_obj = _raw_class()(base, date, drive, **kwargs)
    if not drive_obj.cam2_files:
        raise DataError("no image_02/data/*.png frames in drive", drive_obj.data_path)
    return drive_obj
