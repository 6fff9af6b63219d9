"""Print the Bouncing MNIST targets of a tracker checkpoint (RATM protocol, unseen digits).

    python tools/eval_bmnist.py                       # the shipped src/ratrack/weights/bmnist.pt
    python tools/eval_bmnist.py runs/bmnist/bmnist.pt --sequences 1000

1,000 sequences of 30 frames from test-split digits with one digit, and 1,000 with two digits
tracking digit 0; the tracker starts from the ground-truth box in frame 0 and is scored by the
mean IoU over frames 1..29. Targets: >= 0.85 (one digit), >= 0.70 (one of two digits).
"""

from __future__ import annotations

import argparse
import time

import torch

from ratrack.checkpoints import load_tracker
from ratrack.eval.bmnist import evaluate_bmnist, evaluation_clips
from ratrack.track.online import pretrained_path

TARGETS = {1: 0.85, 2: 0.70}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint", nargs="?", default=None, help="default: the shipped bmnist.pt")
    p.add_argument("--sequences", type=int, default=1000)
    p.add_argument("--mnist", default=None, help="MNIST source (default: embedded digits)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path = args.checkpoint or pretrained_path("bmnist")
    model, _ = load_tracker(path)
    print(f"checkpoint: {path}")
    for digits, target in TARGETS.items():
        frames, boxes = evaluation_clips(args.sequences, num_digits=digits, mnist=args.mnist)
        start = time.perf_counter()
        scores = evaluate_bmnist(model, frames, boxes)
        seconds = time.perf_counter() - start
        verdict = "met" if scores["mean_iou"] >= target else "NOT met"
        print(
            f"{digits} digit(s), {scores['sequences']} sequences: "
            f"mean IoU {scores['mean_iou']:.4f} "
            f"(last frame {scores['last_frame_iou']:.4f}); target {target:.2f} {verdict}; "
            f"{seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
