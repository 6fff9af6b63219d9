"""Multi-object tracking metrics: CLEAR MOT and IDF1 through motmetrics, HOTA through trackeval.

One sequence of one class is scored from :class:`MotFrames`: for every frame the ground-truth
ids, the predicted ids, and their IoU matrix. Both libraries see the same frames and the same
IoUs, computed by :func:`ratrack.boxes.box_iou_elementwise` (motmetrics 1.4's own
``iou_matrix`` calls ``np.asfarray``, which NumPy 2 removed):

* motmetrics gets distances ``d = 1 - IoU``, with ``NaN`` (cannot pair) where
  ``IoU < iou_threshold``. Its identity measures (Ristani et al., 2016) give
  ``IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN)``. Its CLEAR MOT (Bernardin and Stiefelhagen, 2008)
  counts ``MOTA = 1 - (FN + FP + IDSW) / GT``, fragmentations and mostly tracked / lost on the
  correspondences that :func:`clear_matches` chooses by the CLEAR rule as the KITTI devkit and
  trackeval apply it (see :func:`motmetrics_accumulators` for why ratrack pins them).
  ``MOTP`` is the mean IoU of those correspondences.
* trackeval's :class:`trackeval.metrics.HOTA` (Luiten et al., 2021) gets the IoU matrices and
  contiguous ids and gives ``HOTA = mean_alpha sqrt(DetA_alpha * AssA_alpha)`` over
  ``alpha = 0.05, ..., 0.95``, with DetA, AssA and LocA averaged the same way.

Sequences and classes combine by pooling counts: motmetrics' ``compute_overall`` and trackeval's
``combine_sequences``, exactly as each library combines a benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ratrack.boxes import box_iou_elementwise


@dataclass(frozen=True)
class MotFrames:
    """One sequence of one class, ready for scoring.

    For each frame ``t``: ``gt_ids[t]`` ``(G_t,)`` int64, ``pred_ids[t]`` ``(P_t,)`` int64 and
    ``similarity[t]`` ``(G_t, P_t)`` float64, the IoU of every ground-truth and predicted box.
    Ids must be unique within a frame.
    """

    gt_ids: tuple[np.ndarray, ...]
    pred_ids: tuple[np.ndarray, ...]
    similarity: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not len(self.gt_ids) == len(self.pred_ids) == len(self.similarity):
            raise ValueError("gt_ids, pred_ids and similarity must have one entry per frame")
        for t, (g, p, s) in enumerate(
            zip(self.gt_ids, self.pred_ids, self.similarity, strict=True)
        ):
            if s.shape != (len(g), len(p)):
                raise ValueError(f"frame {t}: similarity {s.shape} != ({len(g)}, {len(p)})")
            if len(np.unique(g)) != len(g) or len(np.unique(p)) != len(p):
                raise ValueError(f"frame {t}: track ids repeat within the frame")

    def __len__(self) -> int:
        return len(self.gt_ids)

    @property
    def num_gt_dets(self) -> int:
        return int(sum(len(g) for g in self.gt_ids))

    @property
    def num_pred_dets(self) -> int:
        return int(sum(len(p) for p in self.pred_ids))


def _frame_slices(frame: np.ndarray, frames: np.ndarray) -> list[np.ndarray]:
    """Row indices of ``frame`` equal to each value of ``frames`` (stable order)."""
    order = np.argsort(frame, kind="stable")
    lo = np.searchsorted(frame[order], frames, side="left")
    hi = np.searchsorted(frame[order], frames, side="right")
    return [order[a:b] for a, b in zip(lo, hi, strict=True)]


def frames_from_columns(
    gt_frame: np.ndarray,
    gt_id: np.ndarray,
    gt_boxes: np.ndarray,
    pred_frame: np.ndarray,
    pred_id: np.ndarray,
    pred_boxes: np.ndarray,
    frames: Sequence[int] | np.ndarray | None = None,
) -> MotFrames:
    """Group columnar records (one row per box, xyxy ``(N, 4)``) into :class:`MotFrames`.

    ``frames`` lists the frame numbers to score, in order (default: every frame number from the
    smallest to the largest found in either input). Rows outside ``frames`` are ignored.
    """
    gt_frame = np.asarray(gt_frame, np.int64).reshape(-1)
    pred_frame = np.asarray(pred_frame, np.int64).reshape(-1)
    gt_id = np.asarray(gt_id, np.int64).reshape(-1)
    pred_id = np.asarray(pred_id, np.int64).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    if frames is None:
        every = np.concatenate([gt_frame, pred_frame])
        frames = np.arange(every.min(), every.max() + 1) if every.size else np.zeros(0, np.int64)
    frames = np.asarray(frames, np.int64)
    gt_rows = _frame_slices(gt_frame, frames)
    pred_rows = _frame_slices(pred_frame, frames)
    return MotFrames(
        gt_ids=tuple(gt_id[g] for g in gt_rows),
        pred_ids=tuple(pred_id[p] for p in pred_rows),
        similarity=tuple(framewise_iou(gt_boxes, gt_rows, pred_boxes, pred_rows)),
    )


def framewise_iou(
    gt_boxes: np.ndarray,
    gt_rows: Sequence[np.ndarray],
    pred_boxes: np.ndarray,
    pred_rows: Sequence[np.ndarray],
) -> list[np.ndarray]:
    """IoU matrices ``(G_t, P_t)`` of ``gt_boxes[gt_rows[t]]`` and ``pred_boxes[pred_rows[t]]``.

    All frames go through one call of :func:`ratrack.boxes.box_iou_elementwise` on the
    concatenated pairs, then are cut back into one matrix per frame.
    """
    sizes = np.array([len(g) * len(p) for g, p in zip(gt_rows, pred_rows, strict=True)], np.int64)
    if sizes.sum() == 0:
        return [np.zeros((len(g), len(p))) for g, p in zip(gt_rows, pred_rows, strict=True)]
    gi = np.concatenate([np.repeat(g, len(p)) for g, p in zip(gt_rows, pred_rows, strict=True)])
    pi = np.concatenate([np.tile(p, len(g)) for g, p in zip(gt_rows, pred_rows, strict=True)])
    a = torch.from_numpy(np.asarray(gt_boxes, np.float64)[gi.astype(np.int64)])  # (S, 4)
    b = torch.from_numpy(np.asarray(pred_boxes, np.float64)[pi.astype(np.int64)])  # (S, 4)
    flat = box_iou_elementwise(a, b).numpy()  # (S,)
    cuts = np.split(flat, np.cumsum(sizes)[:-1])
    return [c.reshape(len(g), len(p)) for c, g, p in zip(cuts, gt_rows, pred_rows, strict=True)]


@dataclass
class MotPartial:
    """What one sequence contributes to pooled scores (kept so sequences and classes combine)."""

    clear: dict = field(repr=False)  # motmetrics compute(..., return_cached=True): CLEAR MOT
    identity: dict = field(repr=False)  # the same for the identity measures (IDF1, IDP, IDR)
    hota: dict = field(repr=False)  # trackeval HOTA eval_sequence output
    iou_sum: float  # total IoU of the CLEAR matches (for MOTP)


_EPS = np.finfo(np.float64).eps


def clear_matches(
    frames: MotFrames, iou_threshold: float = 0.5
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CLEAR MOT correspondences of every frame, as ``(gt_rows, pred_rows)`` index arrays.

    Bernardin and Stiefelhagen's rule as the KITTI devkit and trackeval implement it: a pair
    matched in the *previous frame* is kept when its IoU still reaches ``iou_threshold``; the
    other pairs are chosen by the Hungarian algorithm maximizing total IoU over pairs with
    ``IoU >= iou_threshold``. Both happen in one assignment with scores
    ``1000 * [pair continues] + IoU``. The "previous frame" is the last one that had both
    ground truth and predictions (trackeval skips the others without touching its record).
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    matches = []
    previous: dict[int, int] = {}  # gt id -> pred id matched in the previous frame
    for g, p, sim in zip(frames.gt_ids, frames.pred_ids, frames.similarity, strict=True):
        if not (len(g) and len(p)):
            # Nothing to match; like trackeval, such a frame leaves ``previous`` as it was.
            matches.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        prev = np.array([previous.get(int(i), -1) for i in g])
        carried = (p[None, :] == prev[:, None]) & (prev[:, None] >= 0)  # (G, P)
        score = np.where(sim >= iou_threshold - _EPS, 1000.0 * carried + sim, 0.0)
        rows, cols = linear_sum_assignment(score, maximize=True)
        ok = score[rows, cols] > _EPS
        rows, cols = rows[ok].astype(np.int64), cols[ok].astype(np.int64)
        previous = {int(g[r]): int(p[c]) for r, c in zip(rows, cols, strict=True)}
        matches.append((rows, cols))
    return matches


def motmetrics_accumulators(frames: MotFrames, iou_threshold: float = 0.5):
    """Two ``motmetrics.MOTAccumulator`` fed frame by frame with ``1 - IoU`` distances.

    The identity accumulator gets every pair with ``IoU >= iou_threshold`` (``NaN`` elsewhere),
    which is what IDF1's global id assignment needs. The CLEAR accumulator gets only the pairs
    :func:`clear_matches` chose, so motmetrics counts matches, misses, false positives, ID
    switches and fragmentations on exactly the CLEAR correspondences. (Left to itself,
    motmetrics 1.4 carries a correspondence forward from the last frame it held, even across
    frames where the object was missed, and then minimizes total distance: a variant that
    differs from KITTI's and trackeval's CLEAR MOT by up to 1e-3 MOTA on real KITTI sequences.)

    Returns ``(clear_acc, identity_acc, iou_sum)``, ``iou_sum`` the total IoU of the matches.
    """
    import motmetrics as mm

    clear_acc = mm.MOTAccumulator(auto_id=False)
    identity_acc = mm.MOTAccumulator(auto_id=False)
    iou_sum = 0.0
    matches = clear_matches(frames, iou_threshold)
    for t, (g, p, sim) in enumerate(
        zip(frames.gt_ids, frames.pred_ids, frames.similarity, strict=True)
    ):
        identity_acc.update(g, p, np.where(sim >= iou_threshold - _EPS, 1.0 - sim, np.nan), t)
        rows, cols = matches[t]
        chosen = np.full(sim.shape, np.nan)
        chosen[rows, cols] = 1.0 - sim[rows, cols]
        clear_acc.update(g, p, chosen, t)
        iou_sum += float(sim[rows, cols].sum())
    return clear_acc, identity_acc, iou_sum


def _contiguous(ids_per_frame: Iterable[np.ndarray]) -> tuple[list[np.ndarray], int]:
    ids_per_frame = list(ids_per_frame)
    unique = np.unique(np.concatenate(ids_per_frame)) if ids_per_frame else np.zeros(0, np.int64)
    return [np.searchsorted(unique, ids) for ids in ids_per_frame], len(unique)


def hota_counts(frames: MotFrames) -> dict:
    """trackeval's HOTA result for one sequence (arrays over the 19 alpha thresholds)."""
    from trackeval.metrics import HOTA

    gt_ids, num_gt_ids = _contiguous(frames.gt_ids)
    pred_ids, num_pred_ids = _contiguous(frames.pred_ids)
    data = {
        "num_timesteps": len(frames),
        "gt_ids": gt_ids,
        "tracker_ids": pred_ids,
        "similarity_scores": list(frames.similarity),
        "num_gt_ids": num_gt_ids,
        "num_tracker_ids": num_pred_ids,
        "num_gt_dets": frames.num_gt_dets,
        "num_tracker_dets": frames.num_pred_dets,
    }
    return HOTA().eval_sequence(data)


CLEAR_NAMES = (
    "num_frames",
    "num_objects",
    "num_predictions",
    "num_unique_objects",
    "num_matches",
    "num_false_positives",
    "num_misses",
    "num_switches",
    "num_fragmentations",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "mota",
    "precision",
    "recall",
)
"""motmetrics measures computed on the CLEAR accumulator."""

IDENTITY_NAMES = ("num_objects", "num_predictions", "idf1", "idp", "idr", "idtp", "idfp", "idfn")
"""motmetrics measures computed on the identity accumulator."""


def score_partial(frames: MotFrames, iou_threshold: float = 0.5) -> MotPartial:
    """Score one sequence: motmetrics' CLEAR and identity measures, trackeval's HOTA."""
    import motmetrics as mm

    clear_acc, identity_acc, iou_sum = motmetrics_accumulators(frames, iou_threshold)
    host = mm.metrics.create()
    clear = host.compute(
        clear_acc, metrics=list(CLEAR_NAMES), return_cached=True, return_dataframe=False
    )
    identity = host.compute(
        identity_acc, metrics=list(IDENTITY_NAMES), return_cached=True, return_dataframe=False
    )
    return MotPartial(clear=clear, identity=identity, hota=hota_counts(frames), iou_sum=iou_sum)


def _finish(clear: dict, identity: dict, hota: dict, iou_sum: float) -> dict:
    """Flat, JSON-ready scores from motmetrics' measures and a trackeval HOTA result."""
    # motmetrics counts an ID switch apart from its matches; a switch is still a true positive.
    matches = int(clear["num_objects"] - clear["num_misses"])
    num_gt, num_pred = int(clear["num_objects"]), int(clear["num_predictions"])
    return {
        "MOTA": float(clear["mota"]) if num_gt else 0.0,
        # Mean IoU of the CLEAR matches. (motmetrics 1.4's own ``motp`` adds the distance of a
        # pair twice when it is also recorded as a TRANSFER/ASCEND/MIGRATE event.)
        "MOTP": iou_sum / matches if matches else 0.0,
        "IDF1": float(identity["idf1"]) if num_gt + num_pred else 0.0,
        "IDP": float(identity["idp"]) if num_pred else 0.0,
        "IDR": float(identity["idr"]) if num_gt else 0.0,
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "LocA": float(np.mean(hota["LocA"])),
        "precision": float(clear["precision"]) if num_pred else 0.0,
        "recall": float(clear["recall"]) if num_gt else 0.0,
        "GT": num_gt,
        "predictions": num_pred,
        "TP": matches,
        "FP": int(clear["num_false_positives"]),
        "FN": int(clear["num_misses"]),
        "IDSW": int(clear["num_switches"]),
        "fragments": int(clear["num_fragmentations"]),
        "MT": int(clear["mostly_tracked"]),
        "PT": int(clear["partially_tracked"]),
        "ML": int(clear["mostly_lost"]),
        "IDTP": int(identity["idtp"]),
        "IDFP": int(identity["idfp"]),
        "IDFN": int(identity["idfn"]),
        "frames": int(clear["num_frames"]),
    }


def finish_partial(partial: MotPartial) -> dict:
    """The flat scores of one scored sequence (see :func:`score_frames`)."""
    return _finish(partial.clear, partial.identity, partial.hota, partial.iou_sum)


def combine_partials(partials: Sequence[MotPartial]) -> dict:
    """Pool several sequences (or classes) into one set of flat scores.

    motmetrics pools its counts (``compute_overall``); HOTA pools its TP/FN/FP counts and
    weights AssA and LocA by HOTA TPs (trackeval's ``combine_sequences``).
    """
    import motmetrics as mm
    from trackeval.metrics import HOTA

    if not partials:
        raise ValueError("nothing to combine")
    host = mm.metrics.create()
    clear = host.compute_overall(
        [p.clear for p in partials],
        metrics=list(CLEAR_NAMES),
        return_dataframe=False,
        return_cached=True,
    )
    identity = host.compute_overall(
        [p.identity for p in partials],
        metrics=list(IDENTITY_NAMES),
        return_dataframe=False,
        return_cached=True,
    )
    hota = HOTA().combine_sequences({str(i): p.hota for i, p in enumerate(partials)})
    return _finish(clear, identity, hota, sum(p.iou_sum for p in partials))


def score_frames(frames: MotFrames, iou_threshold: float = 0.5) -> dict:
    """CLEAR MOT, identity and HOTA scores of one sequence (of one class).

    Returns a flat dict: ``MOTA``, ``MOTP`` (mean IoU of matches), ``IDF1``, ``IDP``, ``IDR``,
    ``HOTA``, ``DetA``, ``AssA``, ``LocA``, ``precision``, ``recall`` (floats) and the counts
    ``GT``, ``predictions``, ``TP``, ``FP``, ``FN``, ``IDSW``, ``fragments``, ``MT``, ``PT``,
    ``ML``, ``IDTP``, ``IDFP``, ``IDFN``, ``frames``. ``iou_threshold`` applies to CLEAR MOT and
    IDF1; HOTA integrates over its own thresholds.
    """
    return finish_partial(score_partial(frames, iou_threshold))


def evaluate_frames(
    frames: Mapping[str, Mapping[str, MotFrames]], iou_threshold: float = 0.5
) -> dict:
    """Score ``{sequence: {class: MotFrames}}`` per sequence and class, and pooled.

    Returns ``{"sequences": {seq: {cls: scores}}, "combined": {cls: scores}}`` where each
    ``scores`` is the flat dict of :func:`score_frames`; ``combined`` pools every sequence per
    class. With more than one class, each level also has ``"all"``, pooling the classes (counts
    summed, as trackeval's detection-averaged class combination).
    """
    return summarize_partials(
        {
            seq: {cls: score_partial(f, iou_threshold) for cls, f in by_cls.items()}
            for seq, by_cls in frames.items()
        }
    )


def summarize_partials(partials: Mapping[str, Mapping[str, MotPartial]]) -> dict:
    """:func:`evaluate_frames`' report from sequences already scored by :func:`score_partial`.

    The partials may come from other processes (``ratrack eval mot --workers``): the report
    depends only on them and on the order of ``partials``, so it equals the serial one.
    """
    classes = list(dict.fromkeys(cls for by_cls in partials.values() for cls in by_cls))
    sequences = {}
    for seq, by_cls in partials.items():
        sequences[seq] = {cls: finish_partial(p) for cls, p in by_cls.items()}
        if len(classes) > 1:
            sequences[seq]["all"] = combine_partials(list(by_cls.values()))
    combined = {
        cls: combine_partials([by_cls[cls] for by_cls in partials.values() if cls in by_cls])
        for cls in classes
    }
    if len(classes) > 1:
        combined["all"] = combine_partials([p for b in partials.values() for p in b.values()])
    return {"sequences": sequences, "combined": combined}


def clear_mot(gt, pred, iou_threshold: float = 0.5) -> dict:
    """CLEAR MOT, IDF1 and HOTA of predicted tracks against ground truth, all rows as one class.

    ``gt`` and ``pred`` are :class:`ratrack.data.mot.MotRecords` (or anything with columnar
    ``frame``, ``track_id`` and xyxy ``boxes``). Every frame number from the first to the last
    one present in either is scored. Returns the dict of :func:`score_frames`.
    """
    frames = frames_from_columns(
        gt.frame, gt.track_id, gt.boxes, pred.frame, pred.track_id, pred.boxes
    )
    return score_frames(frames, iou_threshold)
