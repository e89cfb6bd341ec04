"""Least-absolute-deviation (median) regression for a batch of right-hand sides.

``solve_lad(A, B)`` solves, for every column j of B,

    u_j = argmin_u || B[:, j] - A u ||_1

with one design ``A`` (rows >> columns) shared by all columns. Backends register by name;
each returns a `LadSolution` with a status per column. A failed solve is reported as
``"failed"`` and never returned as a success.

Per-column statuses:
- ``"exact_lp"``: an LP/conic solver reported optimality (HiGHS, cvxpy, quantreg).
- ``"certified"``: optimality proven by an LP dual certificate (batched solver).
- ``"failed"``: no optimal solution; the column of U is NaN.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

OK_STATUSES = frozenset({"exact_lp", "certified"})


class LadInputError(ValueError):
    """A, B contain NaN/inf or have incompatible shapes."""


@dataclass(frozen=True)
class LadSolution:
    """Solutions ``U`` (n_cols(A) x n_rhs) and a status string per right-hand side."""

    U: np.ndarray
    status: np.ndarray
    solver: str
    seconds: float
    objective: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of right-hand sides solved to optimality."""
        return np.isin(self.status, list(OK_STATUSES))

    @property
    def all_ok(self) -> bool:
        return bool(np.all(self.ok))

    @property
    def certified_fraction(self) -> float:
        return float(np.mean(self.status == "certified")) if self.status.size else float("nan")


LadBackend = Callable[..., LadSolution]
_BACKENDS: dict[str, LadBackend] = {}
DEFAULT_SOLVER = "batched"


def register_solver(name: str) -> Callable[[LadBackend], LadBackend]:
    """Decorator registering a backend ``fn(A, B, **options) -> LadSolution`` under ``name``."""

    def deco(fn: LadBackend) -> LadBackend:
        _BACKENDS[name] = fn
        return fn

    return deco


def available_solvers() -> list[str]:
    _load_builtin()
    return sorted(_BACKENDS)


def check_inputs(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate and return float64 ``A`` (2-D), ``B`` (2-D) and whether B was 1-D."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    vector = B.ndim == 1
    if vector:
        B = B[:, None]
    if A.ndim != 2 or B.ndim != 2:
        raise LadInputError(f"A must be 2-D and B 1-D or 2-D, got shapes {A.shape}, {B.shape}")
    if A.shape[0] != B.shape[0]:
        raise LadInputError(f"A has {A.shape[0]} rows but B has {B.shape[0]}")
    if not np.all(np.isfinite(A)):
        raise LadInputError("A contains NaN or inf")
    if not np.all(np.isfinite(B)):
        raise LadInputError("B contains NaN or inf")
    return A, B, vector


def solve_lad(A: np.ndarray, B: np.ndarray, solver: str | None = None, **options) -> LadSolution:
    """Solve ``min_u ||B[:, j] - A u||_1`` for every column j with backend ``solver``.

    ``B`` may be 1-D (one right-hand side); ``U`` then has one column.
    Raises `LadInputError` on NaN/inf or bad shapes, KeyError-like ValueError on an
    unknown solver name.
    """
    _load_builtin()
    name = solver or DEFAULT_SOLVER
    if name not in _BACKENDS:
        raise ValueError(f"unknown LAD solver {name!r} (available: {', '.join(sorted(_BACKENDS))})")
    A, B, _ = check_inputs(A, B)
    t0 = time.perf_counter()
    sol = _BACKENDS[name](A, B, **options)
    if sol.seconds == 0.0:
        sol = LadSolution(sol.U, sol.status, sol.solver, time.perf_counter() - t0, sol.objective)
    return sol


def _load_builtin() -> None:
    # Import for the registration side effect; cheap after the first call. A backend whose
    # library is missing (cvxpy on a bare GPU image, say) is simply not registered.
    from modelrepair.lad import highs  # noqa: F401

    for module in ("batched", "cvxpy_backend", "quantreg"):
        try:
            importlib.import_module(f"modelrepair.lad.{module}")
        except ImportError:
            pass
