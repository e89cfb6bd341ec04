"""The conv-to-matrix transform equals torch's conv2d to float64 round-off."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from modelrepair.conv_matrix import (
    conv_index,
    conv_matrix,
    conv_matrix_sparse,
    conv_output_size,
    filters_from_matrix,
)

CASES = [
    # (C, H, W, k, kh, kw, stride, padding, dilation)
    *[
        (C, 9, 8, 3, kh, kw, s, p, d)
        for C, s, p, d, (kh, kw) in itertools.product(
            (1, 3), (1, 2), (0, 2), (1, 2), ((1, 1), (3, 3), (2, 4), (4, 3))
        )
    ],
    (1, 12, 12, 8, 5, 5, 1, 0, 1),
    (1, 28, 28, 2, 19, 19, 1, 0, 1),
    (2, 7, 11, 4, 7, 5, (2, 1), (1, 3), (1, 2)),
]


def _torch_conv(X: np.ndarray, filt: np.ndarray, s, p, d) -> np.ndarray:
    out = F.conv2d(torch.from_numpy(X), torch.from_numpy(filt), stride=s, padding=p, dilation=d)
    return out.numpy()


@pytest.mark.parametrize("case", CASES)
def test_matrix_equals_conv2d(case: tuple) -> None:
    C, H, Wd, k, kh, kw, s, p, d = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    X = rng.standard_normal((5, C, H, Wd))
    filt = rng.standard_normal((k, C, kh, kw))
    idx = conv_index((C, H, Wd), filt.shape, s, p, d)
    W = conv_matrix(filt, idx)
    ref = _torch_conv(X, filt, s, p, d)
    assert ref.shape[1:] == idx.out_shape
    assert W.shape == (C * H * Wd, int(np.prod(ref.shape[1:])))
    got = X.reshape(5, -1) @ W
    assert np.max(np.abs(got - ref.reshape(5, -1))) < 1e-12
    # sparse form agrees with the dense one
    assert np.array_equal(conv_matrix_sparse(filt, idx).toarray(), W)


def test_output_size_matches_torch_formula() -> None:
    assert conv_output_size(28, 19, 1, 0, 1) == 10
    assert conv_output_size(28, 11, 1, 0, 1) == 18
    assert conv_output_size(9, 3, 2, 2, 2) == 5


def test_known_small_matrix() -> None:
    """1 channel 3x3 image, one 2x2 filter, stride 1: W written out by hand."""
    filt = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    idx = conv_index((1, 3, 3), filt.shape)
    W = conv_matrix(filt, idx)
    expected = np.zeros((9, 4))
    for col, (oh, ow) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        for i, j in itertools.product(range(2), range(2)):
            expected[(oh + i) * 3 + (ow + j), col] = filt[0, 0, i, j]
    assert np.array_equal(W, expected)
    wm = idx.weight_map()
    assert wm[0, 0] == 0 and wm[4, 0] == 3 and wm[2, 0] == -1
    assert idx.copies().tolist() == [[[[4, 4], [4, 4]]]]


@pytest.mark.parametrize("reducer", ["mean", "median"])
@pytest.mark.parametrize("case", [CASES[0], CASES[21], CASES[-1], CASES[-3]])
def test_readback_exact(case: tuple, reducer: str) -> None:
    C, H, Wd, k, kh, kw, s, p, d = case
    rng = np.random.default_rng(1)
    filt = rng.standard_normal((k, C, kh, kw))
    idx = conv_index((C, H, Wd), filt.shape, s, p, d)
    back = filters_from_matrix(conv_matrix(filt, idx), idx, reducer)
    used = idx.copies() > 0
    assert used.all()
    assert np.array_equal(back, filt)


def test_readback_mean_vs_median_on_perturbed_matrix() -> None:
    """One outlier per weight: the median ignores it (>= 3 copies), the mean does not."""
    filt = np.arange(4.0).reshape(1, 1, 2, 2)
    idx = conv_index((1, 4, 4), filt.shape)  # every weight has 9 copies
    assert idx.copies().min() == 9
    W = conv_matrix(filt, idx)
    W[idx.rows[:4], idx.cols[:4]] += 9.0  # entries of column 0: the four weights, once each
    assert np.array_equal(filters_from_matrix(W, idx, "median"), filt)
    assert np.allclose(filters_from_matrix(W, idx, "mean"), filt + 1.0)


def test_unused_weight_reads_nan() -> None:
    """Width-1 image, 1x3 kernel, padding 1: the outer taps only ever touch the padding."""
    idx = conv_index((1, 1, 1), (1, 1, 1, 3), 1, (0, 1), 1)
    assert idx.out_shape == (1, 1, 1)
    assert idx.copies().tolist() == [[[[0, 1, 0]]]]
    filt = np.array([[[[5.0, 6.0, 7.0]]]])
    W = conv_matrix(filt, idx)
    assert W.tolist() == [[6.0]]
    back = filters_from_matrix(W, idx, "median")
    assert np.isnan(back[0, 0, 0, 0]) and back[0, 0, 0, 1] == 6.0 and np.isnan(back[0, 0, 0, 2])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="channels"):
        conv_index((3, 5, 5), (1, 1, 2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        conv_index((1, 3, 3), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="stride"):
        conv_index((1, 5, 5), (1, 1, 2, 2), stride=0)
    idx = conv_index((1, 3, 3), (1, 1, 2, 2))
    with pytest.raises(ValueError, match="reducer"):
        filters_from_matrix(np.zeros((9, 4)), idx, "mode")  # type: ignore[arg-type]
