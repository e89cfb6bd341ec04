"""Linear min-norm model: ``theta^ = X^T (X X^T)^-1 y`` (the limit of GD from 0).

theta^ lies in rowspace(X), so after corruption ``eta = theta^ + z`` it is repaired by
``theta~ = X^T argmin_u ||eta - X^T u||_1`` (LAD with design A = X^T, offset 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from modelrepair.designs import gaussian_design, load_colon, select_columns
from modelrepair.models.base import ModelSpec, RepairSettings, register_model_kind
from modelrepair.outcome import CellOutcome
from modelrepair.repair import repair_vector_cell
from modelrepair.validation import require


@dataclass(frozen=True)
class DesignSpec:
    """Where X (n x p) comes from: synthetic Gaussian, or columns of the colon data."""

    source: Literal["gaussian", "colon"] = "gaussian"
    n: int = 50
    p: int = 100
    data: str | None = None
    labels: str | None = None
    log_transform: bool = False
    standardize: bool = False

    def __post_init__(self) -> None:
        require(self.n > 0, "n", f"must be a positive integer, got {self.n}")
        require(self.p > 0, "p", f"must be a positive integer, got {self.p}")
        if self.source == "colon":
            require(self.data is not None, "data", "the colon design needs `data` (path to colon_alon1999_X.csv)")

    def check_data(self) -> None:
        if self.source == "colon":
            X, _ = load_colon(self.data, self.labels)  # raises DataFileError with the path
            require(self.p <= X.shape[1], "p", f"must be <= {X.shape[1]} (genes in {self.data}), got {self.p}")

    def build(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return (X, y). Colon: all 62 samples, p random genes, y = labels (or N(0,1))."""
        if self.source == "gaussian":
            X = gaussian_design(self.n, self.p, rng)
            return X, rng.standard_normal(self.n)
        X, y = load_colon(self.data, self.labels, log_transform=self.log_transform, standardize=self.standardize)
        X = select_columns(X, self.p, rng)
        if y is None:
            y = rng.standard_normal(X.shape[0])
        return X, y.astype(float)


def min_norm_solution(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """theta = X^T (X X^T)^-1 y: the minimum-norm least-squares solution of X theta = y.

    Computed by SVD least squares (``numpy.linalg.lstsq``), never by inverting X X^T: it
    stays in rowspace(X) and fits y even when X is rank deficient (e.g. standardized data,
    whose centred rows are linearly dependent).
    """
    return np.linalg.lstsq(X, y, rcond=None)[0]


@dataclass
class FittedLinear:
    """A fitted one-layer estimator theta on design X (min-norm or, for the lasso kind,
    sparse); repaired with A = X^T."""

    spec: ModelSpec
    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    fit_info: dict[str, float] = field(default_factory=dict)

    def repair_cell(self, eps: float, rng: np.random.Generator, settings: RepairSettings) -> CellOutcome:
        return repair_vector_cell(self.X.T, self.theta, eps, rng, settings)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"X": self.X, "y": self.y, "theta": self.theta}


@register_model_kind
@dataclass(frozen=True)
class LinearSpec(ModelSpec):
    """``kind = "linear"``: min-norm least squares on a design with n < p."""

    kind = "linear"
    design: DesignSpec = field(default_factory=DesignSpec)

    def fit(self, seed: np.random.SeedSequence) -> FittedLinear:
        rng = np.random.default_rng(seed)
        X, y = self.design.build(rng)
        return FittedLinear(self, X, y, min_norm_solution(X, y))

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedLinear:
        return FittedLinear(self, arrays["X"], arrays["y"], arrays["theta"])

    def check_data(self) -> None:
        self.design.check_data()

    def n_parameters(self) -> int:
        return self.design.p
