"""MOTChallenge evaluation rules, and trackeval's official MOTChallenge evaluation as reference.

ratrack applies the rules of trackeval's ``MotChallenge2DBox`` (trackeval 1.3.0, benchmark
MOT17/MOT16 with preprocessing) whenever the ground truth carries MOTChallenge class labels
(column 8 of ``gt.txt``); per frame:

1. Predictions are matched to *all* ground-truth boxes (every class, flagged or not) by the
   Hungarian algorithm maximizing total IoU over pairs with ``IoU >= 0.5``; a prediction matched
   to a distractor (``person_on_vehicle`` 2, ``static_person`` 7, ``distractor`` 8,
   ``reflection`` 12) is removed: neither true nor false positive.
2. Ground truth kept for scoring: class ``pedestrian`` (1) with a non-zero "consider" flag
   (column 7, cast to an integer).

Ground truth without class labels (every class ``<= 0``, e.g. MOT15-style files) keeps all rows
whose flag is non-zero, with no distractors. Frames are 1-based, ``1 .. num_frames``. The one
evaluated class is reported as ``pedestrian``.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ratrack.eval.kitti import _trackeval_summary, run_trackeval
from ratrack.eval.mot import MotFrames, framewise_iou

PEDESTRIAN = 1
DISTRACTOR_CLASSES = (2, 7, 8, 12)  # person_on_vehicle, static_person, distractor, reflection
_EPS = np.finfo(np.float64).eps


def _frame_rows(frame: np.ndarray, first: int, num_frames: int) -> list[np.ndarray]:
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(first, first + num_frames + 1))
    return [order[a:b] for a, b in itertools.pairwise(bounds)]


def has_class_labels(gt) -> bool:
    """Whether MOTChallenge ground truth carries class labels (any class ``> 0``)."""
    return bool(len(gt.cls) and np.max(np.asarray(gt.cls)) > 0)


def motchallenge_frames(gt, pred, num_frames: int, match_iou: float = 0.5) -> MotFrames:
    """Apply the MOTChallenge rules (module docstring) and return frames ``1..num_frames``.

    ``gt`` and ``pred`` are :class:`ratrack.data.mot.MotRecords` (columnar ``frame``,
    ``track_id``, xyxy ``boxes``, ``conf``, ``cls``).
    """
    g_frame = np.asarray(gt.frame, np.int64)
    g_id = np.asarray(gt.track_id, np.int64)
    g_boxes = np.asarray(gt.boxes, np.float64).reshape(-1, 4)
    g_cls = np.trunc(np.asarray(gt.cls, np.float64)).astype(np.int64)
    g_flag = np.trunc(np.asarray(gt.conf, np.float64)).astype(np.int64)
    labelled = has_class_labels(gt)
    p_frame = np.asarray(pred.frame, np.int64)
    p_id = np.asarray(pred.track_id, np.int64)
    p_boxes = np.asarray(pred.boxes, np.float64).reshape(-1, 4)

    gt_rows = _frame_rows(g_frame, 1, num_frames)
    pred_rows = _frame_rows(p_frame, 1, num_frames)
    sims = framewise_iou(g_boxes, gt_rows, p_boxes, pred_rows)
    gt_ids, pred_ids, similarity = [], [], []
    for gi, pi, sim in zip(gt_rows, pred_rows, sims, strict=True):  # sim: (G, P)
        remove = np.zeros(len(pi), bool)
        if labelled and len(gi) and len(pi):
            score = np.where(sim < match_iou - _EPS, 0.0, sim)
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > _EPS
            rows, cols = rows[ok], cols[ok]
            remove[cols[np.isin(g_cls[gi][rows], DISTRACTOR_CLASSES)]] = True
        keep_gt = g_flag[gi] != 0
        if labelled:
            keep_gt &= g_cls[gi] == PEDESTRIAN
        gt_ids.append(g_id[gi][keep_gt])
        pred_ids.append(p_id[pi][~remove])
        similarity.append(np.ascontiguousarray(sim[keep_gt][:, ~remove]))
    return MotFrames(gt_ids=tuple(gt_ids), pred_ids=tuple(pred_ids), similarity=tuple(similarity))


def trackeval_motchallenge(
    gt_files: Mapping[str, str | Path],
    pred_files: Mapping[str, str | Path],
    num_frames: Mapping[str, int],
) -> dict:
    """trackeval's official MOTChallenge (MOT17) evaluation of MOTChallenge files.

    Builds the ``SEQ/gt/gt.txt`` and ``trackers/NAME/data/SEQ.txt`` layout in a temporary
    directory. Returns ``{seq or "COMBINED_SEQ": {"pedestrian": {"HOTA", "DetA", "AssA",
    "LocA", "MOTA", "MOTP", "IDF1", "IDSW", "FP", "FN"}}}``.
    """
    import trackeval

    seqs = sorted(gt_files)
    if set(seqs) != set(pred_files):
        raise ValueError("gt_files and pred_files must name the same sequences")
    with tempfile.TemporaryDirectory(prefix="ratrack-trackeval-") as tmp:
        root = Path(tmp)
        pred_dir = root / "trackers" / "ratrack" / "data"
        pred_dir.mkdir(parents=True)
        for seq in seqs:
            (root / "gt" / seq / "gt").mkdir(parents=True)
            os.symlink(Path(gt_files[seq]).resolve(), root / "gt" / seq / "gt" / "gt.txt")
            os.symlink(Path(pred_files[seq]).resolve(), pred_dir / f"{seq}.txt")
        dataset_config = {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "OUTPUT_FOLDER": str(root / "out"),
            "TRACKERS_TO_EVAL": ["ratrack"],
            "BENCHMARK": "MOT17",
            "SPLIT_TO_EVAL": "train",
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": {seq: int(num_frames[seq]) for seq in seqs},
            "PRINT_CONFIG": False,
        }
        results = run_trackeval(trackeval.datasets.MotChallenge2DBox, dataset_config)
    return _trackeval_summary(results["MotChallenge2DBox"]["ratrack"])
