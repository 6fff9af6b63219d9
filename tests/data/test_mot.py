"""MOTChallenge reader/writer: real MOT17 files, round trip, parity with motmetrics, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.data.mot import MotRecords, read_mot_file, read_seqinfo, write_mot_file, write_seqinfo
from ratrack.errors import DataError

MOT17 = (
    "MOT17-02-FRCNN",
    "MOT17-04-FRCNN",
    "MOT17-05-FRCNN",
    "MOT17-09-FRCNN",
    "MOT17-10-FRCNN",
    "MOT17-11-FRCNN",
    "MOT17-13-FRCNN",
)


@pytest.fixture(scope="module")
def mot_root(data_dir):
    return data_dir / "mot17_mini" / "train"


def test_known_rows(mot_root):
    gt = read_mot_file(mot_root / "MOT17-02-FRCNN" / "gt" / "gt.txt")
    assert gt.columns == 9 and len(gt) == 156
    # first line: 1,1,912,484,97,109,0,7,1.0
    assert gt.frame[0] == 1 and gt.track_id[0] == 1
    np.testing.assert_array_equal(gt.boxes[0], [911, 483, 1008, 592])
    assert (gt.conf[0], gt.cls[0], gt.visibility[0]) == (0.0, 7, 1.0)
    det = read_mot_file(mot_root / "MOT17-02-FRCNN" / "det" / "det.txt")
    assert det.columns == 7 and len(det) == 8186
    # first line: 69,-1,912.8,482.9,97.6,112.6,1
    assert det.frame[0] == 69 and det.track_id[0] == -1
    np.testing.assert_allclose(det.boxes[0], [911.8, 481.9, 1009.4, 594.5])
    assert (det.cls == -1).all() and (det.visibility == -1).all()


@pytest.mark.parametrize("seq", MOT17)
def test_mot17_round_trip_is_byte_identical(mot_root, tmp_path, seq):
    for name in ("gt/gt.txt", "det/det.txt"):
        src = mot_root / seq / name
        records = read_mot_file(src)
        out = tmp_path / "copy.txt"
        write_mot_file(out, records)
        assert out.read_bytes() == src.read_bytes(), f"{seq}/{name} changed in the round trip"
        again = read_mot_file(out)
        for field in ("frame", "track_id", "boxes", "conf", "cls", "visibility"):
            np.testing.assert_array_equal(getattr(again, field), getattr(records, field))


@pytest.mark.parametrize("seq", ["MOT17-04-FRCNN", "MOT17-13-FRCNN"])
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_parity_with_motmetrics_reader(mot_root, seq):
    import motmetrics as mm

    for name in ("gt/gt.txt", "det/det.txt"):
        ours = read_mot_file(mot_root / seq / name)
        theirs = mm.io.loadtxt(str(mot_root / seq / name), fmt="mot15-2D")
        # motmetrics keeps the file's row order; it stores 0-based x, y and the width, height
        xywh = np.column_stack([ours.boxes[:, :2], ours.boxes[:, 2:] - ours.boxes[:, :2]])
        np.testing.assert_allclose(
            xywh, theirs[["X", "Y", "Width", "Height"]].to_numpy(), atol=1e-9
        )
        np.testing.assert_array_equal(ours.frame, theirs.index.get_level_values(0))
        np.testing.assert_array_equal(ours.track_id, theirs.index.get_level_values(1))
        np.testing.assert_allclose(ours.conf, theirs["Confidence"].to_numpy())


def test_seqinfo(mot_root, tmp_path):
    info = read_seqinfo(mot_root / "MOT17-05-FRCNN")
    assert info == {
        "name": "MOT17-05-FRCNN",
        "imDir": "img1",
        "frameRate": 14,
        "seqLength": 837,
        "imWidth": 640,
        "imHeight": 480,
        "imExt": ".jpg",
    }
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path) == info


def test_column_variants(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("1,2,10,20,5,6\n2, 2, 11, 21, 5, 6\n")
    r = read_mot_file(p)
    assert r.columns == 6 and (r.conf == 1).all() and (r.cls == -1).all()
    np.testing.assert_array_equal(r.boxes[1], [10, 20, 15, 26])
    p.write_text("1,2,10,20,5,6,0.5,3\n")
    r = read_mot_file(p)
    assert r.columns == 8 and r.cls[0] == 3 and r.conf[0] == 0.5 and r.visibility[0] == -1
    p.write_text("1,2,10,20,5,6,0.5,-1,-1,-1\n")
    r = read_mot_file(p)
    assert r.columns == 10 and (r.world == -1).all()
    p.write_text("1 2 10 20 5 6 0.5\n\n")  # space separated (some MOT15 files), blank line
    assert len(read_mot_file(p)) == 1
    p.write_text("")
    assert len(read_mot_file(p)) == 0


def test_writer_defaults_and_atomicity(tmp_path):
    rec = MotRecords(
        frame=[1, 2],
        track_id=[7, 7],
        boxes=[[0.0, 0.0, 10.0, 20.0], [1.5, 2.0, 11.5, 22.25]],
        conf=[1.0, 0.75],
    )
    path = tmp_path / "sub" / "res.txt"
    path.parent.mkdir()
    path.write_text("old content that must be replaced\n")
    write_mot_file(path, rec)
    assert path.read_text() == "1,7,1,1,10,20,1,-1,-1,-1\n2,7,2.5,3,10,20.25,0.75,-1,-1,-1\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["res.txt"]  # no temp file left
    write_mot_file(path, rec, columns=6)
    assert path.read_text().splitlines()[0] == "1,7,1,1,10,20"
    with pytest.raises(ValueError):
        write_mot_file(path, rec, columns=5)
    bad = MotRecords(frame=[1], track_id=[1], boxes=[[5.0, 5.0, 5.0, 9.0]], conf=[1.0])
    with pytest.raises(ValueError):
        write_mot_file(tmp_path / "bad.txt", bad)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("1,1,1,1,5,5,1\n1,1,1,1,5\n", 2, "expected 6 to 10 columns"),
        ("1,1,1,1,5,5,1\n1,1,1,1,5,5,1,1\n", 2, "earlier lines have 7"),
        ("1,1,1,1,5,5\nx,1,1,1,5,5\n", 2, "frame is not a number"),
        ("1,1,1,1,5,5\n1.5,1,1,1,5,5\n", 2, "frame is not an integer"),
        ("0,1,1,1,5,5\n", 1, "out of range"),
        ("1,1,1,1,0,5\n", 1, "non-positive size"),
        ("1,1,1,1,5,-2\n", 1, "non-positive size"),
        ("1,1,1,nan,5,5\n", 1, "not finite"),
        ("\n\n1,1,1,1,5,5,1,2.5,1\n", 3, "class is not an integer"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, message):
    p = tmp_path / "gt.txt"
    p.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_mot_file(p)
    assert info.value.line == line and f"{p}:{line}:" in str(info.value)


def test_missing_files_raise(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_mot_file(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="file not found"):
        read_seqinfo(tmp_path)
    (tmp_path / "seqinfo.ini").write_text("[Other]\na=1\n")
    with pytest.raises(DataError, match=r"no \[Sequence\]"):
        read_seqinfo(tmp_path)
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nseqLength=ten\n")
    with pytest.raises(DataError, match="seqLength is not an integer"):
        read_seqinfo(tmp_path)
    (tmp_path / "seqinfo.ini").write_text("no section\n")
    with pytest.raises(DataError, match="malformed"):
        read_seqinfo(tmp_path)
