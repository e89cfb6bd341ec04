"""MNIST IDX reader and the 0-vs-1 subset, on the real test-set files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from modelrepair.data import load_mnist_digits, read_idx_images, read_idx_labels
from modelrepair.data.mnist import center_crop
from modelrepair.errors import DataFileError, SpecError

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


def test_raw_files(mnist_dir: Path) -> None:
    X = read_idx_images(mnist_dir / IMAGES)
    y = read_idx_labels(mnist_dir / LABELS)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert int(X.min()) == 0 and int(X.max()) == 255
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_zero_one_subset(mnist_dir: Path) -> None:
    s = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS)
    assert s.images.shape == (2115, 1, 28, 28)
    assert s.X_flat.shape == (2115, 784)
    assert int(np.sum(s.digits == 0)) == 980 and int(np.sum(s.digits == 1)) == 1135
    assert int(np.sum(s.y == -1.0)) == 980 and int(np.sum(s.y == 1.0)) == 1135
    assert 0.0 <= s.images.min() and s.images.max() == 1.0
    # first 0/1 images of the file: labels 7, 2, 1, 0, ... -> index 2 is a 1, index 3 a 0
    assert s.index[:2].tolist() == [2, 3] and s.y[:2].tolist() == [1.0, -1.0]


def test_first_n_sigmoid_labels_and_crop(mnist_dir: Path) -> None:
    s = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 50, labels="01", crop=12)
    assert s.images.shape == (50, 1, 12, 12)
    assert set(np.unique(s.y).tolist()) == {0.0, 1.0}
    full = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 50)
    assert np.array_equal(s.images, full.images[:, :, 8:20, 8:20])
    assert np.array_equal(s.y, (full.y + 1) / 2)


def test_random_selection_is_seeded(mnist_dir: Path) -> None:
    a = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 30, selection="random", seed=3)
    b = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 30, selection="random", seed=3)
    c = load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 30, selection="random", seed=4)
    assert np.array_equal(a.index, b.index) and not np.array_equal(a.index, c.index)
    assert np.all(np.diff(a.index) > 0) and set(a.digits.tolist()) <= {0, 1}


def test_n_too_large(mnist_dir: Path) -> None:
    with pytest.raises(SpecError, match="n: must be in 1..2115"):
        load_mnist_digits(mnist_dir / IMAGES, mnist_dir / LABELS, 5000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not found"):
        read_idx_images(tmp_path / "nope.gz")


def test_swapped_files(mnist_dir: Path) -> None:
    with pytest.raises(DataFileError, match="magic number is 2049, expected 2051"):
        read_idx_images(mnist_dir / LABELS)
    with pytest.raises(DataFileError, match="magic number is 2051, expected 2049"):
        read_idx_labels(mnist_dir / IMAGES)


def test_truncated_payload(tmp_path: Path) -> None:
    header = np.array([2051, 3, 4, 4], dtype=">i4").tobytes()
    p = tmp_path / "imgs.gz"
    p.write_bytes(gzip.compress(header + bytes(40)))
    with pytest.raises(DataFileError, match="holds 56 bytes.*says 64; truncated"):
        read_idx_images(p)
    p.write_bytes(gzip.compress(header + bytes(48)))
    assert read_idx_images(p).shape == (3, 4, 4)


def test_truncated_gzip(tmp_path: Path, mnist_dir: Path) -> None:
    p = tmp_path / "cut.gz"
    p.write_bytes((mnist_dir / LABELS).read_bytes()[:1000])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip"):
        read_idx_labels(p)


def test_not_idx(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("1,2\n")
    with pytest.raises(DataFileError, match="too short|magic number"):
        read_idx_labels(p)


def test_count_mismatch(tmp_path: Path) -> None:
    imgs = tmp_path / "i"
    imgs.write_bytes(np.array([2051, 2, 1, 1], dtype=">i4").tobytes() + bytes(2))
    labs = tmp_path / "l"
    labs.write_bytes(np.array([2049, 3], dtype=">i4").tobytes() + bytes([0, 1, 1]))
    with pytest.raises(DataFileError, match="has 3 labels but .* has 2 images"):
        load_mnist_digits(imgs, labs)


def test_center_crop() -> None:
    a = np.arange(36.0).reshape(6, 6)
    assert center_crop(a, 2).tolist() == [[14.0, 15.0], [20.0, 21.0]]
    with pytest.raises(ValueError, match="crop size"):
        center_crop(a, 7)
