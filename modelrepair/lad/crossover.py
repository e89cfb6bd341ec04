"""Crossover from an interior-point LAD solution to an optimal vertex (one column at a time).

Where the LAD optimum is not unique (dual-degenerate LP), an interior-point method converges
to the relative interior of the optimal face: fewer than r = rank(Q) residuals are zero, and
the r smallest-|residual| rows need not span an optimal vertex. Purification: keep the
zero-residual rows Z fixed and move x inside ``{Q_Z x = b_Z}`` along the projected steepest
descent of ``f(x) = ||b - Q x||_1`` (or along any null direction when that is zero, i.e. f is
flat there) until the next residual reaches zero; add that row to Z; repeat until Q_Z has
rank r. f never increases (it is linear between zero crossings), so an optimal x gives an
optimal vertex; the result still has to pass the certificate.
"""

from __future__ import annotations

import numpy as np


def purify(Q: np.ndarray, b: np.ndarray, x: np.ndarray, ztol: float) -> np.ndarray:
    """Vertex x' with ``f(x') <= f(x)`` (up to round-off) through r independent rows."""
    d, r = Q.shape
    res = b - Q @ x
    Z = np.flatnonzero(np.abs(res) <= ztol)
    if Z.size:
        x = x + np.linalg.lstsq(Q[Z], res[Z], rcond=None)[0]
    for _ in range(r + 1):
        res = b - Q @ x
        res[Z] = 0.0
        if Z.size:
            _, sv, Vt = np.linalg.svd(Q[Z])
            rank = int(np.sum(sv > 1e-10 * sv[0]))
            N = Vt[rank:].T
        else:
            rank, N = 0, np.eye(r)
        if rank >= r:
            break
        g = -(Q.T @ np.sign(res))
        gp = N @ (N.T @ g)
        step = -gp if np.linalg.norm(gp) > 1e-12 * max(1.0, np.linalg.norm(g)) else N[:, 0]
        t, i = _ratio(Q @ step, res)
        if i < 0:
            step = -step
            t, i = _ratio(Q @ step, res)
            if i < 0:
                break
        x = x + t * step
        Z = np.append(Z, i)
    if Z.size >= r:
        _, _, P = _independent_rows(Q[Z], r)
        S = Z[P]
        try:
            x = np.linalg.solve(Q[S], b[S])
        except np.linalg.LinAlgError:
            pass
    return x


def _ratio(qd: np.ndarray, res: np.ndarray) -> tuple[float, int]:
    """First t > 0 where a non-zero residual res - t qd crosses zero: (t, row) or (0, -1)."""
    mask = (res != 0.0) & (res * qd > 0)
    if not mask.any():
        return 0.0, -1
    t = np.full(res.shape, np.inf)
    t[mask] = res[mask] / qd[mask]
    i = int(np.argmin(t))
    return float(t[i]), i


def _independent_rows(M: np.ndarray, r: int):
    """Pivoted QR of M^T: indices of r independent rows of M."""
    import scipy.linalg as sl

    Qf, R, P = sl.qr(M.T, mode="economic", pivoting=True)
    return Qf, R, P[:r]


def simplex_polish(Q: np.ndarray, b: np.ndarray, x: np.ndarray, max_pivots: int | None = None,
                   dup=()) -> np.ndarray:
    """Barrodale-Roberts-type basis descent from (near) a vertex, one column.

    Basis S: the r rows with the smallest |residual| at x; vertex x_S = Q_S^-1 b_S. Its
    basis dual ``Q_S^T lam_S = -Q_N^T sign(r_N)`` certifies optimality when |lam_S| <= 1.
    Otherwise row k = argmax |lam_S| leaves: along d with ``Q_S d = -sign(lam_k) e_k``
    the objective falls at rate |lam_k| - 1 and each residual crossing zero adds 2 |q_i d|
    to the slope; the step goes to the crossing where the slope turns non-negative (a
    weighted median) and that row enters S. Meant for the few columns whose interior-point
    solution lies within its tolerance of two vertices of nearly equal objective (a
    handful of pivots); stops after ``max_pivots`` (default 2 r) or on a singular basis
    and returns the last vertex (the certificate decides). ``dup``: groups of identical
    rows of Q (`certificate.duplicate_rows`), at most one of each enters the first basis.
    """
    from scipy.linalg import lu_factor, lu_solve

    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.certificate import _one_per_group

    d, r = Q.shape
    score = _one_per_group(make_ops("numpy"), np.abs(b - Q @ x)[:, None], dup)[:, 0]
    S = np.argsort(score, kind="stable")[:r]
    for _ in range(2 * r if max_pivots is None else max_pivots):
        try:
            lu = lu_factor(Q[S], check_finite=False)
        except (ValueError, np.linalg.LinAlgError):
            break
        if not np.all(np.isfinite(lu[0])) or np.min(np.abs(np.diag(lu[0]))) == 0.0:
            break
        x = lu_solve(lu, b[S], check_finite=False)
        res = b - Q @ x
        res[S] = 0.0
        lam_s = lu_solve(lu, -(Q.T @ np.sign(res)), trans=1, check_finite=False)
        k = int(np.argmax(np.abs(lam_s)))
        if not abs(lam_s[k]) > 1.0:
            break
        e = np.zeros(r)
        e[k] = -np.sign(lam_s[k])
        qd = Q @ lu_solve(lu, e, check_finite=False)
        qd[S] = 0.0
        cross = np.flatnonzero(res * qd > 0)  # residuals moving towards zero
        if cross.size == 0:
            break
        order = cross[np.argsort(res[cross] / qd[cross], kind="stable")]
        slope = (1.0 - abs(lam_s[k])) + 2.0 * np.cumsum(np.abs(qd[order]))
        S = S.copy()
        S[k] = order[min(int(np.searchsorted(slope >= 0, True)), order.size - 1)]
    return x
