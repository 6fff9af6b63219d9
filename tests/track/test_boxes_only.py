"""``ratrack track`` from boxes alone: the CLI, its files, and bad detection files."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from ratrack.cli import app
from ratrack.data.detections import read_detection_file
from ratrack.errors import DataError
from ratrack.eval.mot_bench import ratrack_runner, run_bench
from ratrack.eval.mot_files import evaluate_files

runner = CliRunner()
COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN")


@pytest.fixture(scope="module")
def kitti(data_dir):
    return data_dir / "kitti_tracking"


def test_kitti_root_without_images_tracks_from_boxes_and_the_file_agrees(kitti, tmp_path):
    """Sequence 0017 has no images here: boxes-only mode by itself. The written KITTI file,
    scored by ``ratrack eval mot``'s evaluation, equals the bench's in-memory scores."""
    out = tmp_path / "0017.txt"
    args = ["track", "--kitti", str(kitti), "--sequence", "0017"]
    args += ["--detections", str(kitti / "detections_rrc/training"), "--format", "kitti"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "boxes only" in result.output
    report = evaluate_files(kitti / "training/label_02/0017.txt", out, "kitti")
    rows = run_bench(kitti, {"ratrack": ratrack_runner()}, ["0017"])
    for row in rows:
        written = report["combined"][row.cls.lower()]
        for key in COLUMNS:
            assert written[key] == pytest.approx(row.scores[key], abs=1e-12), (row.cls, key)
    assert rows[1].scores["HOTA"] > 0.4  # 0017 is pedestrians: a real tracker, no placeholder


def test_no_frames_flag_and_formats_agree(kitti, tmp_path):
    """``--no-frames`` on a sequence that has images (0001); MOT and KITTI outputs carry the
    same boxes and ids."""
    dets = kitti / "detections_rrc/training/Car/0001.txt"
    outs = {}
    for fmt in ("kitti", "mot"):
        outs[fmt] = tmp_path / f"0001.{fmt}.txt"
        result = runner.invoke(
            app,
            [
                "track",
                "--no-frames",
                "--detections",
                str(dets),
                "--format",
                fmt,
                "--out",
                str(outs[fmt]),
            ],
        )
        assert result.exit_code == 0, result.output
    from ratrack.data.kitti_labels import read_kitti_labels
    from ratrack.data.mot import read_mot_file

    k, m = read_kitti_labels(outs["kitti"]), read_mot_file(outs["mot"])
    assert len(k.frame) > 1000
    np.testing.assert_array_equal(k.frame + 1, m.frame)
    np.testing.assert_array_equal(k.track_id, m.track_id)
    np.testing.assert_allclose(k.boxes, m.boxes, atol=1e-5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,1,2,3,4,0.5\n1,1,2,3\n", ":2: expected 6 columns"),
        ("0,1,2,3,4,0.5\n1,1,2,3,x,0.5\n", ":2: non-numeric value"),
        ("0,1,2,3,4,0.5\n1,5,2,3,4,0.5\n", ":2: box must have x1 < x2"),
        ("0,1,2,3,4,0.5\n1,1,2,3,4,1.5\n", ":2: detection score 1.5 is outside"),
        ("0,1,2,3,4,-0.1\n", ":1: detection score -0.1 is outside"),
        ("-1,1,2,3,4,0.5\n", ":1: bad frame number"),
    ],
)
def test_bad_detection_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "det.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_detection_file(path)
    out = tmp_path / "out.txt"
    result = runner.invoke(
        app, ["track", "--no-frames", "--detections", str(path), "--out", str(out)]
    )
    assert result.exit_code != 0 and not out.exists()


def test_frames_out_of_order_are_sorted(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("2,1,2,30,40,0.9\n0,1,2,30,40,0.8\n1,1,2,30,40,0.7\n")
    table = read_detection_file(path)
    assert table.frame.tolist() == [0, 1, 2] and table.lines.tolist() == [2, 3, 1]


def test_empty_file_or_sequence_gives_an_empty_track_file(kitti, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    out = tmp_path / "out.txt"
    result = runner.invoke(
        app, ["track", "--no-frames", "--detections", str(empty), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text() == ""
    # a detection folder with no file for the sequence at all is an error naming the folder
    folder = tmp_path / "rrc"
    (folder / "Car").mkdir(parents=True)
    result = runner.invoke(
        app,
        [
            "track",
            "--kitti",
            str(kitti),
            "--sequence",
            "0017",
            "--detections",
            str(folder),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code != 0 and "no detections for sequence 0017" in str(result.exception)
