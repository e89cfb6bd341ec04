"""Corruption of a parameter vector: ``eta = theta + mask * q``.

``mask_i ~ Bernoulli(eps)`` and ``q_i ~ Q`` independently. The thesis uses Q = N(1, 1),
added to the weight (not a replacement). Other Q: uniform(low, high), constant(value),
outliers (+-scale with random sign, for huge corruptions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from modelrepair.validation import require


@dataclass(frozen=True)
class CorruptionSpec:
    """The distribution Q of the additive corruption."""

    distribution: Literal["normal", "uniform", "constant", "outlier"] = "normal"
    mean: float = 1.0
    sd: float = 1.0
    low: float = -1.0
    high: float = 1.0
    value: float = 1.0
    scale: float = 1e8

    def __post_init__(self) -> None:
        require(self.sd >= 0, "sd", f"must be >= 0, got {self.sd}")
        require(self.low < self.high, "low", f"must be < high ({self.high}), got {self.low}")
        require(self.scale > 0, "scale", f"must be > 0, got {self.scale}")

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Draw q ~ Q with the given shape."""
        if self.distribution == "normal":
            return rng.normal(self.mean, self.sd, size=shape)
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, size=shape)
        if self.distribution == "constant":
            return np.full(shape, self.value, dtype=float)
        signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
        return self.scale * signs


def corrupt(
    theta: np.ndarray, eps: float, spec: CorruptionSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(eta, mask)`` with ``eta = theta + mask * q``, ``mask ~ Bernoulli(eps)``.

    The mask is drawn first, then q for every entry (same number of draws whatever eps
    is, so a given rng state gives nested corruption patterns across nothing else).
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1], got {eps}")
    theta = np.asarray(theta, dtype=float)
    mask = rng.random(theta.shape) < eps
    q = spec.sample(rng, theta.shape)
    return theta + mask * q, mask
