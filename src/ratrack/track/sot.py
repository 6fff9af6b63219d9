"""ratrack's :class:`~ratrack.track.online.Tracker` as a single-object tracker.

:class:`SingleObjectTracker` follows the :class:`ratrack.eval.peers.SotTracker` protocol
(``init(frame, box_xyxy)``, ``update(frame) -> box_xyxy``), so ratrack runs in the same pass as
OpenCV's trackers in :func:`ratrack.eval.sot.evaluate_sot`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ratrack.track.online import Tracker


class SingleObjectTracker:
    """One object followed by a :class:`Tracker`; boxes are xyxy pixels."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.scores: list[float] = []  # the confidence of every frame since init (1 at init)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, *, device: str | torch.device = "cpu"
    ) -> SingleObjectTracker:
        """Load shipped weights (``"bmnist"``, ``"natural"``) or a checkpoint path."""
        return cls(Tracker.from_pretrained(name_or_path, device=device))

    def init(self, frame: np.ndarray, box_xyxy: np.ndarray) -> None:
        """Start following ``box_xyxy`` ``(4,)`` in ``frame``."""
        self.tracker.init(frame, np.asarray(box_xyxy, dtype=np.float32)[None], fmt="xyxy")
        self.scores = [1.0]

    def update(self, frame: np.ndarray) -> np.ndarray:
        """The object's xyxy box ``(4,)`` in ``frame``; its score joins :attr:`scores`."""
        box = self.tracker.update(frame)[0]
        self.scores.append(float(self.tracker.scores[0]))
        return box
