"""The shipped weights give the same boxes as before the renovation (issue #12).

``same_boxes.npz`` was recorded from the code before the layout moved (commit 6e58b76) by
running this file as a script; every later change must reproduce it to float rounding. It was
recorded again when issue #13 moved boxes on purpose: natural.pt's matching now masks pixels
outside the frame, searches twice the window with a cosine window and holds lost objects;
bmnist.pt's boxes moved by float rounding only (windows no longer shift into crop pixels and
back, and the first frame is cropped too), amplified to at most 0.2 px over 29 steps. It was
recorded again when the original matcher's zero padding came back as the default
(``match_padding="zeros"``, 1x search, no cosine window, lost below 0.47): natural.pt's
Crossing boxes equal the original reference again (see test_original_matcher.py). It was
recorded again when natural.pt gained learned matching, a template memory and a confidence
against the first frame's template (issue #13, part 3), and when its scale penalty went from
0.97 to 0.99 (chosen on the tuning split's TRE); bmnist.pt's boxes did not move. Its natural
arrays were recorded again when natural.pt's score gained ImageNet features and a lost object's
wide match had to beat its normal one (issue #13, session 16), its bmnist array kept. It holds
the boxes of ``bmnist.pt`` on 20 Bouncing MNIST test clips and of ``natural.pt`` on the whole of
``otb/BlurCar2`` and ``otb/Crossing``, each tracked from the first ground-truth box through the
public :class:`ratrack.Tracker` API on one thread.

Float rounding differs between CPUs (their vector units and the libraries' kernels for them),
and the recurrent tracker amplifies it: on an AMD EPYC machine (session 12; the reference was
recorded on another CPU) the shipped code's natural boxes first differ from it by more than
1e-3 px at frame 31 of BlurCar2 and 55 of Crossing, by more than 0.1 px at frames 88 and 67,
and by up to 15 px later, where the box sits on another part of the car (mean IoU with the
reference 0.943 and 0.908); bmnist's by up to 0.028 px. On an Intel Xeon (session 14) bmnist's
first differ by more than 1e-3 px at step 9 and by up to 0.135 px at step 29 (one clip of 20;
the others within 0.032 px). So the natural boxes must equal the reference to 0.01 px over the
first ``STEADY`` frames, where a change of the computation shows and rounding has not grown
yet, and overlap it at a mean IoU of at least ``MIN_IOU`` over the whole sequence; bmnist's
must equal it to 0.01 px over the first ``BMNIST_STEADY`` steps and to ``BMNIST_ATOL`` over all
29.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ratrack import Tracker
from ratrack.data.formats import open_sequence
from ratrack.eval.bmnist import TEST_SEED, evaluation_clips
from ratrack.eval.metrics import frame_ious

REFERENCE = Path(__file__).with_name("same_boxes.npz")
BMNIST_CLIPS = 20
NATURAL_SEQUENCES = ("BlurCar2", "Crossing")
ATOL = 1e-2  # pixels, over the first STEADY frames
STEADY = 20
MIN_IOU = 0.85  # mean IoU with the reference's boxes, whole sequence
BMNIST_STEADY = 10  # steps held to ATOL
BMNIST_ATOL = 0.5  # pixels, over all 29 steps


def bmnist_boxes() -> np.ndarray:
    """``(20, 29, 4)`` float32 xyxy boxes of ``bmnist.pt`` on frames 1..29 of each clip."""
    frames, boxes = evaluation_clips(BMNIST_CLIPS, seed=TEST_SEED)  # (N, T, 1, H, W), (N, T, 1, 4)
    u8 = (frames[:, :, 0] * 255).round().to(torch.uint8).numpy()  # (N, T, H, W) gray frames
    tracker = Tracker.from_pretrained("bmnist")
    out = []
    for clip, gt in zip(u8, boxes[:, :, 0].numpy(), strict=True):
        tracker.init(clip[0], gt[0], fmt="xyxy")
        out.append([tracker.update(frame)[0] for frame in clip[1:]])
    return np.asarray(out, dtype=np.float32)


def natural_boxes(folder: Path) -> np.ndarray:
    """``(T - 1, 4)`` float32 xyxy boxes of ``natural.pt`` on frames 1.. of an OTB folder."""
    sequence = open_sequence(folder, "otb")
    tracker = Tracker.from_pretrained("natural")
    frames = sequence.frames()
    tracker.init(next(frames), sequence.gt[0], fmt="xyxy")
    return np.asarray([tracker.update(frame)[0] for frame in frames], dtype=np.float32)


def test_bmnist_boxes_are_unchanged(one_thread):
    reference = np.load(REFERENCE)["bmnist"]
    boxes = bmnist_boxes()
    steady = slice(None, BMNIST_STEADY)
    np.testing.assert_allclose(boxes[:, steady], reference[:, steady], rtol=0, atol=ATOL)
    np.testing.assert_allclose(boxes, reference, rtol=0, atol=BMNIST_ATOL)


@pytest.mark.parametrize("name", NATURAL_SEQUENCES)
def test_natural_boxes_are_unchanged(one_thread, data_dir, name):
    reference = np.load(REFERENCE)[name]
    boxes = natural_boxes(data_dir / "otb" / name)
    assert boxes.shape == reference.shape
    np.testing.assert_allclose(boxes[:STEADY], reference[:STEADY], rtol=0, atol=ATOL)
    assert frame_ious(boxes, reference).mean() >= MIN_IOU


if __name__ == "__main__":  # record the reference: python tests/track/test_same_boxes.py DATA
    torch.set_num_threads(1)
    data = Path(sys.argv[1])
    arrays = {"bmnist": bmnist_boxes()}
    for name in NATURAL_SEQUENCES:
        arrays[name] = natural_boxes(data / "otb" / name)
    np.savez_compressed(REFERENCE, **arrays)
    print({k: v.shape for k, v in arrays.items()})
