"""Extend a ``tools/train_bmnist.py`` run: resume its ``train/last.pt`` to more steps, evaluate.

    python tools/continue_bmnist.py --run runs/bmnist_cpu --steps 3000

The run's pool (same ``--pool`` and ``--seed``) is rebuilt; model, optimizer and step count come
from the checkpoint; the cosine learning-rate decay is stretched to the new ``--steps`` (the
curriculum is already at 30-frame clips). Writes ``bmnist.pt`` and ``metrics.json`` into the
run folder (the earlier ones are kept as ``*.phase1``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

import torch

from ratrack.checkpoints import config_from_dict, load_checkpoint, save_tracker
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.eval.bmnist import evaluate_bmnist, evaluation_clips
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.train.losses import LossConfig
from ratrack.train.tracker import TrainConfig, train_tracker


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--steps", type=int, required=True, help="total steps after extension")
    p.add_argument("--pool", type=int, nargs=2, default=(1500, 1500))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-sequences", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-seconds", type=float, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    payload = load_checkpoint(args.run / "train" / "last.pt", kind="tracker")
    model = RecurrentTracker(config=config_from_dict(TrackerConfig, payload["config"]["model"]))
    stored = dict(payload["config"]["train"])
    stored["loss"] = LossConfig(**stored["loss"])
    stored["curriculum"] = tuple(tuple(x) for x in stored["curriculum"])
    config = dataclasses.replace(TrainConfig(**stored), steps=args.steps, schedule_steps=None)
    sampler = PoolSampler.build(
        PoolConfig(num_sequences=tuple(args.pool), split="train", seed=args.seed),
        batch_size=config.batch_size,
    )
    start = time.perf_counter()
    result = train_tracker(
        model, sampler, config, out_dir=args.run / "train", time_limit_s=args.train_seconds
    )
    seconds = time.perf_counter() - start
    metrics = {"continued_from_step": payload["step"], "step": result.step, "train_s": seconds}
    for digits in (1, 2):
        frames, boxes = evaluation_clips(args.eval_sequences, num_digits=digits)
        metrics[f"test_{digits}_digit"] = evaluate_bmnist(model, frames, boxes)
        logging.info("test, %d digit(s): %s", digits, metrics[f"test_{digits}_digit"])
    for name in ("bmnist.pt", "metrics.json"):
        if (args.run / name).exists() and not (args.run / f"{name}.phase1").exists():
            shutil.copy(args.run / name, args.run / f"{name}.phase1")
    save_tracker(
        args.run / "bmnist.pt",
        model,
        step=result.step,
        metrics={k: v["mean_iou"] for k, v in metrics.items() if k.startswith("test_")},
    )
    (args.run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
