"""TLP sequence folders: ``img/`` and ``groundtruth_rect.txt`` rows ``frame,x,y,w,h,lost``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ratrack.boxes import convert_boxes
from ratrack.data._text import numbered_lines, split_fields, to_float, to_int
from ratrack.data.images import list_images
from ratrack.data.otb import check_box_size, gt_files
from ratrack.data.sequence import ImageSequence
from ratrack.errors import DataError


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
        if not lost:
            check_box_size(w, h, path, number)
        entries.append((frame, number, (math.nan,) * 4 if lost else (x, y, w, h)))
    T = num_frames if num_frames is not None else max((f for f, _, _ in entries), default=0)
    gt = np.full((T, 4), np.nan)
    seen: dict[int, int] = {}
    for frame, number, box in entries:
        if frame in seen:
            raise DataError(f"frame {frame} already has a box (line {seen[frame]})", path, number)
        seen[frame] = number
        gt[frame - 1] = box
    return convert_boxes(gt, "xywh1", "xyxy")  # NaN rows stay NaN


def is_tlp(path: Path) -> bool:
    """Whether the ground-truth file ``path`` holds TLP rows (``frame,x,y,w,h,lost``)."""
    for _, text in numbered_lines(path):
        return len(split_fields(text)) == 6
    return False


def open_tlp(path: str | Path) -> ImageSequence:
    """A TLP folder (``img/`` + ``groundtruth_rect.txt`` of ``frame,x,y,w,h,lost`` rows)."""
    path = Path(path)
    images = list_images(path / "img")
    files = gt_files(path)
    if not files:
        raise DataError("no groundtruth_rect.txt in TLP folder", path)
    gt = read_tlp_groundtruth(files[0], num_frames=len(images))
    return ImageSequence(name=path.name, path=path, paths=images, gt=gt, format="tlp")
