"""Does RAM's Gaussian location policy (REINFORCE) help the tracker? A side-by-side run.

    python tools/explore_bmnist.py --steps 300 --std 0.05

Both arms start from the same checkpoint (default: the shipped ``bmnist.pt``) and fine-tune on
the same batches of two-digit Bouncing MNIST clips (train-split digits, 30 frames) with the same
learning rate; they differ only in the localization head: deterministic (the supervised window
terms alone) or exploring (windows drawn around its output with std ``--std``, REINFORCE with
the IoU reward and the batch-mean baseline added). Both are scored on the same unseen
(test-split) sequences with one and with two digits, the mean window at evaluation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import torch

from ratrack.checkpoints import load_tracker
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.eval.bmnist import evaluate_bmnist, evaluation_clips
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import pretrained_path
from ratrack.train.losses import LossConfig
from ratrack.train.tracker import TrainConfig, train_tracker


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default=None, help="start (default: the shipped bmnist.pt)")
    p.add_argument("--out", type=Path, default=Path("runs/explore"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--std", type=float, default=0.05, help="policy std (window sides)")
    p.add_argument("--pool", type=int, default=1000, help="two-digit training sequences")
    p.add_argument("--eval-sequences", type=int, default=300)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    start_path = args.checkpoint or pretrained_path("bmnist")
    sampler = PoolSampler.build(
        PoolConfig(num_sequences=(0, args.pool), split="train", seed=args.seed + 5000),
        batch_size=args.batch,
    )
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        lr_final=1.0,  # constant after warm-up: both arms see the same schedule
        warmup=min(50, args.steps // 5),
        curriculum=((0, 30),),
        checkpoint_every=args.steps,
    )
    tests = {k: evaluation_clips(args.eval_sequences, num_digits=k) for k in (1, 2)}
    results = {}
    for arm, std in (("deterministic", 0.0), ("reinforce", args.std)):
        base, _ = load_tracker(start_path)
        model = RecurrentTracker(config=dataclasses.replace(base.config, location_std=std))
        model.load_state_dict(base.state_dict())
        torch.manual_seed(args.seed)  # the same policy noise stream in every run
        t0 = time.perf_counter()
        arm_config = dataclasses.replace(config, loss=LossConfig(reinforce=1.0 if std else 0.0))
        train_tracker(model, sampler, arm_config, out_dir=args.out / arm, resume=False)
        seconds = time.perf_counter() - t0
        results[arm] = {"train_s": round(seconds, 1), "location_std": std}
        for k, (frames, boxes) in tests.items():
            results[arm][f"{k}_digit"] = evaluate_bmnist(model, frames, boxes)["mean_iou"]
        logging.info("%s: %s", arm, results[arm])
    base, _ = load_tracker(start_path)
    results["start"] = {f"{k}_digit": evaluate_bmnist(base, *tests[k])["mean_iou"] for k in tests}
    print(f"{'arm':15s} {'1 digit':>8s} {'2 digits':>9s}")
    for arm in ("start", "deterministic", "reinforce"):
        print(f"{arm:15s} {results[arm]['1_digit']:8.4f} {results[arm]['2_digit']:9.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
