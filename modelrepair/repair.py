"""Layer repair by batched LAD: the shared step of every model kind.

A layer with trained parameters ``Theta`` (rows x units), initial/offset ``Theta0`` and
design ``A`` (rows x k) satisfies ``Theta - Theta0 = A V`` after training. Given the
corrupted ``Eta``, each unit j is repaired by

    v~_j = argmin_v || (Eta_j - Theta0_j) - A v ||_1,   Theta~_j = Theta0_j + A v~_j.

All units share A, so they go to the LAD backend as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelrepair.corruption import corrupt
from modelrepair.lad import solve_lad
from modelrepair.models.base import RepairSettings
from modelrepair.outcome import CellOutcome, LayerOutcome


@dataclass(frozen=True)
class LayerRepair:
    """Repaired parameters of one layer, its outcome and solver bookkeeping."""

    repaired: np.ndarray
    outcome: LayerOutcome
    solver_ok: bool
    seconds: float
    certified: int
    solved_units: int


def repair_layer(
    name: str,
    A: np.ndarray,
    eta: np.ndarray,
    offset: np.ndarray,
    trained: np.ndarray,
    n_corrupted: int,
    settings: RepairSettings,
    chunk: int = 64,
) -> LayerRepair:
    """Repair every column of ``eta`` (rows x units; a 1-D vector is one unit).

    ``mode="full"`` solves all units. ``mode="early_stop"`` solves in chunks that double
    from 2 up to ``chunk`` units and stops after the first chunk holding a unit that is not exactly repaired
    (as the thesis did); unsolved units are reported as not repaired.
    A solver failure on any unit makes ``solver_ok`` False and leaves NaN there.
    """
    vector = eta.ndim == 1
    E = (eta - offset).reshape(eta.shape[0], -1)
    T = np.asarray(trained, float).reshape(E.shape)
    off = np.asarray(offset, float).reshape(E.shape)
    units = E.shape[1]
    repaired = np.full(E.shape, np.nan)
    seconds, certified, solver_ok, solved = 0.0, 0, True, 0
    # early_stop: chunks of 2, 4, 8, ... up to `chunk` units, so a failing layer stops
    # after a few cheap solves and a repairable one is still solved in large batches.
    step = units if settings.mode == "full" else min(2, max(1, chunk))
    start = 0
    while start < units:
        cols = slice(start, min(units, start + step))
        start = cols.stop
        if settings.mode == "early_stop":
            step = min(2 * step, max(1, chunk))
        sol = solve_lad(A, E[:, cols], solver=settings.solver, device=settings.device)
        seconds += sol.seconds
        certified += int(np.sum(sol.status == "certified"))
        solved = cols.stop
        repaired[:, cols] = off[:, cols] + A @ sol.U
        if not sol.all_ok:
            solver_ok = False
            repaired[:, cols][:, ~sol.ok] = np.nan
        if settings.mode == "early_stop":
            err = np.max(np.abs(repaired[:, cols] - T[:, cols]), axis=0)
            if not (sol.all_ok and np.all(err <= settings.tolerance)):
                break
    diff = np.abs(repaired[:, :solved] - T[:, :solved])
    per_unit = np.max(diff, axis=0) if diff.size else np.zeros(0)
    good = per_unit <= settings.tolerance  # NaN compares False
    units_repaired = int(np.sum(good))
    if settings.mode == "early_stop":
        bad = np.flatnonzero(~good)
        units_repaired = int(bad[0]) if bad.size else solved
    finite = diff[np.isfinite(diff)]
    max_abs = float(np.max(diff)) if diff.size and np.all(np.isfinite(diff)) else float("inf") if diff.size else 0.0
    mse = float(np.mean(finite**2)) if finite.size == diff.size and diff.size else float("nan")
    exact = bool(solver_ok and units_repaired == units and max_abs <= settings.tolerance)
    outcome = LayerOutcome(name, exact, max_abs, mse, units_repaired, units, int(n_corrupted))
    out = repaired[:, 0] if vector else repaired
    return LayerRepair(out, outcome, solver_ok, seconds, certified, solved)


def repair_vector_cell(
    A: np.ndarray, theta: np.ndarray, eps: float, rng: np.random.Generator, settings: RepairSettings
) -> CellOutcome:
    """One cell of a one-layer model: corrupt ``theta``, repair it as ``A u~`` (offset 0).

    Shared by the linear, random-features and lasso kinds (A = X^T or Phi^T).
    """
    eta, mask = corrupt(theta, eps, settings.corruption, rng)
    layer = repair_layer("theta", A, eta, np.zeros_like(eta), theta, int(mask.sum()), settings)
    status = "ok" if layer.solver_ok else "solver_failed"
    return CellOutcome((layer.outcome,), status, layer.seconds, layer.certified / max(1, layer.solved_units))
