"""``ratrack bench speed``: box placement, option parsing, a tiny run on the real KITTI raw
frames (structure of the table and the JSON, every number positive and finite) and one-line
errors for bad options. No timing is asserted."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ratrack.errors import DataError
from ratrack.eval.benchmark import run_speed_benchmark
from ratrack.eval.speed import (
    KITTI_RAW_FRAMES,
    RATRACK_RUNS,
    SpeedConfig,
    grid_boxes,
    parse_batch_sizes,
    parse_sizes,
)

TINY = ["--frames", "3", "--batch-sizes", "1,3", "--sizes", "64x200,96x300", "--peer-objects", "2",
        "--sequences", "none"]  # fmt: skip


def test_grid_boxes_are_car_sized_on_a_grid_that_scales_with_the_frame():
    one = grid_boxes(1, 375, 1242)
    np.testing.assert_allclose(one, [[581, 162.5, 661, 212.5]], atol=1e-3)  # 80x50 px, centred
    boxes = grid_boxes(128, 375, 1242)
    assert boxes.shape == (128, 4) and boxes.dtype == np.float32
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert (centres > 0).all() and (centres[:, 0] < 1242).all() and (centres[:, 1] < 375).all()
    assert len(np.unique(centres, axis=0)) == 128
    np.testing.assert_allclose(grid_boxes(128, 750, 2484), 2 * boxes, rtol=1e-6)
    np.testing.assert_allclose(grid_boxes(8, 375, 1242), grid_boxes(8, 375, 1242))


def test_option_parsing():
    assert parse_batch_sizes("1, 8,32") == (1, 8, 32)
    assert parse_sizes("188x621,375X1242") == ((188, 621), (375, 1242))
    for bad in ("", "1,a", "1.5"):
        with pytest.raises(ValueError, match="batch_sizes"):
            parse_batch_sizes(bad)
    for bad in ("", "375", "375x", "375x1242x3", "-3x4"):
        with pytest.raises(ValueError, match="sizes"):
            parse_sizes(bad)
    for bad in (
        {"frames": 1},
        {"batch_sizes": (0,)},
        {"batch_sizes": (2, 2)},
        {"sizes": ((16, 600),)},
        {"sizes": ((64, 64), (64, 64))},
        {"peer": "nope"},
        {"peer_objects": 0},
        {"threads": -1},
        {"statistic": "mean"},
    ):
        with pytest.raises(ValueError):
            SpeedConfig(**bad)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_tiny_run_on_real_frames(data_dir, tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("RATRACK_DATA", str(data_dir))
    out_json = tmp_path / "bench" / "speed.json"
    code, out, err = run_cli("bench", "speed", *TINY, "--json", out_json)
    assert code == 0, err
    for text in (
        "decode PNG",
        "convert (frame_tensor)",
        "large/small",
        "CSRT x2",
        "ratrack update / CSRT",
        "64x200",
        "96x300",
    ):
        assert text in out
    report = json.loads(out_json.read_text())
    assert report["config"]["batch_sizes"] == [1, 3]
    assert report["source_size"] == [375, 1242]
    assert [s["label"] for s in report["sizes"]] == ["64x200", "96x300"]
    for s in report["sizes"]:
        assert _positive(s["decode_ms"]) and _positive(s["convert_ms"])
    rows = report["rows"]
    assert len(rows) == 3 * 2 * 2 + 2  # (update, step, detections) x sizes x batches + CSRT
    assert {r["tracker"] for r in rows} == {*RATRACK_RUNS, "CSRT"}
    for r in rows:
        assert r["frame_ms"] == r["median_frame_ms"]
        for key in ("frame_ms", "mean_frame_ms", "min_frame_ms", "object_fps"):
            assert _positive(r[key]), (r, key)
    ratios = report["size_ratios"]
    assert set(ratios) == {*RATRACK_RUNS, "CSRT"}
    assert all(_positive(v) for d in ratios.values() for v in d.values())
    assert set(report["peer_ratios"]) == {"64x200", "96x300"}
    assert report["end_to_end"] == [] and "tracker / decode PNG" in out
    assert all(_positive(v) for d in report["peer_ratios"].values() for v in d.values())
    assert set(report["claims"]) >= {
        "cost_per_object_flat_step",
        "cost_per_object_flat_detections",
        "largest_batch_vs_peer",
    }
    assert report["environment"]["torch_threads"] == 1
    assert not list(out_json.parent.glob(".*.tmp"))


def test_end_to_end_on_a_real_sequence_beside_csrt(data_dir, monkeypatch, run_cli):
    """``ratrack track`` on otb/Crossing (120 frames, one object) beside CSRT, one run each."""
    monkeypatch.setenv("RATRACK_DATA", str(data_dir))
    args = ["--frames", "2", "--batch-sizes", "1", "--sizes", "64x200", "--peer-objects", "1"]
    code, out, err = run_cli(
        "bench", "speed", *args, "--sequences", "otb/Crossing", "--repeats", "1"
    )
    assert code == 0, err
    assert "ratrack track end to end" in out and "track/CSRT" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("otb/Crossing"))
    frames, track_fps, updates, csrt_fps, ratio = row[1:]
    assert int(frames) == 120
    assert float(ratio) == pytest.approx(float(track_fps) / float(csrt_fps), abs=0.01)
    assert float(updates) >= float(track_fps) > 0


def test_without_peer_and_on_any_frames_folder(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), rng.integers(0, 255, (60, 80, 3), np.uint8))
    config = SpeedConfig(
        frames=3, batch_sizes=(2,), sizes=((60, 80), (40, 40)), peer=None, statistic="min"
    )
    report = run_speed_benchmark(config, frames_dir=tmp_path)
    assert all(r.frame_ms == r.min_frame_ms <= r.median_frame_ms for r in report.rows)
    assert "min over frames" in report.table()
    assert report.peer_ratios() == {} and "CSRT" not in report.table()
    assert report.source_size == (60, 80)
    assert {r.tracker for r in report.rows} == set(RATRACK_RUNS)
    (tmp_path / "003.png").write_text("not an image")
    with pytest.raises(DataError, match=r"003\.png: not a readable image"):
        run_speed_benchmark(SpeedConfig(frames=4, peer=None), frames_dir=tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frames", "1"], "--frames must be an integer in [2, 100000], got 1"),
        (["--batch-sizes", "1,x"], "--batch-sizes expected comma-separated integers"),
        (["--batch-sizes", "1,100000"], "--batch-sizes must be an integer in [1, 4096]"),
        (["--sizes", "375by1242"], "--sizes expected HxW"),
        (["--sizes", "8x8"], "--sizes must be an integer in [32, 8192], got 8"),
        (["--sizes", "100000x100000"], "--sizes must be an integer in [32, 8192]"),
        (["--peer", "foo"], "--peer unknown peer 'foo'"),
        (["--threads", "-1"], "--threads must be an integer in [0, 1024], got -1"),
        (["--statistic", "mean"], "--statistic must be one of median, min"),
        (["--device", "nope"], "--device must be one of auto, cpu, cuda or cuda:N, got 'nope'"),
        (["--weights", "missing.pt"], "missing.pt: checkpoint not found"),
        (["--frames-dir", "no/such/dir"], "no/such/dir: frames folder not found"),
        (["--frames", "500"], "500 frames asked for, only 78 images here"),
    ],
)
def test_bad_options_are_one_line_errors(args, message, data_dir, monkeypatch, run_cli):
    monkeypatch.setenv("RATRACK_DATA", str(data_dir))
    code, _out, err = run_cli("bench", "speed", *args)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_default_frames_are_the_kitti_raw_frames(data_dir, monkeypatch):
    from ratrack.eval.speed import default_frames_dir

    monkeypatch.setenv("RATRACK_DATA", str(data_dir))
    assert default_frames_dir() == data_dir / KITTI_RAW_FRAMES
    assert len(list(default_frames_dir().glob("*.png"))) == 78
