"""Train the natural-video tracker and score it on the validation sequences beside OpenCV's.

    python tools/train_natural.py --data ../shared/data --out runs/natural

Stages (seeds fixed; ``otb/BlurCar2`` and ``otb/Crossing`` are read only in stage 5):

1. the training pool (:mod:`ratrack.tracker.natural`): real clips of OTB Car1 (first 80 %),
   ping-pong clips of MOT17-mini pedestrian tracks, motion on real stills (KITTI 0001 labels,
   MOT17 gt, Car1 frames, unlabelled KITTI raw frames);
2. glimpse-misalignment pretraining of the conv net on frames of that pool, scored on held-out
   real frames (last 20 % of Car1, every labelled box of KITTI 0016);
3. tracker training from the pretrained conv net (curriculum on clip length);
4. ``natural.pt`` (weights and config only) in ``--out``;
5. whole-sequence validation on BlurCar2 and Crossing from the first ground-truth box: mean
   IoU, success AUC, precision at 20 px and fps, OpenCV's trackers in the same pass;
   ``metrics.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import torch

from ratrack.datasets.sequences import open_sequence
from ratrack.eval.peers import OpenCVTracker
from ratrack.eval.sot import evaluate_sot
from ratrack.pretrain.misalignment import PretrainConfig
from ratrack.tracker.model import RecurrentTracker
from ratrack.tracker.natural import (
    VALIDATION,
    NaturalPoolConfig,
    natural_model_config,
    natural_sampler,
    pretrain_on_natural,
)
from ratrack.tracker.online import Tracker
from ratrack.tracker.sot import SingleObjectTracker
from ratrack.tracker.train import TrainConfig, load_pretrained_conv, save_tracker, train_tracker

log = logging.getLogger("train_natural")


def validate(model: RecurrentTracker, data: Path, peers: list[str]) -> dict:
    """Whole-sequence scores of ``model`` and ``peers`` on the validation sequences."""
    scores = {}
    for name in VALIDATION:
        sequence = open_sequence(data / "otb" / name, "otb")
        trackers = {"ratrack": SingleObjectTracker(Tracker(model=model))}
        trackers |= {peer: OpenCVTracker(name=peer) for peer in peers}
        report = evaluate_sot(sequence, trackers=trackers)
        print(report.table(), flush=True)
        scores[name] = report.to_json()
    return scores


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("runs/natural"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--real-clips", type=int, default=600)
    p.add_argument("--mot-clips", type=int, default=400)
    p.add_argument("--motion-clips", type=int, default=1600)
    p.add_argument("--pretrain-steps", type=int, default=400)
    p.add_argument("--canvases", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--glimpse", type=int, default=40)
    p.add_argument("--train-seconds", type=float, default=None, help="stop training early")
    p.add_argument("--peers", default="csrt,kcf,mosse,medianflow,mil")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    timings = {}

    start = time.perf_counter()
    pool = NaturalPoolConfig(
        real_clips=args.real_clips,
        mot_clips=args.mot_clips,
        motion_clips=args.motion_clips,
        seed=args.seed,
    )
    sampler = natural_sampler(args.data, pool, batch_size=args.batch, device=args.device)
    timings["pool"] = time.perf_counter() - start
    model_config = natural_model_config(sampler, glimpse_size=(args.glimpse, args.glimpse))

    start = time.perf_counter()
    pre_path, pretrain_scores = pretrain_on_natural(
        PretrainConfig(steps=args.pretrain_steps, seed=args.seed),
        root=args.data,
        sampler=sampler,
        model_config=model_config,
        out_dir=args.out / "pretrain",
        canvases=args.canvases,
        device=args.device,
    )
    timings["pretrain"] = time.perf_counter() - start
    log.info("pretraining, held-out real glimpses: %s", pretrain_scores)

    steps = args.steps
    train_config = TrainConfig(
        steps=steps,
        batch_size=args.batch,
        warmup=min(200, steps // 10),
        curriculum=((0, 5), (steps // 8, 10), (steps // 4, pool.length)),
        checkpoint_every=250,
    )
    torch.manual_seed(args.seed)
    model = RecurrentTracker(config=model_config)
    load_pretrained_conv(model, pre_path)
    result = train_tracker(
        model,
        sampler,
        train_config,
        out_dir=args.out / "train",
        device=args.device,
        time_limit_s=args.train_seconds,
    )
    timings["train"] = result.seconds
    log.info("trained to step %d in %.0f s", result.step, result.seconds)
    model = model.cpu().eval()
    save_tracker(args.out / "natural.pt", model, step=result.step)

    peers = [p for p in args.peers.split(",") if p]
    scores = validate(model, args.data, peers)
    metrics = {
        "pool": dataclasses.asdict(pool),
        "pool_clips": len(sampler.frames),
        "pretrain_held_out": pretrain_scores,
        "train_steps": result.step,
        "seconds": timings,
        "validation": scores,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({"pretrain_held_out": pretrain_scores, "seconds": timings}, indent=2))


if __name__ == "__main__":
    main()
