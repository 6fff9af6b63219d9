"""Open any sequence: format detection and dispatch to the readers."""

from __future__ import annotations

from pathlib import Path

from ratrack.data.images import list_images
from ratrack.data.kitti import open_kitti_sequence
from ratrack.data.mot import open_mot
from ratrack.data.otb import frames_folder, gt_files, open_otb
from ratrack.data.sequence import Sequence, open_image_folder
from ratrack.data.tlp import is_tlp, open_tlp
from ratrack.data.video import VIDEO_EXTENSIONS, VideoSequence
from ratrack.errors import DataError

SEQUENCE_FORMATS = ("auto", "otb", "tlp", "images", "video", "mot", "kitti")


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
    files = gt_files(path)
    if files and (frames_folder(path) != path or list_images(path)):
        return "tlp" if is_tlp(files[0]) else "otb"
    if (path / "img").is_dir():
        return "images"
    if (
        path.parent.name == "image_02"
        and (path.parent.parent / "label_02" / f"{path.name}.txt").is_file()
    ):
        return "kitti"
    if list_images(path) or (path / "image_02" / "data").is_dir() or (path / "data").is_dir():
        return "images"
    raise DataError(
        "no supported sequence found (OTB, LaSOT, VOT, GOT-10k, TLP, MOT, KITTI, images, video)",
        path,
    )


def open_sequence(path: str | Path, fmt: str = "auto", **options) -> Sequence:
    """Open a sequence folder or video file as a :class:`Sequence`.

    ``fmt`` is one of :data:`SEQUENCE_FORMATS`; ``auto`` detects it from the folder's layout.
    ``options``: ``gt_file`` and ``need_truth`` (otb, :func:`open_otb`), ``track_id`` (mot,
    kitti: which object ``gt`` follows; without it ``gt`` is set only when the sequence holds
    exactly one track).
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
    allowed = {"otb": {"gt_file", "need_truth"}, "mot": {"track_id"}, "kitti": {"track_id"}}
    allowed = allowed.get(fmt, set())
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"options {sorted(unknown)} do not apply to format {fmt!r}")
    return openers[fmt](path, **options)
