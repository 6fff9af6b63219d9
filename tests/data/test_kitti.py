"""KITTI tracking labels, dataset folder, calibration, HART windows, and KITTI raw drives."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ratrack.data.kitti import KittiTracking
from ratrack.data.kitti_labels import (
    KittiLabels,
    read_kitti_calib,
    read_kitti_labels,
    write_kitti_labels,
)
from ratrack.data.kitti_raw import find_kitti_raw_drives
from ratrack.data.kitti_windows import (
    KittiTrackWindows,
    KittiWindowConfig,
    split_range,
    track_windows,
)
from ratrack.errors import DataError


@pytest.fixture(scope="module")
def kitti(data_dir):
    return data_dir / "kitti_tracking"


def test_objects_per_class_in_0001_match_an_independent_count(kitti):
    import pandas as pd

    path = kitti / "training" / "label_02" / "0001.txt"
    labels = read_kitti_labels(path)
    ours = Counter(labels.type.tolist())
    # independent: pandas' own whitespace-separated parse of the same file
    frame = pd.read_csv(path, sep=" ", header=None)
    assert ours == Counter(frame[2].tolist())
    assert ours == {
        "Car": 2681,
        "DontCare": 1241,
        "Van": 140,
        "Pedestrian": 112,
        "Truck": 77,
        "Misc": 20,
    }
    # every numeric column agrees with pandas
    numeric = frame.drop(columns=[2]).to_numpy(dtype=np.float64)  # (N, 16)
    mine = np.column_stack(
        [
            labels.frame,
            labels.track_id,
            labels.truncated,
            labels.occluded,
            labels.alpha,
            labels.boxes,
            labels.dimensions,
            labels.location,
            labels.rotation_y,
        ]
    )
    np.testing.assert_array_equal(mine, numeric)
    assert np.isnan(labels.score).all() and not labels.has_score
    tracks = {
        t: len(np.unique(labels.track_id[labels.type == t])) for t in set(ours) - {"DontCare"}
    }
    assert tracks == {"Car": 89, "Misc": 1, "Pedestrian": 3, "Truck": 2, "Van": 3}


def test_dontcare_rows_are_ignore_regions_not_objects(kitti):
    ds = KittiTracking(kitti, missing_images="keep")
    objects = ds.labels("0001")
    assert "DontCare" not in set(objects.type.tolist()) and (objects.track_id >= 0).all()
    assert len(objects) == 4271 - 1241
    regions = ds.ignore_regions("0001")
    assert sum(len(b) for b in regions.values()) == 1241
    # the first line of 0001.txt: frame 0, DontCare 356.40 195.81 374.10 216.65
    np.testing.assert_allclose(regions[0][0], [356.40, 195.81, 374.10, 216.65])
    both = ds.labels("0001", include_dontcare=True)
    assert len(both) == 4271 and both.is_dontcare.sum() == 1241


def test_frame_sizes_vary_by_sequence(kitti):
    ds = KittiTracking(kitti / "training", missing_images="keep")
    assert ds.frame_size("0001") == (375, 1242)
    assert ds.frame_size("0016") == (370, 1224)
    assert ds.read_frame("0016", 7).shape == (370, 1224, 3)
    np.testing.assert_array_equal(ds.present_frames("0001"), [10, 15, 20])
    assert ds.num_frames("0001") == 447 and ds.num_frames("0016") == 209  # from the seqmap
    paths = ds.image_paths("0001")
    assert len(paths) == 447 and sum(p is not None for p in paths) == 3
    assert len(ds.sequences) == 21
    with pytest.raises(DataError, match="no images"):
        ds.frame_size("0000")


def test_missing_images_policy(kitti):
    with pytest.raises(DataError, match="has no image") as info:
        KittiTracking(kitti).labels("0001")
    assert "label_02/0001.txt:" in str(info.value) and info.value.line is not None
    dropped = KittiTracking(kitti, missing_images="drop").labels("0001", include_dontcare=True)
    assert set(np.unique(dropped.frame).tolist()) == {10, 15, 20}
    raw = read_kitti_labels(kitti / "training" / "label_02" / "0001.txt")
    assert len(dropped) == np.isin(raw.frame, [10, 15, 20]).sum()
    keep = KittiTracking(kitti, missing_images="keep")
    with pytest.raises(DataError, match="image file not found"):
        keep.read_frame("0001", 11)
    with pytest.raises(DataError, match="out of range"):
        keep.read_frame("0001", 447)
    with pytest.raises(ValueError):
        KittiTracking(kitti, missing_images="ignore")


def test_class_truncation_occlusion_filters(kitti):
    ds = KittiTracking(kitti, missing_images="keep")
    raw = read_kitti_labels(kitti / "training" / "label_02" / "0001.txt")
    got = ds.labels("0001", classes=["Car", "Van"], max_truncation=1, max_occlusion=1)
    expected = (np.isin(raw.type, ["Car", "Van"])) & (raw.truncated <= 1) & (raw.occluded <= 1)
    np.testing.assert_array_equal(got.line, raw.line[expected])
    assert len(got) < (np.isin(raw.type, ["Car", "Van"])).sum()


@pytest.mark.parametrize("seq", ["0001", "0016", "0019"])
def test_label_round_trip_is_byte_identical(kitti, tmp_path, seq):
    src = kitti / "training" / "label_02" / f"{seq}.txt"
    write_kitti_labels(tmp_path / "x.txt", read_kitti_labels(src))
    assert (tmp_path / "x.txt").read_bytes() == src.read_bytes()


def test_results_file_with_score(tmp_path):
    line = "3 5 Car 0 1 -1.5 10 20 110 70.5 1.5 1.6 3.9 2.0 1.5 20.0 -1.57 0.875\n"
    (tmp_path / "r.txt").write_text(line + line.replace("3 5", "4 5"))
    r = read_kitti_labels(tmp_path / "r.txt")
    assert r.has_score and r.score.tolist() == [0.875, 0.875]
    np.testing.assert_array_equal(r.boxes[0], [10, 20, 110, 70.5])
    write_kitti_labels(tmp_path / "w.txt", r)
    again = read_kitti_labels(tmp_path / "w.txt")
    for name in ("frame", "track_id", "boxes", "location", "score", "truncated", "occluded"):
        np.testing.assert_array_equal(getattr(again, name), getattr(r, name))
    assert len((tmp_path / "w.txt").read_text().split("\n")[0].split()) == 18


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 1 Car 0 0 0 10 10 20 20 1 1 1 1 1 1", "expected 17 or 18 columns"),
        ("0 1 Car 0 0 0 10 10 10 20 1 1 1 1 1 1 0", "non-positive size"),
        ("0 1 Car 0 0 0 10 30 20 20 1 1 1 1 1 1 0", "non-positive size"),
        ("-1 1 Car 0 0 0 10 10 20 20 1 1 1 1 1 1 0", "out of range"),
        ("0 -1 Car 0 0 0 10 10 20 20 1 1 1 1 1 1 0", "only DontCare"),
        ("0 -2 DontCare 0 0 0 10 10 20 20 1 1 1 1 1 1 0", "< -1"),
        ("0 1 Car 0 0.5 0 10 10 20 20 1 1 1 1 1 1 0", "occluded is not an integer"),
        ("0 1 Car 0 0 0 10 ten 20 20 1 1 1 1 1 1 0", "not a number"),
        ("0 1 Car 0 0 0 10 10 20 20 1 1 1 1 1 inf 0", "not finite"),
    ],
)
def test_malformed_label_lines(tmp_path, line, message):
    good = "0 1 Car 0 0 0 10 10 20 20 1 1 1 1 1 1 0"
    p = tmp_path / "0000.txt"
    p.write_text(f"{good}\n{line}\n")
    with pytest.raises(DataError, match=message) as info:
        read_kitti_labels(p)
    assert info.value.line == 2 and f"{p}:2:" in str(info.value)


def test_calibration_matches_pykitti(kitti):
    import pykitti.utils

    path = kitti / "training" / "calib" / "0001.txt"
    ours = read_kitti_calib(path)
    theirs = pykitti.utils.read_calib_file(str(path))
    np.testing.assert_array_equal(ours.P2, theirs["P2"].reshape(3, 4))
    np.testing.assert_array_equal(ours.R_rect, theirs["R0_rect"].reshape(3, 3))
    np.testing.assert_array_equal(ours.Tr_velo_cam[:3], theirs["Tr_velo_to_cam"].reshape(3, 4))
    np.testing.assert_array_equal(ours.Tr_velo_cam[3], [0, 0, 0, 1])
    assert ours.P2[0, 0] == pytest.approx(721.5377)


def test_calibration_devkit_variant_and_errors(tmp_path):
    m12 = " ".join(["1"] * 12)
    p = tmp_path / "c.txt"
    text = "".join(f"P{i}: {m12}\n" for i in range(4))
    p.write_text(text + f"R_rect {' '.join(['1'] * 9)}\nTr_velo_cam {m12}\nTr_imu_velo {m12}\n")
    assert read_kitti_calib(p).R_rect.shape == (3, 3)
    p.write_text(text + f"R_rect 1 2\nTr_velo_cam {m12}\nTr_imu_velo {m12}\n")
    with pytest.raises(DataError, match="R_rect has 2 values") as info:
        read_kitti_calib(p)
    assert info.value.line == 5
    p.write_text(text)
    with pytest.raises(DataError, match="no R_rect"):
        read_kitti_calib(p)


def _windows_reference(labels: KittiLabels, lo: int, hi: int, length: int) -> int:
    """Slow count: per track, frames passing HART's filters inside [lo, hi), cut into runs."""
    count = 0
    for tid in set(labels.track_id.tolist()) - {-1}:
        ok = sorted(
            int(f)
            for f, t, tr, oc in zip(
                labels.frame, labels.track_id, labels.truncated, labels.occluded, strict=True
            )
            if t == tid and tr <= 1 and oc <= 1 and lo <= f < hi
        )
        run = 0
        for i, f in enumerate(ok):
            run = run + 1 if i and f == ok[i - 1] + 1 else 1
            count += run >= length
    return count


def test_hart_windows_on_real_labels(kitti):
    ds = KittiTracking(kitti, missing_images="keep")
    config = KittiWindowConfig(length=8, require_images=False)
    raw = read_kitti_labels(kitti / "training" / "label_02" / "0001.txt")
    for split in ("train", "test"):
        lo, hi = split_range(447, split, 0.8)
        windows = track_windows(ds, config, split=split, sequences=["0001"])
        assert len(windows) == _windows_reference(raw, lo, hi, 8) > 0
        for w in windows[:: max(1, len(windows) // 50)]:
            assert lo <= w.frames[0] and w.frames[-1] < hi
            np.testing.assert_array_equal(np.diff(w.frames), 1)
            rows = (raw.track_id == w.track_id) & np.isin(raw.frame, w.frames)
            np.testing.assert_array_equal(raw.boxes[rows], w.boxes)
    assert split_range(447, "train", 0.8) == (0, 357)
    cars = track_windows(
        ds, KittiWindowConfig(length=8, require_images=False, classes=("Car",)), sequences=["0001"]
    )
    assert {w.type for w in cars} == {"Car"}
    # with images required, the real data (3 frames per sequence) has no 8-frame window
    assert track_windows(ds, KittiWindowConfig(length=8), sequences=["0001"]) == []


def _tiny_kitti(root, sizes=((30, 40), (24, 36))):
    """A KITTI tracking tree with two sequences of 10 frames of random images."""
    import cv2

    rng = np.random.default_rng(0)
    for s, (h, w) in enumerate(sizes):
        seq = f"{s:04d}"
        folder = root / "training" / "image_02" / seq
        folder.mkdir(parents=True)
        lines = []
        for f in range(10):
            cv2.imwrite(str(folder / f"{f:06d}.png"), rng.integers(0, 255, (h, w, 3), np.uint8))
            lines.append(f"{f} 0 Car 0 0 0 {2 + f} 3 {12 + f} 13 1 1 1 1 1 1 0")
            lines.append(f"{f} 1 Pedestrian 0 {2 if f == 4 else 0} 0 1 1 5 9 1 1 1 1 1 1 0")
            lines.append(f"{f} -1 DontCare -1 -1 -10 0 0 4 4 -1000 -1000 -1000 -10 -1 -1 -1")
        (root / "training" / "label_02").mkdir(parents=True, exist_ok=True)
        (root / "training" / "label_02" / f"{seq}.txt").write_text("\n".join(lines) + "\n")
    return KittiTracking(root)


def test_track_window_dataset_loads_and_resizes(tmp_path):
    ds = _tiny_kitti(tmp_path)
    config = KittiWindowConfig(length=4, classes=("Car", "Pedestrian"), resize=(15, 18))
    data = KittiTrackWindows(ds, config, split="train")
    # train = frames 0..7; Car: one run of 8 -> 5 windows; Pedestrian (occluded at 4): runs
    # 0..3 and 5..7 -> 1 window; two sequences
    assert len(data) == 2 * (5 + 1)
    s = data[0]
    assert s.frames.shape == (4, 3, 15, 18) and s.frames.dtype == np.float32
    assert s.label == 0 and s.boxes.dtype == np.float32
    np.testing.assert_allclose(s.boxes[0], [2 * 18 / 40, 3 * 15 / 30, 12 * 18 / 40, 13 * 15 / 30])
    assert {k: len(v) for k, v in data.by_class().items()} == {"Car": 10, "Pedestrian": 2}
    test = KittiTrackWindows(ds, KittiWindowConfig(length=2), split="test")
    assert len(test) == 2 * 2  # frames 8, 9: one window per track per sequence
    assert test[0].label == -1 and test[0].frames.shape == (2, 3, 30, 40)


def test_kitti_raw_without_calibration(data_dir):
    from ratrack.data.kitti_raw import open_kitti_raw

    drives = find_kitti_raw_drives(data_dir / "kitti_raw_frames")
    assert drives == [(data_dir / "kitti_raw_frames", "2011_09_26", None)]
    drive = open_kitti_raw(*drives[0])
    assert len(drive) == 78 and drive.calib is None
    assert drive.get_cam2(0).size == (1242, 375)  # PIL: (W, H)


def test_kitti_raw_official_layout_without_calibration(tmp_path):
    import cv2

    from ratrack.data.kitti_raw import open_kitti_raw

    folder = tmp_path / "2011_09_26" / "2011_09_26_drive_0005_sync" / "image_02" / "data"
    folder.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:010d}.png"), np.full((8, 12, 3), i, np.uint8))
    drives = find_kitti_raw_drives(tmp_path)
    assert drives == [(tmp_path, "2011_09_26", "0005")]
    drive = open_kitti_raw(*drives[0])
    assert len(drive) == 3 and drive.calib is None and drive.get_cam2(2).size == (12, 8)
    with pytest.raises(DataError, match="no image_02"):
        open_kitti_raw(tmp_path, "2011_09_26", "0009")


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="not found"):
        KittiTracking(tmp_path / "nope")
    with pytest.raises(DataError, match="not a KITTI tracking folder"):
        KittiTracking(tmp_path)
    ds = _tiny_kitti(tmp_path)
    with pytest.raises(DataError, match="no sequence"):
        ds.labels("0042")
