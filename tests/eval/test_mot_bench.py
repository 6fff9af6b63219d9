"""``ratrack bench mot``: the table and its scoring (ratrack alone; peers only with the extra)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from typer.testing import CliRunner

from ratrack.cli import app
from ratrack.errors import RatrackError
from ratrack.eval.mot_bench import (
    format_bench_table,
    kitti_results,
    parse_peers,
    parse_sequences,
    peer_runner,
    ratrack_runner,
    run_bench,
    score_runs,
)

runner = CliRunner()


def test_parse_sequences_and_peers():
    assert parse_sequences("0011-0013,0017") == ["0011", "0012", "0013", "0017"]
    assert parse_sequences("all") == []
    with pytest.raises(ValueError, match="bad sequence range"):
        parse_sequences("11-x")
    assert parse_peers("all") == ["sort", "bytetrack", "ocsort", "sv-bytetrack"]
    with pytest.raises(ValueError, match="unknown peer"):
        parse_peers("deepsort")


def test_table_rows_are_the_kitti_scores_of_the_trackers_boxes(data_dir):
    kitti = data_dir / "kitti_tracking"
    rows = run_bench(kitti, {"ratrack": ratrack_runner()}, ["0012", "0014"], ["Pedestrian"])
    assert [(r.tracker, r.cls) for r in rows] == [("ratrack", "Pedestrian")]
    row = rows[0]
    assert row.frames == 78 + 106 and row.fps > 0
    assert 0.0 < row.scores["HOTA"] < 1.0
    table = format_bench_table(rows)
    for name in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "frames/s"):
        assert name in table.splitlines()[0]
    assert f"{row.scores['HOTA']:.3f}" in table
    # the same boxes scored again through the public scoring function give the same HOTA
    from ratrack.data.kitti_labels import read_kitti_labels
    from ratrack.eval.mot_bench import SequenceDetections, load_detections, rrc_folder

    gt = {s: read_kitti_labels(kitti / f"training/label_02/{s}.txt") for s in ("0012", "0014")}
    n = {"0012": 78, "0014": 106}
    run = ratrack_runner()
    preds = {}
    for s in gt:
        dets = load_detections(rrc_folder(kitti) / "Pedestrian" / f"{s}.txt", n[s])
        preds[s] = kitti_results(run(SequenceDetections(s, dets, "Pedestrian"))[0], "Pedestrian")
    assert score_runs(gt, preds, "Pedestrian", n)["HOTA"] == pytest.approx(row.scores["HOTA"])


def test_a_missing_peer_package_is_a_one_line_error(monkeypatch):
    real_import = builtins.__import__

    def no_supervision(name, *args, **kwargs):
        if name.split(".")[0] in ("supervision", "trackers"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_supervision)
    import importlib

    monkeypatch.setattr(importlib, "import_module", lambda name: no_supervision(name))
    with pytest.raises(RatrackError, match=r"pip install -e \.\[peers\]"):
        peer_runner("sort", {})


def test_cli_prints_the_table_with_ratrack_alone(data_dir, tmp_path):
    kitti = data_dir / "kitti_tracking"
    result = runner.invoke(
        app,
        [
            "bench",
            "mot",
            "--kitti",
            str(kitti),
            "--sequences",
            "0012",
            "--peers",
            "",
            "--classes",
            "Car",
            "--json",
            str(tmp_path / "b.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ratrack" in result.output and "Car" in result.output
    bad = runner.invoke(app, ["bench", "mot", "--kitti", str(kitti), "--peers", "deepsort"])
    assert bad.exit_code != 0
    bad = runner.invoke(app, ["bench", "mot", "--kitti", str(kitti), "--repeats", "0"])
    assert bad.exit_code != 0 and "--repeats" in str(bad.exception)


def test_peers_run_on_the_same_detections(data_dir):
    pytest.importorskip("trackers")  # the optional extra: pip install -e .[peers]
    pytest.importorskip("supervision")
    kitti = data_dir / "kitti_tracking"
    runners = {n: peer_runner(n) for n in ("sort", "bytetrack", "ocsort", "sv-bytetrack")}
    rows = run_bench(kitti, runners, ["0012"], ["Car"])
    assert [r.tracker for r in rows] == list(runners)
    assert all(0.5 < r.scores["HOTA"] < 1.0 and np.isfinite(r.fps) for r in rows)


def test_trackers_take_turns_and_the_fastest_run_counts(data_dir):
    """With ``repeats`` every sequence is run by each tracker in turn, round after round; the
    boxes scored are the first round's and each tracker's time on a sequence its fastest run's."""
    kitti = data_dir / "kitti_tracking"
    calls = []
    times = iter([3.0, 1.0, 2.0, 5.0, 4.0, 6.0] * 2)  # a, b, a, b, a, b per sequence

    def timed(name, inner):
        def run(seq):
            calls.append((name, seq.name))
            rows, _ = inner(seq)
            return rows, next(times)

        return run

    runners = {"a": timed("a", ratrack_runner()), "b": timed("b", ratrack_runner())}
    rows = run_bench(kitti, runners, ["0012", "0014"], ["Pedestrian"], repeats=3)
    assert calls == [(n, s) for s in ("0012", "0014") for _ in range(3) for n in ("a", "b")]
    seconds = {r.tracker: r.seconds for r in rows}
    assert seconds == {"a": 2.0 + 2.0, "b": 1.0 + 1.0}  # min(3, 2, 4), min(1, 5, 6) twice
    once = run_bench(kitti, {"ratrack": ratrack_runner()}, ["0012", "0014"], ["Pedestrian"])
    assert rows[0].scores["HOTA"] == once[0].scores["HOTA"] == rows[1].scores["HOTA"]
    with pytest.raises(ValueError, match="repeats"):
        run_bench(kitti, runners, ["0012"], ["Pedestrian"], repeats=0)
