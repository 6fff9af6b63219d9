"""MOTChallenge rules (MOT17 distractors, consider flag): a hand-built frame and parity with
trackeval's official MOTChallenge evaluation on random MOT17-like files."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ratrack.eval.mot import evaluate_frames
from ratrack.eval.motchallenge import motchallenge_frames, trackeval_motchallenge


def records(rows):
    """Columnar MOT records from ``(frame, id, xyxy box, conf, cls)`` rows (frames 1-based)."""
    return SimpleNamespace(
        frame=np.array([r[0] for r in rows], np.int64),
        track_id=np.array([r[1] for r in rows], np.int64),
        boxes=np.array([r[2] for r in rows], float).reshape(-1, 4),
        conf=np.array([r[3] for r in rows], float),
        cls=np.array([r[4] for r in rows], float),
    )


def write(path, rec, gt: bool):
    with open(path, "w") as f:
        for fr, i, b, c, k in zip(
            rec.frame, rec.track_id, rec.boxes, rec.conf, rec.cls, strict=True
        ):
            x, y, w, h = b[0] + 1, b[1] + 1, b[2] - b[0], b[3] - b[1]  # 1-based x y w h
            tail = f"{int(c)},{int(k)},1.0" if gt else f"{c:.3f},-1,-1,-1"
            f.write(f"{fr},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{tail}\n")


def test_distractors_and_flags_by_hand():
    gt = records(
        [
            (1, 1, [0, 0, 50, 100], 1, 1),  # pedestrian: scored
            (1, 2, [100, 0, 150, 100], 1, 7),  # static person: distractor
            (1, 3, [200, 0, 250, 100], 0, 1),  # pedestrian flagged 0: not scored, not distractor
            (1, 4, [300, 0, 350, 100], 0, 3),  # car: neither
        ]
    )
    pred = records(
        [
            (1, 10, [0, 0, 50, 100], 0.9, -1),
            (1, 11, [100, 0, 150, 100], 0.9, -1),  # removed
            (1, 12, [200, 0, 250, 100], 0.9, -1),  # FP (the flagged pedestrian is gone)
            (1, 13, [300, 0, 350, 100], 0.9, -1),  # FP
        ]
    )
    frames = motchallenge_frames(gt, pred, 1)
    assert list(frames.gt_ids[0]) == [1] and list(frames.pred_ids[0]) == [10, 12, 13]
    # Without class labels every flagged row counts and nothing is a distractor.
    unlabelled = records([(1, 1, [0, 0, 50, 100], 1, -1), (1, 2, [100, 0, 150, 100], 0, -1)])
    frames = motchallenge_frames(unlabelled, pred, 1)
    assert list(frames.gt_ids[0]) == [1] and len(frames.pred_ids[0]) == 4


def random_sequence(seed: int, frames: int = 30):
    rng = np.random.default_rng(seed)
    classes = [1, 1, 1, 1, 2, 7, 8, 12, 3]
    gt_rows, pred_rows = [], []
    objects = [(i, rng.choice(classes), rng.uniform(0, 800), rng.uniform(0, 400)) for i in range(9)]
    for t in range(1, frames + 1):
        for i, k, x, y in objects:
            x += 3 * t
            box = np.round([x, y, x + 40, y + 90], 2)
            if rng.random() < 0.9:
                gt_rows.append((t, i + 1, box, int(rng.random() < 0.9), k))
            if rng.random() < 0.8:
                pid = 100 + i if rng.random() < 0.9 else 300 + i + t
                pred_rows.append((t, pid, np.round(box + rng.normal(0, 4, 4), 2), 0.9, -1))
        if rng.random() < 0.5:
            x, y = rng.uniform(0, 800, 2)
            pred_rows.append((t, 900 + t, np.round([x, y, x + 40, y + 90], 2), 0.5, -1))
    return records(gt_rows), records(pred_rows)


def test_random_sequences_agree_with_trackeval(tmp_path):
    gts, preds, gt_files, pred_files = {}, {}, {}, {}
    for seed in range(3):
        seq = f"SEQ-{seed:02d}"
        gts[seq], preds[seq] = random_sequence(seed)
        gt_files[seq], pred_files[seq] = tmp_path / f"{seq}-gt.txt", tmp_path / f"{seq}.txt"
        write(gt_files[seq], gts[seq], gt=True)
        write(pred_files[seq], preds[seq], gt=False)
    ours = evaluate_frames(
        {seq: {"pedestrian": motchallenge_frames(gts[seq], preds[seq], 30)} for seq in gts}
    )
    ref = trackeval_motchallenge(gt_files, pred_files, dict.fromkeys(gts, 30))
    for seq in [*gts, "COMBINED_SEQ"]:
        o = (
            ours["combined"]["pedestrian"]
            if seq == "COMBINED_SEQ"
            else ours["sequences"][seq]["pedestrian"]
        )
        r = ref[seq]["pedestrian"]
        assert (o["FP"], o["FN"], o["IDSW"]) == (r["FP"], r["FN"], r["IDSW"]), seq
        for key in ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"):
            assert o[key] == pytest.approx(r[key], abs=1e-9), (seq, key)
    assert ours["combined"]["pedestrian"]["IDSW"] > 0
