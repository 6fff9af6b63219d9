import numpy as np
import pytest

from ratrack.data.mnist import load_split, split_indices


def test_splits_are_disjoint_cover_everything_and_are_deterministic():
    parts = [split_indices(5000, s) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [4000, 500, 500]
    joined = np.concatenate(parts)
    assert len(np.unique(joined)) == 5000
    assert np.array_equal(split_indices(5000, "test"), parts[2])


def test_embedded_test_split_is_real_digits_of_every_class():
    digits = load_split("test")
    assert digits.images.shape == (500, 28, 28) and digits.images.dtype == np.uint8
    assert set(np.unique(digits.labels)) == set(range(10))
    assert digits.images.max() == 255
    assert 0.1 < (digits.images > 0).mean() < 0.3  # MNIST strokes cover about a fifth of a digit


def test_unknown_split_raises():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        split_indices(10, "dev")
