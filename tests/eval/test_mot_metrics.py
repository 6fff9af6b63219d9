"""CLEAR MOT, IDF1 and HOTA: a hand-computed toy case, CLEAR's continuation rule, parity with
trackeval's own metric classes on random data, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.eval.mot import (
    MotFrames,
    clear_matches,
    clear_mot,
    combine_partials,
    frames_from_columns,
    score_frames,
    score_partial,
)

A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]


class Records:
    """Columnar records as the MOT reader gives them (frame, track_id, xyxy boxes)."""

    def __init__(self, rows):
        self.frame = np.array([r[0] for r in rows], np.int64)
        self.track_id = np.array([r[1] for r in rows], np.int64)
        self.boxes = np.array([r[2] for r in rows], np.float64).reshape(-1, 4)


def toy():
    # Object 1 in frames 0-3, object 2 in frames 0-1. Track 10 follows object 1 in frames 0-1,
    # track 11 takes over in frames 2-3 (one ID switch); track 12 covers object 2 in frame 0
    # only (object 2 missed in frame 1); track 13 is a false positive in frames 1 and 2.
    gt = Records([(0, 1, A), (1, 1, A), (2, 1, A), (3, 1, A), (0, 2, B), (1, 2, B)])
    pred = Records(
        [(0, 10, A), (1, 10, A), (2, 11, A), (3, 11, A), (0, 12, B), (1, 13, C), (2, 13, C)]
    )
    return gt, pred


def test_toy_case_by_hand():
    s = clear_mot(*toy())
    # GT = 6, TP = 5, FN = 1, FP = 2, IDSW = 1: MOTA = 1 - (1 + 2 + 1) / 6 = 1/3.
    assert (s["GT"], s["TP"], s["FN"], s["FP"], s["IDSW"]) == (6, 5, 1, 2, 1)
    assert s["MOTA"] == pytest.approx(1 / 3)
    assert s["MOTP"] == pytest.approx(1.0)
    # Best one-to-one id map: 1 -> 10 (or 11), 2 -> 12: IDTP = 2 + 1 = 3 of 6 gt and 7 predicted
    # boxes, so IDF1 = 2 * 3 / (6 + 7) = 6/13.
    assert (s["IDTP"], s["IDFN"], s["IDFP"]) == (3, 3, 4)
    assert s["IDF1"] == pytest.approx(6 / 13)
    # All IoUs are 1: DetA = 5 / (5 + 1 + 2); every match has A = TPA / (TPA + FNA + FPA) = 1/2
    # ((1,10): 2 / (2 + 2 + 0); (1,11) the same; (2,12): 1 / (1 + 1 + 0)), so AssA = 1/2.
    assert s["DetA"] == pytest.approx(5 / 8)
    assert s["AssA"] == pytest.approx(0.5)
    assert s["HOTA"] == pytest.approx(np.sqrt(5 / 16))
    assert s["LocA"] == pytest.approx(1.0)


def test_motp_is_the_mean_iou_of_matches():
    gt = Records([(0, 1, [0, 0, 10, 10]), (1, 1, [0, 0, 10, 10])])
    pred = Records([(0, 5, [0, 0, 10, 6]), (1, 5, [0, 0, 10, 10])])
    s = clear_mot(gt, pred)
    assert s["MOTP"] == pytest.approx((0.6 + 1.0) / 2)
    assert s["MOTA"] == pytest.approx(1.0)


def test_continuation_is_from_the_previous_frame_only():
    # Object 1 matched to track 7 in frame 0, missed in frame 1 (track 7 has moved away), then in
    # frame 2 track 7 (IoU 0.6) and track 8 (IoU 1.0) both cover it. CLEAR carries pairs only from
    # the previous frame, so frame 2 picks track 8 by IoU: one ID switch. (motmetrics, left to
    # itself, would carry 1 -> 7 across the gap and count none.)
    gt = Records([(0, 1, A), (1, 1, A), (2, 1, A)])
    pred = Records([(0, 7, A), (1, 7, C), (2, 7, [0, 0, 10, 6]), (2, 8, A)])
    frames = frames_from_columns(
        gt.frame, gt.track_id, gt.boxes, pred.frame, pred.track_id, pred.boxes
    )
    (_, c0), (r1, _), (_, c2) = clear_matches(frames)
    assert list(c0) == [0] and len(r1) == 0 and frames.pred_ids[2][c2[0]] == 8
    s = score_frames(frames)
    assert (s["IDSW"], s["FN"], s["FP"]) == (1, 1, 2)
    assert s["MOTA"] == pytest.approx(1 - (1 + 2 + 1) / 3)


def _random_frames(seed: int, frames: int = 30) -> MotFrames:
    rng = np.random.default_rng(seed)
    gt_rows, pred_rows = [], []
    centres = rng.uniform(20, 200, (6, 2))
    for t in range(frames):
        centres += rng.normal(0, 3, centres.shape)
        for i, (x, y) in enumerate(centres):
            if rng.random() < 0.85:
                gt_rows.append((t, i, [x - 10, y - 15, x + 10, y + 15]))
            if rng.random() < 0.8:
                j = i if rng.random() < 0.9 else i + 10  # occasional identity swap
                dx, dy = rng.normal(0, 3, 2)
                pred_rows.append((t, j, [x - 10 + dx, y - 15 + dy, x + 10 + dx, y + 15 + dy]))
        if rng.random() < 0.3:
            x, y = rng.uniform(0, 200, 2)
            pred_rows.append((t, 100 + t, [x, y, x + 20, y + 30]))
    g, p = Records(gt_rows), Records(pred_rows)
    return frames_from_columns(g.frame, g.track_id, g.boxes, p.frame, p.track_id, p.boxes)


def _trackeval(frames: MotFrames) -> dict:
    from trackeval.metrics import CLEAR, HOTA, Identity

    def contiguous(ids):
        unique = np.unique(np.concatenate(ids))
        return [np.searchsorted(unique, i) for i in ids], len(unique)

    gt_ids, n_gt = contiguous(frames.gt_ids)
    pred_ids, n_pred = contiguous(frames.pred_ids)
    data = {
        "num_timesteps": len(frames),
        "gt_ids": gt_ids,
        "tracker_ids": pred_ids,
        "similarity_scores": list(frames.similarity),
        "num_gt_ids": n_gt,
        "num_tracker_ids": n_pred,
        "num_gt_dets": frames.num_gt_dets,
        "num_tracker_dets": frames.num_pred_dets,
    }
    config = {"PRINT_CONFIG": False}
    return {
        "HOTA": HOTA().eval_sequence(data),
        "CLEAR": CLEAR(config).eval_sequence(data),
        "Identity": Identity(config).eval_sequence(data),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_trackeval_metrics(seed):
    frames = _random_frames(seed)
    ours = score_frames(frames)
    ref = _trackeval(frames)
    clear, ident, hota = ref["CLEAR"], ref["Identity"], ref["HOTA"]
    assert ours["IDSW"] > 0 and ours["FP"] > 0 and ours["FN"] > 0  # the case exercises them all
    assert (ours["TP"], ours["FP"], ours["FN"], ours["IDSW"]) == (
        clear["CLR_TP"],
        clear["CLR_FP"],
        clear["CLR_FN"],
        clear["IDSW"],
    )
    assert ours["MOTA"] == pytest.approx(clear["MOTA"], abs=1e-12)
    assert ours["MOTP"] == pytest.approx(clear["MOTP"], abs=1e-12)
    assert ours["IDF1"] == pytest.approx(ident["IDF1"], abs=1e-12)
    assert ours["HOTA"] == pytest.approx(np.mean(hota["HOTA"]), abs=1e-12)


def test_combining_sequences_pools_counts():
    a, b = _random_frames(3), _random_frames(4)
    pooled = combine_partials([score_partial(a), score_partial(b)])
    sa, sb = score_frames(a), score_frames(b)
    for key in ("GT", "TP", "FP", "FN", "IDSW", "IDTP"):
        assert pooled[key] == sa[key] + sb[key]
    gt = sa["GT"] + sb["GT"]
    assert pooled["MOTA"] == pytest.approx(1 - (pooled["FN"] + pooled["FP"] + pooled["IDSW"]) / gt)
    idf1 = 2 * pooled["IDTP"] / (gt + sa["predictions"] + sb["predictions"])
    assert pooled["IDF1"] == pytest.approx(idf1)


def test_empty_prediction_scores_zero():
    gt, _ = toy()
    empty = Records([])
    s = clear_mot(gt, empty)
    assert (s["FN"], s["FP"], s["TP"]) == (6, 0, 0)
    assert s["MOTA"] == 0.0 and s["IDF1"] == 0.0 and s["HOTA"] == 0.0


def test_bad_input_raises():
    with pytest.raises(ValueError, match="repeat"):
        MotFrames(
            gt_ids=(np.array([1, 1]),), pred_ids=(np.array([2]),), similarity=(np.zeros((2, 1)),)
        )
    with pytest.raises(ValueError, match="similarity"):
        MotFrames(
            gt_ids=(np.array([1]),), pred_ids=(np.array([2]),), similarity=(np.zeros((2, 1)),)
        )
    with pytest.raises(ValueError, match="iou_threshold"):
        clear_mot(*toy(), iou_threshold=0.0)
