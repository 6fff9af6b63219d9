"""One reader interface for sequences: OTB and TLP folders, MOTChallenge and KITTI tracking
sequences, plain image folders (KITTI raw drives included) and video files.

This module holds the interface and the image-file sequence; the readers are
:func:`ratrack.data.otb.open_otb`, :func:`ratrack.data.tlp.open_tlp`,
:func:`ratrack.data.mot.open_mot`, :func:`ratrack.data.kitti.open_kitti_sequence`,
:class:`ratrack.data.video.VideoSequence` and :func:`open_image_folder`;
:func:`ratrack.data.formats.open_sequence` picks one by format.

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
  :mod:`ratrack.data.mot`); ``gt`` is the track picked by ``track_id`` (or the only one).
* KITTI tracking: ``image_02/SSSS/`` beside ``label_02/SSSS.txt`` (see
  :mod:`ratrack.data.kitti`); frames whose image is absent raise ``DataError`` when read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ratrack.data.images import image_size, list_images, read_image
from ratrack.errors import DataError

if TYPE_CHECKING:
    from ratrack.data.kitti_labels import KittiLabels
    from ratrack.data.mot import MotRecords


class FrameIndexError(DataError, IndexError):
    """A frame index outside ``[0, len(sequence))``."""


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


def check_frame_size(image: np.ndarray, size: tuple[int, int], where: object) -> None:
    """``DataError`` naming ``where`` when ``image``'s ``(H, W)`` is not the sequence's ``size``."""
    if tuple(image.shape[:2]) != tuple(size):
        (h, w), (H, W) = image.shape[:2], size
        raise DataError(
            f"frame is {w}x{h}, the sequence's first frame is {W}x{H}; the frames of one "
            "sequence must have one size",
            where,
        )


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
        self._size: tuple[int, int] | None = None  # the first present frame's (H, W)

    def __len__(self) -> int:
        return len(self.paths)

    def present(self) -> np.ndarray:
        """Indices of the frames whose image file exists."""
        return np.array([t for t, p in enumerate(self.paths) if p is not None], dtype=np.int64)

    def frame_size(self) -> tuple[int, int]:
        present = self.present()
        if len(present) == 0:
            raise DataError("sequence has no frame images", self.path)
        if self._size is None:
            self._size = image_size(self.paths[present[0]])
        return self._size

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as ``(H, W, 3)`` uint8 RGB; an image whose size differs from the first
        frame's raises ``DataError`` naming it (a sequence's frames have one size)."""
        t = self._check_index(t)
        path = self.paths[t]
        if path is None:
            raise DataError(f"image of frame {t} is absent", self.path)
        image = read_image(path)
        check_frame_size(image, self.frame_size(), path)
        return image


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
