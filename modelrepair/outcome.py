"""Outcomes of one repair cell: per-layer errors and the overall verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CellStatus = Literal["ok", "solver_failed", "error"]


@dataclass(frozen=True)
class LayerOutcome:
    """How well one layer (parameter block) was repaired.

    ``exact`` is ``max_abs_error <= tolerance`` over the units that were repaired and
    every unit repaired (``units_repaired == units_total``). ``attempted`` is False for a
    layer whose repair was skipped (early stop after an earlier layer failed): it is not
    repaired, and per-layer statistics leave it out.
    """

    name: str
    exact: bool
    max_abs_error: float
    mse: float
    units_repaired: int
    units_total: int
    n_corrupted: int
    attempted: bool = True

    @staticmethod
    def compare(
        name: str,
        repaired: np.ndarray,
        trained: np.ndarray,
        tolerance: float,
        n_corrupted: int,
        units_axis_size: int = 1,
        units_repaired: int | None = None,
    ) -> LayerOutcome:
        """Compare repaired vs trained parameters (any shape) at ``tolerance``.

        For a layer with ``units_axis_size`` units (columns of a weight matrix) the
        number of exactly repaired units is counted per column unless given.
        """
        diff = np.abs(np.asarray(repaired, float) - np.asarray(trained, float))
        if units_repaired is None:
            if diff.ndim == 2 and units_axis_size > 1:
                units_repaired = int(np.sum(np.max(diff, axis=0) <= tolerance))
            else:
                units_repaired = int(np.max(diff, initial=0.0) <= tolerance) * units_axis_size
        max_abs = float(np.max(diff, initial=0.0))
        mse = float(np.mean(diff**2)) if diff.size else 0.0
        exact = bool(np.isfinite(max_abs) and max_abs <= tolerance and units_repaired == units_axis_size)
        return LayerOutcome(name, exact, max_abs, mse, units_repaired, units_axis_size, n_corrupted)


@dataclass(frozen=True)
class CellOutcome:
    """Result of corrupting and repairing one model once (one (model, eps, trial) cell)."""

    layers: tuple[LayerOutcome, ...]
    status: CellStatus = "ok"
    solve_seconds: float = 0.0
    certified_fraction: float = float("nan")
    message: str = ""
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def exact_repair(self) -> bool:
        """True when the solve succeeded and every layer is repaired within tolerance."""
        return self.status == "ok" and all(layer.exact for layer in self.layers)
