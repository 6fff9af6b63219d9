"""KITTI tracking evaluation with KITTI's rules, and trackeval's official evaluation as reference.

ratrack applies the rules of trackeval's ``Kitti2DBox`` dataset (trackeval 1.3.0,
``trackeval/datasets/kitti_2d_box.py``, ``get_preprocessed_seq_data`` and ``_load_raw_file``),
which reproduce the official KITTI tracking devkit. For each class ``c`` in ``car`` and
``pedestrian``, separately, and each frame:

1. **Reading.** Ground-truth ``DontCare`` rows become ignore regions (whatever their id). Other
   rows with a negative track id are dropped, in the ground truth and in the predictions alike.
   Truncation and occlusion are cast to integers (``int()``, toward zero) as trackeval does.
2. **Relevant boxes.** Ground truth of class ``c`` and of its *distractor* class (``Van`` for
   ``car``, ``Person`` / ``Person_sitting`` for ``pedestrian``); predictions of class ``c`` only.
   Predictions of other types (``Van``, ``Cyclist``, ...) are ignored.
3. **Distractor matching.** Ground truth and predictions are matched by the Hungarian algorithm
   maximizing total IoU over pairs with ``IoU >= 0.5``. A prediction matched to a ground-truth box
   that is a distractor class, or is occluded beyond ``max_occlusion = 2`` (level 3, unknown), or
   truncated beyond ``max_truncation = 0`` (levels 1 and 2), is removed: it is neither a true
   nor a false positive.
4. **Unmatched predictions** are removed when their height is ``<= min_height = 25`` pixels, or
   when more than half of their area (intersection over the prediction's area, ``> 0.5``) lies
   inside one ``DontCare`` region.
5. **Ground truth** kept for scoring: class ``c``, occlusion ``<= 2`` and truncation ``<= 0``.
   Ground-truth height is not filtered.

Details read in trackeval's source that matter for agreement: the ``valid_filter`` of its text
reader never filters (its ``continue`` only leaves the inner loop), so every type is read and
mapped to a class id, and a type outside its map (``Person_sitting`` is not in it; the real
labels write ``Person``) makes trackeval fail where ratrack treats it as ``Person``; the minimum
height applies to unmatched predictions only; ``DontCare`` boxes never count as ground truth.
Its CLEAR MOT carries a correspondence only from the previous frame that had both ground truth
and predictions (see :func:`ratrack.eval.mot.clear_matches`).

What remains is scored by :mod:`ratrack.eval.mot` (motmetrics for CLEAR MOT and IDF1,
trackeval's HOTA metric for HOTA), per sequence and class, pooled over sequences per class and
pooled over both classes (``all``; trackeval's KITTI evaluation has no class-combined row).

:func:`trackeval_kitti` runs trackeval's own ``Kitti2DBox`` evaluation (HOTA, CLEAR, Identity)
on label files, building the folder layout it expects (``label_02`` and a seqmap, a trackers
folder) in a temporary directory. The agreement test compares both on the real KITTI labels.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ratrack.eval.mot import MotFrames, evaluate_frames, framewise_iou

EVAL_CLASSES = ("car", "pedestrian")  # the classes KITTI's tracking benchmark scores
DISTRACTORS = {"car": ("van",), "pedestrian": ("person", "person_sitting")}
_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class KittiRules:
    """KITTI's evaluation rules, defaults as in trackeval's ``Kitti2DBox``."""

    classes: tuple[str, ...] = EVAL_CLASSES  # evaluated classes, each on its own
    max_occlusion: int = 2  # ground truth occluded beyond this (3 = unknown) is a distractor
    max_truncation: int = 0  # ground truth truncated beyond this is a distractor
    min_height: float = 25.0  # unmatched predictions this tall or less are dropped (pixels)
    match_iou: float = 0.5  # IoU that matches a prediction to a distractor (step 3)
    ignore_ioa: float = 0.5  # fraction of an unmatched prediction inside DontCare that drops it

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in EVAL_CLASSES]
        if unknown or not self.classes:
            raise ValueError(f"classes must be among {EVAL_CLASSES}, got {self.classes}")


def _lower(types) -> np.ndarray:
    return np.char.lower(np.asarray(types, dtype=str))


def _ioa(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Intersection over the area of each of ``boxes`` ``(N, 4)`` with ``regions`` ``(M, 4)``."""
    lt = np.maximum(boxes[:, None, :2], regions[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)  # (N, M)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = np.zeros_like(inter)
    valid = area > _EPS
    out[valid] = inter[valid] / area[valid, None]
    return out


def _frame_rows(frame: np.ndarray, num_frames: int) -> list[np.ndarray]:
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(num_frames + 1))
    return [order[a:b] for a, b in itertools.pairwise(bounds)]


def kitti_frames(
    gt, pred, cls: str, num_frames: int, rules: KittiRules = KittiRules()
) -> MotFrames:
    """Apply KITTI's rules (module docstring) for class ``cls`` and return the frames to score.

    ``gt`` and ``pred`` are :class:`ratrack.data.kitti.KittiLabels` (columnar ``frame``,
    ``track_id``, ``type``, ``truncated``, ``occluded``, xyxy ``boxes``); frames ``0 ..
    num_frames - 1`` are scored.
    """
    if cls not in EVAL_CLASSES:
        raise ValueError(f"cls must be one of {EVAL_CLASSES}, got {cls!r}")
    g_type = _lower(gt.type)
    g_frame = np.asarray(gt.frame, np.int64)
    g_id = np.asarray(gt.track_id, np.int64)
    g_boxes = np.asarray(gt.boxes, np.float64).reshape(-1, 4)
    g_trunc = np.trunc(np.asarray(gt.truncated, np.float64)).astype(np.int64)
    g_occl = np.trunc(np.asarray(gt.occluded, np.float64)).astype(np.int64)
    dontcare = g_type == "dontcare"
    g_rel = ~dontcare & (g_id >= 0) & np.isin(g_type, (cls, *DISTRACTORS[cls]))
    p_type = _lower(pred.type)
    p_id = np.asarray(pred.track_id, np.int64)
    p_rel = (p_type == cls) & (p_id >= 0)
    p_frame = np.asarray(pred.frame, np.int64)
    p_boxes = np.asarray(pred.boxes, np.float64).reshape(-1, 4)

    ignore_rows = _frame_rows(g_frame[dontcare], num_frames)
    ignore_boxes = g_boxes[dontcare]
    g_idx = np.flatnonzero(g_rel)
    p_idx = np.flatnonzero(p_rel)
    gt_rows = _frame_rows(g_frame[g_idx], num_frames)
    pred_rows = _frame_rows(p_frame[p_idx], num_frames)

    gt_rows = [g_idx[rows] for rows in gt_rows]
    pred_rows = [p_idx[rows] for rows in pred_rows]
    sims = framewise_iou(g_boxes, gt_rows, p_boxes, pred_rows)
    gt_ids, pred_ids, similarity = [], [], []
    for t in range(num_frames):
        gi, pi, sim = gt_rows[t], pred_rows[t], sims[t]  # sim: (G, P)
        is_distractor = (g_type[gi] != cls) | (g_occl[gi] > rules.max_occlusion)
        is_distractor |= g_trunc[gi] > rules.max_truncation
        remove = np.zeros(len(pi), bool)
        unmatched = np.ones(len(pi), bool)
        if len(gi) and len(pi):
            score = np.where(sim < rules.match_iou - _EPS, 0.0, sim)
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > _EPS
            rows, cols = rows[ok], cols[ok]
            remove[cols[is_distractor[rows]]] = True
            unmatched[cols] = False
        boxes = p_boxes[pi]
        too_small = boxes[:, 3] - boxes[:, 1] <= rules.min_height + _EPS
        ioa = _ioa(boxes, ignore_boxes[ignore_rows[t]])
        in_ignore = (ioa > rules.ignore_ioa + _EPS).any(axis=1)
        remove |= unmatched & (too_small | in_ignore)
        keep_gt = ~is_distractor
        gt_ids.append(g_id[gi][keep_gt])
        pred_ids.append(p_id[pi][~remove])
        similarity.append(np.ascontiguousarray(sim[keep_gt][:, ~remove]))
    return MotFrames(gt_ids=tuple(gt_ids), pred_ids=tuple(pred_ids), similarity=tuple(similarity))


def kitti_num_frames(gt, pred=None) -> int:
    """Frames to score: one past the largest frame number of ``gt`` (and ``pred``, if given)."""
    last = [np.max(gt.frame) if len(gt.frame) else -1]
    if pred is not None and len(pred.frame):
        last.append(np.max(pred.frame))
    return int(max(last)) + 1


def evaluate_kitti(
    gt: Mapping[str, object],
    pred: Mapping[str, object],
    num_frames: Mapping[str, int] | None = None,
    rules: KittiRules = KittiRules(),
    iou_threshold: float = 0.5,
) -> dict:
    """Score KITTI tracking predictions with KITTI's rules, per sequence, class, and pooled.

    ``gt`` and ``pred`` map sequence names to :class:`~ratrack.data.kitti.KittiLabels`, with
    the same keys. ``num_frames`` gives each sequence's length (default
    :func:`kitti_num_frames` of both). Returns ``{"sequences": {seq: {cls: scores, "all":
    scores}}, "combined": {cls: scores, "all": scores}}`` (see
    :func:`ratrack.eval.mot.evaluate_frames`).
    """
    if set(gt) != set(pred):
        missing = sorted(set(gt) ^ set(pred))
        raise ValueError(f"ground truth and predictions cover different sequences: {missing}")
    frames = {}
    for seq in sorted(gt):
        n = kitti_num_frames(gt[seq], pred[seq]) if num_frames is None else int(num_frames[seq])
        frames[seq] = {c: kitti_frames(gt[seq], pred[seq], c, n, rules) for c in rules.classes}
    return evaluate_frames(frames, iou_threshold)


def trackeval_kitti(
    gt_files: Mapping[str, str | Path],
    pred_files: Mapping[str, str | Path],
    num_frames: Mapping[str, int],
    classes: tuple[str, ...] = EVAL_CLASSES,
) -> dict:
    """trackeval's official KITTI 2D box evaluation of label files (the reference).

    ``gt_files`` / ``pred_files`` map sequence names to KITTI label files, ``num_frames`` gives
    each sequence's length (written to the seqmap). Returns ``{seq or "COMBINED_SEQ": {cls:
    {"HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDSW", "FP", "FN"}}}``.
    trackeval's console output is swallowed.
    """
    import trackeval

    seqs = sorted(gt_files)
    if set(seqs) != set(pred_files):
        raise ValueError("gt_files and pred_files must name the same sequences")
    with tempfile.TemporaryDirectory(prefix="ratrack-trackeval-") as tmp:
        root = Path(tmp)
        label_dir = root / "gt" / "label_02"
        pred_dir = root / "trackers" / "ratrack" / "data"
        label_dir.mkdir(parents=True)
        pred_dir.mkdir(parents=True)
        lines = []
        for seq in seqs:
            os.symlink(Path(gt_files[seq]).resolve(), label_dir / f"{seq}.txt")
            os.symlink(Path(pred_files[seq]).resolve(), pred_dir / f"{seq}.txt")
            lines.append(f"{seq} empty 000000 {int(num_frames[seq]):06d}\n")
        (root / "gt" / "evaluate_tracking.seqmap.training").write_text("".join(lines))
        dataset_config = {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "OUTPUT_FOLDER": str(root / "out"),
            "TRACKERS_TO_EVAL": ["ratrack"],
            "CLASSES_TO_EVAL": list(classes),
            "SPLIT_TO_EVAL": "training",
            "PRINT_CONFIG": False,
        }
        results = run_trackeval(trackeval.datasets.Kitti2DBox, dataset_config)
    return _trackeval_summary(results["Kitti2DBox"]["ratrack"])


def run_trackeval(dataset_class, dataset_config: dict) -> dict:
    """Run trackeval's evaluator (HOTA, CLEAR, Identity at IoU 0.5) quietly, on one core."""
    import trackeval

    eval_config = {
        "USE_PARALLEL": False,
        "BREAK_ON_ERROR": True,
        "LOG_ON_ERROR": None,
        "PRINT_RESULTS": False,
        "PRINT_CONFIG": False,
        "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
    }
    metric_config = {"PRINT_CONFIG": False, "THRESHOLD": 0.5}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = trackeval.Evaluator(eval_config)
        dataset = dataset_class(dataset_config)
        metrics = [
            trackeval.metrics.HOTA(),
            trackeval.metrics.CLEAR(metric_config),
            trackeval.metrics.Identity(metric_config),
        ]
        results, _ = evaluator.evaluate([dataset], metrics)
    return results


def _trackeval_summary(by_seq: dict) -> dict:
    """The headline numbers of trackeval's per-sequence, per-class results."""
    out: dict[str, dict] = {}
    for seq, by_cls in by_seq.items():
        out[seq] = {}
        for cls, res in by_cls.items():
            hota, clear, ident = res["HOTA"], res["CLEAR"], res["Identity"]
            out[seq][cls] = {
                "HOTA": float(np.mean(hota["HOTA"])),
                "DetA": float(np.mean(hota["DetA"])),
                "AssA": float(np.mean(hota["AssA"])),
                "LocA": float(np.mean(hota["LocA"])),
                "MOTA": float(clear["MOTA"]),
                "MOTP": float(clear["MOTP"]),
                "IDSW": int(clear["IDSW"]),
                "FP": int(clear["CLR_FP"]),
                "FN": int(clear["CLR_FN"]),
                "IDF1": float(ident["IDF1"]),
            }
    return out
