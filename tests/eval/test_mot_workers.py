"""``ratrack eval mot --workers N``: sequences scored in a process pool give exactly the serial
report, on real KITTI labels with tracks built from the real RRC detections."""

from __future__ import annotations

import json

import pytest

from ratrack.data.kitti_labels import write_kitti_labels
from ratrack.errors import DataError
from ratrack.eval.mot_files import evaluate_files
from ratrack.track.association import track_kitti_detections

SEQUENCES = ("0000", "0003", "0012", "0014")  # four of the smaller real sequences


@pytest.fixture(scope="module")
def kitti_pair(data_dir, tmp_path_factory):
    """``(gt_dir, pred_dir)``: links to real KITTI labels and tracks from real detections."""
    kitti = data_dir / "kitti_tracking"
    det_root = kitti / "detections_rrc" / "training"
    root = tmp_path_factory.mktemp("kitti_workers")
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for seq in SEQUENCES:
        (gt_dir / f"{seq}.txt").symlink_to(kitti / "training" / "label_02" / f"{seq}.txt")
        dets = {c: det_root / c / f"{seq}.txt" for c in ("Car", "Pedestrian")}
        write_kitti_labels(pred_dir / f"{seq}.txt", track_kitti_detections(dets))
    return gt_dir, pred_dir


def test_workers_equal_serial_through_the_cli(kitti_pair, tmp_path, run_cli):
    gt_dir, pred_dir = kitti_pair
    outputs, reports = [], []
    for workers in (1, 2):
        out_json = tmp_path / f"w{workers}.json"
        args = ["--gt", gt_dir, "--pred", pred_dir, "--format", "kitti", "--json", out_json]
        code, out, err = run_cli("eval", "mot", *args, "--workers", workers)
        assert code == 0, err
        outputs.append(out.replace(str(out_json), "JSON"))
        reports.append(json.loads(out_json.read_text()))
    assert outputs[0] == outputs[1]
    assert reports[0] == reports[1]  # exact: every float and count
    assert list(reports[0]["sequences"]) == list(SEQUENCES)
    assert reports[0]["combined"]["car"]["IDSW"] > 0
    assert evaluate_files(gt_dir, pred_dir, "kitti") == reports[0]  # library = CLI


def test_a_bad_file_in_a_worker_is_a_one_line_error(kitti_pair, tmp_path):
    gt_dir, pred_dir = kitti_pair
    gt_two, bad = tmp_path / "gt", tmp_path / "pred"
    gt_two.mkdir()
    bad.mkdir()
    for seq in ("0012", "0014"):
        (gt_two / f"{seq}.txt").symlink_to(gt_dir / f"{seq}.txt")
        (bad / f"{seq}.txt").write_text((pred_dir / f"{seq}.txt").read_text())
    with (bad / "0014.txt").open("a") as f:
        f.write("5 999 Car 0 0 0 nan 10 20 30 1 1 1 0 0 0 0 0.5\n")
    with pytest.raises(DataError, match=r"0014\.txt:\d+: .*not finite"):
        evaluate_files(gt_two, bad, "kitti", workers=2)


def test_workers_must_be_positive(kitti_pair, run_cli):
    gt_dir, pred_dir = kitti_pair
    with pytest.raises(ValueError, match="workers"):
        evaluate_files(gt_dir, pred_dir, "kitti", workers=0)
    code, _out, err = run_cli(
        "eval", "mot", "--gt", gt_dir, "--pred", pred_dir, "--format", "kitti", "--workers", "0"
    )
    assert code == 2 and err.strip() == "error: --workers must be >= 1, got 0"
