"""tools/profile_update.py: the split of an update's time into heavy kernels and the rest."""

from __future__ import annotations

import pytest

from ratrack.data.formats import open_sequence
from ratrack.track.online import Tracker
from tool_helpers import load_tool


@pytest.fixture(scope="module")
def profile_update():
    return load_tool("profile_update")


def test_ops_are_sorted_into_heavy_kinds_or_none(profile_update):
    kind = profile_update.kind_of
    assert kind("aten::_fft_r2c") == kind("aten::_fft_c2r") == "FFTs"
    assert kind("aten::mkldnn_convolution") == kind("aten::_slow_conv2d_forward") == "convolutions"
    assert kind("aten::grid_sampler_2d") == "glimpse sampling"
    assert kind("aten::addmm") == "matrix products"
    assert kind("aten::mul") is None and kind("aten::copy_") is None


def test_the_split_finds_every_heavy_kind_in_real_updates(profile_update, data_dir, one_thread):
    """Car1 (a tuning sequence): each heavy kind takes time in an update of the natural model,
    and the small operations number in the hundreds."""
    sequence = open_sequence(data_dir / "otb" / "Car1", "otb")
    frames = [frame for _, frame in zip(range(8), sequence.frames(), strict=False)]
    tracker = Tracker.from_pretrained("natural")
    tracker.init(frames[0], sequence.gt[0], fmt="xyxy")
    heavy, small = profile_update.split_update(tracker, frames[1:])
    assert set(heavy) == set(profile_update.KINDS)
    assert all(ms > 0 for ms in heavy.values())
    assert heavy["FFTs"] > heavy["matrix products"]  # 37 planes of 90x90 against a GRU of 256
    assert 100 < small < 10_000
