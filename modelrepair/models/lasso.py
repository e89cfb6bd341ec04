"""Lasso (sparse) estimator: the negative control, expected NOT repairable.

``theta = argmin (1/(2n)) ||y - X theta||^2 + alpha ||theta||_1`` by cyclic coordinate
descent (numpy, no intercept). theta is sparse and in general not in rowspace(X), so the
LAD repair ``theta~ = X^T argmin_u ||eta - X^T u||_1`` (as for the min-norm estimator)
does not return theta (Gao & Lafferty).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from modelrepair.models.base import ModelSpec, register_model_kind
from modelrepair.models.linear import DesignSpec, FittedLinear
from modelrepair.models.twolayer import LabelMap, build_design
from modelrepair.validation import require


def lasso_cd(
    X: np.ndarray, y: np.ndarray, alpha: float, max_iter: int = 10_000, tol: float = 1e-10
) -> tuple[np.ndarray, int]:
    """Coordinate descent for the lasso; returns (theta, sweeps used).

    Stops when a full sweep changes no coordinate by more than ``tol * max(1, |theta|_inf)``.
    """
    n, d = X.shape
    col_sq = np.einsum("ij,ij->j", X, X) / n
    theta = np.zeros(d)
    r = np.array(y, float)
    for sweep in range(1, max_iter + 1):
        biggest = 0.0
        for j in range(d):
            if col_sq[j] == 0.0:
                continue
            old = theta[j]
            rho = X[:, j] @ r / n + col_sq[j] * old
            new = np.sign(rho) * max(abs(rho) - alpha, 0.0) / col_sq[j]
            if new != old:
                r -= X[:, j] * (new - old)
                theta[j] = new
                biggest = max(biggest, abs(new - old))
        if biggest <= tol * max(1.0, float(np.max(np.abs(theta)))):
            return theta, sweep
    return theta, max_iter


@register_model_kind
@dataclass(frozen=True)
class LassoSpec(ModelSpec):
    """``kind = "lasso"``: sparse estimator with penalty ``alpha`` on the design."""

    kind = "lasso"
    design: DesignSpec = field(default_factory=DesignSpec)
    alpha: float = 0.05
    max_iter: int = 10_000
    tol: float = 1e-10
    label_map: LabelMap = "thesis"

    def __post_init__(self) -> None:
        require(self.alpha > 0, "alpha", f"must be > 0, got {self.alpha}")
        require(self.max_iter > 0, "max_iter", f"must be a positive integer, got {self.max_iter}")
        require(self.tol > 0, "tol", f"must be > 0, got {self.tol}")

    def fit(self, seed: np.random.SeedSequence) -> FittedLinear:
        rng = np.random.default_rng(seed)
        X, y = build_design(self.design, self.label_map, rng)
        theta, sweeps = lasso_cd(X, y, self.alpha, self.max_iter, self.tol)
        info = {"nonzeros": float(np.count_nonzero(theta)), "sweeps": float(sweeps)}
        return FittedLinear(self, X, y, theta, info)

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedLinear:
        return FittedLinear(self, arrays["X"], arrays["y"], arrays["theta"])

    def check_data(self) -> None:
        self.design.check_data()

    def n_parameters(self) -> int:
        return self.design.p
