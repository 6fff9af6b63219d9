"""KITTI raw drives, read through pykitti."""

from __future__ import annotations

import logging
from pathlib import Path

from ratrack.errors import DataError

log = logging.getLogger(__name__)


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
