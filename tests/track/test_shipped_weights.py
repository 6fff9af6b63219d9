"""The shipped weights are small and load; the Bouncing MNIST ones track unseen digits (see
weights/bmnist.md; the natural ones: test_shipped_natural.py)."""

import pytest
import torch

from ratrack.demo import DemoConfig, run_demo
from ratrack.eval.bmnist import evaluate_bmnist, evaluation_clips
from ratrack.track.online import Tracker, pretrained_path

# The shipped weights score a mean IoU of 0.906 on these 50 one-digit sequences and 0.789 on
# 50 two-digit ones (test-split digits, seed 7); the floors leave room for CPU/BLAS rounding,
# not for a worse model.
ONE_DIGIT_FLOOR = 0.88
TWO_DIGIT_FLOOR = 0.75


@pytest.mark.parametrize("name", ["bmnist", "natural"])
def test_weights_are_small_and_load_weights_only(name):
    path = pretrained_path(name)
    assert path.stat().st_size < 10 * 2**20
    payload = torch.load(path, weights_only=True)
    assert payload["kind"] == "tracker" and payload["optimizer"] is None


def test_shipped_weights_track_unseen_digits():
    tracker = Tracker.from_pretrained("bmnist")
    for digits, floor in ((1, ONE_DIGIT_FLOOR), (2, TWO_DIGIT_FLOOR)):
        frames, boxes = evaluation_clips(50, num_digits=digits, seed=7)
        scores = evaluate_bmnist(tracker.model, frames, boxes)
        assert scores["mean_iou"] > floor, (digits, scores)


def test_demo_scores_and_writes_a_video(tmp_path):
    config = DemoConfig(sequences=2, digits=2, length=10, video_sequences=1)
    result = run_demo(config, out=tmp_path / "demo.mp4")
    assert result.object_frames == 2 * 2 * 9
    assert 0 < result.mean_iou <= 1 and 0 <= result.success_auc <= 1
    assert result.mot["GT"] == 2 * 2 * 10 and -1 <= result.mot["MOTA"] <= 1
    assert result.video is not None and result.video.stat().st_size > 1000
