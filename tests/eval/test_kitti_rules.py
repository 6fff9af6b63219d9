"""KITTI's evaluation rules: a hand-built frame, and parity with trackeval's official KITTI
evaluation on random KITTI-like files (no real data needed; the real-data agreement is in
test_kitti_agreement.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ratrack.eval.kitti import KittiRules, evaluate_kitti, kitti_frames, trackeval_kitti


def labels(rows):
    """Columnar KITTI labels from ``(frame, id, type, truncated, occluded, box)`` rows."""
    return SimpleNamespace(
        frame=np.array([r[0] for r in rows], np.int64),
        track_id=np.array([r[1] for r in rows], np.int64),
        type=np.array([r[2] for r in rows], dtype=str),
        truncated=np.array([r[3] for r in rows], float),
        occluded=np.array([r[4] for r in rows], float),
        boxes=np.array([r[5] for r in rows], float).reshape(-1, 4),
    )


def write(path, lab):
    with open(path, "w") as f:
        for fr, i, t, tr, oc, b in zip(
            lab.frame, lab.track_id, lab.type, lab.truncated, lab.occluded, lab.boxes, strict=True
        ):
            f.write(
                f"{fr} {i} {t} {int(tr)} {int(oc)} -10 {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} {b[3]:.2f}"
                " -1 -1 -1 -1000 -1000 -1000 -10\n"
            )


GT = labels(
    [
        (0, 1, "Car", 0, 0, [100, 100, 200, 200]),  # scored
        (0, 2, "Van", 0, 0, [300, 100, 400, 200]),  # distractor class for car
        (0, 3, "Car", 1, 0, [500, 100, 600, 200]),  # truncated: distractor
        (0, 4, "Car", 0, 3, [700, 100, 800, 200]),  # occlusion unknown: distractor
        (0, -1, "DontCare", -1, -1, [0, 300, 100, 375]),
        (0, 5, "Pedestrian", 0, 2, [900, 100, 950, 200]),  # occlusion 2 is still scored
        (0, 6, "Person", 0, 0, [1200, 100, 1230, 180]),  # sitting: distractor for pedestrian
    ]
)
PRED = labels(
    [
        (0, 10, "Car", 0, 0, [100, 100, 200, 200]),  # TP
        (0, 11, "Car", 0, 0, [300, 100, 400, 200]),  # on the van: removed
        (0, 12, "Car", 0, 0, [500, 100, 600, 200]),  # on the truncated car: removed
        (0, 13, "Car", 0, 0, [700, 100, 800, 200]),  # on the occluded car: removed
        (0, 14, "Car", 0, 0, [10, 310, 60, 360]),  # inside DontCare: removed
        (0, 15, "Car", 0, 0, [1000, 100, 1050, 125]),  # 25 px tall: removed
        (0, 16, "Car", 0, 0, [1000, 200, 1100, 226]),  # 26 px tall, matches nothing: FP
        (0, 17, "Van", 0, 0, [300, 100, 400, 200]),  # not an evaluated class: ignored
        (0, 18, "Pedestrian", 0, 0, [900, 100, 950, 200]),  # TP for pedestrian
        (0, 19, "Pedestrian", 0, 0, [1200, 100, 1230, 180]),  # on the sitting person: removed
    ]
)


def test_rules_on_a_hand_built_frame():
    car = kitti_frames(GT, PRED, "car", 1)
    assert list(car.gt_ids[0]) == [1]
    assert list(car.pred_ids[0]) == [10, 16]
    ped = kitti_frames(GT, PRED, "pedestrian", 1)
    assert list(ped.gt_ids[0]) == [5] and list(ped.pred_ids[0]) == [18]
    report = evaluate_kitti({"0000": GT}, {"0000": PRED})
    car_s = report["sequences"]["0000"]["car"]
    assert (car_s["TP"], car_s["FP"], car_s["FN"]) == (1, 1, 0)
    assert car_s["MOTA"] == pytest.approx(0.0)  # 1 - FP / GT
    assert report["combined"]["pedestrian"]["MOTA"] == pytest.approx(1.0)
    both = report["combined"]["all"]
    assert (both["GT"], both["TP"], both["FP"]) == (2, 2, 1)
    assert both["MOTA"] == pytest.approx(0.5)


def test_hand_built_frame_agrees_with_trackeval(tmp_path):
    write(tmp_path / "gt.txt", GT)
    write(tmp_path / "pred.txt", PRED)
    ref = trackeval_kitti(
        {"0000": tmp_path / "gt.txt"}, {"0000": tmp_path / "pred.txt"}, {"0000": 1}
    )
    assert ref["0000"]["car"]["MOTA"] == pytest.approx(0.0)
    assert ref["0000"]["car"]["FP"] == 1 and ref["0000"]["pedestrian"]["MOTA"] == pytest.approx(1.0)


def random_sequence(seed: int, frames: int = 40):
    """KITTI-like ground truth and a noisy tracker's output, written with 2 decimals."""
    rng = np.random.default_rng(seed)
    types = ["Car", "Car", "Car", "Van", "Pedestrian", "Pedestrian", "Person", "Cyclist"]
    objects = [
        (i, types[rng.integers(len(types))], rng.uniform(0, 1000), rng.uniform(80, 250))
        for i in range(10)
    ]
    gt_rows, pred_rows = [], []
    for t in range(frames):
        for i, kind, x, y in objects:
            x += 4 * t
            h = 30 + 10 * (i % 6)
            w = h * (2.0 if kind in ("Car", "Van") else 0.5)
            box = np.round([x, y, x + w, y + h], 2)
            if rng.random() < 0.9:
                gt_rows.append((t, i, kind, rng.integers(0, 3), rng.integers(0, 4), box))
            if rng.random() < 0.8:
                guess = {"Van": "Car", "Person": "Pedestrian"}.get(kind, kind)
                pid = 100 + i if rng.random() < 0.92 else 200 + i + t  # identity noise
                noisy = np.round(box + rng.normal(0, 4, 4), 2)
                pred_rows.append((t, pid, guess, 0, 0, noisy))
        gt_rows.append((t, -1, "DontCare", -1, -1, np.array([0, 0, 120, 60.0])))
        for k in range(rng.integers(0, 3)):  # false positives, some small, some in DontCare
            x, y = rng.uniform(0, 1100), rng.uniform(0, 300)
            h = rng.choice([20.0, 40.0])
            pred_rows.append(
                (t, 900 + 3 * t + k, "Car", 0, 0, np.round([x, y, x + 2 * h, y + h], 2))
            )
    return labels(gt_rows), labels(pred_rows)


def test_random_sequences_agree_with_trackeval(tmp_path):
    gts, preds, gt_files, pred_files = {}, {}, {}, {}
    for seed in range(3):
        seq = f"{seed:04d}"
        gts[seq], preds[seq] = random_sequence(seed)
        gt_files[seq], pred_files[seq] = tmp_path / f"gt{seq}.txt", tmp_path / f"pred{seq}.txt"
        write(gt_files[seq], gts[seq])
        write(pred_files[seq], preds[seq])
    frames = dict.fromkeys(gts, 40)
    ours = evaluate_kitti(gts, preds, frames)
    ref = trackeval_kitti(gt_files, pred_files, frames)
    checked = 0
    for seq in [*gts, "COMBINED_SEQ"]:
        for cls in ("car", "pedestrian"):
            o = ours["combined"][cls] if seq == "COMBINED_SEQ" else ours["sequences"][seq][cls]
            r = ref[seq][cls]
            for key in ("FP", "FN", "IDSW"):
                assert o[key] == r[key], (seq, cls, key)
            for key in ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"):
                assert o[key] == pytest.approx(r[key], abs=1e-9), (seq, cls, key)
            checked += o["IDSW"] > 0 and o["FP"] > 0
    assert checked >= 4  # the cases exercise switches and false positives


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="classes"):
        KittiRules(classes=("cyclist",))
    with pytest.raises(ValueError, match="cls"):
        kitti_frames(GT, PRED, "van", 1)
    with pytest.raises(ValueError, match="different sequences"):
        evaluate_kitti({"0000": GT}, {"0001": PRED})
