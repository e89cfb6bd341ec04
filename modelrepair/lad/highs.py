"""Exact LAD by linear programming with HiGHS (scipy ``linprog(method="highs")``).

LP for one right-hand side b (A is m x n):  min 1^T (s+ + s-)
s.t. A u + s+ - s- = b, s+, s- >= 0, u free.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from modelrepair.lad import LadSolution, register_solver


def lad_lp_one(A: np.ndarray, b: np.ndarray, A_eq: sp.csr_matrix | None = None):
    """Solve one LAD LP; returns (u, objective, ok)."""
    m, n = A.shape
    if A_eq is None:
        A_eq = sp.hstack([sp.csr_matrix(A), sp.eye(m), -sp.eye(m)], format="csr")
    c = np.concatenate([np.zeros(n), np.ones(2 * m)])
    bounds = [(None, None)] * n + [(0, None)] * (2 * m)
    res = linprog(c, A_eq=A_eq, b_eq=b, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        return np.full(n, np.nan), np.nan, False
    return res.x[:n], float(res.fun), True


@register_solver("highs")
def solve_highs(A: np.ndarray, B: np.ndarray, **_options) -> LadSolution:
    """One exact LP per column of B, all sharing the sparse constraint matrix."""
    t0 = time.perf_counter()
    m, n = A.shape
    A_eq = sp.hstack([sp.csr_matrix(A), sp.eye(m), -sp.eye(m)], format="csr")
    U = np.empty((n, B.shape[1]))
    obj = np.empty(B.shape[1])
    status = np.empty(B.shape[1], dtype=object)
    for j in range(B.shape[1]):
        U[:, j], obj[j], ok = lad_lp_one(A, B[:, j], A_eq)
        status[j] = "exact_lp" if ok else "failed"
    return LadSolution(U, status.astype(str), "highs", time.perf_counter() - t0, obj)
