"""Exact LP fallback for columns the batched solver could not certify.

One highspy model ``min 1^T (s+ + s-)  s.t.  A u + s+ - s- = b`` is built once; for each
right-hand side only the row bounds change, so HiGHS (dual simplex) warm-starts from the
previous optimal basis. If highspy is missing or a solve fails, scipy's HiGHS is tried.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import scipy.sparse as sp


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 (C-level prints) for the duration of the block."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. embedded): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def solve_highs_warm(
    A: np.ndarray, B: np.ndarray, U0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact LAD per column of B: (U (n x m), ok mask).

    ``U0`` (n x m, optional; full-rank A only): starting points, e.g. the batched solver's
    vertices. Each becomes a starting basis: u basic, the n smallest-|residual| rows with
    both slacks at zero, elsewhere the slack carrying the residual basic.
    """
    d, n = A.shape
    m = B.shape[1]
    U = np.full((n, m), np.nan)
    ok = np.zeros(m, bool)
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is a dependency
        highspy = None
    if highspy is not None and m:
        h = _build(highspy, A, B[:, 0])
        rows = np.arange(d, dtype=np.int32)
        for j in range(m):
            if j:
                h.changeRowsBounds(d, rows, B[:, j], B[:, j])
            if U0 is not None and np.all(np.isfinite(U0[:, j])):
                _set_basis(highspy, h, A, B[:, j], U0[:, j])
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                U[:, j] = np.asarray(h.getSolution().col_value[:n])
                ok[j] = True
    if not ok.all():
        from modelrepair.lad.highs import lad_lp_one

        for j in np.flatnonzero(~ok):
            U[:, j], _, ok[j] = lad_lp_one(A, B[:, j])
    return U, ok


def _set_basis(highspy, h, A, b, u) -> None:
    d, n = A.shape
    r = b - A @ u
    zero = np.argpartition(np.abs(r), n - 1)[:n] if n < d else np.arange(d)
    S = highspy.HighsBasisStatus
    plus = np.where(r > 0, S.kBasic, S.kLower).astype(object)
    minus = np.where(r > 0, S.kLower, S.kBasic).astype(object)
    plus[zero] = S.kLower
    minus[zero] = S.kLower
    basis = highspy.HighsBasis()
    basis.col_status = [S.kBasic] * n + list(plus) + list(minus)
    basis.row_status = [S.kLower] * d
    basis.valid = True
    h.setBasis(basis)


def _build(highspy, A: np.ndarray, b: np.ndarray):
    d, n = A.shape
    M = sp.hstack([sp.csc_matrix(A), sp.eye(d), -sp.eye(d)], format="csc")
    lp = highspy.HighsLp()
    lp.num_col_ = n + 2 * d
    lp.num_row_ = d
    lp.col_cost_ = np.concatenate([np.zeros(n), np.ones(2 * d)])
    lp.col_lower_ = np.concatenate([np.full(n, -highspy.kHighsInf), np.zeros(2 * d)])
    lp.col_upper_ = np.full(n + 2 * d, highspy.kHighsInf)
    lp.row_lower_ = b.astype(float)
    lp.row_upper_ = b.astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(float)
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = d
    with _quiet_stdout():  # the C++ constructor prints a banner before any option is set
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("presolve", "off")
    h.passModel(lp)
    return h
