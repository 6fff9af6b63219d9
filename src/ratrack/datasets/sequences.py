"""One reader interface for sequences: OTB and TLP folders, MOTChallenge and KITTI tracking
sequences, plain image folders (KITTI raw drives included) and video files.

Every reader is a :class:`Sequence`: ``len(seq)`` frames, ``seq.frame(t)`` and ``seq.frames()``
give ``(H, W, 3)`` uint8 RGB arrays, read lazily one at a time (memory stays flat however long
the sequence), and ``seq.gt`` holds one object's boxes ``(T, 4)`` float64 ``xyxy`` pixels (see
:mod:`ratrack.boxes`) with NaN rows where the object has no box, or ``None``.

Ground-truth formats:

* OTB: ``img/NNNN.jpg`` and ``groundtruth_rect*.txt``, one ``x y w h`` row per frame, 1-based
  pixels, separated by tabs, commas or spaces. A row of zeros or NaNs means "no box"; a row
  with a non-positive width or height otherwise is an error.
* TLP: ``img/`` and ``groundtruth_rect.txt`` rows ``frame,x,y,w,h,lost`` (1-based frame and
  pixels, as OTB); ``lost = 1`` rows become NaN.
* MOTChallenge: ``img1/``, ``gt/gt.txt``, ``det/det.txt``, ``seqinfo.ini`` (see
  :mod:`ratrack.datasets.mot`); ``gt`` is the track picked by ``track_id`` (or the only one).
* KITTI tracking: ``image_02/SSSS/`` beside ``label_02/SSSS.txt`` (see
  :mod:`ratrack.datasets.kitti`); frames whose image is absent raise ``DataError`` when read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ratrack.datasets._text import numbered_lines, split_fields, to_float, to_int
from ratrack.errors import DataError

if TYPE_CHECKING:
    from ratrack.datasets.kitti import KittiLabels
    from ratrack.datasets.mot import MotRecords

SEQUENCE_FORMATS = ("auto", "otb", "tlp", "images", "video", "mot", "kitti")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")


class FrameIndexError(DataError, IndexError):
    """A frame index outside ``[0, len(sequence))``."""


def natural_key(path: Path) -> tuple:
    """Sort key that orders ``img2.png`` before ``img10.png``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name))


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, in natural order; a missing folder raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("image folder not found", folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files, key=natural_key)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (grey images are repeated to 3 channels)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError("unreadable image (not a supported image file, or corrupt)", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image file (decodes the file)."""
    return read_image(path).shape[:2]


class Sequence:
    """A sequence of frames, read lazily, with optional single-object ground truth.

    Attributes: ``name``, ``path`` (the folder or file read), ``format`` (one of
    :data:`SEQUENCE_FORMATS` except ``auto``), ``gt`` (``(T, 4)`` float64 xyxy, NaN rows where
    there is no box, or ``None``).
    """

    name: str
    path: Path
    format: str
    gt: np.ndarray | None

    def __len__(self) -> int:
        raise NotImplementedError

    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the first frame."""
        raise NotImplementedError

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (0-based) as ``(H, W, 3)`` uint8 RGB."""
        raise NotImplementedError

    def frames(self) -> Iterator[np.ndarray]:
        """All frames in order, one at a time."""
        for t in range(len(self)):
            yield self.frame(t)

    def _check_index(self, t: int) -> int:
        n = len(self)
        t = int(t)
        if not 0 <= t < n:
            raise FrameIndexError(f"frame index {t} out of range [0, {n})", self.path)
        return t

    def __repr__(self) -> str:
        has_gt = "gt" if self.gt is not None else "no gt"
        return f"<{type(self).__name__} {self.format} {self.name!r}: {len(self)} frames, {has_gt}>"


class ImageSequence(Sequence):
    """Frames stored as image files; ``paths[t]`` is ``None`` for a frame whose image is absent
    (reading it raises ``DataError``)."""

    def __init__(
        self,
        *,
        name: str,
        path: str | Path,
        paths: Iterable[Path | None],
        gt: np.ndarray | None = None,
        format: str = "images",
    ) -> None:
        self.name, self.path, self.format = name, Path(path), format
        self.paths: list[Path | None] = list(paths)
        # format-specific extras: MOTChallenge seqinfo and records, KITTI labels
        self.info: dict = {}
        self.gt_records: MotRecords | None = None
        self.det_records: MotRecords | None = None
        self.labels: KittiLabels | None = None
        if gt is not None:
            gt = np.asarray(gt, dtype=np.float64)
            if gt.shape != (len(self.paths), 4):
                raise ValueError(f"gt must be ({len(self.paths)}, 4), got {gt.shape}")
        self.gt = gt

    def __len__(self) -> int:
        return len(self.paths)

    def present(self) -> np.ndarray:
        """Indices of the frames whose image file exists."""
        return np.array([t for t, p in enumerate(self.paths) if p is not None], dtype=np.int64)

    def frame_size(self) -> tuple[int, int]:
        present = self.present()
        if len(present) == 0:
            raise DataError("sequence has no frame images", self.path)
        return image_size(self.paths[present[0]])

    def frame(self, t: int) -> np.ndarray:
        t = self._check_index(t)
        path = self.paths[t]
        if path is None:
            raise DataError(f"image of frame {t} is absent", self.path)
        return read_image(path)


class VideoSequence(Sequence):
    """A video file decoded lazily through OpenCV; ``frames()`` holds one frame at a time."""

    def __init__(self, *, path: str | Path, gt: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.name, self.format = self.path.stem, "video"
        if not self.path.is_file():
            raise DataError("video file not found", self.path)
        cap = self._open()
        try:
            count = int(cap.get(_cv2().CAP_PROP_FRAME_COUNT))
            if count <= 0:  # containers without an index: count by grabbing (no decoding)
                count = 0
                while cap.grab():
                    count += 1
        finally:
            cap.release()
        self._count = count
        if gt is not None:
            gt = np.asarray(gt, dtype=np.float64)
            if gt.shape != (count, 4):
                raise ValueError(f"gt must be ({count}, 4), got {gt.shape}")
        self.gt = gt

    def _open(self):
        cap = _cv2().VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise DataError("cannot open video (unknown format or corrupt file)", self.path)
        return cap

    def __len__(self) -> int:
        return self._count

    def frame_size(self) -> tuple[int, int]:
        return self.frame(0).shape[:2]

    def frame(self, t: int) -> np.ndarray:
        t = self._check_index(t)
        cv2 = _cv2()
        cap = self._open()
        try:
            if t:
                cap.set(cv2.CAP_PROP_POS_FRAMES, t)
            ok, image = cap.read()
        finally:
            cap.release()
        if not ok:
            raise DataError(f"cannot decode frame {t}", self.path)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def frames(self) -> Iterator[np.ndarray]:
        cv2 = _cv2()
        cap = self._open()
        try:
            for t in range(self._count):
                ok, image = cap.read()
                if not ok:
                    raise DataError(
                        f"video ended at frame {t}, its header promises {self._count}", self.path
                    )
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


def _cv2():
    import cv2

    return cv2


# --- ground-truth files ---------------------------------------------------------------------


def _box_from_xywh1(
    x: float, y: float, w: float, h: float, path: object, line: int
) -> tuple[float, float, float, float]:
    if w <= 0 or h <= 0:
        raise DataError(f"box has non-positive size {w} x {h}", path, line)
    return (x - 1.0, y - 1.0, x - 1.0 + w, y - 1.0 + h)


def read_otb_groundtruth(path: str | Path) -> np.ndarray:
    """OTB ``groundtruth_rect.txt``: ``(T, 4)`` xyxy, one row per non-blank line.

    Separators may be tabs, commas or spaces (OTB mixes them). Rows of zeros or NaNs are frames
    without a box (NaN rows); any other non-positive width or height raises ``DataError``.
    """
    rows = []
    for number, text in numbered_lines(path):
        fields = split_fields(text)
        if len(fields) != 4:
            raise DataError(f"expected 4 values x,y,w,h, found {len(fields)}", path, number)
        values = []
        for token, what in zip(fields, "xywh", strict=True):
            try:
                values.append(float(token))
            except ValueError:
                raise DataError(f"{what} is not a number: {token!r}", path, number) from None
        if all(math.isnan(v) for v in values) or all(v == 0 for v in values):
            rows.append((math.nan,) * 4)
            continue
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"box is not finite: {text!r}", path, number)
        x, y, w, h = values
        rows.append(_box_from_xywh1(x, y, w, h, path, number))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def read_tlp_groundtruth(path: str | Path, num_frames: int | None = None) -> np.ndarray:
    """TLP ``groundtruth_rect.txt`` (``frame,x,y,w,h,lost``): ``(T, 4)`` xyxy with NaN rows for
    lost frames and frames without a row. ``T`` is ``num_frames`` or the last frame number."""
    entries = []
    for number, text in numbered_lines(path):
        fields = split_fields(text)
        if len(fields) != 6:
            raise DataError(
                f"expected 6 values frame,x,y,w,h,lost, found {len(fields)}", path, number
            )
        frame = to_int(fields[0], path, number, "frame")
        x, y, w, h = (
            to_float(v, path, number, k) for v, k in zip(fields[1:5], "xywh", strict=True)
        )
        lost = to_int(fields[5], path, number, "lost flag")
        if lost not in (0, 1):
            raise DataError(f"lost flag must be 0 or 1, got {lost}", path, number)
        if frame < 1 or (num_frames is not None and frame > num_frames):
            limit = f"1..{num_frames}" if num_frames is not None else ">= 1"
            raise DataError(f"frame {frame} out of range ({limit})", path, number)
        box = (math.nan,) * 4 if lost else _box_from_xywh1(x, y, w, h, path, number)
        entries.append((frame, number, box))
    T = num_frames if num_frames is not None else max((f for f, _, _ in entries), default=0)
    gt = np.full((T, 4), np.nan)
    seen: dict[int, int] = {}
    for frame, number, box in entries:
        if frame in seen:
            raise DataError(f"frame {frame} already has a box (line {seen[frame]})", path, number)
        seen[frame] = number
        gt[frame - 1] = box
    return gt


def _gt_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("groundtruth_rect*.txt"), key=natural_key)


def _is_tlp(path: Path) -> bool:
    for _, text in numbered_lines(path):
        return len(split_fields(text)) == 6
    return False


def open_otb(path: str | Path, *, gt_file: str | None = None) -> ImageSequence:
    """An OTB folder (``img/`` + ``groundtruth_rect*.txt``; the first such file unless
    ``gt_file`` names one). The number of boxes must equal the number of images."""
    path = Path(path)
    images = list_images(path / "img")
    gt_path = path / gt_file if gt_file else next(iter(_gt_files(path)), None)
    if gt_path is None:
        raise DataError("no groundtruth_rect*.txt in OTB folder", path)
    gt = read_otb_groundtruth(gt_path)
    if len(gt) != len(images):
        raise DataError(f"{len(gt)} boxes for {len(images)} images in img/", gt_path)
    return ImageSequence(name=path.name, path=path, paths=images, gt=gt, format="otb")


def open_tlp(path: str | Path) -> ImageSequence:
    """A TLP folder (``img/`` + ``groundtruth_rect.txt`` of ``frame,x,y,w,h,lost`` rows)."""
    path = Path(path)
    images = list_images(path / "img")
    files = _gt_files(path)
    if not files:
        raise DataError("no groundtruth_rect.txt in TLP folder", path)
    gt = read_tlp_groundtruth(files[0], num_frames=len(images))
    return ImageSequence(name=path.name, path=path, paths=images, gt=gt, format="tlp")


def open_image_folder(path: str | Path) -> ImageSequence:
    """A folder of frame images (natural order); also a KITTI raw drive or its ``image_02``,
    whose frames are in ``image_02/data/``."""
    path = Path(path)
    folder = path
    for sub in ("image_02/data", "data", "img", "img1"):
        if (path / sub).is_dir() and not list_images(path) and list_images(path / sub):
            folder = path / sub
            break
    images = list_images(folder)
    if not images:
        raise DataError("no image files in folder", folder)
    name = path.name
    return ImageSequence(name=name, path=path, paths=images, format="images")


def _single_track(
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
    from ratrack.datasets.mot import read_mot_file, read_seqinfo

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
        gt = _single_track(
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


def open_kitti_sequence(path: str | Path, *, track_id: int | None = None) -> ImageSequence:
    """A KITTI tracking sequence ``<root>/training/image_02/SSSS`` (labels read from
    ``label_02/SSSS.txt`` beside it). Its length covers every labelled frame; absent images are
    ``None`` paths. Attribute ``labels`` holds the :class:`KittiLabels` (DontCare included)."""
    from ratrack.datasets.kitti import KittiTracking

    path = Path(path)
    dataset = KittiTracking(path.parent.parent, missing_images="keep")
    seq_name = path.name
    if seq_name not in dataset.sequences:
        raise DataError(f"sequence {seq_name} not found in KITTI root", path.parent.parent)
    labels = dataset.labels(seq_name, include_dontcare=True)
    n = dataset.num_frames(seq_name)
    real = labels.track_id >= 0
    gt = _single_track(
        labels.frame[real],
        labels.track_id[real],
        labels.boxes[real],
        n,
        0,
        track_id,
        dataset.label_path(seq_name),
    )
    seq = ImageSequence(
        name=seq_name, path=path, paths=dataset.image_paths(seq_name), gt=gt, format="kitti"
    )
    seq.labels = labels
    return seq


def detect_format(path: str | Path) -> str:
    """The sequence format of ``path`` (see :data:`SEQUENCE_FORMATS`), or ``DataError``."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return "video"
        raise DataError(
            f"not a supported video file (extensions: {', '.join(VIDEO_EXTENSIONS)})", path
        )
    if not path.is_dir():
        raise DataError("no such file or folder", path)
    if (path / "seqinfo.ini").is_file() or (
        (path / "img1").is_dir() and ((path / "gt").is_dir() or (path / "det").is_dir())
    ):
        return "mot"
    if (path / "img").is_dir():
        files = _gt_files(path)
        if files:
            return "tlp" if _is_tlp(files[0]) else "otb"
        return "images"
    if (
        path.parent.name == "image_02"
        and (path.parent.parent / "label_02" / f"{path.name}.txt").is_file()
    ):
        return "kitti"
    if list_images(path) or (path / "image_02" / "data").is_dir() or (path / "data").is_dir():
        return "images"
    raise DataError("no supported sequence found (OTB, TLP, MOT, KITTI, images, video)", path)


def open_sequence(path: str | Path, fmt: str = "auto", **options) -> Sequence:
    """Open a sequence folder or video file as a :class:`Sequence`.

    ``fmt`` is one of :data:`SEQUENCE_FORMATS`; ``auto`` detects it from the folder's layout.
    ``options``: ``gt_file`` (otb), ``track_id`` (mot, kitti: which object ``gt`` follows;
    without it ``gt`` is set only when the sequence holds exactly one track).
    """
    if fmt not in SEQUENCE_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(SEQUENCE_FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path)
    if fmt == "auto":
        fmt = detect_format(path)
    openers = {
        "otb": open_otb,
        "tlp": open_tlp,
        "images": open_image_folder,
        "video": lambda p: VideoSequence(path=p),
        "mot": open_mot,
        "kitti": open_kitti_sequence,
    }
    allowed = {"otb": {"gt_file"}, "mot": {"track_id"}, "kitti": {"track_id"}}.get(fmt, set())
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"options {sorted(unknown)} do not apply to format {fmt!r}")
    return openers[fmt](path, **options)
