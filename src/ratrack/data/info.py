"""What a dataset folder or file holds (``ratrack data info``): format, sequences, frames present
and labelled, frame sizes, objects per class, tracks, ignore regions.

:func:`describe` reads every label file it reports on, so malformed data raises ``DataError``
here first.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.images import image_size
from ratrack.data.kitti import KittiTracking
from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.kitti_raw import find_kitti_raw_drives, open_kitti_raw
from ratrack.data.mnist import load_digits
from ratrack.data.mot import line_of, read_mot_file
from ratrack.data.video import VIDEO_EXTENSIONS
from ratrack.errors import DataError

MOT_CLASS_NAMES = {  # MOTChallenge (MOT16/17/20) ground-truth class ids
    1: "Pedestrian",
    2: "Person_on_vehicle",
    3: "Car",
    4: "Bicycle",
    5: "Motorbike",
    6: "Non_motorized_vehicle",
    7: "Static_person",
    8: "Distractor",
    9: "Occluder",
    10: "Occluder_on_ground",
    11: "Occluder_full",
    12: "Reflection",
    13: "Crowd",
    -1: "unknown",
}


def _counts(values) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(Counter(values).items())}


def _size(get) -> list[int] | None:
    try:
        return list(get())
    except DataError:
        return None


def describe_mot_records(records, seq_length: int | None = None, source=None) -> dict:
    """Counts of a MOTChallenge file: rows, frames labelled, tracks, objects per class."""

    if seq_length is not None and len(records) and records.frame.max() > seq_length:
        row = int(np.flatnonzero(records.frame > seq_length)[0])
        raise DataError(
            f"frame {records.frame[row]} out of range: seqinfo.ini gives {seq_length} frames",
            source,
            line_of(Path(source), row) if source is not None else None,
        )
    has_cls = (records.cls != -1).any()
    names = [MOT_CLASS_NAMES.get(int(c), str(int(c))) for c in records.cls] if has_cls else []
    tracks = records.track_id[records.track_id >= 0]
    out = {
        "rows": len(records),
        "columns": records.columns,
        "frames_labelled": len(np.unique(records.frame)),
        "tracks": len(np.unique(tracks)),
    }
    if has_cls:
        out["objects_per_class"] = _counts(names)
        out["tracks_per_class"] = {
            name: len(np.unique(records.track_id[np.array(names) == name]))
            for name in sorted(set(names))
        }
    return out


def describe_kitti_labels(labels) -> dict:
    objects = labels.select(~labels.is_dontcare)
    return {
        "rows": len(labels),
        "frames_labelled": len(np.unique(labels.frame)),
        "objects_per_class": _counts(objects.type.tolist()),
        "tracks": len(np.unique(objects.track_id)),
        "tracks_per_class": {
            t: len(np.unique(objects.track_id[objects.type == t]))
            for t in sorted(set(objects.type.tolist()))
        },
        "ignore_regions": int(labels.is_dontcare.sum()),
        "results_file": bool(labels.has_score),
    }


def describe_sequence(seq) -> dict:
    """Summary of one :class:`ratrack.data.sequence.Sequence`."""
    out: dict = {"format": seq.format, "name": seq.name, "path": str(seq.path), "frames": len(seq)}
    paths = getattr(seq, "paths", None)
    if paths is not None:
        out["frames_present"] = sum(p is not None for p in paths)
    out["frame_size"] = _size(seq.frame_size)
    if paths is not None:  # every image's size from its header: they must agree
        sizes = Counter(image_size(p) for p in paths if p is not None)
        if len(sizes) > 1:
            out["frame_sizes"] = {f"{w}x{h}": n for (h, w), n in sizes.most_common()}
    if seq.gt is not None:
        out["gt_boxes"] = int(np.isfinite(seq.gt).all(axis=1).sum())
    if seq.format == "mot":
        info = getattr(seq, "info", {})
        out["seqinfo"] = info
        for key in ("gt", "det"):
            records = getattr(seq, f"{key}_records")
            if records is not None:
                source = Path(seq.path) / key / f"{key}.txt"
                out[key] = describe_mot_records(records, info.get("seqLength"), source)
    if seq.format == "kitti":
        out.update(describe_kitti_labels(seq.labels))
    return out


def describe_kitti_tracking(root: Path) -> dict:

    ds = KittiTracking(root, missing_images="keep")
    sequences = {}
    total: Counter[str] = Counter()
    tracks = ignore = 0
    for name in ds.sequences:
        entry: dict = {
            "frames": ds.num_frames(name),
            "frames_present": len(ds.present_frames(name)),
            "frame_size": _size(lambda n=name: ds.frame_size(n)),
        }
        if ds.has_labels(name):
            labels = ds.labels(name, include_dontcare=True)
            entry.update(describe_kitti_labels(labels))
            total.update(entry["objects_per_class"])
            tracks += entry["tracks"]
            ignore += entry["ignore_regions"]
        entry["calib"] = ds.calib_path(name).is_file()
        sequences[name] = entry
    return {
        "format": "kitti-tracking",
        "path": str(ds.root),
        "sequences": len(sequences),
        "frame_sizes": sorted(
            {tuple(s["frame_size"]) for s in sequences.values() if s["frame_size"]}
        ),
        "objects_per_class": dict(sorted(total.items())),
        "tracks": tracks,
        "ignore_regions": ignore,
        "per_sequence": sequences,
    }


def describe_kitti_raw(root: Path, drives) -> dict:

    out = []
    for base, date, drive in drives:
        d = open_kitti_raw(base, date, drive)
        out.append(
            {
                "date": date,
                "drive": drive,
                "frames": len(d.cam2_files),
                "frame_size": list(image_size(d.cam2_files[0])),
                "calib": d.calib is not None,
            }
        )
    return {"format": "kitti-raw", "path": str(root), "drives": out}


def describe_mnist(path: Path) -> dict:

    digits = load_digits(path)
    return {
        "format": "mnist-idx",
        "path": str(path),
        "digits": len(digits),
        "image_size": list(digits.images.shape[1:]),
        "per_label": _counts(digits.labels.tolist()),
    }


def _is_kitti_tracking(path: Path) -> bool:
    for base in (path, path / "training", path / "testing"):
        if (base / "label_02").is_dir() or (base / "image_02").is_dir():
            return base.name != "image_02"
    return False


def describe(path: str | Path, _depth: int = 0) -> dict:
    """A JSON-ready summary of what ``path`` holds (any supported dataset folder or file)."""

    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", path)
    if path.is_file():
        name = path.name.lower()
        if "idx3-ubyte" in name:
            return describe_mnist(path)
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return describe_sequence(open_sequence(path, "video"))
        if path.suffix.lower() == ".txt":
            first = next(
                (t for t in path.read_text(errors="replace").splitlines() if t.strip()), ""
            )
            if len(first.split()) in (17, 18) and "," not in first:
                return {
                    "format": "kitti-labels",
                    "path": str(path),
                    **describe_kitti_labels(read_kitti_labels(path)),
                }
            return {
                "format": "mot-file",
                "path": str(path),
                **describe_mot_records(read_mot_file(path)),
            }
        raise DataError("unsupported file (video, MOT/KITTI .txt, or MNIST IDX)", path)
    if not path.is_dir():
        raise DataError(
            "a device, FIFO or socket, not a dataset; give a dataset folder or file", path
        )
    if list(path.glob("*images-idx3-ubyte*")):
        return describe_mnist(path)
    if _is_kitti_tracking(path):
        return describe_kitti_tracking(path)
    drives = find_kitti_raw_drives(path)
    if drives:
        return describe_kitti_raw(path, drives)
    try:
        fmt = detect_format(path)
    except DataError:
        fmt = None
    if fmt is not None:
        return describe_sequence(open_sequence(path, fmt))
    if _depth < 2:  # a folder of datasets or sequences (otb/, mot17_mini/train/, data/)
        children = []
        for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                children.append(describe(child, _depth + 1))
            except DataError as exc:
                if "no supported" not in str(exc) and "not a supported" not in str(exc):
                    raise
        if children:
            return {"format": "collection", "path": str(path), "items": children}
    raise DataError("no supported dataset found (KITTI, MOT, OTB, TLP, images, video, MNIST)", path)


def format_info(info: dict, indent: int = 0) -> str:
    """``describe``'s output as indented text lines."""
    pad = "  " * indent
    lines = []
    for key, value in info.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            lines.append(f"{pad}{key}:")
            lines.append(format_info(value, indent + 1))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{key}:")
            for sub in value:
                lines.append(f"{pad}  -")
                lines.append(format_info(sub, indent + 2))
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
            lines.append(f"{pad}{key}: {text}")
        else:
            lines.append(f"{pad}{key}: {value}")
    return "\n".join(lines)
