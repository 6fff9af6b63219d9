"""``ratrack data bmnist`` and ``ratrack data info``; the export and describe functions."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from ratrack.cli import app, main
from ratrack.data.bouncing_mnist import BouncingMnist, BouncingMnistConfig
from ratrack.data.export import benchmark_generation, export_bouncing_mnist
from ratrack.data.formats import open_sequence
from ratrack.data.info import describe
from ratrack.errors import DataError

runner = CliRunner()


def test_export_writes_readable_mot_folders(tmp_path):
    cfg = BouncingMnistConfig(num_digits=2, length=5, canvas_size=(40, 50), digit_size=20)
    stats = export_bouncing_mnist(tmp_path, cfg, num_sequences=2, seed=4)
    assert (stats.sequences, stats.frames) == (2, 10) and stats.frames_per_second > 0
    seq = open_sequence(tmp_path / "bmnist-00001")
    assert seq.format == "mot" and len(seq) == 5 and seq.frame_size() == (40, 50)
    expected = BouncingMnist(cfg, num_sequences=2, seed=4, split="test")[1]
    np.testing.assert_allclose(seq.frame(3)[..., 0] / 255.0, expected.frames[3, 0], atol=0.5 / 255)
    gt = seq.gt_records
    for k in (1, 2):
        rows = gt.select(gt.track_id == k)
        np.testing.assert_array_equal(rows.frame, np.arange(1, 6))
        np.testing.assert_allclose(rows.boxes, expected.boxes[:, k - 1])
    assert describe(tmp_path)["format"] == "collection"


def test_cli_bmnist_and_info(tmp_path):
    result = runner.invoke(
        app,
        ["data", "bmnist", "--out", str(tmp_path), "--num", "3", "--length", "4", "--digits", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 sequences (12 frames)" in result.output and "frames/s" in result.output
    result = runner.invoke(app, ["data", "info", str(tmp_path / "bmnist-00002"), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["format"] == "mot" and info["frames"] == 4 and info["gt"]["tracks"] == 2
    text = runner.invoke(app, ["data", "info", str(tmp_path / "bmnist-00002")]).output
    assert "frame_size: [100, 100]" in text


def test_cli_bad_values_are_user_errors(tmp_path):
    result = runner.invoke(app, ["data", "bmnist", "--out", str(tmp_path), "--digits", "0"])
    message = "--digits must be an integer in [1, 64], got 0"
    assert result.exit_code != 0 and message in str(result.exception)
    result = runner.invoke(app, ["data", "info", str(tmp_path / "missing")])
    assert isinstance(result.exception, DataError)


def test_main_prints_one_line_error(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "gt.txt"
    bad.write_text("1,1,10,10,5,5,1\n2,1,10,10,-5,5,1\n")
    monkeypatch.setattr(sys, "argv", ["ratrack", "data", "info", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}:2: box has non-positive size -5.0 x 5.0"


def test_info_on_real_data(data_dir):
    kitti = describe(data_dir / "kitti_tracking")
    assert kitti["format"] == "kitti-tracking" and kitti["sequences"] == 21
    assert kitti["frame_sizes"] == [(370, 1224), (375, 1242)]
    s1 = kitti["per_sequence"]["0001"]
    assert s1["objects_per_class"]["Car"] == 2681 and s1["ignore_regions"] == 1241
    assert s1["frames"] == 447 and s1["frames_present"] == 3 and s1["frame_size"] == [375, 1242]
    raw = describe(data_dir / "kitti_raw_frames")
    assert raw["drives"] == [
        {
            "date": "2011_09_26",
            "drive": None,
            "frames": 78,
            "frame_size": [375, 1242],
            "calib": False,
        }
    ]
    mnist = describe(data_dir / "mnist")
    counts = [mnist["per_label"][str(d)] for d in range(10)]
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # official t10k
    otb = describe(data_dir / "otb")
    assert {i["name"]: i["gt_boxes"] for i in otb["items"]} == {
        "BlurCar2": 585,
        "Car1": 1020,
        "Crossing": 120,
    }
    mot = describe(data_dir / "mot17_mini" / "train" / "MOT17-02-FRCNN")
    assert mot["gt"]["rows"] == 156 and mot["det"]["rows"] == 8186


def test_info_flags_gt_frames_beyond_seqinfo(tmp_path):
    seq = tmp_path / "S"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=S\nimDir=img1\nseqLength=3\n")
    (seq / "gt" / "gt.txt").write_text("1,1,1,1,5,5,1,1,1.0\n4,1,1,1,5,5,1,1,1.0\n")
    with pytest.raises(DataError, match="frame 4 out of range") as info:
        describe(seq)
    assert info.value.line == 2


def test_generation_benchmark_runs():
    assert benchmark_generation(BouncingMnistConfig(length=5), num_sequences=5) > 100
