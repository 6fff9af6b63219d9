"""The IDX reader on the official MNIST test set, and its error paths."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from ratrack.data.mnist import load_digits, load_idx_digits, read_idx
from ratrack.errors import DataError


def test_official_test_set_label_counts(data_dir):
    folder = data_dir / "mnist"
    raw = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert hashlib.md5(raw).hexdigest() == "9fb629c4189551a2d022fa330f9573f3"
    digits = load_idx_digits(
        folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    )
    assert digits.images.shape == (10000, 28, 28) and digits.images.dtype == np.uint8
    counts = np.bincount(digits.labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert digits.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test labels
    np.testing.assert_array_equal(load_digits(folder).labels, digits.labels)


def test_raw_and_gzip_read_the_same(data_dir, tmp_path):
    src = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    (tmp_path / "labels-idx1-ubyte").write_bytes(gzip.decompress(src.read_bytes()))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), read_idx(src))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x02\x08\x01", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX data type"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "payload has 2 bytes"),
        (b"\x1f\x8b\x08garbage", "corrupt gzip"),
    ],
)
def test_bad_idx_files(tmp_path, payload, message):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_missing_labels_file(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 12)
    with pytest.raises(DataError, match="missing labels file"):
        load_digits(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load_digits(tmp_path / "nope-images-idx3-ubyte")
