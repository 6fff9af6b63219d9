"""Fuzzing the text parsers (hypothesis): any text either parses or raises ``DataError`` (never
another exception), and generated records survive a write/read round trip."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratrack.data.kitti_labels import (
    KittiLabels,
    read_kitti_calib,
    read_kitti_labels,
    write_kitti_labels,
)
from ratrack.data.mot import MotRecords, read_mot_file, read_seqinfo, write_mot_file
from ratrack.data.otb import read_otb_groundtruth
from ratrack.data.tlp import read_tlp_groundtruth
from ratrack.errors import DataError

EXAMPLES = int(os.environ.get("RATRACK_FUZZ_EXAMPLES", "150"))  # per test; more locally
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text made mostly of the characters these formats use, so that many inputs get deep
TOKENS = st.sampled_from(
    [
        "1",
        "0",
        "-1",
        "7",
        "12.5",
        "-0.5",
        "1e3",
        "nan",
        "inf",
        "Car",
        "DontCare",
        "x",
        "",
        "3",
        "0.0",
        "255",
        "1.0",
        "-10.000000",
        "P2:",
        "R_rect",
        "[Sequence]",
        "seqLength=",
        "=",
    ]
)
SEPARATORS = st.sampled_from([",", " ", "\t", ", ", "  ", ":", ";"])


@st.composite
def noisy_text(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.integers(0, 19))
        tokens = draw(st.lists(TOKENS, min_size=n, max_size=n))
        sep = draw(SEPARATORS)
        lines.append(sep.join(tokens))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text += draw(st.text(max_size=20))  # arbitrary unicode too
    return text


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "file.txt"


PARSERS = {
    "mot": read_mot_file,
    "kitti": read_kitti_labels,
    "otb": read_otb_groundtruth,
    "tlp": read_tlp_groundtruth,
    "calib": read_kitti_calib,
    "seqinfo": read_seqinfo,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(text=noisy_text())
def test_parsers_accept_or_raise_data_error(scratch, name, text):
    scratch.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        PARSERS[name](scratch)
    except DataError as exc:
        assert str(scratch) in str(exc)


@FUZZ
@given(data=st.binary(max_size=64))
def test_binary_garbage_is_a_data_error(scratch, data):
    scratch.write_bytes(data)
    for parse in PARSERS.values():
        try:
            parse(scratch)
        except DataError:
            pass


decimal = st.integers(-(10**7), 10**7).map(lambda v: v / 1000)  # 3 decimals
positive = st.integers(1, 10**7).map(lambda v: v / 1000)


@st.composite
def mot_records(draw) -> MotRecords:
    n = draw(st.integers(0, 8))
    ints = lambda lo, hi: draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))  # noqa: E731
    floats = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    x, y, w, h = floats(decimal), floats(decimal), floats(positive), floats(positive)
    columns = draw(st.sampled_from([6, 7, 8, 9, 10]))
    return MotRecords(
        frame=ints(1, 10**6),
        track_id=ints(-1, 10**6),
        boxes=np.column_stack([x, y, np.add(x, w), np.add(y, h)]).reshape(n, 4),
        conf=floats(decimal) if columns >= 7 else np.ones(n),
        cls=ints(-1, 13) if columns in (8, 9) else None,
        visibility=floats(decimal) if columns == 9 else None,
        world=np.reshape(floats(decimal) * 3, (3, n)).T if columns == 10 else None,
        columns=columns,
    )


@FUZZ
@given(records=mot_records())
def test_mot_round_trip(scratch, records):
    write_mot_file(scratch, records)
    back = read_mot_file(scratch)
    assert len(back) == len(records) and back.columns == (records.columns if len(records) else 0)
    for field in ("frame", "track_id", "cls"):
        np.testing.assert_array_equal(getattr(back, field), getattr(records, field))
    for field in ("boxes", "conf", "visibility", "world"):
        np.testing.assert_allclose(getattr(back, field), getattr(records, field), atol=1e-6)
    write_mot_file(scratch.with_suffix(".2"), back)
    assert scratch.with_suffix(".2").read_bytes() == scratch.read_bytes()  # fixed point


@st.composite
def kitti_labels(draw) -> KittiLabels:
    n = draw(st.integers(0, 8))
    col = lambda s: np.array(draw(st.lists(s, min_size=n, max_size=n)), dtype=float)  # noqa: E731
    dont = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    classes = draw(
        st.lists(st.sampled_from(["Car", "Van", "Pedestrian", "Cyclist"]), min_size=n, max_size=n)
    )
    x, y, w, h = col(decimal), col(decimal), col(positive), col(positive)
    with_score = draw(st.booleans())
    return KittiLabels(
        frame=col(st.integers(0, 10**5)),
        track_id=np.where(dont, -1, col(st.integers(0, 10**4))),
        type=np.where(dont, "DontCare", np.array(classes, dtype=str).reshape(n)),
        truncated=col(st.sampled_from([0.0, 1.0, 2.0, 0.25, -1.0])),
        occluded=col(st.integers(-1, 3)),
        alpha=col(decimal),
        boxes=np.column_stack([x, y, x + w, y + h]).reshape(n, 4),
        dimensions=np.column_stack([col(decimal), col(decimal), col(decimal)]).reshape(n, 3),
        location=np.column_stack([col(decimal), col(decimal), col(decimal)]).reshape(n, 3),
        rotation_y=col(decimal),
        score=col(decimal) if with_score else None,
    )


@FUZZ
@given(labels=kitti_labels())
def test_kitti_round_trip(scratch, labels):
    write_kitti_labels(scratch, labels)
    back = read_kitti_labels(scratch)
    assert len(back) == len(labels)
    for field in ("frame", "track_id", "type", "occluded"):
        np.testing.assert_array_equal(getattr(back, field), getattr(labels, field))
    for field in ("truncated", "alpha", "boxes", "dimensions", "location", "rotation_y", "score"):
        np.testing.assert_allclose(getattr(back, field), getattr(labels, field), atol=1e-6)


@FUZZ
@given(
    rows=st.lists(st.tuples(decimal, decimal, positive, positive), max_size=10),
    sep=st.sampled_from(["\t", ",", " ", ", "]),
)
def test_otb_parses_generated_rows(scratch, rows, sep):
    scratch.write_text("".join(sep.join(map(str, r)) + "\r\n" for r in rows))
    gt = read_otb_groundtruth(scratch)
    assert gt.shape == (len(rows), 4)
    for (x, y, w, h), box in zip(rows, gt, strict=True):
        np.testing.assert_allclose(box, [x - 1, y - 1, x - 1 + w, y - 1 + h])
