"""Choose multi-object tracking thresholds on KITTI sequences 0000-0010 only, the same way for
ratrack and for each peer.

For each tracker and class, coordinate descent on HOTA (KITTI rules, pooled over the tuning
sequences): starting from the tracker's own defaults (frame rate 10 for the peers), each knob in
turn takes the value of its grid that scores best with the others fixed (one pass by default). The
knobs are each tracker's obvious ones: the score below which detections are dropped, the
score that starts a track (and ByteTrack's high/low split), how long a lost track lives, how many
hits confirm one; for ratrack also its output policy. Prints the choice per tracker and class
as JSON (the values written into ratrack's dashcam defaults and the peers' bench settings).

    python tools/tune_mot.py --kitti ../shared/data/kitti_tracking --sequences 0000-0010 \
        --trackers ratrack,sort,bytetrack,ocsort,sv-bytetrack --out tune.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from ratrack.eval.mot_bench import (
    CLASSES,
    SequenceDetections,
    kitti_results,
    kitti_sequences,
    load_detections,
    parse_sequences,
    peer_runner,
    ratrack_runner,
    rrc_folder,
)

log = logging.getLogger("tune_mot")

GRIDS: dict[str, dict[str, list]] = {
    "ratrack": {
        "min_score": [0.0, 0.2, 0.4, 0.5],
        "high_score": [0.4, 0.5, 0.6, 0.7, 0.8],
        "birth_score": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "iou_threshold": [0.05, 0.1, 0.2, 0.3],
        "match_expand": [0.0, 0.1, 0.2, 0.3],
        "low_iou_threshold": [0.3, 0.5],
        "max_misses": [5, 10, 20],
        "min_hits": [1, 2, 3, 4, 5],
        "report_coast": [0, 1, 2],
        "fill_gaps": [0, 3, 5, 8],
        "backfill": [False, True],
        "recover_iou": [0.0, 0.3],
        "camera_shift": [False, True],
        "motion.std_velocity": [0.01, 0.02, 0.05],
    },
    "sort": {
        "min_score": [0.0, 0.3, 0.5, 0.7],
        "track_activation_threshold": [0.25, 0.5, 0.7],
        "lost_track_buffer": [10, 30, 60],
        "minimum_consecutive_frames": [1, 2, 3],
    },
    "bytetrack": {
        "min_score": [0.0, 0.2],
        "high_conf_det_threshold": [0.4, 0.6, 0.8],
        "track_activation_threshold": [0.5, 0.7, 0.9],
        "lost_track_buffer": [10, 30, 60],
        "minimum_consecutive_frames": [1, 2, 3],
    },
    "ocsort": {
        "high_conf_det_threshold": [0.3, 0.5, 0.6, 0.7],
        "lost_track_buffer": [10, 30, 60],
        "minimum_consecutive_frames": [1, 2, 3],
    },
    "sv-bytetrack": {
        "min_score": [0.0, 0.3, 0.5],
        "track_activation_threshold": [0.25, 0.5, 0.7],
        "lost_track_buffer": [10, 30, 60],
        "minimum_consecutive_frames": [1, 2, 3],
    },
}
"""Values tried per knob (a peer's own default is where its descent starts)."""


def hota(gt, preds, cls: str, num_frames) -> float:
    """Pooled HOTA of ``cls`` over the sequences (trackeval's HOTA on KITTI-rules frames)."""
    from trackeval.metrics import HOTA

    from ratrack.eval.kitti import kitti_frames
    from ratrack.eval.mot import hota_counts

    parts = {s: hota_counts(kitti_frames(gt[s], preds[s], cls.lower(), num_frames[s])) for s in gt}
    return float(np.mean(HOTA().combine_sequences(parts)["HOTA"]))


def ratrack_config(params: dict):
    """A :class:`MultiTrackConfig` from flat ``params`` (``motion.NAME`` for the filter's)."""
    from ratrack.track.lifecycle import MultiTrackConfig
    from ratrack.track.motion import MotionConfig

    motion = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("motion.")}
    rest = {k: v for k, v in params.items() if not k.startswith("motion.")}
    return MultiTrackConfig(**rest, motion=MotionConfig(**motion))


def evaluate(name: str, params: dict, dets, gt, cls, num_frames) -> float:
    if name == "ratrack":
        runner = ratrack_runner(ratrack_config(params))
    else:
        runner = peer_runner(name, params)
    preds = {s: kitti_results(runner(d)[0], cls) for s, d in dets.items()}
    return hota(gt, preds, cls, num_frames)


def tune(name: str, dets, gt, cls, num_frames, passes: int = 2) -> tuple[dict, float]:
    params: dict = {}
    if name == "ratrack":
        from ratrack.track.lifecycle import MultiTrackConfig

        base = dataclasses.asdict(MultiTrackConfig())
        base.update({f"motion.{k}": v for k, v in base.pop("motion").items()})
        params = {k: base[k] for k in GRIDS[name]}
    cache: dict[str, float] = {}

    def score(p: dict) -> float:
        key = json.dumps(p, sort_keys=True)
        if key not in cache:
            try:
                cache[key] = evaluate(name, p, dets, gt, cls, num_frames)
            except ValueError:  # an invalid combination (e.g. high_score above birth_score)
                cache[key] = -1.0
        return cache[key]

    best = score(params)
    for _ in range(passes):
        changed = False
        for knob, grid in GRIDS[name].items():
            for value in grid:
                trial = {**params, knob: value}
                s = score(trial)
                if s > best + 1e-9:
                    best, params, changed = s, trial, True
            log.info("%s %s %s -> %.4f %s", name, cls, knob, best, params)
        if not changed:
            break
    return params, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kitti", type=Path, default=Path("../shared/data/kitti_tracking"))
    parser.add_argument("--sequences", default="0000-0010")
    parser.add_argument("--trackers", default="ratrack,sort,bytetrack,ocsort,sv-bytetrack")
    parser.add_argument("--classes", default=",".join(CLASSES))
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from ratrack.data.kitti_labels import read_kitti_labels
    from ratrack.eval.kitti import kitti_num_frames

    labels = kitti_sequences(args.kitti, parse_sequences(args.sequences) or None)
    gt = {s: read_kitti_labels(p) for s, p in labels.items()}
    num_frames = {s: kitti_num_frames(g) for s, g in gt.items()}
    det_root = rrc_folder(args.kitti)
    chosen: dict = {}
    for cls in args.classes.split(","):
        dets = {
            s: SequenceDetections(
                s, load_detections(det_root / cls / f"{s}.txt", num_frames[s]), cls
            )
            for s in labels
        }
        for name in args.trackers.split(","):
            start = time.time()
            params, best = tune(name, dets, gt, cls, num_frames, args.passes)
            chosen.setdefault(name, {})[cls] = {"params": params, "HOTA": round(best, 4)}
            log.info(
                "chose %s %s: HOTA %.4f %s (%.0f s)", name, cls, best, params, time.time() - start
            )
            if args.out is not None:
                args.out.write_text(json.dumps(chosen, indent=2) + "\n")
    print(json.dumps(chosen, indent=2))


if __name__ == "__main__":
    main()
