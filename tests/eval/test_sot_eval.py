"""Single-object evaluation: OpenCV peers on synthetic frames, the tracker protocol, OTB files,
plots, and bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ratrack.errors import DataError
from ratrack.eval.peers import PEERS, OpenCVTracker, SotTracker, parse_peers, run_trackers
from ratrack.eval.sot import evaluate_sot, read_sot_prediction, write_sot_plots


def test_opencv_has_the_peer_trackers():
    assert hasattr(cv2, "TrackerCSRT_create")
    assert hasattr(cv2, "TrackerKCF_create") and hasattr(cv2, "TrackerMIL_create")
    assert hasattr(cv2.legacy, "TrackerMOSSE_create")
    assert hasattr(cv2.legacy, "TrackerMedianFlow_create")


class MovingSquare:
    """A synthetic sequence: a textured square moving 2 px right per frame on a noisy floor."""

    name = "moving-square"

    def __init__(self, frames: int = 12):
        rng = np.random.default_rng(0)
        self.texture = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
        self.floor = rng.integers(90, 110, (96, 128, 3), dtype=np.uint8)
        x = 20 + 2 * np.arange(frames, dtype=float)
        self.gt = np.stack([x, np.full(frames, 30.0), x + 24, np.full(frames, 54.0)], 1)

    def __len__(self) -> int:
        return len(self.gt)

    def frames(self):
        for x1, y1, _, _ in self.gt:
            frame = self.floor.copy()
            frame[int(y1) : int(y1) + 24, int(x1) : int(x1) + 24] = self.texture
            yield frame


class Lost:
    """A tracker that loses the object at once (the protocol with no OpenCV behind it)."""

    def init(self, frame, box_xyxy):
        self.frame_shape = frame.shape

    def update(self, frame):
        return None


def test_peers_and_protocol_trackers_run_on_the_same_frames():
    seq = MovingSquare()
    trackers = {name: OpenCVTracker(name=name) for name in PEERS}
    trackers["lost"] = Lost()
    assert all(isinstance(t, SotTracker) for t in trackers.values())
    report = evaluate_sot(seq, trackers=trackers)
    assert list(report.results) == [*PEERS, "lost"]
    csrt = report.results["csrt"]
    assert csrt.boxes.shape == (12, 4) and csrt.fps > 0
    assert csrt.summary["mean_iou"] > 0.6  # an easy sequence for CSRT
    lost = report.results["lost"].summary
    assert lost["mean_iou"] == pytest.approx(1 / 12)  # only the initial frame overlaps
    assert lost["lost"] == 11 and lost["failures"] == 11
    table = report.table()
    assert "csrt" in table and "lost" in table and "mean IoU" in table


def test_run_trackers_reports_first_box_and_timing():
    seq = MovingSquare(frames=3)
    runs = run_trackers(seq.frames(), seq.gt[0], {"lost": Lost()})
    np.testing.assert_array_equal(runs["lost"].boxes[0], seq.gt[0])
    assert np.isnan(runs["lost"].boxes[1:]).all() and runs["lost"].frames == 3


def test_predictions_plots_and_json(tmp_path):
    seq = MovingSquare()
    pred = seq.gt.copy()
    pred[5:] += [6, 0, 6, 0]  # drifts 6 px from frame 5 on: IoU 18/30
    report = evaluate_sot(seq, predictions={"drift": pred})
    s = report.results["drift"].summary
    assert s["mean_iou"] == pytest.approx((5 + 7 * 0.6) / 12)
    paths = write_sot_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == ["success.png", "precision.png", "iou_over_time.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    data = json.loads(json.dumps(report.to_json()))
    assert data["trackers"]["drift"]["mean_iou"] == pytest.approx(s["mean_iou"])


def test_read_otb_prediction(tmp_path):
    path = tmp_path / "pred.txt"
    path.write_text("11,21,10,20\n0 0 0 0\n1\t1\t5\t5\n")
    boxes = read_sot_prediction(path, "otb", num_frames=3)
    np.testing.assert_allclose(boxes[0], [10, 20, 20, 40])  # 1-based x y w h -> 0-based xyxy
    assert np.isnan(boxes[1]).all()  # zero size: lost
    np.testing.assert_allclose(boxes[2], [0, 0, 5, 5])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("1 1 5 5\n", "has 1 boxes but the sequence has 2 frames"),
        ("1 1 5 5\nnan 1 5 5\n", "NaN"),
        ("1 1 5\n1 1 5 5\n", "4 values"),
    ],
)
def test_bad_otb_prediction_names_the_file(tmp_path, text, message):
    path = tmp_path / "pred.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_sot_prediction(path, "otb", num_frames=2)
    assert str(path) in str(info.value)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown prediction format"):
        read_sot_prediction(tmp_path / "x.txt", "vot", num_frames=2)
    with pytest.raises(DataError, match="not found"):
        read_sot_prediction(tmp_path / "missing.txt", "otb", num_frames=2)
    with pytest.raises(ValueError, match="unknown peer"):
        parse_peers("csrt,goturn")
    assert parse_peers("CSRT, kcf") == ["csrt", "kcf"]
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_sot(MovingSquare())


def test_command_line_on_real_crossing(data_dir, tmp_path, run_cli):
    seq = data_dir / "otb" / "Crossing"
    perfect = seq / "groundtruth_rect.txt"  # the ground truth itself, as an OTB prediction file
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        "eval", "sot", seq, "--pred", perfect, "--peers", "mosse", "--plot", out_dir,
        "--json", out_dir / "scores.json",
    )  # fmt: skip
    assert code == 0, err
    assert "Crossing (120 frames)" in out and "groundtruth_rect" in out and "mosse" in out
    data = json.loads((out_dir / "scores.json").read_text())
    assert data["trackers"]["groundtruth_rect"]["mean_iou"] == pytest.approx(1.0)
    assert data["trackers"]["groundtruth_rect"]["success_auc"] == pytest.approx(20 / 21)
    assert data["trackers"]["mosse"]["fps"] > 0 and len(data["trackers"]["mosse"]["ious"]) == 120
    assert sorted(p.name for p in out_dir.glob("*.png")) == [
        "iou_over_time.png", "precision.png", "success.png",
    ]  # fmt: skip


def test_command_line_bad_prediction_is_one_line(data_dir, tmp_path, run_cli):
    short = tmp_path / "short.txt"
    short.write_text("1 1 5 5\n")
    code, _, err = run_cli("eval", "sot", data_dir / "otb" / "Crossing", "--pred", short)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(short) in lines[0] and "120 frames" in lines[0]
    code, _, err = run_cli("eval", "sot", data_dir / "otb" / "Crossing", "--peers", "goturn")
    assert code == 2 and "unknown peer" in err
    code, _, err = run_cli("eval", "sot", data_dir / "otb" / "Crossing", "--weights", "none")
    assert code == 2 and "nothing to evaluate" in err


@pytest.mark.slow
def test_csrt_on_real_crossing_is_near_the_reference(data_dir):
    from ratrack.data.formats import open_sequence

    report = evaluate_sot(
        open_sequence(data_dir / "otb" / "Crossing"), trackers={"csrt": OpenCVTracker(name="csrt")}
    )
    # The data README measured 0.783 initializing CSRT from the raw 1-based OTB numbers; ratrack
    # converts them to 0-based pixels, a 1 px shift that CSRT answers with 0.713 (see report).
    assert 0.65 < report.results["csrt"].summary["mean_iou"] < 0.85


def test_read_mot_and_kitti_predictions(tmp_path):
    mot = tmp_path / "pred_mot.txt"
    mot.write_text("1,3,11,21,10,20,1,-1,-1,-1\n3,3,13,21,10,20,1,-1,-1,-1\n")
    boxes = read_sot_prediction(mot, "mot", num_frames=4)
    np.testing.assert_allclose(boxes[0], [10, 20, 20, 40])  # MOT frame 1 is index 0
    assert np.isnan(boxes[1]).all() and np.isnan(boxes[3]).all()
    np.testing.assert_allclose(boxes[2], [12, 20, 22, 40])
    with pytest.raises(DataError, match=r"outside the sequence's frames 1\.\.2"):
        read_sot_prediction(mot, "mot", num_frames=2)
    two = tmp_path / "two.txt"
    two.write_text("1,3,11,21,10,20,1,-1,-1,-1\n1,4,51,21,10,20,1,-1,-1,-1\n")
    with pytest.raises(DataError, match="2 tracks; choose one with track_id"):
        read_sot_prediction(two, "mot", num_frames=2)
    np.testing.assert_allclose(read_sot_prediction(two, "mot", 2, track_id=4)[0], [50, 20, 60, 40])
    kitti = tmp_path / "pred_kitti.txt"
    kitti.write_text(
        "0 -1 DontCare -1 -1 -10 0 0 5 5 -1 -1 -1 -1000 -1000 -1000 -10\n"
        "1 7 Car 0 0 -10 10 20 30 40 -1 -1 -1 -1000 -1000 -1000 -10\n"
    )
    boxes = read_sot_prediction(kitti, "kitti", num_frames=3)
    assert np.isnan(boxes[0]).all() and np.isnan(boxes[2]).all()  # KITTI frames are 0-based
    np.testing.assert_allclose(boxes[1], [10, 20, 30, 40])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty prediction file"):
        read_sot_prediction(empty, "kitti", num_frames=3)
