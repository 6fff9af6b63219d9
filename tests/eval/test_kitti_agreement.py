"""Proof of agreement: ratrack's KITTI evaluation against trackeval's official one, on the real
KITTI tracking labels (all 21 training sequences) and tracks built from the real RRC detections
by ratrack's IoU-association tracker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ratrack.data.kitti_labels import read_kitti_labels, write_kitti_labels
from ratrack.eval.kitti import evaluate_kitti, kitti_num_frames, trackeval_kitti
from ratrack.track.association import track_kitti_detections

SEQUENCES = [f"{i:04d}" for i in range(21)]


def test_tracks_from_real_detections_round_trip(data_dir, tmp_path):
    root = data_dir / "kitti_tracking" / "detections_rrc" / "training"
    tracks = track_kitti_detections({c: root / c / "0001.txt" for c in ("Car", "Pedestrian")})
    assert set(np.unique(tracks.type)) == {"Car", "Pedestrian"}
    assert (np.diff(tracks.frame) >= 0).all()
    path = tmp_path / "0001.txt"
    write_kitti_labels(path, tracks)
    back = read_kitti_labels(path)
    np.testing.assert_array_equal(back.track_id, tracks.track_id)
    np.testing.assert_allclose(back.boxes, tracks.boxes, atol=1e-4)
    np.testing.assert_allclose(back.score, tracks.score, atol=1e-4)


@pytest.mark.slow
def test_agrees_with_trackeval_on_all_21_real_sequences(data_dir, tmp_path):
    kitti = data_dir / "kitti_tracking"
    det_root = kitti / "detections_rrc" / "training"
    gt_files, pred_files, gts, preds, frames = {}, {}, {}, {}, {}
    for seq in SEQUENCES:
        gt_files[seq] = kitti / "training" / "label_02" / f"{seq}.txt"
        pred_files[seq] = tmp_path / f"{seq}.txt"
        tracks = track_kitti_detections(
            {c: det_root / c / f"{seq}.txt" for c in ("Car", "Pedestrian")}
        )
        write_kitti_labels(pred_files[seq], tracks)
        gts[seq] = read_kitti_labels(gt_files[seq])
        preds[seq] = read_kitti_labels(pred_files[seq])  # what trackeval reads, same precision
        frames[seq] = kitti_num_frames(gts[seq], preds[seq])
    start = time.perf_counter()
    ours = evaluate_kitti(gts, preds, frames)
    ours_s = time.perf_counter() - start
    ref = trackeval_kitti(gt_files, pred_files, frames)
    ref_s = time.perf_counter() - start - ours_s
    worst = dict.fromkeys(("HOTA", "MOTA", "IDF1", "DetA", "AssA", "LocA", "MOTP"), 0.0)
    for seq in [*SEQUENCES, "COMBINED_SEQ"]:
        for cls in ("car", "pedestrian"):
            o = ours["combined"][cls] if seq == "COMBINED_SEQ" else ours["sequences"][seq][cls]
            r = ref[seq][cls]
            for key in worst:
                worst[key] = max(worst[key], abs(o[key] - r[key]))
            for key in ("HOTA", "MOTA", "IDF1"):
                assert o[key] == pytest.approx(r[key], abs=1e-3), (seq, cls, key)
            assert (o["FP"], o["FN"], o["IDSW"]) == (r["FP"], r["FN"], r["IDSW"]), (seq, cls)
    assert ours["combined"]["car"]["IDSW"] > 0 and ours["combined"]["pedestrian"]["FP"] > 0
    print(f"\nlargest differences: {worst}; ours {ours_s:.1f} s, trackeval {ref_s:.1f} s")
