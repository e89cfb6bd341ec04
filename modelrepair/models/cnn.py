"""``kind = "cnn"``: conv (no bias) -> activation -> pool -> flatten -> dense (no bias).

Model: ``f(x) = psi(beta^T pool(phi(conv(x; F))))`` with filters F (k, C, kh, kw), trained
layerwise in torch float64 by full-batch GD on ``0.5 mean (f - y)^2``: train (F, beta)
jointly, freeze F, reset beta to beta(0) and retrain beta alone (thesis, section 3).

Repair works on the exact matrix form (`modelrepair.conv_matrix`): ``conv(x; F)`` flattened
is ``x_flat @ W(F)`` with W of shape (d_in, d_out). The corruption hits the filters
(thesis: a corrupted filter weight is copied into every entry of W that shares it) or the
dense matrix W itself (``corrupt = "matrix"``, every entry, structural zeros included).
Each column j of W is repaired by LAD with design ``A = X_flat^T``:

    W~_j = W0_j + X_flat^T argmin_v || (Eta_j - W0_j) - X_flat^T v ||_1 .

Caveat (measured at fit time, ``fit_info["conv_rowspace_residual_rel"]``): with weight
sharing, ``W_j - W0_j`` is *not* in rowspace(X_flat) in general -- the filter gradient sums
patches from every position -- so exactness of the conv layer is only up to that residual.
``conv_repair = "median"`` skips the LAD and reads each filter weight back from the
corrupted W as the median of its copies -- the redundancy the matrix form really adds; it is
exact while fewer than half of each weight's copies are hit (``corrupt = "matrix"``) and
cannot help when the filters themselves were corrupted.
The dense layer is then repaired with design ``Xt~ = pool(phi(X W~))`` (or the conv with
filters read back from W~ by mean/median, ``dense_design``), where ``beta - beta0`` does lie
in rowspace(Xt) because F was frozen while beta was retrained.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from modelrepair.conv_matrix import (
    ConvIndex,
    conv_index,
    conv_matrix,
    conv_output_size,
    filters_from_matrix,
)
from modelrepair.corruption import corrupt
from modelrepair.data.mnist import load_mnist_digits
from modelrepair.models.base import ModelSpec, RepairSettings, register_model_kind
from modelrepair.outcome import CellOutcome, LayerOutcome
from modelrepair.repair import LayerRepair, repair_layer
from modelrepair.validation import require

if TYPE_CHECKING:
    import torch

Activation = Literal["tanh", "sigmoid", "relu"]
OutputActivation = Literal["identity", "tanh", "sigmoid"]


def rowspace_residual(X: np.ndarray, D: np.ndarray) -> tuple[float, float]:
    """(max abs, relative Frobenius) residual of the columns of D projected on rowspace(X)."""
    Q, R = np.linalg.qr(X.T)
    keep = np.abs(np.diag(R)) > 1e-10 * max(1.0, float(np.max(np.abs(np.diag(R)), initial=0.0)))
    Q = Q[:, keep]
    res = D - Q @ (Q.T @ D)
    norm = float(np.linalg.norm(D))
    return float(np.max(np.abs(res), initial=0.0)), float(np.linalg.norm(res) / norm) if norm > 0 else 0.0


def readback_repair(eta_W: np.ndarray, W: np.ndarray, index: ConvIndex, n_corrupted: int, tolerance: float) -> LayerRepair:
    """Repair W by the median of the copies of each filter weight: ``W~ = W(median copies)``.

    Exact whenever fewer than half of each weight's copies are corrupted (``corrupt =
    "matrix"``); useless when the filters themselves were corrupted (all copies agree).
    """
    t0 = time.perf_counter()
    W_rep = conv_matrix(filters_from_matrix(eta_W, index, "median"), index)
    out = LayerOutcome.compare("conv", W_rep, W, tolerance, n_corrupted, units_axis_size=W.shape[1])
    return LayerRepair(W_rep, out, True, time.perf_counter() - t0, 0, 0)


@dataclass
class FittedCNN:
    """A trained CNN with its training images, initial and trained parameters."""

    spec: CNNSpec
    images: np.ndarray  # (n, C, H, W)
    y: np.ndarray
    filters0: np.ndarray
    filters: np.ndarray
    beta0: np.ndarray
    beta: np.ndarray
    fit_info: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index: ConvIndex = self.spec.conv_index(self.images.shape[1:])
        self.X_flat = self.images.reshape(self.images.shape[0], -1)
        self.W0 = conv_matrix(self.filters0, self.index)
        self.W = conv_matrix(self.filters, self.index)

    # -- features -------------------------------------------------------------------------
    def features_from_matrix(self, W: np.ndarray) -> np.ndarray:
        """pool(phi(X_flat @ W)) flattened (n, p): the dense layer's design."""
        z = (self.X_flat @ W).reshape((self.X_flat.shape[0], *self.index.out_shape))
        import torch

        feats = _features(torch.from_numpy(np.ascontiguousarray(z)), self.spec)
        return feats.numpy()

    def features_from_filters(self, filters: np.ndarray) -> np.ndarray:
        return self.features_from_matrix(conv_matrix(filters, self.index))

    # -- repair ---------------------------------------------------------------------------
    def _corrupt_conv(self, eps: float, rng: np.random.Generator, settings: RepairSettings) -> tuple[np.ndarray, int, int]:
        """Return (Eta_W, corrupted parameters, corrupted matrix entries)."""
        if self.spec.corrupt == "filters":
            eta_f, mask = corrupt(self.filters, eps, settings.corruption, rng)
            entries = int(np.sum(mask.reshape(-1)[self.index.weight]))
            return conv_matrix(eta_f, self.index), int(mask.sum()), entries
        eta_W, mask = corrupt(self.W, eps, settings.corruption, rng)
        return eta_W, int(mask.sum()), int(mask.sum())

    def repair_cell(self, eps: float, rng: np.random.Generator, settings: RepairSettings) -> CellOutcome:
        eta_W, n_conv, n_entries = self._corrupt_conv(eps, rng, settings)
        eta_beta, mask_beta = corrupt(self.beta, eps, settings.corruption, rng)
        if self.spec.conv_repair == "lad":
            conv = repair_layer("conv", self.X_flat.T, eta_W, self.W0, self.W, n_conv, settings)
        else:
            conv = readback_repair(eta_W, self.W, self.index, n_conv, settings.tolerance)
        W_rep = conv.repaired
        extras: dict[str, float] = {
            "conv_matrix_entries_corrupted": float(n_entries),
            "conv_columns": float(self.index.d_out),
            "conv_shift_max": float(self.fit_info.get("conv_shift_max", np.nan)),
            "conv_rowspace_residual_rel": float(self.fit_info.get("conv_rowspace_residual_rel", np.nan)),
        }
        finite = bool(np.all(np.isfinite(W_rep)))
        if finite:
            for how in ("mean", "median"):
                back = filters_from_matrix(W_rep, self.index, how)
                extras[f"filter_readback_{how}"] = float(np.nanmax(np.abs(back - self.filters)))
        else:
            # early stop left columns unsolved (or the solver failed): no read-back
            extras["filter_readback_mean"] = extras["filter_readback_median"] = float("nan")
        seconds, certified, solved = conv.seconds, conv.certified, conv.solved_units
        stop = settings.mode == "early_stop" and not conv.outcome.exact
        if not finite or stop:  # skipped (early stop), or no usable W~ (a failed solve)
            dense_outcome = LayerOutcome("dense", False, float("inf"), float("nan"), 0, 1, int(mask_beta.sum()),
                                         attempted=not stop)
            dense_ok = True
        else:
            if self.spec.dense_design == "matrix":
                Xt = self.features_from_matrix(W_rep)
            else:
                how = "mean" if self.spec.dense_design == "filters_mean" else "median"
                Xt = self.features_from_filters(filters_from_matrix(W_rep, self.index, how))
            dense = repair_layer("dense", Xt.T, eta_beta, self.beta0, self.beta, int(mask_beta.sum()), settings)
            dense_outcome, dense_ok = dense.outcome, dense.solver_ok
            seconds += dense.seconds
            certified += dense.certified
            solved += dense.solved_units
        status = "ok" if conv.solver_ok and dense_ok else "solver_failed"
        cert = certified / max(1, solved)
        return CellOutcome((conv.outcome, dense_outcome), status, seconds, cert, extras=extras)

    def to_arrays(self) -> dict[str, np.ndarray]:
        info_keys = sorted(self.fit_info)
        return {
            "images": self.images,
            "y": self.y,
            "filters0": self.filters0,
            "filters": self.filters,
            "beta0": self.beta0,
            "beta": self.beta,
            "fit_info_keys": np.array(info_keys, dtype=str),
            "fit_info_values": np.array([self.fit_info[k] for k in info_keys], dtype=float),
        }


@register_model_kind
@dataclass(frozen=True)
class CNNSpec(ModelSpec):
    """``kind = "cnn"`` on MNIST digits 0 vs 1 (paths to the IDX files)."""

    kind = "cnn"
    cacheable = True
    path_fields: ClassVar[frozenset[str]] = frozenset({"images", "labels"})
    images: str = ""
    labels: str = ""
    n: int = 100
    selection: Literal["first", "random"] = "first"
    crop: int | None = None
    filters: int = 20
    kernel: int = 19
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    activation: Activation = "tanh"
    pool: Literal["avg", "max"] = "avg"
    pool_size: int = 2
    output_activation: OutputActivation = "identity"
    #: "auto": 0/1 labels when the output is a sigmoid, else -1/+1.
    label_coding: Literal["auto", "pm1", "01"] = "auto"
    dense_init: Literal["zero", "glorot"] = "zero"
    lr_joint: float = 0.05
    steps_joint: int = 500
    lr_dense: float = 0.05
    steps_dense: int = 500
    corrupt: Literal["filters", "matrix"] = "filters"
    #: "lad": thesis, LAD per column of W with design X_flat^T. "median": no LAD; filters
    #: read back from the corrupted W by the median of their copies, W~ = W(F~).
    conv_repair: Literal["lad", "median"] = "lad"
    dense_design: Literal["matrix", "filters_mean", "filters_median"] = "matrix"

    def __post_init__(self) -> None:
        require(self.n > 0, "n", f"must be a positive integer, got {self.n}")
        require(self.crop is None or 0 < self.crop <= 28, "crop", f"must be in 1..28, got {self.crop}")
        for name in ("filters", "kernel", "stride", "dilation", "pool_size"):
            v = getattr(self, name)
            require(v >= 1, name, f"must be >= 1, got {v}")
        require(self.padding >= 0, "padding", f"must be >= 0, got {self.padding}")
        for name in ("lr_joint", "lr_dense"):
            v = getattr(self, name)
            require(v > 0, name, f"must be > 0, got {v}")
        for name in ("steps_joint", "steps_dense"):
            v = getattr(self, name)
            require(v >= 0, name, f"must be >= 0, got {v}")
        side = self.crop or 28
        out = conv_output_size(side, self.kernel, self.stride, self.padding, self.dilation)
        require(out >= self.pool_size, "kernel", f"kernel {self.kernel} leaves a {out}x{out} output on {side}x{side} images, smaller than pool_size {self.pool_size}")

    # -- shapes -----------------------------------------------------------------------------
    @property
    def side(self) -> int:
        return self.crop or 28

    def conv_index(self, in_shape: tuple[int, ...] | None = None) -> ConvIndex:
        shape = tuple(in_shape) if in_shape is not None else (1, self.side, self.side)
        return conv_index(shape, (self.filters, shape[0], self.kernel, self.kernel), self.stride, self.padding, self.dilation)

    def n_parameters(self) -> int:
        idx = self.conv_index()
        return idx.d_in * idx.d_out + self.n_features()

    def n_features(self) -> int:
        k, ho, wo = self.conv_index().out_shape
        return k * (ho // self.pool_size) * (wo // self.pool_size)

    def coding(self) -> Literal["pm1", "01"]:
        if self.label_coding != "auto":
            return self.label_coding
        return "01" if self.output_activation == "sigmoid" else "pm1"

    # -- data and fit -------------------------------------------------------------------------
    def load(self, seed: int = 0):
        return load_mnist_digits(self.images, self.labels, self.n, labels=self.coding(), selection=self.selection, seed=seed, crop=self.crop)

    def _require_paths(self) -> None:
        require(bool(self.images), "images", "path to the MNIST images IDX file is required")
        require(bool(self.labels), "labels", "path to the MNIST labels IDX file is required")

    def check_data(self) -> None:
        self._require_paths()
        self.load()

    def fit(self, seed: np.random.SeedSequence) -> FittedCNN:
        self._require_paths()
        data_seed, train_seed = seed.spawn(2)
        data = self.load(int(data_seed.generate_state(1)[0]))
        F0, F, b0, b, info = train_layerwise(self, data.images, data.y, np.random.default_rng(train_seed))
        fitted = FittedCNN(self, data.images, data.y, F0, F, b0, b, info)
        fitted.fit_info.update(fit_diagnostics(fitted))
        return fitted

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedCNN:
        keys = [str(k) for k in np.asarray(arrays.get("fit_info_keys", np.array([], dtype=str)))]
        vals = np.asarray(arrays.get("fit_info_values", np.array([])), dtype=float)
        return FittedCNN(
            self,
            np.asarray(arrays["images"], float),
            np.asarray(arrays["y"], float),
            np.asarray(arrays["filters0"], float),
            np.asarray(arrays["filters"], float),
            np.asarray(arrays["beta0"], float),
            np.asarray(arrays["beta"], float),
            dict(zip(keys, vals.tolist(), strict=True)),
        )


def fit_diagnostics(m: FittedCNN) -> dict[str, Any]:
    """Facts the repair relies on: matrix form = conv output, rowspace residuals, shifts."""
    D = m.W - m.W0
    conv_max, conv_rel = rowspace_residual(m.X_flat, D)
    Xt = m.features_from_matrix(m.W)
    dense_max, dense_rel = rowspace_residual(Xt, (m.beta - m.beta0)[:, None])
    return {
        "conv_shift_max": float(np.max(np.abs(m.filters - m.filters0))),
        "conv_rowspace_residual_max": conv_max,
        "conv_rowspace_residual_rel": conv_rel,
        "dense_shift_max": float(np.max(np.abs(m.beta - m.beta0))),
        "dense_rowspace_residual_max": dense_max,
        "dense_rowspace_residual_rel": dense_rel,
    }


# -- training (torch, float64, full-batch GD) ---------------------------------------------------


def _act(name: str, z: torch.Tensor) -> torch.Tensor:
    import torch

    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "relu":
        return torch.relu(z)
    return z  # identity


def _features(z: torch.Tensor, spec: CNNSpec) -> torch.Tensor:
    """pool(phi(z)) flattened row-major over (k, H_pool, W_pool); z is (n, k, H_out, W_out)."""
    import torch.nn.functional as tf

    h = _act(spec.activation, z)
    pool = tf.avg_pool2d if spec.pool == "avg" else tf.max_pool2d
    return pool(h, spec.pool_size, spec.pool_size).reshape(z.shape[0], -1)


def train_layerwise(
    spec: CNNSpec, images: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """`_train_layerwise` on one torch thread (its small matmuls only lose to thread contention)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_layerwise(spec, images, y, rng)
    finally:
        torch.set_num_threads(threads)


def _train_layerwise(
    spec: CNNSpec, images: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Layerwise GD on ``0.5 mean (f - y)^2``; returns (F0, F, beta0, beta, info).

    F0 ~ Glorot uniform (Keras' default); beta0 = 0 (``dense_init="zero"``, as the thesis'
    networks) or Glorot uniform. Phase 1: GD on (F, beta) for ``steps_joint`` steps.
    Phase 2: F frozen, beta reset to beta0, GD on beta alone for ``steps_dense`` steps.
    """
    import torch
    import torch.nn.functional as tf

    t0 = time.perf_counter()
    C = images.shape[1]
    k, kh = spec.filters, spec.kernel
    lim = np.sqrt(6.0 / (C * kh * kh + k * kh * kh))
    F0 = rng.uniform(-lim, lim, size=(k, C, kh, kh))
    p = spec.n_features() if C == 1 else None
    X = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float64))
    Y = torch.from_numpy(np.asarray(y, dtype=np.float64))

    # conv2d as one float64 matmul on im2col patches (torch's float64 conv2d is slow on CPU)
    patches = tf.unfold(X, kh, dilation=spec.dilation, padding=spec.padding, stride=spec.stride)
    side = [conv_output_size(s, kh, spec.stride, spec.padding, spec.dilation) for s in images.shape[2:]]

    def feats(F: torch.Tensor) -> torch.Tensor:
        z = (F.reshape(k, -1) @ patches).reshape(X.shape[0], k, *side)
        return _features(z, spec)

    with torch.no_grad():
        p = feats(torch.from_numpy(F0)).shape[1] if p is None else p
    b0 = np.zeros(p) if spec.dense_init == "zero" else rng.uniform(-1, 1, p) * np.sqrt(6.0 / (p + 1))

    def loss_of(Z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.mean((_act(spec.output_activation, Z @ b) - Y) ** 2)

    F = torch.tensor(F0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    for _ in range(spec.steps_joint):
        gF, gb = torch.autograd.grad(loss_of(feats(F), b), [F, b])
        with torch.no_grad():
            F -= spec.lr_joint * gF
            b -= spec.lr_joint * gb
    with torch.no_grad():
        Z = feats(F)
        loss_joint = float(loss_of(Z, b))
    b = torch.tensor(b0, requires_grad=True)
    for _ in range(spec.steps_dense):
        (gb,) = torch.autograd.grad(loss_of(Z, b), [b])
        with torch.no_grad():
            b -= spec.lr_dense * gb
    with torch.no_grad():
        out = _act(spec.output_activation, Z @ b)
        loss = float(0.5 * torch.mean((out - Y) ** 2))
        cut = 0.5 if spec.coding() == "01" else 0.0
        acc = float(torch.mean(((out > cut) == (Y > cut)).double()))
    info = {"loss_joint": loss_joint, "loss": loss, "train_accuracy": acc, "train_seconds": time.perf_counter() - t0}
    return F0, F.detach().numpy().copy(), b0, b.detach().numpy().copy(), info
