"""``ratrack eval mot`` and its library side: real MOT17 files against trackeval's official
MOTChallenge evaluation, bad input (one-line errors naming the file), the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ratrack.data.mot import MotRecords, read_mot_file, write_mot_file
from ratrack.errors import DataError
from ratrack.eval.mot_files import evaluate_files, pair_files
from ratrack.eval.motchallenge import trackeval_motchallenge
from ratrack.track.association import track_detections


def _tracks_from_detections(seq_dir, out_path) -> int:
    """Track MOT17's public detections up to the last ground-truth frame; returns that frame."""
    gt = read_mot_file(seq_dir / "gt" / "gt.txt")
    det = read_mot_file(seq_dir / "det" / "det.txt")
    last = int(gt.frame.max())
    det = det.select(det.frame <= last)
    tracked = track_detections(det.frame, det.boxes, det.conf)
    write_mot_file(
        out_path,
        MotRecords(
            frame=tracked.frame,
            track_id=tracked.track_id + 1,
            boxes=tracked.boxes,
            conf=tracked.score,
        ),
    )
    return last


def test_real_mot17_agrees_with_trackeval(data_dir, tmp_path):
    root = data_dir / "mot17_mini" / "train"
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    lengths = {
        s.name: _tracks_from_detections(s, pred_dir / f"{s.name}.txt")
        for s in sorted(root.iterdir())
    }
    assert len(lengths) == 7
    ours = evaluate_files(root, pred_dir, "mot")
    ref = trackeval_motchallenge(
        {s: root / s / "gt" / "gt.txt" for s in lengths},
        {s: pred_dir / f"{s}.txt" for s in lengths},
        lengths,
    )
    for seq in [*lengths, "COMBINED_SEQ"]:
        o = (
            ours["combined"]["pedestrian"]
            if seq == "COMBINED_SEQ"
            else ours["sequences"][seq]["pedestrian"]
        )
        r = ref[seq]["pedestrian"]
        assert (o["FP"], o["FN"], o["IDSW"]) == (r["FP"], r["FN"], r["IDSW"]), seq
        for key in ("HOTA", "MOTA", "IDF1", "MOTP"):
            assert o[key] == pytest.approx(r[key], abs=1e-9), (seq, key)
    assert 0 < ours["combined"]["pedestrian"]["MOTA"] < 1


def _mot(path, rows):
    path.write_text("".join(f"{f},{i},{x},{y},20,40,1,1,1.0\n" for f, i, x, y in rows))
    return path


def test_bad_input_names_the_file(tmp_path):
    gt = _mot(tmp_path / "gt.txt", [(1, 1, 10, 10), (2, 1, 12, 10)])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty prediction file") as info:
        evaluate_files(gt, empty, "mot")
    assert str(empty) in str(info.value)
    longer = _mot(tmp_path / "longer.txt", [(1, 5, 10, 10), (3, 5, 12, 10)])
    with pytest.raises(DataError, match="past the ground truth's last frame 2"):
        evaluate_files(gt, longer, "mot")
    nan = tmp_path / "nan.txt"
    nan.write_text("1,5,nan,10,20,40,1,-1,-1,-1\n")
    with pytest.raises(DataError, match=r"nan\.txt:1"):
        evaluate_files(gt, nan, "mot")
    twice = _mot(tmp_path / "twice.txt", [(1, 5, 10, 10), (1, 5, 50, 10)])
    with pytest.raises(DataError, match="track 5 appears twice in frame 1"):
        evaluate_files(gt, twice, "mot")
    with pytest.raises(DataError, match="two files or two folders"):
        evaluate_files(gt, tmp_path, "mot")
    with pytest.raises(ValueError, match="unknown format"):
        pair_files(gt, gt, "vot")


def test_missing_prediction_in_a_folder(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    _mot(tmp_path / "gt" / "SEQ-A.txt", [(1, 1, 10, 10)])
    with pytest.raises(DataError, match="no prediction file for sequence SEQ-A"):
        evaluate_files(tmp_path / "gt", tmp_path / "pred", "mot")


def test_command_line_scores_and_errors(tmp_path, run_cli):
    gt = _mot(tmp_path / "gt.txt", [(1, 1, 10, 10), (2, 1, 12, 10), (2, 2, 100, 10)])
    pred = _mot(tmp_path / "pred.txt", [(1, 7, 10, 10), (2, 7, 12, 10), (2, 8, 300, 10)])
    code, out, err = run_cli(
        "eval",
        "mot",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--format",
        "mot",
        "--json",
        str(tmp_path / "s.json"),
    )
    assert code == 0, err
    assert "MOTA" in out and "combined" in out
    report = json.loads((tmp_path / "s.json").read_text())
    s = report["combined"]["pedestrian"]
    assert (s["TP"], s["FP"], s["FN"]) == (2, 1, 1)
    assert s["MOTA"] == pytest.approx(1 - 2 / 3)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, _, err = run_cli("eval", "mot", "--gt", str(gt), "--pred", str(empty), "--format", "mot")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(empty) in lines[0] and lines[0].startswith("error:")
    code, _, err = run_cli("eval", "mot", "--gt", str(gt), "--pred", str(pred), "--format", "vot")
    assert code == 2 and "--format" in err
    assert np.isfinite(s["HOTA"])
