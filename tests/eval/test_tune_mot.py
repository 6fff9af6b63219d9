"""tools/tune_mot.py: its criteria (which trial setting replaces the incumbent) and grids."""

from __future__ import annotations

import pytest

from tool_helpers import load_tool


@pytest.fixture(scope="module")
def tune_mot():
    return load_tool("tune_mot")


def score(tune_mot, pooled, *per_sequence):
    return tune_mot.Score(pooled, {f"{i:04d}": v for i, v in enumerate(per_sequence)}, {})


def test_pooled_takes_any_rise(tune_mot):
    best = score(tune_mot, 0.500, 0.5, 0.5, 0.5)
    assert tune_mot.prefer(score(tune_mot, 0.501, 0.9, 0.1, 0.1), best, "pooled")
    assert not tune_mot.prefer(score(tune_mot, 0.500, 0.9, 0.9, 0.9), best, "pooled")


def test_stable_needs_the_margin_and_a_majority_of_sequences(tune_mot):
    best = score(tune_mot, 0.500, 0.5, 0.5, 0.5)
    # one sequence up, two down: a pooled rise carried by one sequence is not enough
    assert not tune_mot.prefer(score(tune_mot, 0.520, 0.8, 0.45, 0.45), best, "stable", 0.005)
    # two up, one down, but below the margin
    assert not tune_mot.prefer(score(tune_mot, 0.504, 0.52, 0.52, 0.45), best, "stable", 0.005)
    # two up, one down, above the margin
    assert tune_mot.prefer(score(tune_mot, 0.510, 0.52, 0.52, 0.45), best, "stable", 0.005)
    # one up and the others unchanged: unchanged sequences do not vote
    assert tune_mot.prefer(score(tune_mot, 0.510, 0.6, 0.5, 0.5), best, "stable", 0.005)
    # nothing changes anywhere: the incumbent stays
    assert not tune_mot.prefer(best, best, "stable", 0.0)
    with pytest.raises(ValueError, match="criterion"):
        tune_mot.prefer(best, best, "mean")


def test_only_known_knobs_can_be_tuned(tune_mot):
    with pytest.raises(ValueError, match="no knob"):
        tune_mot.tune("ratrack", {}, {}, "Pedestrian", {}, knobs=["min_score", "speed"])


def test_set_parses_knob_values(tune_mot):
    assert tune_mot.parse_set("height_iou=true,match_expand=0.3,report_box=filtered") == {
        "height_iou": True,
        "match_expand": 0.3,
        "report_box": "filtered",
    }
    with pytest.raises(ValueError, match="KNOB=VALUE"):
        tune_mot.parse_set("height_iou")


def test_new_mechanisms_are_knobs_that_build_a_config(tune_mot):
    cfg = tune_mot.ratrack_config({"height_iou": True, "motion.score_noise": True})
    assert cfg.height_iou and cfg.motion.score_noise
    assert {"height_iou", "motion.score_noise"} <= set(tune_mot.GRIDS["ratrack"])


def test_the_dashcam_defaults_are_settings_the_tool_can_choose(tune_mot):
    """Every class's shipped settings are a ratrack config the tool builds, and each knob that
    differs from the car's lies on its grid (README: chosen by tools/tune_mot.py)."""
    from ratrack.track.lifecycle import MultiTrackConfig
    from ratrack.track.multi import DASHCAM

    car = tune_mot.ratrack_params(MultiTrackConfig())
    grids = tune_mot.GRIDS["ratrack"]
    assert "motion.std_measurement" in grids
    for cls, cfg in DASHCAM.items():
        params = tune_mot.ratrack_params(cfg)
        assert tune_mot.ratrack_config(params) == cfg, cls
        moved = {k for k in grids if params[k] != car[k]}
        assert all(params[k] in grids[k] for k in moved), (cls, moved)
    assert DASHCAM["Pedestrian"].motion.std_measurement in grids["motion.std_measurement"]
