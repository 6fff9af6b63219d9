"""Sequence readers: OTB, TLP, MOTChallenge, KITTI, image folders and videos."""

from __future__ import annotations

import tracemalloc
import types

import numpy as np
import pytest

from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.otb import read_otb_groundtruth
from ratrack.data.sequence import FrameIndexError
from ratrack.data.tlp import read_tlp_groundtruth
from ratrack.data.video import VideoSequence
from ratrack.errors import DataError


def _write_images(folder, n, size=(6, 8), ext="png", start=1, width=4):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = np.full((*size, 3), (i * 10) % 256, np.uint8)
        image[0, 0] = (255, 0, 0)  # BGR blue at the top-left corner
        cv2.imwrite(str(folder / f"{i + start:0{width}d}.{ext}"), image)


def test_blurcar2_has_585_frames_and_585_boxes(data_dir):
    seq = open_sequence(data_dir / "otb" / "BlurCar2")
    assert seq.format == "otb" and seq.name == "BlurCar2"
    assert len(seq) == 585 and seq.gt.shape == (585, 4) and np.isfinite(seq.gt).all()
    # first row "227\t207\t122\t99" (1-based x y w h) -> 0-based xyxy
    np.testing.assert_array_equal(seq.gt[0], [226, 206, 348, 305])
    assert seq.frame_size() == (480, 640)
    frame = seq.frame(584)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8


def test_otb_separators(data_dir):
    car1 = open_sequence(data_dir / "otb" / "Car1")  # comma separated, grey frames
    assert len(car1) == 1020 and car1.gt.shape == (1020, 4)
    np.testing.assert_array_equal(car1.gt[0], [22, 87, 88, 142])  # "23,88,66,55"
    assert car1.frame(0).shape == (240, 320, 3)
    crossing = open_sequence(data_dir / "otb" / "Crossing", "otb")
    assert len(crossing) == 120 and crossing.frame_size() == (240, 360)


def test_frames_are_lazy(data_dir):
    seq = open_sequence(data_dir / "otb" / "Crossing")
    it = seq.frames()
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    np.testing.assert_array_equal(first, seq.frame(0))


def test_mot_folder(data_dir):
    path = data_dir / "mot17_mini" / "train" / "MOT17-09-FRCNN"
    assert detect_format(path) == "mot"
    seq = open_sequence(path)
    assert len(seq) == 4 and seq.frame_size() == (1080, 1920) and seq.gt is None
    assert seq.info["seqLength"] == 525 and len(seq.gt_records) == 52
    one = open_sequence(path, track_id=1)
    rows = one.gt_records.select(one.gt_records.track_id == 1)
    np.testing.assert_array_equal(one.gt[rows.frame - 1], rows.boxes)
    with pytest.raises(DataError, match="no track 999"):
        open_sequence(path, track_id=999)


def test_kitti_sequence(data_dir):
    path = data_dir / "kitti_tracking" / "training" / "image_02" / "0016"
    seq = open_sequence(path)
    assert seq.format == "kitti" and len(seq) == 209 and seq.frame_size() == (370, 1224)
    assert seq.frame(12).shape == (370, 1224, 3)
    with pytest.raises(DataError, match="image of frame 3 is absent"):
        seq.frame(3)
    car = open_sequence(path, track_id=0)
    labels = seq.labels.select(seq.labels.track_id == 0)
    np.testing.assert_array_equal(car.gt[labels.frame], labels.boxes)
    assert np.isnan(car.gt).all(axis=1).sum() == 209 - len(labels)


def test_kitti_raw_frames_as_image_folder(data_dir):
    seq = open_sequence(data_dir / "kitti_raw_frames" / "2011_09_26")
    assert seq.format == "images" and len(seq) == 78 and seq.gt is None
    assert seq.frame_size() == (375, 1242)


def test_image_folder_order_and_colour(tmp_path):
    _write_images(tmp_path / "frames", 12, width=1)  # 1.png ... 12.png: natural order needed
    seq = open_sequence(tmp_path / "frames")
    assert [p.name for p in seq.paths][:3] == ["1.png", "2.png", "3.png"]
    assert seq.paths[-1].name == "12.png"
    frame = seq.frame(1)
    np.testing.assert_array_equal(frame[0, 0], [0, 0, 255])  # RGB, not BGR
    assert frame[1, 1, 0] == 10
    with pytest.raises(FrameIndexError):
        seq.frame(12)
    with pytest.raises(IndexError):  # also an IndexError, so iteration protocols work
        seq.frame(-1)


def test_tlp_folder(tmp_path):
    _write_images(tmp_path / "Bike" / "img", 4, ext="jpg", width=5)
    (tmp_path / "Bike" / "groundtruth_rect.txt").write_text(
        "1,10,20,30,40,0\n2,11,21,30,40,0\n3,0,0,0,0,1\n4,13,23,30,40,0\n"
    )
    assert detect_format(tmp_path / "Bike") == "tlp"
    seq = open_sequence(tmp_path / "Bike")
    np.testing.assert_array_equal(seq.gt[0], [9, 19, 39, 59])
    assert np.isnan(seq.gt[2]).all() and np.isfinite(seq.gt[3]).all()
    (tmp_path / "Bike" / "groundtruth_rect.txt").write_text("1,10,20,30,40,0\n5,1,1,3,3,0\n")
    with pytest.raises(DataError, match=r"frame 5 out of range \(1..4\)") as info:
        open_sequence(tmp_path / "Bike")
    assert info.value.line == 2


def test_otb_absent_boxes_and_errors(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1\t2\t3\t4\n0,0,0,0\nNaN NaN NaN NaN\n5, 6, 7, 8\n")
    gt = read_otb_groundtruth(p)
    assert gt.shape == (4, 4) and np.isnan(gt[1:3]).all()
    np.testing.assert_array_equal(gt[3], [4, 5, 11, 13])
    for text, message in [
        ("1 2 3 4\n1 2 0 4\n", "non-positive size"),
        ("1 2 3 4\n1 2 3\n", "expected 4 values"),
        ("1 2 3 4\n1 2 x 4\n", "w is not a number"),
        ("1 2 3 4\n1 2 inf 4\n", "not finite"),
    ]:
        p.write_text(text)
        with pytest.raises(DataError, match=message) as info:
            read_otb_groundtruth(p)
        assert info.value.line == 2


def test_otb_count_mismatch_and_missing_folder(tmp_path):
    _write_images(tmp_path / "S" / "img", 3, ext="jpg")
    (tmp_path / "S" / "groundtruth_rect.txt").write_text("1 1 2 2\n1 1 2 2\n")
    with pytest.raises(DataError, match="2 boxes for 3 images"):
        open_sequence(tmp_path / "S")
    with pytest.raises(DataError, match="no such file or folder"):
        open_sequence(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no supported sequence"):
        open_sequence(tmp_path / "empty")
    with pytest.raises(ValueError):
        open_sequence(tmp_path / "S", "vot")


def test_unreadable_image(tmp_path):
    _write_images(tmp_path / "f", 2)
    (tmp_path / "f" / "0003.png").write_bytes(b"not a png at all")
    seq = open_sequence(tmp_path / "f")
    assert len(seq) == 3
    with pytest.raises(DataError, match="unreadable image") as info:
        seq.frame(2)
    assert "0003.png" in str(info.value)


def test_tlp_parser_duplicates(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("1,1,1,2,2,0\n1,1,1,2,2,0\n")
    with pytest.raises(DataError, match="already has a box"):
        read_tlp_groundtruth(p)
    p.write_text("1,1,1,2,2,3\n")
    with pytest.raises(DataError, match="lost flag"):
        read_tlp_groundtruth(p)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """A 10,000-frame 32x48 video whose frame t has the grey level t % 250."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (48, 32))
    assert writer.isOpened()
    for t in range(10_000):
        writer.write(np.full((32, 48, 3), t % 250, np.uint8))
    writer.release()
    return path


def test_video_streams_10000_frames_with_flat_memory(long_video):
    seq = open_sequence(long_video)
    assert isinstance(seq, VideoSequence) and len(seq) == 10_000
    assert seq.frame_size() == (32, 48)
    tracemalloc.start()
    count, sampled = 0, []
    for t, frame in enumerate(seq.frames()):
        count += 1
        if t % 2500 == 0:
            sampled.append(int(frame[16, 24, 0]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 10_000
    assert all(abs(v - t % 250) <= 3 for v, t in zip(sampled, range(0, 10_000, 2500), strict=True))
    assert peak < 100 * 32 * 48 * 3  # a few frames at a time, not 10,000 (46 MB)
    assert abs(int(seq.frame(7777)[0, 0, 0]) - 7777 % 250) <= 3  # random access


def test_video_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="cannot open video"):
        open_sequence(bad)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="not a supported video"):
        open_sequence(tmp_path / "x.txt")
