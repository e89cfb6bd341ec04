"""The few array operations the batched LAD solver needs, for numpy and for torch.

Everything else (``@``, ``abs``, ``where``, ``clip``...) is spelled the same in both
libraries and is reached through ``ops.xp``. Arrays are ``rows x columns`` (one column per
right-hand side); batched square systems are ``(columns, k, k)``.
"""

from __future__ import annotations

import numpy as np


def _solve_chunks(M, rhs, chunk: int = 64):
    """`np.linalg.solve` per chunk of matrices, one at a time inside a chunk that has an
    exactly singular one (its column stays NaN). Costs about one more batched solve, where
    a determinant of every matrix first (and a copy of the regular ones) cost two or three."""
    x = np.full(rhs.shape, np.nan)
    for a in range(0, M.shape[0], chunk):
        b = min(a + chunk, M.shape[0])
        try:
            x[:, a:b] = np.linalg.solve(M[a:b], rhs[:, a:b].T[..., None])[..., 0].T
        except np.linalg.LinAlgError:
            for j in range(a, b):
                try:
                    x[:, j] = np.linalg.solve(M[j], rhs[:, j])
                except np.linalg.LinAlgError:
                    pass
    return x


class NumpyOps:
    """numpy implementation (float64/float32 on the CPU)."""

    name = "numpy"
    xp = np

    def __init__(self, device: str = "cpu") -> None:
        if device != "cpu":
            raise ValueError(f"the numpy backend runs on the CPU only, got device={device!r}")

    def asarray(self, x, dtype: str = "float64"):
        return np.ascontiguousarray(np.asarray(x, dtype=dtype))

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x, dtype=float)

    def cast(self, x, dtype: str):
        return x.astype(dtype, copy=False)

    def index(self, idx: np.ndarray):
        return np.asarray(idx, dtype=np.int64)

    def smallest(self, X, k: int):
        """Row indices (k x cols) of the k smallest entries of each column."""
        if k >= X.shape[0]:
            return np.broadcast_to(np.arange(X.shape[0])[:, None], X.shape).copy()
        return np.argpartition(X, k - 1, axis=0)[:k]

    def gather(self, X, idx):
        return np.take_along_axis(X, idx, axis=0)

    def scatter(self, X, idx, vals) -> None:
        np.put_along_axis(X, idx, vals, axis=0)

    def median(self, X):
        return np.median(X, axis=0)

    def solve(self, M, rhs, transpose: bool = False):
        """Solve ``M[j] x_j = rhs[:, j]`` (``M[j]^T`` with ``transpose``) for every j;
        returns (x (k x cols), ok mask)."""
        if transpose:
            M = M.transpose(0, 2, 1)
        try:
            x = np.linalg.solve(M, rhs.T[..., None])[..., 0].T
        except np.linalg.LinAlgError:  # some matrix exactly singular: solve the others
            x = _solve_chunks(M, rhs)
        ok = np.all(np.isfinite(x), axis=0)
        return x, ok

    def clamp(self, X, lo=None, hi=None):
        return np.clip(X, lo, hi)

    def amax(self, X, axis: int):
        return X.max(axis)

    def amin(self, X, axis: int):
        return X.min(axis)

    def contiguous(self, X):
        return np.ascontiguousarray(X)

    def take_cols(self, X, cols):
        return X[:, cols]

    def addcmul_(self, T, X, Y) -> None:
        """``T += X * Y`` in place (X, Y broadcast to T)."""
        T += X * Y


class TorchOps:
    """torch implementation; ``device`` is "cpu" or "cuda" (or "cuda:N")."""

    name = "torch"

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.xp = torch
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but torch sees no CUDA device")
        self.device = torch.device(device)

    def _dtype(self, dtype: str):
        return {"float64": self.xp.float64, "float32": self.xp.float32}[str(dtype)]

    def asarray(self, x, dtype: str = "float64"):
        if isinstance(x, self.xp.Tensor):  # already a tensor (maybe on the device): no host copy
            return x.to(self.device, self._dtype(dtype)).contiguous()
        return self.xp.as_tensor(np.asarray(x), dtype=self._dtype(dtype), device=self.device).contiguous()

    def to_numpy(self, x) -> np.ndarray:
        return x.detach().to("cpu", self.xp.float64).numpy()

    def cast(self, x, dtype: str):
        return x.to(self._dtype(dtype))

    def index(self, idx: np.ndarray):
        return self.xp.as_tensor(np.asarray(idx, dtype=np.int64), device=self.device)

    def smallest(self, X, k: int):
        k = min(k, X.shape[0])
        return self.xp.topk(X, k, dim=0, largest=False, sorted=False).indices

    def gather(self, X, idx):
        return self.xp.gather(X, 0, idx)

    def scatter(self, X, idx, vals) -> None:
        X.scatter_(0, idx, vals)

    def median(self, X):
        # torch's median is the lower median; good enough for a scale estimate.
        return X.median(dim=0).values

    def solve(self, M, rhs, transpose: bool = False):
        """As `NumpyOps.solve`. LAPACK wants column-major matrices: a contiguous M is
        factored as ``(M^T)^T`` (a free view) and solved with ``adjoint``, so no copy
        (measured: the copy cost half the LU for 2000 x 62 x 62 on the CPU)."""
        linalg = self.xp.linalg
        LU, piv, info = linalg.lu_factor_ex(M.mT)
        x = linalg.lu_solve(LU, piv, rhs.T.unsqueeze(-1), adjoint=not transpose)[..., 0].T
        ok = (info == 0) & self.xp.all(self.xp.isfinite(x), dim=0)
        return x, ok

    def clamp(self, X, lo=None, hi=None):
        return X.clamp(lo, hi)

    def amax(self, X, axis: int):
        return X.amax(axis)

    def amin(self, X, axis: int):
        return X.amin(axis)

    def contiguous(self, X):
        return X.contiguous()

    def take_cols(self, X, cols):
        return X[:, cols]

    def addcmul_(self, T, X, Y) -> None:
        """``T += X * Y`` in place, one pass (X, Y broadcast to T)."""
        T.addcmul_(X, Y)


def make_ops(backend: str, device: str = "cpu"):
    """``backend`` "numpy" or "torch"."""
    if backend == "numpy":
        return NumpyOps(device)
    if backend == "torch":
        return TorchOps(device)
    raise ValueError(f"unknown batched backend {backend!r} (expected 'numpy' or 'torch')")
