"""Glimpse-misalignment pretraining on real frames; prints held-out window IoU before/after.

    python tools/pretrain_real.py --data ../shared/data --out runs/pretrain_real

Trains on OTB Car1 (first 80 % of its frames) and KITTI tracking 0001 (its labelled frames);
holds out the last 20 % of Car1 and KITTI 0016. The validation sequences otb/BlurCar2 and
otb/Crossing are never read.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from ratrack.data.canvases import RealPretrainData, real_canvases
from ratrack.model.config import TrackerConfig
from ratrack.train.pretrain import (
    GlimpseCorrector,
    PretrainConfig,
    evaluate_correction,
    pretrain_conv,
)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    p.add_argument("--out", type=Path, default=Path("runs/pretrain_real"))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    model_config = TrackerConfig(
        in_channels=3, glimpse_size=(40, 40), context=3.0, pixel_mean=0.45, pixel_std=0.25
    )
    start = time.perf_counter()
    train, held = real_canvases(args.data, RealPretrainData(), context=model_config.context)
    torch.manual_seed(args.seed)
    model = GlimpseCorrector(config=model_config)
    config = PretrainConfig(steps=args.steps, batch_size=args.batch, seed=args.seed, log_every=50)
    before = evaluate_correction(model, held, config)
    path = pretrain_conv(model, train, config, out_dir=args.out, device=args.device)
    after = evaluate_correction(model, held, config)
    result = {
        "train_glimpses": len(train.images),
        "held_out_glimpses": len(held.images),
        "held_out_iou_before_correction": after["iou_before"],
        "held_out_iou_after_correction": after["iou_after"],
        "untrained_iou_after_correction": before["iou_after"],
        "seconds": round(time.perf_counter() - start, 1),
        "checkpoint": str(path),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
