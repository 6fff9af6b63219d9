"""Train the natural-video tracker and score it on the validation sequences beside OpenCV's.

    python tools/train_natural.py --data ../shared/data --out runs/natural

Stages (seeds fixed; ``otb/BlurCar2`` and ``otb/Crossing`` are read only in stage 5):

1. the training pool (:mod:`ratrack.data.natural_pool`): real clips of OTB Car1 (first 80 %),
   ping-pong clips of MOT17-mini pedestrian tracks, motion on real stills (KITTI 0001 labels,
   MOT17 gt, Car1 frames, unlabelled KITTI raw frames);
2. glimpse-misalignment pretraining of the conv net on frames of that pool, scored on held-out
   real frames (last 20 % of Car1, every labelled box of KITTI 0016);
3. tracker training from the pretrained conv net (curriculum on clip length), saved as
   ``trained.pt`` in ``--out``;
4. the box-size damping (``TrackerConfig.size_rate``) chosen on the held-out tails of the OTB
   training sequences (last 20 %, tracked whole from their first box), and ``natural.pt``
   (weights and config only) in ``--out``;
5. whole-sequence validation on BlurCar2 and Crossing from the first ground-truth box: mean
   IoU, success AUC, precision at 20 px and fps, OpenCV's trackers in the same pass;
   ``metrics.json`` in ``--out``.

``--from-checkpoint OUT/trained.pt`` runs stages 4 and 5 alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import torch

from ratrack.checkpoints import load_tracker, save_tracker
from ratrack.data.canvases import VALIDATION
from ratrack.data.formats import open_sequence
from ratrack.data.natural_pool import NaturalPoolConfig, natural_model_config, natural_sampler
from ratrack.data.sequence import ImageSequence
from ratrack.eval.peers import OpenCVTracker
from ratrack.eval.sot import evaluate_sot
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from ratrack.track.sot import SingleObjectTracker
from ratrack.train.pretrain import PretrainConfig, pretrain_on_natural
from ratrack.train.tracker import TrainConfig, load_pretrained_conv, train_tracker

log = logging.getLogger("train_natural")


def held_out_tails(data: Path, pool: NaturalPoolConfig) -> list[ImageSequence]:
    """The held-out end (past ``otb_fraction``) of each OTB training sequence, as a sequence."""
    tails = []
    for name in pool.otb:
        seq = open_sequence(data / "otb" / name, "otb")
        start = round(len(seq) * pool.otb_fraction)
        tails.append(
            ImageSequence(
                name=f"{name}[{start}:]", path=seq.path, paths=seq.paths[start:], gt=seq.gt[start:]
            )
        )
    return tails


def choose_size_rate(
    model: RecurrentTracker, tails: list[ImageSequence], rates: list[float]
) -> tuple[RecurrentTracker, dict[float, float]]:
    """The model with the ``size_rate`` whose mean IoU over ``tails`` is best (ties: the
    larger rate), and every rate's score."""
    scores, candidates = {}, {}
    for rate in sorted(rates, reverse=True):
        candidate = RecurrentTracker(config=dataclasses.replace(model.config, size_rate=rate))
        candidate.load_state_dict(model.state_dict())
        candidates[rate] = candidate.eval()
        ious = [
            evaluate_sot(t, trackers={"r": SingleObjectTracker(Tracker(model=candidate))})
            .results["r"]
            .summary["mean_iou"]
            for t in tails
        ]
        scores[rate] = sum(ious) / len(ious)
        log.info("size rate %.2f: held-out mean IoU %.3f", rate, scores[rate])
    best = max(scores, key=lambda r: (scores[r], r))
    return candidates[best], scores


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


def train(args: argparse.Namespace, pool: NaturalPoolConfig) -> tuple[RecurrentTracker, dict]:
    """Stages 1-3: pool, pretraining and tracker training; returns the model and its facts."""
    timings = {}
    start = time.perf_counter()
    sampler = natural_sampler(args.data, pool, batch_size=args.batch, device=args.device)
    timings["pool"] = time.perf_counter() - start
    model_config = natural_model_config(
        sampler,
        glimpse_size=(args.glimpse, args.glimpse),
        correlation_stage=args.correlation_stage,
        match_size=args.match_size,
    )

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
    lengths = [n for n in (5, 10, 16) if n < pool.length] + [pool.length]  # curriculum
    train_config = TrainConfig(
        steps=steps,
        batch_size=args.batch,
        warmup=min(200, steps // 10),
        curriculum=tuple(zip((0, steps // 8, steps // 4, steps // 2), lengths, strict=False)),
        checkpoint_every=250,
    )
    if args.stop_step is not None:
        train_config = dataclasses.replace(train_config, steps=args.stop_step, schedule_steps=steps)
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
    save_tracker(args.out / "trained.pt", model.cpu(), step=result.step)
    facts = {
        "pool_clips": len(sampler.frames),
        "pretrain_held_out": pretrain_scores,
        "train_steps": result.step,
        "seconds": timings,
    }
    return model.cpu().eval(), facts


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("runs/natural"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--length", type=int, default=16, help="frames per training clip")
    p.add_argument("--real-clips", type=int, default=600)
    p.add_argument("--mot-clips", type=int, default=400)
    p.add_argument("--motion-clips", type=int, default=1600)
    p.add_argument("--blur-clips", type=float, default=0.0, help="share of clips motion-blurred")
    p.add_argument("--pretrain-steps", type=int, default=400)
    p.add_argument("--canvases", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--glimpse", type=int, default=40)
    p.add_argument(
        "--correlation-stage",
        type=int,
        default=0,
        help="conv stages before the feature-map correlation (0: none)",
    )
    p.add_argument(
        "--match-size", type=int, default=64, help="template matching glimpse side (0: none)"
    )
    p.add_argument(
        "--size-rates",
        default="1,0.6,0.3,0.1",
        help="size_rate values tried on the held-out OTB tails; the best is shipped",
    )
    p.add_argument("--train-seconds", type=float, default=None, help="stop training early")
    p.add_argument(
        "--stop-step",
        type=int,
        default=None,
        help="stop training at this step (learning-rate schedule and curriculum still of --steps)",
    )
    p.add_argument(
        "--from-checkpoint",
        type=Path,
        default=None,
        help="skip stages 1-3: a trained tracker (e.g. OUT/trained.pt) goes to stage 4",
    )
    p.add_argument("--peers", default="csrt,kcf,mosse,medianflow,mil")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    pool = NaturalPoolConfig(
        length=args.length,
        real_clips=args.real_clips,
        mot_clips=args.mot_clips,
        motion_clips=args.motion_clips,
        blur_clips=args.blur_clips,
        seed=args.seed,
    )
    if args.from_checkpoint is None:
        model, facts = train(args, pool)
    else:
        model, payload = load_tracker(args.from_checkpoint)
        facts = {"from_checkpoint": str(args.from_checkpoint), "train_steps": payload["step"]}
    rates = [float(r) for r in args.size_rates.split(",")]
    model, rate_scores = choose_size_rate(model.eval(), held_out_tails(args.data, pool), rates)
    log.info("shipping size_rate %.2f", model.config.size_rate)
    save_tracker(args.out / "natural.pt", model, step=facts["train_steps"])

    peers = [p for p in args.peers.split(",") if p]
    metrics = {
        "pool": dataclasses.asdict(pool),
        **facts,
        "size_rate_held_out": rate_scores,
        "validation": validate(model, args.data, peers),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: v for k, v in metrics.items() if k != "validation"}, indent=2))


if __name__ == "__main__":
    main()
