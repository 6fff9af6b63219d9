"""``ratrack eval sot`` over a benchmark: several folders or a root, ratrack and peers in one
pass, one entry per ground-truth file, NaN ground-truth rows left out (issue #13)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ratrack.cli import app
from ratrack.errors import RatrackError
from ratrack.eval.sot_benchmark import evaluate_sot_benchmark, find_sequences

FRAMES = 8


def _otb_copy(source, folder, gt_files: dict[str, list[str]]):
    """An OTB folder whose images link to ``source``'s first frames."""
    (folder / "img").mkdir(parents=True)
    for path in sorted((source / "img").iterdir())[:FRAMES]:
        (folder / "img" / path.name).symlink_to(path)
    for name, rows in gt_files.items():
        (folder / name).write_text("\n".join(rows) + "\n")


@pytest.fixture
def bench_root(data_dir, tmp_path):
    rows = (data_dir / "uavdt_half" / "S0601" / "groundtruth_rect.txt").read_text().splitlines()
    rows = rows[:FRAMES]
    out_of_view = rows[:5] + ["NaN,NaN,NaN,NaN"] * 2 + rows[7:]
    root = tmp_path / "bench"
    _otb_copy(
        data_dir / "uavdt_half" / "S0601",
        root / "drone" / "two_objects",
        {"groundtruth_rect.1.txt": rows, "groundtruth_rect.2.txt": out_of_view},
    )
    other = data_dir / "uav123_10fps_half" / "truck2"
    truck = (other / "groundtruth_rect.txt").read_text().splitlines()[:FRAMES]
    _otb_copy(other, tmp_path / "single" / "truck", {"groundtruth_rect.txt": truck})
    return root, tmp_path / "single" / "truck"


def test_find_sequences_gives_one_entry_per_ground_truth_file(bench_root):
    root, truck = bench_root
    found = find_sequences([root, truck])
    assert [name for name, _, _ in found] == ["drone/two_objects.1", "drone/two_objects.2", "truck"]
    assert [gt for _, _, gt in found] == [
        "groundtruth_rect.1.txt",
        "groundtruth_rect.2.txt",
        None,
    ]


def test_benchmark_runs_ratrack_and_peers_and_averages_over_sequences(bench_root, tmp_path):
    root, truck = bench_root
    bench = evaluate_sot_benchmark([root, truck], weights="natural", peers="mosse")
    assert bench.trackers == ["ratrack", "MOSSE"]
    assert [r.sequence for r in bench.reports] == [
        "drone/two_objects.1",
        "drone/two_objects.2",
        "truck",
    ]
    first, second, _ = bench.reports
    # NaN ground-truth rows are left out of the scores; the same boxes score the other rows
    assert first.results["ratrack"].summary["frames"] == FRAMES
    assert second.results["ratrack"].summary["frames"] == FRAMES - 2
    ious = first.results["ratrack"].ious
    keep = np.r_[0:5, 7:FRAMES]
    assert second.results["ratrack"].summary["mean_iou"] == pytest.approx(ious[keep].mean())
    overall = bench.overall()
    for name in bench.trackers:
        per_sequence = [r.results[name].summary["mean_iou"] for r in bench.reports]
        assert overall[name]["mean_iou"] == pytest.approx(np.mean(per_sequence))
        assert overall[name]["fps"] > 0
    assert len(bench.scores["ratrack"]["truck"]) == FRAMES
    table = bench.table()
    assert "drone/two_objects.2" in table and "overall (3 sequences)" in table
    paths = bench.write_plots(tmp_path / "plots")
    assert all(p.stat().st_size > 0 for p in paths)
    data = bench.to_json()
    assert set(data["overall"]) == {"ratrack", "MOSSE"} and len(data["sequences"]) == 3
    json.dumps(data)


def test_cli_eval_sot_over_a_root_and_bad_paths(bench_root, tmp_path):
    root, truck = bench_root
    out = tmp_path / "scores.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "eval",
            "sot",
            str(root),
            str(truck),
            "--weights",
            "none",
            "--peers",
            "mosse",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "overall (3 sequences)" in result.output
    assert json.loads(out.read_text())["overall"]["MOSSE"]["sequences"] == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["eval", "sot", str(empty), "--peers", "mosse"])
    assert isinstance(result.exception, RatrackError)  # main() prints it as one line
    assert "holds no single-object sequence" in str(result.exception)
