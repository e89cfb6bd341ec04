"""Batched primal-dual interior-point method for LAD (all right-hand sides at once).

For ``min_x ||b_j - Q x_j||_1`` (Q d x r orthonormal, shared) solve the dual LP in the
form of quantreg's Frisch-Newton method, with ``a = (lambda + 1) / 2``:

    min  -b^T a   s.t.  Q^T a = Q^T 1 / 2,   0 <= a <= 1,

dual ``Q y + z - w = -b`` (z, w >= 0); at the optimum ``x = -y`` and the residual is
``b - Q x = w - z``. Mehrotra predictor-corrector, separate primal/dual step lengths.
Each Newton step needs ``M_j = Q^T diag(theta_j) Q`` (r x r) per column; all of them come
from ONE matrix product ``Theta^T K`` with the Khatri-Rao rows ``K[i] = vech(q_i q_i^T)``
(d x r(r+1)/2), then a batched r x r solve. Start: a = 1/2 and x from least squares (or a
given x, e.g. ADMM's), z = max(-res, 0) + delta, w = max(res, 0) + delta with delta =
0.3 mean|res| (measured: fewest iterations): primal and dual feasible.
Converged columns leave the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class IpmResult:
    """x (r x m) primal LAD solution in Q-coordinates, lam (d x m) dual in [-1, 1],
    converged mask (relative duality gap <= tol), iterations used per column."""

    x: np.ndarray
    lam: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _khatri_rao(Q: np.ndarray):
    iu = np.triu_indices(Q.shape[1])
    return np.ascontiguousarray(Q[:, iu[0]] * Q[:, iu[1]]), iu


def _normal_matrices(Theta: np.ndarray, K: np.ndarray, iu, r: int) -> np.ndarray:
    """(m, r, r) stack of Q^T diag(Theta[:, j]) Q."""
    flat = Theta.T @ K
    M = np.empty((Theta.shape[1], r, r))
    M[:, iu[0], iu[1]] = flat
    M[:, iu[1], iu[0]] = flat
    return M


def _batched_solver(M: np.ndarray):
    """``solve(rhs (r x m)) -> (r x m)`` with M[j] v_j = rhs[:, j] (batched LU, numpy).

    Where a matrix is numerically singular a small ridge (relative to its trace) is added.
    """
    if not np.all(np.isfinite(M)):
        M = np.nan_to_num(M, nan=0.0, posinf=1e300)
    tr = np.trace(M, axis1=1, axis2=2)

    def solve(rhs: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.solve(M, rhs.T[..., None])[..., 0].T
        except np.linalg.LinAlgError:
            ridge = (1e-12 * np.maximum(tr, 1e-300))[:, None, None] * np.eye(M.shape[1])
            return np.linalg.solve(M + ridge, rhs.T[..., None])[..., 0].T

    return solve


def _max_step(t: np.ndarray) -> np.ndarray:
    """Largest alpha <= 1e30 per column with 1 + alpha t >= 0 (t = dv / v, v > 0), given
    ``t.min(0)``."""
    return np.where(t < 0, -1.0 / np.minimum(t, -1e-30), 1e30)


def _steps(da, dz, dw, ia, is_, iz, iw):
    """(primal, dual) largest feasible step lengths per column."""
    ta = da * ia
    tp = np.minimum(ta.min(0), -(da * is_).max(0))
    td = np.minimum((dz * iz).min(0), (dw * iw).min(0))
    return _max_step(tp), _max_step(td)


def _direction(pt, rxz, rsw):
    """Newton direction (da, dy, dz, dw) for complementarity targets rxz, rsw."""
    Q, solve, Theta, rp, rd, a, s, z, w = pt  # a, s: 1/a, 1/s
    rho = rd - rxz * a + rsw * s  # a, s passed as reciprocals
    dy = solve(rp + Q.T @ (Theta * rho))
    da = Theta * (Q @ dy - rho)
    dz = (rxz - z * da) * a
    dw = (rsw + w * da) * s
    return da, dy, dz, dw


def ipm_lad(
    Q: np.ndarray,
    B: np.ndarray,
    x0: np.ndarray | None = None,
    tol: float = 1e-11,
    max_iter: int = 60,
    eta: float = 0.99995,
) -> IpmResult:
    """Batched Frisch-Newton LAD on all columns of B (d x m); see module doc."""
    d, r = Q.shape
    m = B.shape[1]
    K, iu = _khatri_rao(Q)
    beta = 0.5 * Q.sum(0)[:, None]  # Q^T 1 / 2
    x_out = np.zeros((r, m))
    lam_out = np.zeros((d, m))
    conv = np.zeros(m, bool)
    its = np.zeros(m, int)
    act = np.arange(m)
    b = B
    x = Q.T @ B if x0 is None else np.array(x0, float)
    res = b - Q @ x
    delta = 0.3 * np.maximum(np.mean(np.abs(res), axis=0), 1e-3)  # 0.3: fewest iterations
    a = np.full((d, m), 0.5)
    y = -x
    z = np.maximum(-res, 0.0) + delta
    w = np.maximum(res, 0.0) + delta
    s = np.full((d, m), 0.5)
    for it in range(max_iter):
        # Convergence test: relative duality gap (primal -b^T a, dual beta^T y - 1^T w).
        pobj = -(b * a).sum(0)
        dobj = (beta * y).sum(0) - w.sum(0)
        gap = (a * z).sum(0) + (s * w).sum(0)
        rp = beta - Q.T @ a
        rd = -b - Q @ y - z + w
        feas = (np.abs(rp).max(0) <= 1e-9 * (1 + np.abs(beta).max())) & (
            np.abs(rd).max(0) <= 1e-9 * (1 + np.abs(b).max(0)))
        done = feas & (np.abs(pobj - dobj) <= tol * (1.0 + np.abs(pobj))) & (
            gap <= tol * (1.0 + np.abs(pobj)))
        if it == max_iter - 1:
            done[:] = True
        if done.any():
            cols = act[done]
            x_out[:, cols] = -y[:, done]
            lam_out[:, cols] = np.clip(2.0 * a[:, done] - 1.0, -1.0, 1.0)
            conv[cols] = feas[done] & (np.abs(pobj - dobj)[done] <= tol * (1 + np.abs(pobj[done])))
            its[cols] = it
            keep = ~done
            act = act[keep]
            if act.size == 0:
                break
            a, y, z, w, s, b = a[:, keep], y[:, keep], z[:, keep], w[:, keep], s[:, keep], b[:, keep]
            rp, rd, gap = rp[:, keep], rd[:, keep], gap[keep]
        mu = gap / (2 * d)
        ia, is_, iz, iw = 1.0 / a, 1.0 / s, 1.0 / z, 1.0 / w
        Theta = 1.0 / (z * ia + w * is_)
        M = _normal_matrices(Theta, K, iu, r)
        solve = _batched_solver(M)
        pt = (Q, solve, Theta, rp, rd, ia, is_, z, w)
        inv = (ia, is_, iz, iw)

        # Predictor (affine scaling).
        da, dy, dz, dw = _direction(pt, -a * z, -s * w)
        ap, ad = _steps(da, dz, dw, *inv)
        ap, ad = np.minimum(1.0, ap), np.minimum(1.0, ad)
        mu_aff = ((a + ap * da) * (z + ad * dz) + (s - ap * da) * (w + ad * dw)).sum(0) / (2 * d)
        sigma = np.clip((mu_aff / np.maximum(mu, 1e-300)) ** 3, 0.0, 1.0)
        # Corrector (centering + second-order term).
        sm = sigma * mu
        da2, dy2, dz2, dw2 = _direction(pt, sm - a * z - da * dz, sm - s * w + da * dw)
        ap, ad = _steps(da2, dz2, dw2, *inv)
        ap, ad = np.minimum(1.0, eta * ap), np.minimum(1.0, eta * ad)
        a = a + ap * da2
        s = s - ap * da2
        y = y + ad * dy2
        z = z + ad * dz2
        w = w + ad * dw2
    return IpmResult(x_out, lam_out, conv, its)
