"""MNIST in the original IDX format (optionally gzipped), and the thesis' 0-vs-1 subset.

IDX: big-endian int32 header, then uint8 payload. Images: magic 2051, n, rows, cols
(16 header bytes); labels: magic 2049, n (8 header bytes). A wrong, missing or
truncated file raises `DataFileError` naming the path.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from modelrepair.errors import DataFileError, SpecError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

LabelCoding = Literal["pm1", "01"]
Selection = Literal["first", "random"]


def _read_bytes(path: str | Path, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, f"MNIST {what} file not found; pass the path to the IDX file (e.g. t10k-{what}-idx*-ubyte.gz)")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataFileError(path, f"corrupt or truncated gzip file ({err}); re-download the MNIST {what} file") from None
    return raw


def _header(raw: bytes, path: str | Path, magic: int, n_ints: int, what: str) -> tuple[int, ...]:
    size = 4 * n_ints
    if len(raw) < size:
        raise DataFileError(path, f"too short for an IDX {what} header ({len(raw)} bytes)")
    head = tuple(int(v) for v in np.frombuffer(raw[:size], dtype=">i4"))
    if head[0] != magic:
        raise DataFileError(path, f"IDX magic number is {head[0]}, expected {magic} for {what}; is this the right file?")
    return head


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images as a uint8 array (n, rows, cols)."""
    raw = _read_bytes(path, "images")
    _, n, rows, cols = _header(raw, path, IMAGES_MAGIC, 4, "images")
    expected = 16 + n * rows * cols
    if len(raw) != expected:
        raise DataFileError(path, f"holds {len(raw)} bytes, the header (n={n}, {rows}x{cols}) says {expected}; truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Labels as a uint8 array (n,)."""
    raw = _read_bytes(path, "labels")
    _, n = _header(raw, path, LABELS_MAGIC, 2, "labels")
    if len(raw) != 8 + n:
        raise DataFileError(path, f"holds {len(raw)} bytes, the header (n={n}) says {8 + n}; truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=8).copy()


@dataclass(frozen=True)
class MnistSubset:
    """Images (n, 1, h, w) in [0, 1], labels y (n,), the digits and the source indices."""

    images: np.ndarray
    y: np.ndarray
    digits: np.ndarray
    index: np.ndarray

    @property
    def X_flat(self) -> np.ndarray:
        """(n, h*w) row-major flattening, the design of the conv matrix form."""
        return self.images.reshape(self.images.shape[0], -1)


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Central ``size x size`` window of (..., H, W) images."""
    H, W = images.shape[-2:]
    if not 0 < size <= min(H, W):
        raise ValueError(f"crop size must be in 1..{min(H, W)}, got {size}")
    top, left = (H - size) // 2, (W - size) // 2
    return images[..., top : top + size, left : left + size]


def load_mnist_digits(
    images_path: str | Path,
    labels_path: str | Path,
    n: int | None = None,
    *,
    digits: tuple[int, int] = (0, 1),
    labels: LabelCoding = "pm1",
    selection: Selection = "first",
    seed: int = 0,
    crop: int | None = None,
) -> MnistSubset:
    """The images of two digits, pixels / 255, y = -1/+1 (``"pm1"``) or 0/1 (``"01"``).

    The first digit of ``digits`` gets the negative label (-1 or 0). ``n`` images are taken
    in file order (``"first"``) or as a seeded random subset (``"random"``, sorted by index);
    ``None`` takes all. ``crop`` keeps the central crop x crop pixels.
    """
    X = read_idx_images(images_path)
    lab = read_idx_labels(labels_path)
    if X.shape[0] != lab.shape[0]:
        raise DataFileError(labels_path, f"has {lab.shape[0]} labels but {images_path} has {X.shape[0]} images")
    idx = np.flatnonzero(np.isin(lab, digits))
    if n is not None:
        if not 0 < n <= idx.size:
            raise SpecError("n", f"must be in 1..{idx.size} (images of digits {digits} in {images_path}), got {n}")
        if selection == "random":
            idx = np.sort(np.random.default_rng(seed).choice(idx, size=n, replace=False))
        else:
            idx = idx[:n]
    imgs = X[idx].astype(np.float64) / 255.0
    if crop is not None:
        imgs = center_crop(imgs, crop)
    d = lab[idx]
    pos = d == digits[1]
    y = np.where(pos, 1.0, -1.0 if labels == "pm1" else 0.0)
    return MnistSubset(np.ascontiguousarray(imgs[:, None]), y, d.astype(np.int64), idx)
