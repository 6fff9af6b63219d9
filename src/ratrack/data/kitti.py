"""KITTI tracking sequences: the benchmark's folder layout, frames and labels per sequence.

Tracking layout (``<root>`` holds ``training/``, or is that folder)::

    training/image_02/SSSS/NNNNNN.png    frames of sequence SSSS (the size varies by sequence)
    training/label_02/SSSS.txt           one object per line, 17 columns (results files: 18)
    training/calib/SSSS.txt              P0..P3, R_rect, Tr_velo_cam, Tr_imu_velo

Labels and calibration files: :mod:`ratrack.data.kitti_labels`; HART's track windows for
training: :mod:`ratrack.data.kitti_windows`; KITTI raw drives: :mod:`ratrack.data.kitti_raw`.

pykitti, where it fits and where it does not:

* KITTI raw drives are read through ``pykitti.raw`` (its file lists and image loading), in a
  subclass that tolerates absent calibration, timestamps and OXTS files (``calib`` is then
  ``None``) and also reads a date folder holding ``image_02/data`` directly (drive unknown).
* ``pykitti.tracking`` (0.3.1) is not used: its constructor prints, ``len()`` reads timestamps it
  never loads, ``frames=`` refers to file lists it does not build, and its calibration loader is
  disabled and points at a path the benchmark does not have. Tracking file lists are globbed here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence as SequenceABC
from pathlib import Path

import numpy as np

from ratrack.data._text import numbered_lines, to_int
from ratrack.data.images import image_size, read_image
from ratrack.data.kitti_labels import (
    KittiCalib,
    KittiLabels,
    empty_labels,
    read_kitti_calib,
    read_kitti_labels,
)
from ratrack.data.mot import single_track
from ratrack.data.sequence import ImageSequence
from ratrack.errors import DataError

log = logging.getLogger(__name__)

MISSING_IMAGES = ("error", "keep", "drop")


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

        present = self._present(sequence)
        if not present:
            raise DataError("no images for this sequence", self.image_dir(sequence))
        return image_size(present[min(present)])

    def read_frame(self, sequence: str, frame: int) -> np.ndarray:
        """Frame ``frame`` as ``(H, W, 3)`` uint8 RGB."""

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
        """The sequence as a :class:`ratrack.data.sequence.Sequence` (see
        :func:`ratrack.data.kitti.open_kitti_sequence`)."""

        return open_kitti_sequence(self.image_dir(sequence), track_id=track_id)


# --- HART's training sampler ----------------------------------------------------------------


def open_kitti_sequence(path: str | Path, *, track_id: int | None = None) -> ImageSequence:
    """A KITTI tracking sequence ``<root>/training/image_02/SSSS`` (labels read from
    ``label_02/SSSS.txt`` beside it). Its length covers every labelled frame; absent images are
    ``None`` paths. Attribute ``labels`` holds the :class:`KittiLabels` (DontCare included)."""

    path = Path(path)
    dataset = KittiTracking(path.parent.parent, missing_images="keep")
    seq_name = path.name
    if seq_name not in dataset.sequences:
        raise DataError(f"sequence {seq_name} not found in KITTI root", path.parent.parent)
    labels = dataset.labels(seq_name, include_dontcare=True)
    n = dataset.num_frames(seq_name)
    real = labels.track_id >= 0
    gt = single_track(
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
