"""Print ratrack's KITTI evaluation next to trackeval's official one on the real KITTI labels.

Tracks come from the real RRC detections through ratrack's IoU-association tracker. Usage:

    python tools/kitti_agreement.py [--data ../shared/data] [--json out.json]

Prints HOTA, MOTA and IDF1 of both per sequence and class, the largest absolute differences and
the time each evaluation took.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ratrack.data.kitti_labels import read_kitti_labels, write_kitti_labels
from ratrack.eval.kitti import evaluate_kitti, kitti_num_frames, trackeval_kitti
from ratrack.track.association import track_kitti_detections

KEYS = ("HOTA", "MOTA", "IDF1", "DetA", "AssA", "LocA", "MOTP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    kitti = args.data / "kitti_tracking"
    det_root = kitti / "detections_rrc" / "training"
    seqs = sorted(p.stem for p in (kitti / "training" / "label_02").glob("*.txt"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        gt_files, pred_files, gts, preds, frames = {}, {}, {}, {}, {}
        for seq in seqs:
            gt_files[seq] = kitti / "training" / "label_02" / f"{seq}.txt"
            pred_files[seq] = Path(tmp) / f"{seq}.txt"
            dets = {c: det_root / c / f"{seq}.txt" for c in ("Car", "Pedestrian")}
            write_kitti_labels(pred_files[seq], track_kitti_detections(dets))
            gts[seq] = read_kitti_labels(gt_files[seq])
            preds[seq] = read_kitti_labels(pred_files[seq])
            frames[seq] = kitti_num_frames(gts[seq], preds[seq])
        t_track = time.perf_counter() - start
        ours = evaluate_kitti(gts, preds, frames)
        t_ours = time.perf_counter() - start - t_track
        ref = trackeval_kitti(gt_files, pred_files, frames)
        t_ref = time.perf_counter() - start - t_track - t_ours
    worst = dict.fromkeys(KEYS, 0.0)
    rows = []
    print(f"{'seq':<13}{'class':<11}" + "".join(f"{k + ' r/te':>18}" for k in KEYS[:3]))
    for seq in [*seqs, "COMBINED_SEQ"]:
        for cls in ("car", "pedestrian"):
            o = ours["combined"][cls] if seq == "COMBINED_SEQ" else ours["sequences"][seq][cls]
            r = ref[seq][cls]
            for k in KEYS:
                worst[k] = max(worst[k], abs(o[k] - r[k]))
            cells = "".join(f"{o[k]:>9.4f}{r[k]:>9.4f}" for k in KEYS[:3])
            print(f"{seq:<13}{cls:<11}{cells}")
            rows.append({"sequence": seq, "class": cls, "ratrack": o, "trackeval": r})
    print("largest |ratrack - trackeval|:", {k: f"{v:.2e}" for k, v in worst.items()})
    print(f"time: tracking {t_track:.1f} s, ratrack eval {t_ours:.1f} s, trackeval {t_ref:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "max_abs_diff": worst}, indent=1))


if __name__ == "__main__":
    main()
