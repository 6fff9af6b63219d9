"""Where ``ratrack track`` reads frames from: videos, image folders, dataset sequences and KITTI
raw drives, one frame at a time (optionally decoded ahead in a background thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Full, Queue
from typing import NamedTuple, TypeVar

import numpy as np

from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.kitti import KittiTracking
from ratrack.data.kitti_raw import find_kitti_raw_drives, looks_like_date
from ratrack.data.sequence import Sequence
from ratrack.errors import ConfigError, DataError, RatrackError

T = TypeVar("T")


def open_source(
    path: str | Path | None = None,
    *,
    kitti_root: str | Path | None = None,
    sequence: str | None = None,
) -> Sequence:
    """The frames to track: ``path`` (video file or folder, see the module docstring) or the
    KITTI tracking ``sequence`` of ``kitti_root``. Raises ``RatrackError`` / ``DataError``."""
    if (path is None) == (kitti_root is None):
        raise ConfigError(
            "source", ": give either a video file or folder, or kitti_root with a sequence"
        )
    if kitti_root is not None:
        if sequence is None:
            raise ConfigError("kitti_root", "needs a sequence (for example 0001)")
        return KittiTracking(kitti_root, missing_images="keep").sequence(sequence)
    if sequence is not None:
        raise ConfigError("sequence", "needs a KITTI tracking root")
    if path is None:  # (checked above; narrows the type)
        raise RatrackError("give a video file or folder")
    path = Path(path)
    if path.is_dir():
        if not any(path.iterdir()):
            raise DataError("folder is empty", path)

        dates = [p for p in path.iterdir() if p.is_dir() and looks_like_date(p.name)]
        if dates and not looks_like_date(path.name):
            drives = find_kitti_raw_drives(path)
            if len(drives) != 1:
                names = ", ".join(f"{d}/{d}_drive_{n}_sync" if n else d for _, d, n in drives)
                raise DataError(f"holds {len(drives)} KITTI raw drives; pass one: {names}", path)
            base, date, drive = drives[0]
            path = base / date / f"{date}_drive_{drive}_sync" if drive else base / date
    fmt = detect_format(path)
    # a ground truth that does not fit the frames is no reason not to track them
    seq = open_sequence(path, fmt, **({"need_truth": False} if fmt == "otb" else {}))
    if len(seq) == 0 or len(present_frames(seq)) == 0:
        raise DataError("no frames to track", path)
    return seq


def present_frames(seq: Sequence) -> np.ndarray:
    """Indices of the frames that have an image (every frame of a video)."""
    paths = getattr(seq, "paths", None)
    if paths is None:
        return np.arange(len(seq), dtype=np.int64)
    return np.array([t for t, p in enumerate(paths) if p is not None], np.int64)


def source_files(seq: Sequence) -> list[Path]:
    """The files a run reads from ``seq`` (the video, every frame, and the dataset files beside
    them: ground truth, detections, ``seqinfo.ini``, KITTI labels), which no output may be."""
    path = Path(seq.path)
    files = [path, *(p for p in getattr(seq, "paths", None) or () if p is not None)]
    if path.is_dir():
        for folder in (path, path / "gt", path / "det"):
            if folder.is_dir():
                files += [p for p in folder.iterdir() if p.is_file()]
    if seq.format == "kitti":
        files.append(path.parent.parent / "label_02" / f"{path.name}.txt")
    return files


def declared_length(seq: Sequence) -> int:
    """Frames the sequence declares: ``seqLength`` of a MOTChallenge ``seqinfo.ini`` when it is
    larger than the images present, else ``len(seq)``. Rows of init and detection files past it
    are errors."""
    info = getattr(seq, "info", None) or {}
    return max(len(seq), int(info.get("seqLength", 0)))


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


class _Failed(NamedTuple):
    error: BaseException


_DONE = object()


def read_ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """``items`` produced in a background thread, at most ``depth`` ahead of the consumer, so
    that decoding the next frames overlaps tracking this one (OpenCV's decoders release the
    GIL). An error of the producer is raised here, where its item would have come; closing the
    generator stops the producer. ``depth`` 0: ``items`` as they are, in this thread."""
    if depth < 1:
        yield from items
        return
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            offer(_Failed(error))
            return
        offer(_DONE)

    thread = threading.Thread(target=produce, name="ratrack-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)


def source_fps(seq: Sequence) -> float:
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
