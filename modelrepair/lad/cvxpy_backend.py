"""LAD through cvxpy (default conic solver, e.g. Clarabel): ``min ||b - A u||_1``."""

from __future__ import annotations

import time

import cvxpy as cp
import numpy as np

from modelrepair.lad import LadSolution, register_solver


@register_solver("cvxpy")
def solve_cvxpy(A: np.ndarray, B: np.ndarray, **_options) -> LadSolution:
    """One parametrised problem, re-solved per column of B."""
    t0 = time.perf_counter()
    m, n = A.shape
    u = cp.Variable(n)
    b = cp.Parameter(m)
    prob = cp.Problem(cp.Minimize(cp.norm1(b - A @ u)))
    U = np.full((n, B.shape[1]), np.nan)
    obj = np.full(B.shape[1], np.nan)
    status = np.empty(B.shape[1], dtype=object)
    for j in range(B.shape[1]):
        b.value = B[:, j]
        try:
            prob.solve()
            ok = prob.status == cp.OPTIMAL and u.value is not None
        except cp.error.SolverError:
            ok = False
        if ok:
            U[:, j] = u.value
            obj[j] = prob.value
        status[j] = "exact_lp" if ok else "failed"
    return LadSolution(U, status.astype(str), "cvxpy", time.perf_counter() - t0, obj)
