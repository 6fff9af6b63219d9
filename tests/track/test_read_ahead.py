"""``read_ahead``: frames decoded in a background thread come in order, all of them, errors
where they happened, and the reader stops when the consumer does."""

from __future__ import annotations

import threading
import time

import pytest

from ratrack.data.formats import detect_format, open_sequence
from ratrack.track.sources import iter_frames, read_ahead


def _crossing(data_dir):
    path = data_dir / "otb" / "Crossing"
    return open_sequence(path, detect_format(path))


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_real_frames_come_in_order_and_equal(data_dir, depth):
    seq = _crossing(data_dir)
    ahead = list(read_ahead(iter_frames(seq, 12), depth))
    inline = list(iter_frames(seq, 12))
    assert [t for t, _ in ahead] == [t for t, _ in inline] == list(range(12))
    assert all((a == b).all() for (_, a), (_, b) in zip(ahead, inline, strict=True))


def test_an_error_of_the_reader_is_raised_where_its_item_would_come():
    def items():
        yield 1
        yield 2
        raise ValueError("frame 3 is broken")

    got = []
    with pytest.raises(ValueError, match="frame 3 is broken"):
        for item in read_ahead(items(), 2):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_the_reader():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    stream = read_ahead(items(), 3)
    assert next(stream) == 0
    stream.close()
    time.sleep(0.3)
    assert threading.active_count() == before
    assert len(produced) <= 6  # the reader stayed at most `depth` (+ the ones in hand) ahead
