"""Video files decoded lazily through OpenCV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ratrack.data.images import import_cv2
from ratrack.data.sequence import Sequence, check_frame_size
from ratrack.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv")


class VideoSequence(Sequence):
    """A video file decoded lazily through OpenCV; ``frames()`` holds one frame at a time."""

    def __init__(self, *, path: str | Path, gt: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.name, self.format = self.path.stem, "video"
        if not self.path.is_file():
            raise DataError("video file not found", self.path)
        cap = self._open()
        try:
            count = int(cap.get(import_cv2().CAP_PROP_FRAME_COUNT))
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
        cap = import_cv2().VideoCapture(str(self.path))
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
        cv2 = import_cv2()
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
        """Every frame in order, one at a time; a frame whose size differs from the first raises
        ``DataError`` naming it."""
        cv2 = import_cv2()
        cap = self._open()
        size = None
        try:
            for t in range(self._count):
                ok, image = cap.read()
                if not ok:
                    raise DataError(
                        f"video ended at frame {t}, its header promises {self._count}", self.path
                    )
                size = size or image.shape[:2]
                check_frame_size(image, size, f"{self.path} (frame {t})")
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()
