"""Random-features model: fixed random first layer F, min-norm output layer.

``Phi = s * phi(X F)`` (n x p) with F (d x p) ~ N(0, feature_sd^2) drawn once from the fit
seed; ``theta = Phi^T (Phi Phi^T)^-1 y`` lies in rowspace(Phi), so a corrupted
``eta = theta + z`` is repaired by ``theta~ = Phi^T argmin_u ||eta - Phi^T u||_1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from modelrepair.models.base import ModelSpec, RepairSettings, register_model_kind
from modelrepair.models.linear import DesignSpec
from modelrepair.models.twolayer import LabelMap, OutputScaling, build_design
from modelrepair.outcome import CellOutcome
from modelrepair.repair import repair_vector_cell
from modelrepair.training import Activation, hidden_features
from modelrepair.validation import require


def min_norm_lstsq(Phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares theta (= Phi^T (Phi Phi^T)^-1 y at full row rank), by SVD.

    Unlike solving with the Gram matrix, it stays numerically inside rowspace(Phi) when
    Phi is rank deficient (e.g. centred designs or dead ReLU features).
    """
    return np.linalg.lstsq(Phi, y, rcond=None)[0]


@dataclass
class FittedRandomFeatures:
    spec: RandomFeaturesSpec
    X: np.ndarray
    y: np.ndarray
    F: np.ndarray
    theta: np.ndarray
    fit_info: dict[str, float] = field(default_factory=dict)

    @property
    def Phi(self) -> np.ndarray:
        return hidden_features(self.X, self.F, self.spec.activation, self.spec.scale)

    def repair_cell(self, eps: float, rng: np.random.Generator, settings: RepairSettings) -> CellOutcome:
        return repair_vector_cell(self.Phi.T, self.theta, eps, rng, settings)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"X": self.X, "y": self.y, "F": self.F, "theta": self.theta}


@register_model_kind
@dataclass(frozen=True)
class RandomFeaturesSpec(ModelSpec):
    """``kind = "random_features"``: p = ``features`` random features of a d-input design
    (``design.p`` = d); F ~ N(0, feature_sd^2), default sd 1/sqrt(d)."""

    kind = "random_features"
    design: DesignSpec = field(default_factory=DesignSpec)
    features: int = 200
    activation: Activation = "tanh"
    output_scaling: OutputScaling = "none"
    feature_sd: float | None = None
    label_map: LabelMap = "thesis"

    def __post_init__(self) -> None:
        require(self.features > 0, "features", f"must be a positive integer, got {self.features}")
        require(self.feature_sd is None or self.feature_sd > 0, "feature_sd", f"must be > 0, got {self.feature_sd}")

    @property
    def scale(self) -> float:
        return 1.0 / np.sqrt(self.features) if self.output_scaling == "inv_sqrt_p" else 1.0

    def fit(self, seed: np.random.SeedSequence) -> FittedRandomFeatures:
        rng = np.random.default_rng(seed)
        X, y = build_design(self.design, self.label_map, rng)
        sd = 1.0 / np.sqrt(X.shape[1]) if self.feature_sd is None else self.feature_sd
        F = rng.normal(0.0, sd, size=(X.shape[1], self.features))
        Phi = hidden_features(X, F, self.activation, self.scale)
        theta = min_norm_lstsq(Phi, y)
        info = {"train_residual": float(np.linalg.norm(Phi @ theta - y))}
        return FittedRandomFeatures(self, X, y, F, theta, info)

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedRandomFeatures:
        return FittedRandomFeatures(self, arrays["X"], arrays["y"], arrays["F"], arrays["theta"])

    def check_data(self) -> None:
        self.design.check_data()

    def n_parameters(self) -> int:
        return self.features
