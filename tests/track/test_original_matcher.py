"""The original matcher's motion prior (``match_padding="zeros"``) is reachable again.

``original_boxes.npz`` holds ``natural.pt``'s boxes on ``otb/Crossing`` (frames 1..119) as the
original matcher (before issue #13) tracked them: the ``Crossing`` array of ``same_boxes.npz``
at commit e7e474b (``git show e7e474b:tests/track/same_boxes.npz``). With a 1x search
(``match_search=1``), zero padding, no cosine window, no lost search or hold, pixel NCC alone,
a fixed template (which the original matcher did not have), its scale penalty 0.97, and
neither stretched aspects nor a check of jumps (session 21), today's matcher gives the same
boxes: its NCC masks samples outside the frame, which on Crossing never moves a box by more
than float rounding. (The shipped weights gained a learned matcher beside
the pixel NCC; the conv net, RNN and heads those boxes came from are unchanged.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ratrack import Tracker
from ratrack.data.formats import open_sequence

REFERENCE = Path(__file__).with_name("original_boxes.npz")
ORIGINAL = {"match_search": 1.0, "match_padding": "zeros", "match_window": 0.0,
            "lost_score": -1.0, "hold_score": -1.0, "match_blend": 0.0,
            "template_rate": 0.0, "match_penalty": 0.97,
            "match_aspect": 0.0, "jump_check": 0.0}  # fmt: skip
ATOL = 1e-3  # pixels


def _boxes(folder: Path, **overrides) -> np.ndarray:
    sequence = open_sequence(folder, "otb")
    tracker = Tracker.from_pretrained("natural")
    tracker.model.config = dataclasses.replace(tracker.model.config, **overrides)
    frames = sequence.frames()
    tracker.init(next(frames), sequence.gt[0], fmt="xyxy")
    return np.asarray([tracker.update(frame)[0] for frame in frames], dtype=np.float32)


def test_zero_padding_gives_the_original_matchers_boxes(one_thread, data_dir):
    reference = np.load(REFERENCE)["Crossing"]
    boxes = _boxes(data_dir / "otb" / "Crossing", **ORIGINAL)
    np.testing.assert_allclose(boxes, reference, rtol=0, atol=ATOL)


def test_without_padding_the_boxes_differ(one_thread, data_dir):
    reference = np.load(REFERENCE)["Crossing"]
    boxes = _boxes(data_dir / "otb" / "Crossing", **{**ORIGINAL, "match_padding": "none"})
    assert np.abs(boxes - reference).max() > 1.0
