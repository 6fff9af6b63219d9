"""OTB-style single-object sequence folders: frames beside a ground-truth file of one box per
frame. OTB (``img/`` + ``groundtruth_rect*.txt``), LaSOT (``img/`` + ``groundtruth.txt``), VOT
(``color/`` or the folder itself + ``groundtruth.txt`` of rectangles or polygons) and GOT-10k (the
folder itself + ``groundtruth.txt``) all read this way."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ratrack.boxes import convert_boxes
from ratrack.data._text import numbered_lines, split_fields
from ratrack.data.images import list_images, natural_key
from ratrack.data.sequence import ImageSequence
from ratrack.errors import DataError

log = logging.getLogger(__name__)


def check_box_size(w: float, h: float, path: object, line: int) -> None:
    """``DataError`` at ``path:line`` unless the box's width and height are positive."""
    if w <= 0 or h <= 0:
        raise DataError(f"box has non-positive size {w} x {h}", path, line)


def read_otb_groundtruth(path: str | Path) -> np.ndarray:
    """A ground-truth file of one box per frame: ``(T, 4)`` xyxy, one row per non-blank line.

    Rows are ``x,y,w,h`` (OTB's 1-based pixels) or, as VOT writes a rotated box, a polygon
    ``x1,y1,...,x4,y4``, read as its bounding rectangle in the same coordinates. Separators may
    be tabs, commas or spaces (OTB mixes them). Rows of zeros or NaNs are frames without a box
    (NaN rows); any other non-positive width or height raises ``DataError``.
    """
    rows = []
    for number, text in numbered_lines(path):
        if text[0] in "mM":
            raise DataError("segmentation-mask rows (VOT 2020) are not supported", path, number)
        fields = split_fields(text)
        if len(fields) not in (4, 8):
            raise DataError(
                f"expected 4 values x,y,w,h or 8 of a polygon, found {len(fields)}", path, number
            )
        names = "xywh" if len(fields) == 4 else [f"{a}{i}" for i in range(1, 5) for a in "xy"]
        values = []
        for token, what in zip(fields, names, strict=True):
            try:
                values.append(float(token))
            except ValueError:
                raise DataError(f"{what} is not a number: {token!r}", path, number) from None
        if len(values) == 8 and not any(math.isnan(v) for v in values):
            xs, ys = values[0::2], values[1::2]
            values = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        if all(math.isnan(v) for v in values) or all(v == 0 for v in values):
            rows.append((math.nan,) * 4)
            continue
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"box is not finite: {text!r}", path, number)
        check_box_size(values[2], values[3], path, number)
        rows.append(values)
    return convert_boxes(np.asarray(rows, dtype=np.float64).reshape(-1, 4), "xywh1", "xyxy")


def gt_files(folder: Path) -> list[Path]:
    """The ground-truth files of an OTB-style or TLP folder: its ``groundtruth_rect*.txt`` in
    natural order (one per object), else its ``groundtruth.txt`` (LaSOT, VOT, GOT-10k)."""
    files = sorted(folder.glob("groundtruth_rect*.txt"), key=natural_key)
    return files or [f for f in [folder / "groundtruth.txt"] if f.is_file()]


def frames_folder(folder: Path) -> Path:
    """Where an OTB-style folder keeps its frames: ``img/`` (OTB, LaSOT, TLP), ``color/`` (VOT
    since 2020) or the folder itself (GOT-10k, earlier VOT)."""
    return next((folder / sub for sub in ("img", "color") if (folder / sub).is_dir()), folder)


# The first and last frame that OTB's own toolkit (its configSeqs.m) evaluates for the OTB-100
# sequences whose img/ holds more frames than their ground truth has rows; frames are the
# numbers in the image names.
OTB_FRAME_RANGES = {
    "blurcar1": (247, 988),
    "blurcar3": (3, 359),
    "blurcar4": (18, 397),
    "david": (300, 770),
    "diving": (1, 215),
    "football1": (1, 74),
    "freeman3": (1, 460),
    "freeman4": (1, 283),
}


def toolkit_frames(name: str, images: list[Path], rows: int) -> list[Path] | None:
    """The images of :data:`OTB_FRAME_RANGES`' range for the sequence ``name`` when its
    ground truth has exactly one row per frame of the range and every frame's image is there
    (found by the number in its name); else ``None``."""
    first, last = OTB_FRAME_RANGES.get(name.lower(), (0, -1))
    if rows != last - first + 1:
        return None
    numbered = {int(p.stem): p for p in images if p.stem.isdigit()}
    chosen = [numbered[frame] for frame in range(first, last + 1) if frame in numbered]
    return chosen if len(chosen) == rows else None


def open_otb(
    path: str | Path, *, gt_file: str | None = None, need_truth: bool = True
) -> ImageSequence:
    """An OTB-style folder (module docstring; the first ground-truth file unless ``gt_file``
    names one). The number of boxes must equal the number of images, or the folder be one of
    :data:`OTB_FRAME_RANGES` (its frames are then that range). Otherwise ``DataError``, or
    with ``need_truth=False`` (tracking needs frames, not the ground truth) a warning and the
    sequence of all the images without ground truth."""
    path = Path(path)
    images = list_images(frames_folder(path))
    gt_path = path / gt_file if gt_file else next(iter(gt_files(path)), None)
    if gt_path is None:
        raise DataError("no groundtruth_rect*.txt or groundtruth.txt in folder", path)
    gt = read_otb_groundtruth(gt_path)
    if len(gt) != len(images):
        images = toolkit_frames(path.name, images, len(gt)) or images
    if len(gt) != len(images):
        folder = frames_folder(path)
        where = f"{folder.name}/" if folder != path else "the folder"
        problem = f"{len(gt)} boxes for {len(images)} images in {where}"
        if need_truth:
            raise DataError(problem, gt_path)
        log.warning("%s: %s; the ground truth is not read", gt_path, problem)
        return ImageSequence(name=path.name, path=path, paths=images, format="otb")
    return ImageSequence(name=path.name, path=path, paths=images, gt=gt, format="otb")
