"""Benchmark ``ratrack track`` end to end on the 78 real KITTI raw frames with 10 objects.

Prints frames per second end to end, and the time per frame spent decoding the PNG frames and
inside the tracker (one batched step for all 10 objects, detection-free), measured separately by
:func:`ratrack.track.run.run_track`. Not a test: numbers depend on the machine.

The 10 objects are boxes drawn by hand on frame 0 of the drive (``kitti_raw_frames``, dense
traffic under an overpass; there are no labels): the nine vehicles in view plus the tanker on
the right (:data:`BOXES`, xyxy pixels). The tracker's cost per object does not depend on what
the box holds (every glimpse has the same size), so any 10 boxes would time the same; these make
the optional ``--video`` meaningful.

    python tools/bench_track.py [--data ../shared/data] [--device cpu|cuda] [--video out.mp4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from ratrack.track.run import TrackConfig, run_track

BOXES = (  # xyxy on frame 0000000000.png (1242 x 375)
    (62, 182, 415, 372),  # grey hatchback, left lane
    (345, 145, 505, 262),  # red truck
    (555, 190, 700, 315),  # silver saloon ahead
    (498, 168, 540, 232),  # dark SUV beside the truck
    (687, 178, 738, 215),  # white car, right lane
    (533, 172, 558, 190),  # small car far ahead
    (768, 40, 1000, 330),  # green truck cab
    (990, 0, 1242, 375),  # tanker, right edge
    (667, 166, 707, 203),  # van far right
    (590, 178, 636, 195),  # car in front of the saloon
)


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    default = os.environ.get("RATRACK_DATA", str(repo.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default, help="the shared data folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--video", default=None, help="also write an annotated video here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    drive = Path(args.data) / "kitti_raw_frames" / "2011_09_26"
    boxes = [",".join(str(v) for v in b) for b in BOXES]
    config = TrackConfig(weights=args.weights, device=args.device)
    warm = TrackConfig(weights=args.weights, device=args.device, max_frames=5)
    run_track(drive, init=boxes, init_format="xyxy", config=warm)  # load, allocate, cache files
    with tempfile.TemporaryDirectory() as tmp:
        result = run_track(
            drive,
            init=boxes,
            init_format="xyxy",
            out=Path(tmp) / "tracks.txt",
            video=args.video,
            config=config,
        )
    t = result.timing
    per = 1000.0 / result.frames
    print(f"KITTI raw {drive.name}: {result.frames} frames 1242x375, {len(BOXES)} objects")
    print(f"device {result.device}, torch threads {torch.get_num_threads()}, {result.weights}")
    print(f"end to end      {result.fps:8.1f} frames/s")
    print(f"decode          {t.decode * per:8.2f} ms/frame ({result.frames / t.decode:.1f} fps)")
    print(f"tracker         {t.track * per:8.2f} ms/frame ({result.frames / t.track:.1f} fps)")
    print(f"writing         {t.write * per:8.2f} ms/frame")
    print(f"tracker/decode  {t.track / t.decode:8.2f}")
    print(f"object-frames/s {result.frames * len(BOXES) / t.track:8.0f} (tracker only)")


if __name__ == "__main__":
    main()
