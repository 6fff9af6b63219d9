"""Reproduce ``src/ratrack/weights/bmnist.pt``: pretrain, train, compare, evaluate, export.

    python tools/train_bmnist.py --out runs/bmnist --device cuda

Stages (all seeds fixed; the train split of the MNIST digits only):

1. a pool of Bouncing MNIST sequences (1 and 2 digits, 30 frames) from train-split digits;
2. glimpse-misalignment pretraining of the conv net on frames of that pool, scored on
   held-out frames from val-split digits (mean IoU of the window before/after one correction);
3. tracker training from the pretrained conv net (curriculum 5 -> 30 frames);
4. a shorter run from scratch (no pretraining) for the gradient-norm comparison plot;
5. evaluation on 1,000 test-split sequences with one digit and 1,000 with two digits;
6. ``bmnist.pt`` (weights and config only) and ``metrics.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plot_grad_norms import plot_grad_norms, summarize
from ratrack.checkpoints import save_tracker
from ratrack.data.pools import PoolConfig, PoolSampler
from ratrack.eval.bmnist import evaluate_bmnist, evaluation_clips
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.train.pretrain import PretrainConfig, pretrain_on_bmnist
from ratrack.train.tracker import TrainConfig, load_pretrained_conv, train_tracker

log = logging.getLogger("train_bmnist")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=Path("runs/bmnist"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--mnist", default=None, help="MNIST source (default: embedded digits)")
    p.add_argument(
        "--pool", type=int, nargs=2, default=(1500, 1500), help="1- and 2-digit sequences"
    )
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--pretrain-steps", type=int, default=400)
    p.add_argument("--compare-steps", type=int, default=300, help="0 skips the no-pretraining run")
    p.add_argument("--eval-sequences", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes generating the pools")
    p.add_argument("--train-seconds", type=float, default=None, help="stop training after this")
    p.add_argument(
        "--stop-step",
        type=int,
        default=None,
        help="stop training at this step (learning-rate schedule and curriculum still of --steps)",
    )
    p.add_argument("--compare-seconds", type=float, default=None, help="limit of the scratch run")
    p.add_argument("--context", type=float, default=TrackerConfig.context)
    p.add_argument("--glimpse", type=int, default=TrackerConfig.glimpse_size[0])
    p.add_argument(
        "--correlation-stage",
        type=int,
        default=TrackerConfig.correlation_stage,
        help="conv stages before the template correlation (0: none)",
    )
    p.add_argument("--canvases", type=int, default=10_000, help="pretraining glimpse canvases")
    p.add_argument("--pretrain-batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    timings: dict[str, float] = {}
    metrics: dict[str, object] = {}
    model_config = TrackerConfig(
        context=args.context,
        glimpse_size=(args.glimpse, args.glimpse),
        correlation_stage=args.correlation_stage,
    )

    t0 = time.perf_counter()
    pool = PoolConfig(num_sequences=tuple(args.pool), split="train", seed=args.seed)
    sampler = PoolSampler.build(
        pool, batch_size=args.batch, device=args.device, mnist=args.mnist, workers=args.workers
    )
    timings["pool_s"] = time.perf_counter() - t0
    log.info("pools ready in %.1f s", timings["pool_s"])

    # 2. pretraining
    t0 = time.perf_counter()
    pconfig = PretrainConfig(
        steps=args.pretrain_steps, batch_size=args.pretrain_batch, seed=args.seed
    )
    pre_path, metrics["pretrain_held_out"] = pretrain_on_bmnist(
        pconfig,
        out_dir=args.out / "pretrain",
        model_config=model_config,
        pool=tuple(args.pool),
        device=args.device,
        mnist=args.mnist,
        train_pool=sampler,
        canvases=args.canvases,
        workers=args.workers,
    )
    timings["pretrain_s"] = time.perf_counter() - t0
    log.info("pretraining: %s in %.1f s", metrics["pretrain_held_out"], timings["pretrain_s"])

    # 3. main run from the pretrained conv net
    tconfig = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        lr=1e-3,
        curriculum=((0, 5), (args.steps // 8, 10), (args.steps // 4, 20), (args.steps // 2, 30)),
        checkpoint_every=250,
        log_every=25,
    )
    if args.stop_step is not None:
        tconfig = dataclasses.replace(tconfig, steps=args.stop_step, schedule_steps=args.steps)
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    model = RecurrentTracker(config=model_config)
    load_pretrained_conv(model, pre_path)
    result = train_tracker(
        model,
        sampler,
        tconfig,
        out_dir=args.out / "train",
        device=args.device,
        time_limit_s=args.train_seconds,
    )
    timings["train_s"] = time.perf_counter() - t0
    log.info(
        "training: %d steps in %.1f s, last losses %s",
        result.step,
        timings["train_s"],
        result.losses,
    )

    # 5. evaluation on unseen digits (before the comparison run, so a timeout keeps the scores)
    t0 = time.perf_counter()
    frames, boxes = evaluation_clips(200, num_digits=1, split="val", mnist=args.mnist, seed=99)
    metrics["val_1_digit"] = evaluate_bmnist(model, frames, boxes)
    log.info("val, 1 digit: %s", metrics["val_1_digit"])
    for digits in (1, 2):
        frames, boxes = evaluation_clips(
            args.eval_sequences, num_digits=digits, mnist=args.mnist, workers=args.workers
        )
        metrics[f"test_{digits}_digit"] = evaluate_bmnist(model, frames, boxes)
        log.info("test, %d digit(s): %s", digits, metrics[f"test_{digits}_digit"])
    timings["eval_s"] = time.perf_counter() - t0
    metrics["timings"] = timings
    metrics["device"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    metrics["train_config"] = dataclasses.asdict(tconfig)
    metrics["args"] = {k: str(v) for k, v in vars(args).items()}
    save_tracker(
        args.out / "bmnist.pt",
        model.cpu(),
        step=result.step,
        metrics={k: v["mean_iou"] for k, v in metrics.items() if k.startswith("test_")},
    )
    model.to(args.device)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    # 4. the same training without pretraining, for the gradient-norm comparison
    if args.compare_steps > 0:
        t0 = time.perf_counter()
        torch.manual_seed(args.seed)
        scratch = RecurrentTracker(config=model_config)
        # same batches and learning-rate schedule as the main run's first compare_steps steps
        cconfig = dataclasses.replace(tconfig, steps=args.compare_steps, schedule_steps=args.steps)
        train_tracker(
            scratch,
            sampler,
            cconfig,
            out_dir=args.out / "scratch",
            device=args.device,
            time_limit_s=args.compare_seconds,
        )
        timings["compare_s"] = time.perf_counter() - t0
        png = plot_grad_norms(
            args.out / "train" / "log.csv",
            args.out / "scratch" / "log.csv",
            args.out / "grad_norms.png",
            max_step=args.compare_steps,
        )
        log.info("gradient-norm plot: %s", png)
        metrics["grad_norms"] = summarize(
            args.out / "train" / "log.csv",
            args.out / "scratch" / "log.csv",
            max_step=args.compare_steps,
        )
        metrics["timings"] = timings
        (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: v for k, v in metrics.items() if k != "train_config"}, indent=2))


if __name__ == "__main__":
    main()
