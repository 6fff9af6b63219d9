"""Choose multi-object tracking thresholds on KITTI sequences 0000-0010 only, the same way for
ratrack and for each peer.

For each tracker and class, coordinate descent on HOTA (KITTI rules) over the tuning sequences:
starting from the tracker's own defaults (frame rate 10 for the peers; ratrack's are its car
settings), each knob in turn takes the value of its grid that the criterion prefers with the
others fixed (one pass by default). The knobs are each tracker's obvious ones: the score below
which detections are dropped, the score that starts a track (and ByteTrack's high/low split), how
long a lost track lives, how many hits confirm one; for ratrack also its output policy. Prints
the choice per tracker and class as JSON (the values written into ratrack's dashcam defaults and
the peers' bench settings).

Criteria (``--criterion``), one for all trackers of a run:

* ``pooled``: any rise of HOTA pooled over the sequences moves a knob.
* ``stable``: a knob leaves its current value only for one that raises pooled HOTA by at least
  ``--margin`` *and* raises the HOTA of more tuning sequences than it lowers (sequences without
  objects of the class do not vote). A value that changes nothing, or wins on one crowded
  sequence alone, keeps the default: with few objects (KITTI 0000-0010 holds about 500
  pedestrian boxes) most knobs carry no signal, and pooled HOTA follows a handful of tracks.

``--knobs`` lets only the named knobs move; ``--set KNOB=VALUE,...`` fixes knobs at other
values than the tracker's defaults before the descent starts (e.g. a mechanism switched on, its
thresholds re-chosen around it); ``--loso`` also scores the way of choosing within
the tuning sequences: each sequence with objects of the class is scored by the knobs chosen on
the others. The dashcam defaults came from (README, "Multi-object tracking"):

    python tools/tune_mot.py --kitti ../shared/data/kitti_tracking --sequences 0000-0010 \
        --trackers ratrack,sort,bytetrack,ocsort,sv-bytetrack --out tune.json
    python tools/tune_mot.py --kitti ../shared/data/kitti_tracking --sequences 0000-0010 \
        --trackers ratrack --classes Pedestrian --passes 3 \
        --knobs min_score,high_score,birth_score,min_hits --loso
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
from typing import NamedTuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from ratrack.cli._common import parse_assignments as parse_set
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
        "height_iou": [False, True],
        "direction_weight": [0.0, 0.2],
        "low_iou_threshold": [0.3, 0.5],
        "max_misses": [5, 10, 20],
        "min_hits": [1, 2, 3, 4, 5],
        "report_coast": [0, 1, 2],
        "fill_gaps": [0, 3, 5, 8],
        "backfill": [False, True],
        "recover_iou": [0.0, 0.3],
        "camera_shift": [False, True],
        "motion.std_velocity": [0.01, 0.02, 0.05],
        "motion.score_noise": [False, True],
        "motion.std_measurement": [0.025, 0.05, 0.1],
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


class Score(NamedTuple):
    """HOTA of one setting: ``pooled`` over the tuning sequences, ``per_sequence`` (only the
    sequences with ground truth of the class) and trackeval's ``parts`` per sequence."""

    pooled: float
    per_sequence: dict[str, float]
    parts: dict


def hota(gt, preds, cls: str, num_frames) -> Score:
    """HOTA of ``cls`` pooled over the sequences and per sequence (trackeval's HOTA on
    KITTI-rules frames)."""
    from trackeval.metrics import HOTA

    from ratrack.eval.kitti import kitti_frames
    from ratrack.eval.mot import hota_counts

    parts = {s: hota_counts(kitti_frames(gt[s], preds[s], cls.lower(), num_frames[s])) for s in gt}
    pooled = float(np.mean(HOTA().combine_sequences(parts)["HOTA"]))
    per_sequence = {s: float(np.mean(parts[s]["HOTA"])) for s in has_objects(gt, cls)}
    return Score(pooled, per_sequence, parts)


def has_objects(gt, cls: str) -> list[str]:
    """The sequences of ``gt`` with ground truth of ``cls``."""
    kind = cls.lower()
    return [s for s in gt if (np.char.lower(gt[s].type.astype(str)) == kind).any()]


def prefer(trial: Score, best: Score, criterion: str = "pooled", margin: float = 0.0) -> bool:
    """Whether ``trial`` replaces the incumbent ``best`` (module docstring, ``--criterion``)."""
    if criterion == "pooled":
        return trial.pooled > best.pooled + 1e-9
    if criterion != "stable":
        raise ValueError(f"criterion must be 'pooled' or 'stable', got {criterion!r}")
    if trial.pooled < best.pooled + max(margin, 1e-9):
        return False
    diff = np.array([trial.per_sequence[s] - best.per_sequence[s] for s in best.per_sequence])
    return int((diff > 1e-9).sum()) > int((diff < -1e-9).sum())


def ratrack_config(params: dict):
    """A :class:`MultiTrackConfig` from flat ``params`` (``motion.NAME`` for the filter's)."""
    from ratrack.track.lifecycle import MultiTrackConfig
    from ratrack.track.motion import MotionConfig

    motion = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("motion.")}
    rest = {k: v for k, v in params.items() if not k.startswith("motion.")}
    return MultiTrackConfig(**rest, motion=MotionConfig(**motion))


def ratrack_params(config) -> dict:
    """Flat ``params`` of a :class:`MultiTrackConfig` (``motion.NAME`` for the filter's): the
    inverse of :func:`ratrack_config`."""
    params = dataclasses.asdict(config)
    params.update({f"motion.{k}": v for k, v in params.pop("motion").items()})
    return params


def evaluate(name: str, params: dict, dets, gt, cls, num_frames) -> Score:
    if name == "ratrack":
        runner = ratrack_runner(ratrack_config(params))
    else:
        runner = peer_runner(name, params)
    preds = {s: kitti_results(runner(d)[0], cls) for s, d in dets.items()}
    return hota(gt, preds, cls, num_frames)


def tune(
    name: str,
    dets,
    gt,
    cls,
    num_frames,
    passes: int = 1,
    criterion: str = "pooled",
    margin: float = 0.0,
    knobs: list[str] | None = None,
    fixed: dict | None = None,
) -> tuple[dict, Score]:
    """The knobs of ``name`` chosen on ``dets`` (module docstring); ``knobs``: only these move,
    the others keep the tracker's defaults, or the values in ``fixed``."""
    grids = GRIDS[name]
    if knobs is not None:
        unknown = sorted(set(knobs) - set(grids))
        if unknown:
            raise ValueError(f"{name} has no knob(s) {', '.join(unknown)}; expected {list(grids)}")
        grids = {k: v for k, v in grids.items() if k in knobs}
    params: dict = {}
    if name == "ratrack":
        from ratrack.track.lifecycle import MultiTrackConfig

        base = ratrack_params(MultiTrackConfig())
        params = {k: base[k] for k in GRIDS[name]}
    params.update(fixed or {})
    cache: dict[str, Score] = {}
    invalid = Score(-1.0, {}, {})

    def score(p: dict) -> Score:
        key = json.dumps(p, sort_keys=True)
        if key not in cache:
            try:
                cache[key] = evaluate(name, p, dets, gt, cls, num_frames)
            except ValueError:  # an invalid combination (e.g. high_score above birth_score)
                cache[key] = invalid
        return cache[key]

    best = score(params)
    for _ in range(passes):
        changed = False
        for knob, grid in grids.items():
            for value in grid:
                trial = {**params, knob: value}
                s = score(trial)
                if s is not invalid and prefer(s, best, criterion, margin):
                    best, params, changed = s, trial, True
            log.info("%s %s %s -> %.4f %s", name, cls, knob, best.pooled, params)
        if not changed:
            break
    return params, best


def leave_one_out(
    name: str,
    dets,
    gt,
    cls,
    num_frames,
    passes: int,
    criterion: str,
    margin: float,
    knobs: list[str] | None = None,
    fixed: dict | None = None,
) -> tuple[float, dict]:
    """How well a criterion's choices carry over, within the tuning sequences: each sequence
    with objects of ``cls`` is scored with the knobs chosen on the others. Returns the HOTA
    pooled over those held-out runs and the choice per held-out sequence."""
    from trackeval.metrics import HOTA

    held, choices = {}, {}
    for s in has_objects(gt, cls):
        rest = [q for q in gt if q != s]
        params, _ = tune(
            name,
            {q: dets[q] for q in rest},
            {q: gt[q] for q in rest},
            cls,
            {q: num_frames[q] for q in rest},
            passes,
            criterion,
            margin,
            knobs,
            fixed,
        )
        held[s] = evaluate(name, params, {s: dets[s]}, {s: gt[s]}, cls, num_frames).parts[s]
        choices[s] = params
        log.info("%s %s without %s: %s", name, cls, s, params)
    return float(np.mean(HOTA().combine_sequences(held)["HOTA"])), choices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kitti", type=Path, default=Path("../shared/data/kitti_tracking"))
    parser.add_argument("--sequences", default="0000-0010")
    parser.add_argument("--trackers", default="ratrack,sort,bytetrack,ocsort,sv-bytetrack")
    parser.add_argument("--classes", default=",".join(CLASSES))
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--criterion", choices=("pooled", "stable"), default="pooled")
    parser.add_argument("--margin", type=float, default=0.005, help="stable: min pooled gain")
    parser.add_argument(
        "--knobs", default=None, help="only these knobs move (comma list; default: every one)"
    )
    parser.add_argument(
        "--set",
        default=None,
        help="start from these values (comma list of KNOB=VALUE, VALUE as JSON or a string)",
    )
    parser.add_argument(
        "--loso", action="store_true", help="also score the criterion leaving one sequence out"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from ratrack.data.kitti_labels import read_kitti_labels
    from ratrack.eval.kitti import kitti_num_frames

    labels = kitti_sequences(args.kitti, parse_sequences(args.sequences) or None)
    gt = {s: read_kitti_labels(p) for s, p in labels.items()}
    num_frames = {s: kitti_num_frames(g) for s, g in gt.items()}
    det_root = rrc_folder(args.kitti)
    knobs = [k.strip() for k in args.knobs.split(",")] if args.knobs else None
    fixed = parse_set(args.set) if args.set else None
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
            # what tune and leave_one_out take after the tracker's name
            setup = (dets, gt, cls, num_frames, args.passes, args.criterion, args.margin)
            params, best = tune(name, *setup, knobs, fixed)
            chosen.setdefault(name, {})[cls] = {
                "params": params,
                "HOTA": round(best.pooled, 4),
                "per_sequence": {s: round(v, 4) for s, v in best.per_sequence.items()},
            }
            if args.loso:
                loso, choices = leave_one_out(name, *setup, knobs, fixed)
                chosen[name][cls]["leave_one_out_HOTA"] = round(loso, 4)
                chosen[name][cls]["leave_one_out_params"] = choices
            log.info(
                "chose %s %s: HOTA %.4f %s (%.0f s)",
                name,
                cls,
                best.pooled,
                params,
                time.time() - start,
            )
            if args.out is not None:
                args.out.write_text(json.dumps(chosen, indent=2) + "\n")
    print(json.dumps(chosen, indent=2))


if __name__ == "__main__":
    main()
