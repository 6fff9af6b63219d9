"""Tracker time per frame of ``ratrack track`` on an idle machine and with one other CPU-bound
process running, with 1 and 2 CPU threads, measured in one run (issue #14's thread policy).

    python tools/bench_load.py --data ../shared/data [--frames 200]

Prints one line per (load, threads): the tracker's milliseconds per frame on otb/BlurCar2 from
its first ground-truth box (decoding and writing apart).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ratrack.track.run import TrackConfig, run_track


def tracker_ms(seq: Path, first_box: str, threads: int, frames: int, out: Path) -> float:
    config = TrackConfig(threads=threads, max_frames=frames)
    result = run_track(seq, init=[first_box], init_format="xywh1", out=out, config=config)
    return 1e3 * result.timing.track / result.frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    seq = args.data / "otb" / "BlurCar2"
    first = (seq / "groundtruth_rect.txt").read_text().splitlines()[0]
    first_box = ",".join(first.replace(",", " ").split())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tracks.txt"
        tracker_ms(seq, first_box, 1, 20, out)  # warm-up: weights loaded, caches filled
        for load in (False, True):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load else None
            try:
                time.sleep(0.5)
                for threads in (1, 2):
                    ms = tracker_ms(seq, first_box, threads, args.frames, out)
                    rows.append((load, threads, ms))
            finally:
                if hog is not None:
                    hog.kill()
    idle = {threads: ms for load, threads, ms in rows if not load}
    for load, threads, ms in rows:
        where = "one CPU-bound process running" if load else "idle"
        print(
            f"{where:<30} threads {threads}: tracker {ms:5.1f} ms/frame "
            f"({ms / idle[threads]:.2f}x idle)"
        )


if __name__ == "__main__":
    main()
