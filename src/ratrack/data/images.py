"""Image files: listing in natural order, reading as RGB, sizes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ratrack.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")


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
    """``(H, W)`` of an image file, read from its header (the file is decoded only when
    Pillow cannot read the header)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
        return int(height), int(width)
    except (OSError, UnidentifiedImageError, ValueError):
        return read_image(path).shape[:2]


def import_cv2():
    """OpenCV, imported on first use (it is slow to import)."""
    import cv2

    return cv2


# --- ground-truth files ---------------------------------------------------------------------
