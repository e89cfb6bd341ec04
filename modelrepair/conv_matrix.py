"""Exact matrix form of a 2-D convolution (cross-correlation, as ``torch.nn.functional.conv2d``).

For filters ``F`` of shape (k, C, kh, kw), stride, zero padding and dilation, the conv layer
is the linear map ``X_flat @ W`` with ``W`` of shape (d_in, d_out):

* ``d_in = C * H * W``: an input image (C, H, W) is flattened row-major,
  row index ``c * H * W + h * W + w``;
* ``d_out = k * H_out * W_out``: the output (k, H_out, W_out) is flattened row-major,
  column index ``f * H_out * W_out + oh * W_out + ow``;
* filter weight ``(f, c, i, j)`` (flat index ``f*C*kh*kw + c*kh*kw + i*kw + j``) sits at
  ``W[c, oh*s_h - p_h + i*d_h, ow*s_w - p_w + j*d_w ; f, oh, ow]`` whenever that input
  pixel lies inside the image (entries that fall on the zero padding are dropped).

Every entry of W is either a structural zero or a copy of exactly one filter weight; the
`ConvIndex` lists those copies as (row, col, weight) triplets, built by numpy broadcasting
(no loops over pixels). The inverse `filters_from_matrix` reads filters back from a
(repaired) W by the mean or the median of the entries that share a filter weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

Reducer = Literal["mean", "median"]


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    t = (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))
    if name == "padding":
        ok = t[0] >= 0 and t[1] >= 0
    else:
        ok = t[0] >= 1 and t[1] >= 1
    if not ok:
        raise ValueError(f"{name} must be {'>= 0' if name == 'padding' else '>= 1'}, got {v!r}")
    return t


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((size + 2 p - d (kernel - 1) - 1) / s) + 1``, as torch computes it."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvIndex:
    """Where each filter weight lands in the conv matrix.

    ``rows[e], cols[e]`` is an entry of W holding filter weight ``weight[e]`` (flat index
    into the (k, C, kh, kw) filter array). Entries of W not listed are structural zeros.
    """

    in_shape: tuple[int, int, int]
    filter_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int]
    rows: np.ndarray
    cols: np.ndarray
    weight: np.ndarray

    @property
    def d_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def d_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def n_weights(self) -> int:
        return int(np.prod(self.filter_shape))

    def weight_map(self) -> np.ndarray:
        """Dense (d_in, d_out) int array: the filter-weight index of each entry, -1 if zero."""
        M = np.full((self.d_in, self.d_out), -1, dtype=np.int64)
        M[self.rows, self.cols] = self.weight
        return M

    def copies(self) -> np.ndarray:
        """How many entries of W share each filter weight (shape ``filter_shape``)."""
        return np.bincount(self.weight, minlength=self.n_weights).reshape(self.filter_shape)


def conv_index(
    in_shape: tuple[int, int, int],
    filter_shape: tuple[int, int, int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> ConvIndex:
    """Index triplets of the conv matrix for images ``in_shape = (C, H, W)``."""
    C, H, Wd = (int(x) for x in in_shape)
    k, Cf, kh, kw = (int(x) for x in filter_shape)
    if Cf != C:
        raise ValueError(f"filters have {Cf} input channels but images have {C}")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    Ho = conv_output_size(H, kh, sh, ph, dh)
    Wo = conv_output_size(Wd, kw, sw, pw, dw)
    if Ho < 1 or Wo < 1:
        raise ValueError(f"kernel {kh}x{kw} (dilation {dh},{dw}) does not fit images {H}x{Wd} with padding {ph},{pw}")
    # axes: (f, oh, ow, c, i, j)
    f = np.arange(k).reshape(-1, 1, 1, 1, 1, 1)
    oh = np.arange(Ho).reshape(1, -1, 1, 1, 1, 1)
    ow = np.arange(Wo).reshape(1, 1, -1, 1, 1, 1)
    c = np.arange(C).reshape(1, 1, 1, -1, 1, 1)
    i = np.arange(kh).reshape(1, 1, 1, 1, -1, 1)
    j = np.arange(kw).reshape(1, 1, 1, 1, 1, -1)
    h = oh * sh - ph + i * dh
    w = ow * sw - pw + j * dw
    shape = (k, Ho, Wo, C, kh, kw)
    h, w = np.broadcast_to(h, shape), np.broadcast_to(w, shape)
    valid = (h >= 0) & (h < H) & (w >= 0) & (w < Wd)
    rows = np.broadcast_to(c * (H * Wd), shape) + h * Wd + w
    cols = np.broadcast_to(f * (Ho * Wo) + oh * Wo + ow, shape)
    weight = np.broadcast_to(((f * C + c) * kh + i) * kw + j, shape)
    return ConvIndex(
        (C, H, Wd),
        (k, C, kh, kw),
        (k, Ho, Wo),
        rows[valid].astype(np.int64),
        cols[valid].astype(np.int64),
        weight[valid].astype(np.int64),
    )


def conv_matrix_sparse(filters: np.ndarray, index: ConvIndex) -> sp.csc_matrix:
    """The conv matrix as a sparse (d_in, d_out) CSC matrix (no duplicate entries)."""
    filters = np.asarray(filters, dtype=float)
    if filters.shape != index.filter_shape:
        raise ValueError(f"filters have shape {filters.shape}, the index expects {index.filter_shape}")
    vals = filters.reshape(-1)[index.weight]
    return sp.coo_matrix((vals, (index.rows, index.cols)), shape=(index.d_in, index.d_out)).tocsc()


def conv_matrix(filters: np.ndarray, index: ConvIndex) -> np.ndarray:
    """Dense (d_in, d_out) float64 W with ``X_flat @ W == conv2d(X, filters)`` flattened."""
    return conv_matrix_sparse(filters, index).toarray()


def filters_from_matrix(W: np.ndarray, index: ConvIndex, reducer: Reducer = "mean") -> np.ndarray:
    """Read filters (k, C, kh, kw) back from W: mean or median of the entries sharing a weight.

    A weight with no entry in W (it never lands inside the image) reads back as NaN.
    """
    W = np.asarray(W, dtype=float)
    if W.shape != (index.d_in, index.d_out):
        raise ValueError(f"W has shape {W.shape}, expected {(index.d_in, index.d_out)}")
    vals = W[index.rows, index.cols]
    counts = np.bincount(index.weight, minlength=index.n_weights)
    out = np.full(index.n_weights, np.nan)
    used = counts > 0
    if reducer == "mean":
        # mean = base + mean(vals - base) with base = one copy: bit-exact when all copies agree
        base = np.zeros(index.n_weights)
        base[index.weight] = vals
        sums = np.bincount(index.weight, weights=vals - base[index.weight], minlength=index.n_weights)
        out[used] = base[used] + sums[used] / counts[used]
    elif reducer == "median":
        order = np.lexsort((vals, index.weight))  # grouped by weight, sorted within group
        sorted_vals = vals[order]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        lo = starts + (counts - 1) // 2
        hi = starts + counts // 2
        out[used] = 0.5 * (sorted_vals[lo[used]] + sorted_vals[hi[used]])
    else:
        raise ValueError(f"reducer must be 'mean' or 'median', got {reducer!r}")
    return out.reshape(index.filter_shape)
