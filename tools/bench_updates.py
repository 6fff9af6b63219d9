"""Tracker-alone updates/s of one or more source trees, side by side in one run.

Each tree (a ``src`` folder holding a ``ratrack`` package with its weights, e.g. this branch's
``src`` and ``git archive <commit> src`` of an older commit unpacked elsewhere) runs in its own
process: it decodes the sequence's frames first, starts one object at the first ground-truth box
with the natural weights, and times :meth:`Tracker.update` over the rest, one torch thread. The
trees alternate, sequence by sequence and round by round, so a change of load on the machine
hits them alike; each figure is the best round. CPU time (the process's own, steadier on a
shared machine) and wall time are both printed. ``--lost`` times the lost path instead: every
update searches wide (``lost_score`` above every score); ``--frames`` keeps the first frames.

    python tools/bench_updates.py --trees OLD/src,src [--sequences BlurCar2,Crossing] [--rounds 3]
    python tools/bench_updates.py --trees OLD/src,src --sequences Car1 --lost --frames 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import dataclasses, json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from ratrack import Tracker
from ratrack.data.formats import open_sequence
sequence = open_sequence(sys.argv[1], "otb")
frames = list(sequence.frames())[: int(sys.argv[2]) or None]
tracker = Tracker.from_pretrained("natural")
if sys.argv[3] == "lost":  # every update searches wide
    tracker.model.config = dataclasses.replace(tracker.model.config, lost_score=1.01)
best = None
for _ in range(2):  # the first pass warms up
    tracker.init(frames[0], sequence.gt[0], fmt="xyxy")
    cpu, wall = time.process_time(), time.perf_counter()
    for frame in frames[1:]:
        tracker.update(frame)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    best = (cpu, wall) if best is None else (min(best[0], cpu), min(best[1], wall))
print(json.dumps({"updates": len(frames) - 1, "cpu": best[0], "wall": best[1]}))
"""


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    default = os.environ.get("RATRACK_DATA", str(repo.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", required=True, help="comma-separated src folders")
    parser.add_argument("--data", default=default, help="the shared data folder")
    parser.add_argument("--sequences", default="BlurCar2,Crossing", help="OTB sequences")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lost", action="store_true", help="time lost (wide) updates")
    parser.add_argument("--frames", type=int, default=0, help="first frames only (0: all)")
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")]
    sequences = args.sequences.split(",")
    best: dict[tuple[str, str], dict] = {}
    for _ in range(args.rounds):
        for name in sequences:
            for tree in trees:
                env = {**os.environ, "PYTHONPATH": tree}
                folder = str(Path(args.data) / "otb" / name)
                mode = "lost" if args.lost else "normal"
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, folder, str(args.frames), mode],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    sys.exit(f"{tree} on {name} failed:\n{done.stderr[-2000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                old = best.get((name, tree))
                best[(name, tree)] = row if old is None else {
                    **row, "cpu": min(old["cpu"], row["cpu"]), "wall": min(old["wall"], row["wall"])
                }  # fmt: skip
    print(f"{'sequence':<10} {'tree':<40} {'updates/s (cpu)':>16} {'(wall)':>8} {'x first':>8}")
    for name in sequences:
        first = best[(name, trees[0])]
        for tree in trees:
            r = best[(name, tree)]
            ups, wall = r["updates"] / r["cpu"], r["updates"] / r["wall"]
            gain = first["cpu"] / r["cpu"]
            print(f"{name:<10} {tree[-40:]:<40} {ups:>16.1f} {wall:>8.1f} {gain:>8.2f}")


if __name__ == "__main__":
    main()
