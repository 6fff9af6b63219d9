"""Multi-object evaluation of files and folders: the library side of ``ratrack eval mot``.

``gt`` and ``pred`` are either two files (one sequence) or two folders (one file per sequence,
matched by name). KITTI folders hold ``SSSS.txt`` label files (a KITTI ``training`` root or its
``label_02`` folder works for the ground truth). MOTChallenge ground truth is a folder of
sequences with ``SEQ/gt/gt.txt`` (or of ``SEQ.txt`` files), predictions a folder of ``SEQ.txt``.

Many sequences can be scored in a process pool (``workers``), with the same report as serial.

Bad input raises :class:`~ratrack.errors.DataError` naming the file: a missing or empty file, a
prediction file missing for a sequence, boxes that are NaN or infinite, or predictions in frames
past the ground truth's last frame (files of different lengths).
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.mot import read_mot_file
from ratrack.errors import ConfigError, DataError, RatrackError
from ratrack.eval.kitti import KittiRules, kitti_frames
from ratrack.eval.mot import score_partial, summarize_partials
from ratrack.eval.motchallenge import motchallenge_frames

log = logging.getLogger(__name__)

MOT_FORMATS = ("kitti", "mot")


def _kitti_gt_files(root: Path) -> dict[str, Path]:
    for folder in (root, root / "label_02", root / "training" / "label_02"):
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if files:
            return {f.stem: f for f in files}
    raise DataError("no KITTI label files (SSSS.txt) found", root)


def _mot_gt_files(root: Path) -> dict[str, Path]:
    nested = sorted(root.glob("*/gt/gt.txt"))
    if nested:
        return {f.parent.parent.name: f for f in nested}
    files = sorted(root.glob("*.txt"))
    if files:
        return {f.stem: f for f in files}
    raise DataError("no MOTChallenge ground truth (SEQ/gt/gt.txt or SEQ.txt) found", root)


def pair_files(gt: str | Path, pred: str | Path, fmt: str) -> dict[str, tuple[Path, Path]]:
    """``{sequence: (gt_file, pred_file)}`` for two files or two folders (module docstring)."""
    if fmt not in MOT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(MOT_FORMATS)}")
    gt, pred = Path(gt), Path(pred)
    for path in (gt, pred):
        if not path.exists():
            raise DataError("not found", path)
    if gt.is_file() and pred.is_file():
        name = gt.parent.parent.name if gt.name == "gt.txt" else gt.stem
        return {name: (gt, pred)}
    if gt.is_dir() != pred.is_dir():
        raise DataError(
            "give two files or two folders for the ground truth and the predictions", pred
        )
    gt_files = _kitti_gt_files(gt) if fmt == "kitti" else _mot_gt_files(gt)
    pairs = {}
    for seq, gt_file in gt_files.items():
        pred_file = pred / f"{seq}.txt"
        if not pred_file.is_file():
            raise DataError(f"no prediction file for sequence {seq}", pred_file)
        pairs[seq] = (gt_file, pred_file)
    for pred_file in sorted(pred.glob("*.txt")):  # scoring only some would inflate the scores
        if pred_file.stem not in pairs:
            raise DataError(
                f"no ground truth for sequence {pred_file.stem} in {gt}; remove the file or "
                "add its ground truth",
                pred_file,
            )
    return pairs


def _check(path: Path, records, kind: str) -> None:
    frame = np.asarray(records.frame, np.int64)
    if len(frame) == 0:
        raise DataError(f"empty {kind} file", path)
    bad = ~np.isfinite(np.asarray(records.boxes, np.float64)).all(axis=1)
    if bad.any():
        raise DataError(f"NaN or infinite box in frame {int(frame[bad][0])}", path)
    track_id = np.asarray(records.track_id, np.int64)
    real = track_id >= 0  # KITTI DontCare rows share id -1
    pairs, counts = np.unique(
        np.stack([frame[real], track_id[real]], 1), axis=0, return_counts=True
    )
    if (counts > 1).any():
        f, i = pairs[counts > 1][0]
        raise DataError(f"track {i} appears twice in frame {f}", path)


def _check_lengths(pred_path: Path, pred_frame: np.ndarray, gt_path: Path, last: int) -> None:
    beyond = pred_frame > last
    if beyond.any():
        raise DataError(
            f"has frame {int(pred_frame[beyond].max())} past the ground truth's last frame "
            f"{last} ({gt_path.name}): the files cover different lengths",
            pred_path,
        )


def score_sequence(gt_path: Path, pred_path: Path, fmt: str, iou_threshold: float = 0.5) -> dict:
    """Read, check and score one sequence: ``{class: MotPartial}`` (see :func:`evaluate_files`).

    A module-level function of picklable arguments, so a process pool can run it.
    """

    if fmt == "kitti":
        rules = KittiRules()
        g, p = read_kitti_labels(gt_path), read_kitti_labels(pred_path)
        _check(gt_path, g, "ground-truth")
        _check(pred_path, p, "prediction")
        last = int(np.max(g.frame))
        _check_lengths(pred_path, np.asarray(p.frame), gt_path, last)
        frames = {c: kitti_frames(g, p, c, last + 1, rules) for c in rules.classes}
    else:
        gt_rec, pred_rec = read_mot_file(gt_path), read_mot_file(pred_path)
        _check(gt_path, gt_rec, "ground-truth")
        _check(pred_path, pred_rec, "prediction")
        last = int(np.max(gt_rec.frame))
        _check_lengths(pred_path, pred_rec.frame, gt_path, last)
        frames = {"pedestrian": motchallenge_frames(gt_rec, pred_rec, last)}
    return {cls: score_partial(f, iou_threshold) for cls, f in frames.items()}


def _one_thread() -> None:
    """Pool initializer: one torch thread per worker process (the workers share the cores)."""
    import torch

    torch.set_num_threads(1)


def evaluate_files(
    gt: str | Path, pred: str | Path, fmt: str, iou_threshold: float = 0.5, workers: int = 1
) -> dict:
    """Evaluate predicted tracks against ground truth, per sequence, class, and pooled.

    ``fmt`` ``"kitti"`` applies KITTI's rules (:mod:`ratrack.eval.kitti`, classes ``car`` and
    ``pedestrian`` plus ``all``); ``"mot"`` applies MOTChallenge's
    (:mod:`ratrack.eval.motchallenge`, class ``pedestrian``). A sequence's frames run to the
    ground truth's last frame. Returns ``{"format", "sequences": {seq: {cls: scores}},
    "combined": {cls: scores}}`` with the flat scores of :func:`ratrack.eval.mot.score_frames`.

    ``workers > 1`` scores the sequences in that many processes (``spawn``; at most one per
    sequence). Each sequence is scored by the same code either way and the results are pooled in
    the same order in this process, so the report is identical to the serial one.
    """

    if fmt not in MOT_FORMATS:
        raise ConfigError("fmt", f"must be one of {', '.join(MOT_FORMATS)}, got {fmt!r}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ConfigError("iou_threshold", f"must be in (0, 1], got {iou_threshold}")
    if workers < 1:
        raise ConfigError("workers", f"must be >= 1, got {workers}")
    pairs = pair_files(gt, pred, fmt)
    gt_paths = [g for g, _ in pairs.values()]
    pred_paths = [p for _, p in pairs.values()]
    n = len(pairs)
    workers = min(workers, n)
    if workers == 1:
        scored = list(map(score_sequence, gt_paths, pred_paths, [fmt] * n, [iou_threshold] * n))
    else:
        log.info("scoring %d sequences in %d processes", n, workers)
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_one_thread
            ) as pool:
                scored = list(
                    pool.map(score_sequence, gt_paths, pred_paths, [fmt] * n, [iou_threshold] * n)
                )
        except BrokenProcessPool as exc:
            raise RatrackError(
                f"{workers} worker processes: one ended abruptly ({exc}); try one worker"
            ) from None
    return {"format": fmt, **summarize_partials(dict(zip(pairs, scored, strict=True)))}


def format_mot_table(report: dict, per_sequence: bool = True) -> str:
    """The report of :func:`evaluate_files` as one text table (sequences, then combined)."""
    cols = ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "FP", "FN", "IDSW", "fragments")
    names = {"fragments": "Frag"}
    head = f"{'sequence':<14}{'class':<12}" + "".join(f"{names.get(c, c):>8}" for c in cols)
    lines = [head, "-" * len(head)]

    def row(seq: str, cls: str, s: dict) -> str:
        cells = "".join(f"{s[c]:>8d}" if isinstance(s[c], int) else f"{s[c]:>8.3f}" for c in cols)
        return f"{seq:<14}{cls:<12}{cells}"

    if per_sequence:
        for seq, by_cls in report["sequences"].items():
            lines += [row(seq, cls, s) for cls, s in by_cls.items()]
        lines.append("-" * len(head))
    lines += [row("combined", cls, s) for cls, s in report["combined"].items()]
    return "\n".join(lines)
