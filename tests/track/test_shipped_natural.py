"""The shipped natural-video weights load and track the validation sequences (weights/natural.md).

``otb/Crossing`` and ``otb/BlurCar2`` were never trained on (tools/train_natural.py reads them
only to score the finished model)."""

import numpy as np

from ratrack.data.formats import open_sequence
from ratrack.data.sequence import ImageSequence
from ratrack.eval.sot import evaluate_sot
from ratrack.track.online import Tracker, pretrained_path
from ratrack.track.run import resolve_weights
from ratrack.track.sot import SingleObjectTracker

# The shipped weights score a mean IoU of 0.701 on all of Crossing and 0.908 on BlurCar2's
# first 150 frames; the floors leave room for CPU/BLAS rounding, not for a worse model (every
# OpenCV tracker but CSRT scores at most 0.24 on Crossing).
CROSSING_FLOOR = 0.65
BLURCAR2_FLOOR = 0.85


def test_natural_weights_are_the_default():
    pretrained_path("natural")  # installed
    assert resolve_weights("auto") == "natural"


def _mean_iou(sequence: ImageSequence) -> float:
    tracker = SingleObjectTracker(Tracker.from_pretrained("natural"))
    result = evaluate_sot(sequence, trackers={"ratrack": tracker}).results["ratrack"]
    return float(np.nan_to_num(result.ious).mean())


def test_natural_weights_track_the_validation_sequences(data_dir):
    crossing = open_sequence(data_dir / "otb" / "Crossing", "otb")
    assert _mean_iou(crossing) > CROSSING_FLOOR
    car = open_sequence(data_dir / "otb" / "BlurCar2", "otb")
    head = ImageSequence(
        name="BlurCar2[:150]", path=car.path, paths=car.paths[:150], gt=car.gt[:150]
    )
    assert _mean_iou(head) > BLURCAR2_FLOOR
