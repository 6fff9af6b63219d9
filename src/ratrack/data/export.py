"""Write Bouncing MNIST sequences as MOTChallenge folders, so every other tool can read them.

Layout of each sequence ``<out>/bmnist-NNNNN/``: ``img1/000001.png ...`` (8-bit grey PNG),
``gt/gt.txt`` (one line per digit and frame: ``frame, id, x, y, w, h, 1, 1, 1.0`` with 1-based
pixels, id = digit slot + 1, class 1, full visibility) and ``seqinfo.ini``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratrack.data.bouncing_mnist import BouncingMnist, BouncingMnistConfig, BouncingSample
from ratrack.data.mot import MotRecords, write_mot_file, write_seqinfo
from ratrack.errors import RatrackError
from ratrack.outputs import OutputFolder, stop_on_signal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportStats:
    """What :func:`export_bouncing_mnist` wrote and how long each part took."""

    sequences: int
    frames: int
    generate_seconds: float  # sampling motion and drawing frames
    write_seconds: float  # PNG encoding and text files

    @property
    def frames_per_second(self) -> float:
        """Bouncing MNIST frames generated per second (generation only)."""
        return self.frames / max(self.generate_seconds, 1e-12)


def sample_to_records(sample: BouncingSample) -> MotRecords:
    """The boxes of one sequence as MOTChallenge ground truth (frames 1-based, ids 1-based)."""
    T, N = sample.boxes.shape[:2]
    frame = np.repeat(np.arange(1, T + 1), N)  # (T * N,)
    track = np.tile(np.arange(1, N + 1), T)
    boxes = sample.boxes.reshape(T * N, 4).astype(np.float64)
    order = np.lexsort((frame, track))  # MOT17 style: by track, then frame
    ones = np.ones(T * N)
    return MotRecords(
        frame=frame[order],
        track_id=track[order],
        boxes=boxes[order],
        conf=ones,
        cls=ones.astype(np.int64),
        visibility=ones,
        columns=9,
    )


def export_bouncing_mnist(
    out: str | Path,
    config: BouncingMnistConfig,
    *,
    num_sequences: int,
    seed: int = 0,
    split: str = "test",
    mnist: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportStats:
    """Generate ``num_sequences`` sequences and write each as a MOTChallenge folder under
    ``out``; ``progress(done, total)`` is called after each sequence.

    Each sequence folder is filled under a hidden name and renamed into place when complete
    (:class:`~ratrack.outputs.OutputFolder`), so a reader never sees half a sequence. SIGINT
    or SIGTERM finishes the sequence under way, then raises
    :class:`~ratrack.outputs.Interrupted`: every sequence present is whole."""
    import cv2

    if num_sequences < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    out = Path(out)
    data = BouncingMnist(config, num_sequences=num_sequences, split=split, seed=seed, mnist=mnist)
    H, W = config.canvas_size
    generate = write = 0.0
    done = 0
    with stop_on_signal() as stop:
        for i in range(num_sequences):
            t0 = time.perf_counter()
            sample = data[i]
            t1 = time.perf_counter()
            name = f"bmnist-{i:05d}"
            with OutputFolder(out / name, name="--out") as sequence:  # whole, or not at all
                folder = sequence.temp
                (folder / "img1").mkdir()
                frames = np.rint(sample.frames[:, 0] * 255).astype(np.uint8)  # (T, H, W)
                for t, image in enumerate(frames, start=1):
                    if not cv2.imwrite(str(folder / "img1" / f"{t:06d}.png"), image):
                        raise RatrackError(f"--out {out}: cannot write {name}/img1/{t:06d}.png")
                write_mot_file(folder / "gt" / "gt.txt", sample_to_records(sample))
                write_seqinfo(
                    folder / "seqinfo.ini",
                    {
                        "name": name,
                        "imDir": "img1",
                        "frameRate": 30,
                        "seqLength": config.length,
                        "imWidth": W,
                        "imHeight": H,
                        "imExt": ".png",
                    },
                )
            done = i + 1
            generate += t1 - t0
            write += time.perf_counter() - t1
            if progress is not None:
                progress(i + 1, num_sequences)
            if stop:
                break
    stop.raise_if_set(f"interrupted: {done} whole sequences of {num_sequences} written to {out}")
    stats = ExportStats(num_sequences, num_sequences * config.length, generate, write)
    log.info(
        "wrote %d sequences to %s (%.0f frames/s generated)",
        num_sequences,
        out,
        stats.frames_per_second,
    )
    return stats


def benchmark_generation(
    config: BouncingMnistConfig, *, num_sequences: int = 200, seed: int = 0, digits=None
) -> float:
    """Bouncing MNIST frames generated per second (in memory, one process, one thread)."""
    data = BouncingMnist(
        config, num_sequences=num_sequences, seed=seed, digits=digits, split="test"
    )
    data[0]  # warm-up: imports and first allocations
    start = time.perf_counter()
    for i in range(num_sequences):
        data[i]
    return num_sequences * config.length / (time.perf_counter() - start)
