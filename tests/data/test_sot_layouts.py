"""The other single-object benchmark layouts read like OTB (LaSOT, VOT, GOT-10k), and
``ratrack eval sot --pred`` tells a track file's format from its rows, so ``ratrack track SEQ``
then ``ratrack eval sot SEQ --pred FILE`` needs no format option."""

import numpy as np
import pytest
from typer.testing import CliRunner

from ratrack.cli import app
from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.otb import read_otb_groundtruth
from ratrack.errors import DataError
from ratrack.eval.sot import detect_prediction_format
from ratrack.eval.sot_benchmark import find_sequences

FRAMES = 6


@pytest.fixture
def crossing(data_dir):
    """The first frames of otb/Crossing and their ground-truth rows (OTB's x y w h)."""
    source = data_dir / "otb" / "Crossing"
    frames = sorted((source / "img").iterdir())[:FRAMES]
    rows = (source / "groundtruth_rect.txt").read_text().splitlines()[:FRAMES]
    return frames, [[float(v) for v in row.split()] for row in rows]


def _layout(folder, frames, sub: str | None, lines: list[str], numbers=None, gt="groundtruth.txt"):
    """A sequence folder: the frames (cycled) linked as 00000001.jpg... (or under ``numbers``,
    as OTB's 0001.jpg...) into ``sub`` (or the folder itself), and ``gt`` of ``lines``."""
    where = folder / sub if sub else folder
    where.mkdir(parents=True)
    if numbers is None:
        names = [f"{i:08d}" for i in range(1, len(frames) + 1)]
    else:
        names = [f"{n:04d}" for n in numbers]
    for k, name in enumerate(names):
        frame = frames[k % len(frames)]
        (where / f"{name}{frame.suffix}").symlink_to(frame)
    (folder / gt).write_text("\n".join(lines) + "\n")
    return folder


def _rects(rows):
    return [",".join(f"{v:g}" for v in row) for row in rows]


def _polygons(rows):
    """Each x y w h row as VOT's polygon of its four corners, clockwise from the top left."""
    corners = [[x, y, x + w, y, x + w, y + h, x, y + h] for x, y, w, h in rows]
    return [",".join(f"{v:g}" for v in c) for c in corners]


@pytest.mark.parametrize(
    ("sub", "style"), [(None, "rects"), ("img", "rects"), ("color", "polygons"), (None, "polygons")]
)
def test_got10k_lasot_and_vot_folders_read_as_their_otb_twin(crossing, tmp_path, sub, style):
    # GOT-10k: frames in the folder; LaSOT: img/; VOT: color/ (since 2020) or the folder, with
    # polygons. Each must give the frames and boxes of the OTB folder it was made from.
    frames, rows = crossing
    lines = _rects(rows) if style == "rects" else _polygons(rows)
    folder = _layout(tmp_path / "seq", frames, sub, lines)
    assert detect_format(folder) == "otb"
    sequence = open_sequence(folder)
    assert len(sequence) == FRAMES
    twin = tmp_path / "twin.txt"
    twin.write_text("\n".join(" ".join(f"{v:g}" for v in row) for row in rows) + "\n")
    np.testing.assert_allclose(sequence.gt, read_otb_groundtruth(twin))
    np.testing.assert_array_equal(sequence.frame(2), open_sequence(frames[0].parents[1]).frame(2))


def test_a_rotated_polygon_reads_as_its_bounding_rectangle(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("11,1,21,11,11,21,1,11\nnan,nan,nan,nan,nan,nan,nan,nan\n")  # a diamond
    gt = read_otb_groundtruth(path)
    np.testing.assert_allclose(gt[0], [0, 0, 20, 20])  # x 1..21, 1-based, as OTB's rows
    assert np.isnan(gt[1]).all()  # target out of view


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m10,20,30,40,0,1,1\n", "groundtruth.txt:1: segmentation-mask rows"),
        ("1,2,3,4\n1,2,3,4,5,6\n", "groundtruth.txt:2: expected 4 values x,y,w,h or 8"),
        ("1,2,3,4,5,6,7,x\n", "groundtruth.txt:1: y4 is not a number"),
    ],
)
def test_bad_groundtruth_rows_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "groundtruth.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_otb_groundtruth(path)


def test_a_root_of_mixed_layouts_is_one_benchmark(crossing, tmp_path):
    frames, rows = crossing
    root = tmp_path / "root"
    _layout(root / "got10k" / "GOT-10k_Val_000001", frames, None, _rects(rows))
    _layout(root / "lasot" / "car-1", frames, "img", _rects(rows))
    _layout(root / "vot" / "crossing", frames, "color", _polygons(rows))
    (root / "notes").mkdir()
    (root / "notes" / "groundtruth.txt").write_text("1,2,3,4\n")  # no frames: not a sequence
    names = [name for name, _, _ in find_sequences([root])]
    assert names == ["got10k/GOT-10k_Val_000001", "lasot/car-1", "vot/crossing"]


def test_track_then_eval_needs_no_format_option(crossing, tmp_path, one_thread):
    # The user's round trip: ratrack track writes MOT rows by default (KITTI on request);
    # eval sot --pred reads either without being told which.
    frames, rows = crossing
    folder = _layout(tmp_path / "GOT-10k_Val_000001", frames, None, _rects(rows))
    runner = CliRunner()
    x, y, w, h = rows[0]
    scores = {}
    for fmt in ("mot", "kitti"):
        out = tmp_path / f"track.{fmt}.txt"
        init = f"{x - 1:g},{y - 1:g},{w:g},{h:g}"  # OTB's 1-based corner as 0-based x,y
        result = runner.invoke(
            app, ["track", str(folder), "--init", init, "--format", fmt, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert detect_prediction_format(out) == fmt
        result = runner.invoke(app, ["eval", "sot", str(folder), "--pred", str(out)])
        assert result.exit_code == 0, result.output
        line = next(row for row in result.output.splitlines() if row.startswith(out.stem))
        scores[fmt] = float(line.split()[1])  # mean IoU
    assert scores["mot"] == scores["kitti"] > 0.5  # the same boxes, read either way


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("205\t151\t17\t50\n", "otb"),
        ("1,1,205.0,151.0,17.0,50.0,1.0,-1,-1,-1\n", "mot"),
        ("0 1 Car -1 -1 -10 205 151 222 201 -1 -1 -1 -1000 -1000 -1000 -10 1\n", "kitti"),
    ],
)
def test_prediction_format_from_the_first_row(tmp_path, text, fmt):
    path = tmp_path / "pred.txt"
    path.write_text("\n" + text)
    assert detect_prediction_format(path) == fmt


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "pred.txt: file is empty"),
        ('{"frame": 0, "id": 1}\n', "pred.txt:1: JSON-lines predictions cannot be scored"),
        ("1,2,3\n", "pred.txt:1: cannot tell the format from 3 fields; expected otb or mot"),
    ],
)
def test_unknown_prediction_rows_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "pred.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        detect_prediction_format(path)


def _numbered(folder, frames, numbers, rows):
    """An OTB folder: img/ of ``frames`` under ``numbers``, ``groundtruth_rect.txt`` of ``rows``."""
    return _layout(folder, frames, "img", _rects(rows), numbers, "groundtruth_rect.txt")


def test_otb_sequences_evaluated_over_part_of_their_frames_read_as_the_toolkit_does(
    crossing, tmp_path
):
    # BlurCar3's img/ starts at frame 1, its 357 ground-truth rows at frame 3 (to 359);
    # Football1's 74 rows end before the folder's last frames.
    frames, rows = crossing
    boxes = [rows[k % FRAMES] for k in range(357)]
    blur = _numbered(tmp_path / "BlurCar3", frames, range(1, 361), boxes)
    sequence = open_sequence(blur)
    assert len(sequence) == 357 and sequence.paths[0].name == "0003.jpg"
    assert sequence.paths[-1].name == "0359.jpg" and sequence.gt.shape == (357, 4)
    football = _numbered(tmp_path / "Football1", frames, range(1, 81), boxes[:74])
    assert [p.name for p in open_sequence(football).paths] == [f"{i:04d}.jpg" for i in range(1, 75)]
    # the same counts under another name: no toolkit range applies
    other = _numbered(tmp_path / "Other", frames, range(1, 81), boxes[:74])
    with pytest.raises(DataError, match="74 boxes for 80 images"):
        open_sequence(other)


def test_a_ground_truth_that_does_not_fit_the_frames_does_not_stop_tracking(crossing, tmp_path):
    frames, rows = crossing
    folder = _numbered(tmp_path / "Cut", frames, range(1, FRAMES + 1), rows[:4])
    out = tmp_path / "cut.txt"
    x, y, w, h = rows[0]
    result = CliRunner().invoke(
        app, ["track", str(folder), "--init", f"{x},{y},{w},{h}", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == FRAMES  # every frame tracked
    result = CliRunner().invoke(app, ["eval", "sot", str(folder), "--pred", str(out)])
    assert isinstance(result.exception, DataError)  # scoring needs the ground truth to fit
    assert "4 boxes for 6 images" in str(result.exception)
