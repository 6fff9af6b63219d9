"""``ratrack track``: the detection-driven lifecycle, input files, and runs on real data."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ratrack.cli import app, main
from ratrack.data.detections import read_detection_file
from ratrack.data.formats import open_sequence
from ratrack.data.images import read_image
from ratrack.data.kitti_labels import read_kitti_labels
from ratrack.data.mot import read_mot_file
from ratrack.errors import RatrackError
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.inputs import parse_init_boxes
from ratrack.track.multi import Detections, MultiTrackConfig, MultiTracker, Starts
from ratrack.track.online import Tracker
from ratrack.track.run import TrackConfig, run_track
from ratrack.track.sources import open_source
from tracker_helpers import TINY

runner = CliRunner()


def _tiny() -> Tracker:
    torch.manual_seed(0)
    return Tracker(model=RecurrentTracker(config=TINY))


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (64, 96), dtype=np.uint8) for _ in range(n)]


# --- Tracker.correct -------------------------------------------------------------------------


def test_correct_restarts_objects_in_place():
    f = _frames(3)
    boxes = np.array([[10, 10, 30, 30], [50, 20, 70, 44]], np.float32)
    moved = np.array([[14, 12, 34, 32]], np.float32)
    tracker = _tiny()
    assert tracker.init(f[0], boxes, fmt="xyxy") == [0, 1]
    tracker.update(f[1])
    tracker.correct(f[1], [1], moved, fmt="xyxy")
    out = tracker.update(f[2])
    fresh = _tiny()
    fresh.init(f[1], moved, fmt="xyxy")
    np.testing.assert_allclose(out[1], fresh.update(f[2])[0], atol=1e-5)  # restarted at `moved`
    plain = _tiny()
    plain.init(f[0], boxes, fmt="xyxy")
    plain.update(f[1])
    np.testing.assert_allclose(out[0], plain.update(f[2])[0], atol=1e-5)  # object 0 untouched
    assert tracker.ids == [0, 1]
    with pytest.raises(KeyError):
        tracker.correct(f[2], [7], moved, fmt="xyxy")


def test_add_takes_the_callers_ids_and_crops_to_float_rounding():
    rng = np.random.default_rng(3)
    f = [rng.integers(0, 256, (240, 320), dtype=np.uint8) for _ in range(2)]
    boxes = np.array([[10, 10, 40, 40], [200, 150, 230, 190]], np.float32)
    whole, cropped = _tiny(), _tiny()
    whole.init(f[0], boxes, fmt="xyxy")  # reads the whole frame
    cropped.init(f[0], boxes[:1], fmt="xyxy", ids=[7])
    assert cropped.add(f[0], boxes[1:], ids=[3]) == [3]  # reads only around the box
    assert cropped.ids == [7, 3]
    np.testing.assert_allclose(cropped.update(f[1]), whole.update(f[1]), atol=1e-3)
    with pytest.raises(ValueError, match="repeat"):
        cropped.add(f[1], boxes[:1], ids=[7])


# --- MultiTracker ----------------------------------------------------------------------------


def _det(boxes, scores, labels=None) -> Detections:
    return Detections(np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores, float), labels)


def test_births_matches_misses_and_ends():
    f = _frames(6)
    cfg = MultiTrackConfig(
        min_score=0.3, high_score=0.5, birth_score=0.5, max_misses=1, min_hits=1, fill_gaps=0
    )
    multi = MultiTracker(_tiny(), cfg)
    a, d = [10, 10, 30, 30], [60, 30, 84, 54]
    # frame 0: only the confident detection starts a track; 0.4 is matchable but not a birth
    out = multi.step(f[0], _det([a, [40, 5, 50, 15], [70, 40, 80, 50]], [0.9, 0.4, 0.1]))
    assert out.ids.tolist() == [1] and out.boxes.tolist() == [a] and out.matched.all()
    # frame 1: the moved detection matches track 1 and replaces its box; d is born
    a1 = [11, 10, 31, 30]
    out = multi.step(f[1], _det([d, a1], [0.95, 0.8]))
    assert out.ids.tolist() == [1, 2]
    assert out.boxes.tolist() == [a1, d] and out.scores.tolist() == [0.8, 0.95]
    assert multi.tracker.ids == [1, 2]  # one id space: the recurrent tracker has the same ids
    # frame 2: track 1 unmatched (not reported: report_coast 0); no end yet
    out = multi.step(f[2], _det([d], [0.9]))
    assert out.ids.tolist() == [2] and out.ended.size == 0
    # frame 3: second miss in a row > max_misses: track 1 ends
    out = multi.step(f[3], _det([d], [0.9]))
    assert out.ids.tolist() == [2] and out.ended.tolist() == [1]
    assert multi.tracker.ids == [2]
    # frame 4: the object comes back: a new id, never a reused one
    out = multi.step(f[4], _det([a, d], [0.9, 0.9]))
    assert out.ids.tolist() == [2, 3] and multi.ids == [2, 3] and multi.tracker.ids == [2, 3]


class _DriftingTracker(Tracker):
    """A tracker that loses its objects: every update moves the boxes 40 px to the right."""

    def update(self, frame):
        return super().update(frame) + np.array([40, 0, 40, 0], np.float32)


def test_a_lost_recurrent_tracker_does_not_lose_the_track():
    f = _frames(4)
    torch.manual_seed(0)
    tracker = _DriftingTracker(model=RecurrentTracker(config=TINY))
    multi = MultiTracker(tracker, MultiTrackConfig(min_hits=1))
    box = [10, 10, 30, 30]
    for t in range(4):  # the detector sees the object standing still
        out = multi.step(f[t], _det([box], [0.9]))
    # the tracker's box is only a cue: the motion prediction matches, one id throughout
    assert out.ids.tolist() == [1] and out.boxes.tolist() == [box] and out.matched.all()


def test_coasting_tracks_report_the_recurrent_trackers_box():
    f = _frames(3)
    multi = MultiTracker(_tiny(), MultiTrackConfig(min_hits=1, report_coast=1, fill_gaps=0))
    multi.step(f[0], _det([[20, 20, 44, 44]], [0.9]))
    out = multi.step(f[1], _det([], []))
    assert out.ids.tolist() == [1] and not out.matched.any()
    tracked = multi.tracker.update(f[2])  # (the next frame's box; this frame's was reported)
    assert np.isfinite(out.boxes).all() and tracked.shape == (1, 4)


def test_classes_gate_matching_and_births():
    f = _frames(3)
    multi = MultiTracker(_tiny(), MultiTrackConfig(max_misses=5, min_hits=1))
    box = [20, 20, 44, 44]
    out = multi.step(f[0], _det([box], [0.9], np.array(["Car"])))
    assert out.labels.tolist() == ["Car"]
    out = multi.step(f[1], _det([box], [0.9], np.array(["Pedestrian"])))
    # a pedestrian on the car is not the car: no match, and a new pedestrian track
    assert out.ids.tolist() == [2] and out.labels.tolist() == ["Pedestrian"]
    assert multi.ids == [1, 2]


def test_starts_keep_their_ids_and_never_miss():
    f = _frames(4)
    multi = MultiTracker(_tiny(), first_id=10)
    out = multi.step(f[0], starts=Starts(np.array([[10.0, 10, 30, 30]]), np.array([4])))
    assert out.ids.tolist() == [4] and out.boxes.tolist() == [[10, 10, 30, 30]]
    out = multi.step(f[1], starts=Starts(np.array([[50.0, 20, 70, 44]])))
    assert out.ids.tolist() == [4, 10]
    for t in (2, 3):  # without detections nothing misses
        assert multi.step(f[t]).ids.tolist() == [4, 10]
    with pytest.raises(ValueError, match="already used"):
        multi.step(f[0], starts=Starts(np.array([[1.0, 1, 9, 9]]), np.array([4])))


def test_step_never_converts_the_whole_frame():
    """The crop promise: after the first start, adds and corrections read only what their
    glimpses read, like updates (a 480x640 frame, objects of 20 px)."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (480, 640), dtype=np.uint8) for _ in range(4)]
    tracker = _tiny()
    shapes = []
    convert = tracker.frame_tensor
    tracker.frame_tensor = lambda frame: shapes.append(frame.shape[:2]) or convert(frame)
    multi = MultiTracker(tracker, MultiTrackConfig(min_hits=1))
    multi.step(frames[0], _det([[10, 10, 30, 30]], [0.9]))  # the first start reads it whole
    shapes.clear()
    multi.step(frames[1], _det([[11, 10, 31, 30], [300, 200, 320, 220]], [0.9, 0.9]))
    multi.step(frames[2], _det([[12, 10, 32, 30], [301, 200, 321, 220]], [0.9, 0.9]))
    assert shapes and all(h < 480 and w < 640 for h, w in shapes)


def test_boxes_only_multitracker_matches_the_lifecycle():
    from ratrack.track.lifecycle import init_tracks, step_tracks

    rng = np.random.default_rng(2)
    cfg = MultiTrackConfig(min_hits=2)
    multi, state = MultiTracker(None, cfg), init_tracks(1)
    for t in range(30):
        n = int(rng.integers(0, 4))
        xy = rng.uniform(0, 200, (n, 2))
        boxes = np.concatenate([xy, xy + 30], 1)
        scores = rng.uniform(0.2, 1, n)
        out = multi.step(None, Detections(boxes, scores))
        state, step = step_tracks(state, t, boxes, scores, np.zeros(n, np.int64), cfg)
        assert out.ids.tolist() == step.rows.ids.tolist()
        np.testing.assert_array_equal(out.boxes, step.rows.boxes)


# --- input files -----------------------------------------------------------------------------


def test_detection_formats_agree(tmp_path):
    (tmp_path / "det.txt").write_text("2,-1,11,21,30,40,0.9\n1,-1,1,2,3,4,0.5\n")
    (tmp_path / "rrc.txt").write_text("1,10,20,40,60,0.9\n0,0,1,3,5,0.5\n")
    tables = {name: read_detection_file(tmp_path / f"{name}.txt") for name in ("det", "rrc")}
    for name, table in tables.items():
        assert table.frame.tolist() == [0, 1], name
        np.testing.assert_allclose(table.boxes, [[0, 1, 3, 5], [10, 20, 40, 60]])
        assert table.scores.tolist() == [0.5, 0.9] and table.lines.tolist() == [2, 1]


def test_kitti_detection_file_carries_classes(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text(
        "0 0 Car -1 -1 -10 0 1 3 5 -1 -1 -1 -1000 -1000 -1000 -10 0.5\n"
        "0 -1 DontCare -1 -1 -10 5 5 9 9 -1 -1 -1 -1000 -1000 -1000 -10 0.5\n"
        "1 1 Pedestrian -1 -1 -10 10 20 40 60 -1 -1 -1 -1000 -1000 -1000 -10 0.9\n"
    )
    table = read_detection_file(path)  # a KITTI results file: its track ids are ignored
    assert table.ids.tolist() == [-1, -1]
    assert table.labels.tolist() == ["Car", "Pedestrian"] and table.scores.tolist() == [0.5, 0.9]


def test_real_detection_files_parse(data_dir):
    det = read_detection_file(data_dir / "mot17_mini/train/MOT17-02-FRCNN/det/det.txt")
    assert len(det.frame) == 8186 and det.frame.min() == 0 and det.frame.max() == 599
    rrc = read_detection_file(data_dir / "kitti_tracking/detections_rrc/training/Car/0001.txt")
    assert len(rrc.frame) == 2655 and (rrc.frame == 10).sum() == 9


def test_init_boxes_formats_and_errors():
    size = (100, 200)  # (H, W)
    want = [[10, 20, 40, 60]]
    assert parse_init_boxes(["10,20,30,40"], "xywh", size).tolist() == want
    assert parse_init_boxes(["11,21,30,40"], "xywh1", size).tolist() == want
    assert parse_init_boxes([(10, 20, 40, 60)], "xyxy", size).tolist() == want
    for box, message in (
        ("10,20,0,40", "#2 '10,20,0,40': box has zero or negative size"),
        ("250,20,5,5", "#2 '250,20,5,5': box lies outside the 200x100 frame"),
        ("1,2,3", "#2 '1,2,3': expected four numbers"),
    ):
        with pytest.raises(RatrackError, match=message):
            parse_init_boxes(["1,1,5,5", box], "xywh", size)


def test_auto_init_boxes_keep_the_ground_truths_convention():
    size = (100, 200)
    truth = np.array([[10.0, 20, 40, 60], [50, 50, 60, 70]])  # xyxy, as the 1-based file reads
    read = parse_init_boxes(["11,21,30,40", "51,51,10,20"], "auto", size, truth=truth)
    assert read.tolist() == truth.tolist()  # copied from the ground truth: read 1-based
    # a box that is not the ground truth's (here the first, given 0-based) is read 0-based
    assert parse_init_boxes(["10,20,30,40"], "auto", size, truth=truth).tolist() == [
        truth[0].tolist()
    ]
    assert parse_init_boxes(["11,21,30,40"], "auto", size).tolist() == [[11, 21, 41, 61]]
    # all boxes or none: one box not in the ground truth makes every box 0-based
    mixed = parse_init_boxes(["11,21,30,40", "5,5,5,5"], "auto", size, truth=truth)
    assert mixed.tolist() == [[11, 21, 41, 61], [5, 5, 10, 10]]


# --- real data -------------------------------------------------------------------------------

CROSSING_FRAMES = 20


@pytest.fixture(scope="module")
def crossing(data_dir, tmp_path_factory):
    """The first 20 frames of OTB Crossing as an OTB folder and as a lossless FFV1 video."""
    src = data_dir / "otb" / "Crossing"
    root = tmp_path_factory.mktemp("crossing")
    folder = root / "Crossing"
    (folder / "img").mkdir(parents=True)
    gt = (src / "groundtruth_rect.txt").read_text().splitlines()[:CROSSING_FRAMES]
    (folder / "groundtruth_rect.txt").write_text("\n".join(gt) + "\n")
    images = [read_image(src / "img" / f"{i:04d}.jpg") for i in range(1, CROSSING_FRAMES + 1)]
    for i, image in enumerate(images, start=1):
        cv2.imwrite(str(folder / "img" / f"{i:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    video = root / "crossing.avi"
    H, W = images[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25, (W, H))
    assert writer.isOpened(), "this OpenCV build cannot write FFV1"
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    x, y, w, h = (float(v) for v in gt[0].split())
    return folder, video, images, f"{x - 1},{y - 1},{w},{h}"  # 1-based OTB -> 0-based xywh


def test_video_and_image_folder_give_identical_tracks(crossing, tmp_path):
    folder, video, images, box = crossing
    # FFV1 is lossless: the comparison is between the same pixels, not "close" ones
    decoded = list(open_sequence(video).frames())
    assert len(decoded) == CROSSING_FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(decoded, images, strict=True))
    outs = []
    for source in (folder, video):
        out = tmp_path / f"{source.suffix or 'folder'}.txt"
        result = run_track(source, init=[box], out=out, config=TrackConfig(weights="bmnist"))
        assert result.frames == CROSSING_FRAMES and result.tracks == 1
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    rec = read_mot_file(tmp_path / "folder.txt")
    assert rec.frame.tolist() == list(range(1, CROSSING_FRAMES + 1))


def test_the_ground_truths_first_row_as_it_stands_starts_where_the_ground_truth_is(
    crossing, tmp_path
):
    """`ratrack track SEQ --init <the first row of SEQ's groundtruth_rect.txt>` starts on the
    box the ground truth means (OTB counts from 1), as the 0-based box does; on a video, which
    has no ground truth, the same numbers are 0-based."""
    folder, video, _, box = crossing
    row = ",".join((folder / "groundtruth_rect.txt").read_text().split("\n")[0].split())
    config = TrackConfig(weights="bmnist", max_frames=2)
    texts = {}
    for name, source, init in (("row", folder, row), ("box", folder, box), ("video", video, row)):
        run_track(source, init=[init], out=tmp_path / f"{name}.txt", config=config)
        texts[name] = (tmp_path / f"{name}.txt").read_text()
    assert texts["row"] == texts["box"]
    first = [float(v) for v in texts["video"].splitlines()[0].split(",")[2:6]]
    assert first == [float(v) + 1 for v in row.split(",")[:2]] + [17.0, 50.0]


def test_eval_sot_of_output_equals_live_evaluation(crossing, tmp_path):
    from ratrack.eval.sot import evaluate_sot, read_sot_prediction
    from ratrack.track.sot import SingleObjectTracker

    folder, _, _, box = crossing
    out = tmp_path / "crossing.txt"
    run_track(folder, init=[box], out=out, config=TrackConfig(weights="bmnist"))
    seq = open_sequence(folder)
    pred = read_sot_prediction(out, "mot", len(seq))
    live = SingleObjectTracker.from_pretrained("bmnist")
    report = evaluate_sot(seq, {"file": pred}, {"live": live})
    file, online = report.results["file"], report.results["live"]
    np.testing.assert_allclose(file.boxes, online.boxes, atol=1e-4)
    for key in ("mean_iou", "success_auc", "precision_20", "failures"):
        assert file.summary[key] == pytest.approx(online.summary[key], abs=1e-9), key
    # and the CLI reads the same file
    result = runner.invoke(
        app, ["eval", "sot", str(folder), "--pred", str(out), "--pred-format", "mot"]
    )
    assert result.exit_code == 0, result.output
    assert f"{file.summary['mean_iou']:.3f}" in result.output


def test_mot17_with_its_detections(data_dir, tmp_path):
    seq = data_dir / "mot17_mini/train/MOT17-02-FRCNN"
    out = tmp_path / "MOT17-02-FRCNN.txt"
    result = runner.invoke(
        app,
        ["track", str(seq), "--detections", str(seq / "det/det.txt"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "tracked 4 frames" in result.output
    rec = read_mot_file(out)
    assert rec.columns == 10 and set(rec.frame.tolist()) == {1, 2, 3, 4}
    # every box of frame 1 is a confident detection of frame 1 (tracks are born from them)
    det = read_mot_file(seq / "det/det.txt")
    first = det.select((det.frame == 1) & (det.conf >= 0.5))
    np.testing.assert_allclose(
        np.sort(rec.boxes[rec.frame == 1], 0), np.sort(first.boxes, 0), atol=1e-6
    )
    result = runner.invoke(
        app, ["eval", "mot", "--gt", str(seq / "gt/gt.txt"), "--pred", str(out), "--format", "mot"]
    )
    assert result.exit_code == 0, result.output
    assert "MOT17-02-FRCNN" in result.output and "HOTA" in result.output


def test_kitti_sequence_with_missing_frames(data_dir, tmp_path):
    kitti = data_dir / "kitti_tracking"
    labels = kitti / "training/label_02/0001.txt"
    dets = kitti / "detections_rrc/training/Car/0001.txt"
    out = tmp_path / "0001.txt"
    result = run_track(
        kitti_root=kitti,
        sequence="0001",
        detections=dets,
        out=out,
        config=TrackConfig(weights="bmnist", out_format="kitti"),
    )
    assert (result.frames, result.skipped) == (3, 444)
    pred = read_kitti_labels(out)
    assert sorted(set(pred.frame.tolist())) == [10, 15, 20]  # KITTI's own frame numbers
    assert pred.has_score and set(pred.type.tolist()) == {"Car"}
    # the ground-truth labels as init file: each track starts on its first frame with an image
    out2 = tmp_path / "init.txt"
    run_track(
        kitti_root=kitti,
        sequence="0001",
        init_file=labels,
        out=out2,
        config=TrackConfig(weights="bmnist", out_format="kitti"),
    )
    gt, pred = read_kitti_labels(labels), read_kitti_labels(out2)
    gt10 = gt.select((gt.frame == 10) & ~gt.is_dontcare)
    p10 = pred.select(pred.frame == 10)
    assert sorted(p10.track_id.tolist()) == sorted(gt10.track_id.tolist())
    order_p, order_g = np.argsort(p10.track_id), np.argsort(gt10.track_id)
    np.testing.assert_allclose(p10.boxes[order_p], gt10.boxes[order_g], atol=1e-6)
    assert p10.type[order_p].tolist() == gt10.type[order_g].tolist()
    result = runner.invoke(
        app, ["eval", "mot", "--gt", str(labels), "--pred", str(out), "--format", "kitti"]
    )
    assert result.exit_code == 0, result.output


def test_kitti_raw_root_opens_its_drive(data_dir):
    seq = open_source(data_dir / "kitti_raw_frames")
    assert len(seq) == 78 and seq.frame_size() == (375, 1242)


# --- bad input and interruption --------------------------------------------------------------


def _bad_cases(data_dir, tmp_path):
    crossing = data_dir / "otb" / "Crossing"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    empty = tmp_path / "empty"
    empty.mkdir()
    malformed = tmp_path / "dets.txt"
    malformed.write_text("0,10,10,50,50,0.9\n1,10,10,50\n")
    beyond = tmp_path / "late.txt"
    beyond.write_text("0,10,10,50,50,0.9\n\n120,10,10,50,50,0.9\n")
    init = ["--init", "204,150,17,50"]
    return {
        "video": ([str(broken), *init], "broken.mp4: cannot open video"),
        "empty": ([str(empty), *init], "empty: folder is empty"),
        "outside": ([str(crossing), "--init", "400,10,5,5"], "box lies outside the 360x240"),
        "zero": ([str(crossing), "--init", "10,10,0,5"], "box has zero or negative size"),
        "malformed": (
            [str(crossing), "--detections", str(malformed), "--det-format", "rrc"],
            "dets.txt:2: expected 6 columns",
        ),
        "beyond": (
            [str(crossing), "--detections", str(beyond)],
            "late.txt:3: detection frame 120 (0-based) is past the end of the 120-frame video",
        ),
        "option": (
            [str(crossing), *init, "--max-misses", "-1"],
            "--max-misses must be an integer >= 0",
        ),
    }


@pytest.mark.parametrize(
    "case", ["video", "empty", "outside", "zero", "malformed", "beyond", "option"]
)
def test_bad_input_is_one_line_error_and_leaves_no_file(
    case, data_dir, tmp_path, monkeypatch, capsys
):
    args, message = _bad_cases(data_dir, tmp_path)[case]
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    argv = ["ratrack", "track", *args, "--out", str(outputs / "t.txt")]
    monkeypatch.setattr(sys, "argv", [*argv, "--video", str(outputs / "t.mp4")])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("WARN")]
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert list(outputs.iterdir()) == []


def test_interrupt_keeps_finished_frames(data_dir, tmp_path):
    crossing = data_dir / "otb" / "Crossing"

    def stop_after_5(done, total):
        if done == 5:
            raise KeyboardInterrupt

    for fmt in ("mot", "jsonl"):
        out, video = tmp_path / f"t.{fmt}", tmp_path / f"t_{fmt}.mp4"
        with pytest.raises(KeyboardInterrupt):
            run_track(
                crossing,
                init=["204,150,17,50"],
                out=out,
                video=video,
                config=TrackConfig(weights="bmnist", out_format=fmt),
                progress=stop_after_5,
            )
        if fmt == "mot":
            assert read_mot_file(out).frame.tolist() == [1, 2, 3, 4, 5]
        else:
            frames = [json.loads(line)["frame"] for line in out.read_text().splitlines()]
            assert frames == [0, 1, 2, 3, 4]
        assert len(list(open_sequence(video).frames())) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "t.jsonl",
        "t.mot",
        "t_jsonl.mp4",
        "t_mot.mp4",
    ]
