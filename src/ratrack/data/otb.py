"""OTB sequence folders: ``img/`` and ``groundtruth_rect*.txt``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ratrack.boxes import convert_boxes
from ratrack.data._text import numbered_lines, split_fields
from ratrack.data.images import list_images, natural_key
from ratrack.data.sequence import ImageSequence
from ratrack.errors import DataError


def check_box_size(w: float, h: float, path: object, line: int) -> None:
    """``DataError`` at ``path:line`` unless the box's width and height are positive."""
    if w <= 0 or h <= 0:
        raise DataError(f"box has non-positive size {w} x {h}", path, line)


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
        check_box_size(values[2], values[3], path, number)
        rows.append(values)
    return convert_boxes(np.asarray(rows, dtype=np.float64).reshape(-1, 4), "xywh1", "xyxy")


def gt_files(folder: Path) -> list[Path]:
    """The ``groundtruth_rect*.txt`` files of an OTB or TLP folder, in natural order."""
    return sorted(folder.glob("groundtruth_rect*.txt"), key=natural_key)


def open_otb(path: str | Path, *, gt_file: str | None = None) -> ImageSequence:
    """An OTB folder (``img/`` + ``groundtruth_rect*.txt``; the first such file unless
    ``gt_file`` names one). The number of boxes must equal the number of images."""
    path = Path(path)
    images = list_images(path / "img")
    gt_path = path / gt_file if gt_file else next(iter(gt_files(path)), None)
    if gt_path is None:
        raise DataError("no groundtruth_rect*.txt in OTB folder", path)
    gt = read_otb_groundtruth(gt_path)
    if len(gt) != len(images):
        raise DataError(f"{len(gt)} boxes for {len(images)} images in img/", gt_path)
    return ImageSequence(name=path.name, path=path, paths=images, gt=gt, format="otb")
