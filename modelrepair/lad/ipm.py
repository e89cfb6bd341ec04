"""Batched primal-dual interior-point method for LAD (all right-hand sides at once).

For ``min_x ||b_j - Q x_j||_1`` (Q d x r orthonormal, shared) solve the dual LP in the
form of quantreg's Frisch-Newton method, with ``a = (lambda + 1) / 2``:

    min  -b^T a   s.t.  Q^T a = Q^T 1 / 2,   0 <= a <= 1,

dual ``Q y + z - w = -b`` (z, w >= 0); at the optimum ``x = -y`` and the residual is
``b - Q x = w - z``. Mehrotra predictor-corrector, separate primal/dual step lengths.
Each Newton step needs ``M_j = Q^T diag(theta_j) Q`` (r x r) per column; all of them come
from ONE matrix product ``Theta^T K`` with the Khatri-Rao rows ``K[i] = vech(q_i q_i^T)``
(d x r(r+1)/2), then a batched r x r solve. Start: x from least squares (or a given x,
e.g. ADMM's), z = max(-res, 0) + delta, w = max(res, 0) + delta with delta = ``delta`` x
mean|res| (dual feasible), and the centred a = w / (z + w) (a z = s w on every row; not
primal feasible: the Newton steps' rp removes that). Measured on the colon layer (columns
ADMM did not certify): from least squares delta 0.3 (column-iterations 27.8k at eps 0.5,
26.4k with the centred a), from ADMM's 32nd iterate 0.02 (eps 0.5: 22.0k with a = 1/2,
delta 0.3; 16.2k), from its 8th 0.1 (eps 0.6: 22.9k -> 21.6k, 0.7: 22.2k -> 20.8k);
smaller deltas from a poor start cost iterations (least squares, 0.1: 20% not converged
in 60).
Converged columns leave the batch. Runs on numpy or torch (CPU or CUDA) through the
solver's array ops (`batched_ops`); on torch the normal matrices are factored once per
iteration (batched Cholesky) and solved twice (predictor, corrector).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The start's slack offset (``delta``) from a least-squares x (see the module doc).
LS_DELTA = 0.3


@dataclass
class IpmResult:
    """x (r x m) primal LAD solution in Q-coordinates, lam (d x m) dual in [-1, 1],
    converged mask (relative duality gap <= tol), iterations used per column."""

    x: np.ndarray
    lam: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _khatri_rao(ops, Q):
    """K (d x r(r+1)/2) with rows vech(q_i q_i^T), and ``full`` (r*r,): the index into
    vech of each entry of a full r x r matrix (row-major)."""
    r = Q.shape[1]
    iu = np.triu_indices(r)
    full = np.zeros((r, r), np.int64)
    full[iu] = full[iu[1], iu[0]] = np.arange(iu[0].size)
    K = ops.contiguous(Q[:, ops.index(iu[0])] * Q[:, ops.index(iu[1])])
    return K, full.ravel()


def _normal_matrices(ops, Theta, K, full, r: int, K32=None):
    """(m, r, r) stack of Q^T diag(Theta[:, j]) Q: one product ``Theta^T K`` (in float32
    with ``K32``, K's float32 copy), then a gather of the symmetric entries."""
    if K32 is not None:
        flat = ops.cast(ops.cast(Theta.T, "float32") @ K32, "float64")
    else:
        flat = Theta.T @ K
    return _symmetric_from_vech(ops, flat, full, r)


def _symmetric_from_vech(ops, flat, full, r: int, cpu_take: bool = True):
    """(m, r, r) matrices from their upper triangles (m x r(r+1)/2, row-major vech);
    torch tensors on the CPU go through numpy's take (3-4x faster than torch's gather
    there) unless ``cpu_take`` is False."""
    if ops.name == "numpy":
        return np.take(flat, full, axis=1).reshape(-1, r, r)
    if cpu_take and flat.device.type == "cpu":
        return ops.xp.from_numpy(np.take(flat.numpy(), full, axis=1).reshape(-1, r, r))
    return flat[:, ops.index(full)].reshape(-1, r, r)


def _normal_solver(ops, Theta, K, full, r: int, K32=None):
    """``solve(rhs (r x m)) -> (r x m)`` for the normal matrices of `_normal_matrices`,
    built and factored in column chunks (`certificate.column_chunks`: on the CPU, stacks
    over 32 MB are page-faulted afresh on every allocation)."""
    from modelrepair.lad.certificate import column_chunks

    chunks = column_chunks(ops, Theta.shape[1], 8 * r * r)
    if len(chunks) == 1:
        return _batched_solver(ops, _normal_matrices(ops, Theta, K, full, r, K32))
    parts = [(c, _batched_solver(ops, _normal_matrices(ops, Theta[:, c], K, full, r, K32)))
             for c in chunks]
    return lambda rhs: ops.xp.concatenate([solve(rhs[:, c]) for c, solve in parts], axis=1)


def _batched_solver(ops, M):
    """``solve(rhs (r x m)) -> (r x m)`` with M[j] v_j = rhs[:, j].

    numpy: batched LU per call; torch: one batched Cholesky, then triangular solves. Where a
    matrix is numerically singular (or, torch, not positive definite) a small ridge
    (relative to its trace) is added.
    """
    xp = ops.xp
    tr = ops.clamp(xp.diagonal(M, 0, 1, 2).sum(-1), lo=1e-300)
    eye = xp.eye(M.shape[1], dtype=M.dtype, **({"device": M.device} if ops.name == "torch" else {}))
    if ops.name == "torch":
        L, info = xp.linalg.cholesky_ex(M)
        if bool((info != 0).any()):
            # If this fails too (CUDA returns NaN factors, the CPU partial ones) the
            # column never converges and goes on to the HiGHS fallback: no wrong answer.
            L, _ = xp.linalg.cholesky_ex(M + (1e-12 * tr)[:, None, None] * eye)

        def solve_t(rhs):
            # Two triangular solves instead of torch.cholesky_solve: all solves of the
            # colon layer's IPM at eps 0.5 (1398 columns, 2 cores) 0.36 -> 0.23 s.
            y = xp.linalg.solve_triangular(L, rhs.T.unsqueeze(-1), upper=False)
            return xp.linalg.solve_triangular(L.mT, y, upper=True)[..., 0].T

        return solve_t

    def solve(rhs):
        try:
            return np.linalg.solve(M, rhs.T[..., None])[..., 0].T
        except np.linalg.LinAlgError:
            ridge = (1e-12 * tr)[:, None, None] * eye
            return np.linalg.solve(M + ridge, rhs.T[..., None])[..., 0].T

    return solve


def _newton(ops, Q, solve, Theta, rp, rho, ia, is_):
    """One Newton direction for the right-hand side rho: (dy, da, da / a, da / s, tp) with
    ``dy = M^-1 (rp + Q^T (Theta rho))``, ``da = Theta (Q dy - rho)`` and tp the primal
    ratio test's ``min(da / a, -da / s)`` per column (ia, is_ = 1/a, 1/s)."""
    dy = solve(rp + Q.T @ (Theta * rho))
    da = Q @ dy
    da -= rho
    da *= Theta
    ra, rs = da * ia, da * is_
    return dy, da, ra, rs, ops.xp.minimum(ops.amin(ra, 0), -ops.amax(rs, 0))


def _max_step(ops, t):
    """Largest alpha <= 1e30 per column with 1 + alpha t >= 0 (t = dv / v, v > 0), given
    ``t.min(0)``."""
    return ops.xp.where(t < 0, -1.0 / ops.clamp(t, hi=-1e-30), 1e30 + 0.0 * t)


def ipm_lad(
    Q: np.ndarray,
    B: np.ndarray,
    x0: np.ndarray | None = None,
    tol: float = 1e-11,
    max_iter: int = 60,
    eta: float = 0.99995,
    ops=None,
    low_gap: float = 1e-4,
    delta: float = LS_DELTA,
) -> IpmResult:
    """Batched Frisch-Newton LAD on all columns of B (d x m); see module doc (``delta``:
    the start's slack offset in units of mean|residual|, smaller the closer x0 is to
    optimal).

    Q, B, x0 are numpy arrays or arrays of ``ops`` (numpy by default); the result is numpy.
    """
    if ops is None:
        from modelrepair.lad.batched_ops import make_ops

        ops = make_ops("numpy")
    xp = ops.xp
    Q = ops.asarray(Q) if isinstance(Q, np.ndarray) else Q
    b = ops.asarray(B) if isinstance(B, np.ndarray) else B
    d, r = Q.shape
    m = b.shape[1]
    K, full = _khatri_rao(ops, Q)
    K32 = ops.cast(K, "float32") if low_gap else None
    beta = 0.5 * Q.sum(0)[:, None]  # Q^T 1 / 2
    beta_max = float(ops.amax(xp.abs(beta), 0)[0]) if r else 0.0
    x_out = np.zeros((r, m))
    lam_out = np.zeros((d, m))
    conv = np.zeros(m, bool)
    its = np.zeros(m, int)
    act = np.arange(m)
    x = Q.T @ b if x0 is None else ops.asarray(x0) if isinstance(x0, np.ndarray) else x0 + 0.0
    res = b - Q @ x
    off = delta * ops.clamp(xp.abs(res).mean(0), lo=1e-3)
    y = -x
    z = ops.clamp(-res, lo=0.0) + off
    w = ops.clamp(res, lo=0.0) + off
    a = z + w
    xp.divide(w, a, out=a)  # centred: a z = s w
    s = 1.0 - a
    bmax = ops.amax(xp.abs(b), 0)
    for it in range(max_iter):
        # Convergence test: relative duality gap (primal -b^T a, dual beta^T y - 1^T w).
        az, sw = a * z, s * w
        gap = az.sum(0) + sw.sum(0)
        pobj = -(b * a).sum(0)
        dobj = (beta * y).sum(0) - w.sum(0)
        rp = beta - Q.T @ a
        rho = Q @ y
        rho += b
        rho *= -1.0  # -(b + Q y): the predictor's rho, below
        rd = rho - z
        rd += w
        rd_max = xp.maximum(ops.amax(rd, 0), -ops.amin(rd, 0))
        feas = (ops.amax(xp.abs(rp), 0) <= 1e-9 * (1 + beta_max)) & (rd_max <= 1e-9 * (1 + bmax))
        rel = xp.abs(pobj - dobj) <= tol * (1.0 + xp.abs(pobj))
        done = np.asarray(ops.to_numpy(feas & rel & (gap <= tol * (1.0 + xp.abs(pobj)))), bool)
        if it == max_iter - 1:
            done[:] = True
        if done.any():
            cols = act[done]
            di = ops.index(np.flatnonzero(done))
            x_out[:, cols] = ops.to_numpy(-y[:, di])
            lam_out[:, cols] = ops.to_numpy(xp.clip(2.0 * a[:, di] - 1.0, -1.0, 1.0))
            conv[cols] = np.asarray(ops.to_numpy(feas & rel), bool)[done]
            its[cols] = it
            keep = ops.index(np.flatnonzero(~done))
            act = act[~done]
            if act.size == 0:
                break
            a, y, z, w, s, b = a[:, keep], y[:, keep], z[:, keep], w[:, keep], s[:, keep], b[:, keep]
            az, sw, rp, rd, rho = az[:, keep], sw[:, keep], rp[:, keep], rd[:, keep], rho[:, keep]
            gap, pobj, bmax = gap[keep], pobj[keep], bmax[keep]
        mu = gap / (2 * d)
        ia, is_ = xp.reciprocal(a), xp.reciprocal(s)
        Theta = z * ia
        ops.addcmul_(Theta, w, is_)
        xp.reciprocal(Theta, out=Theta)  # 1 / (z / a + w / s)
        if not bool(xp.isfinite(Theta.sum())):
            Theta = xp.nan_to_num(Theta, nan=0.0, posinf=1e300)
        # float32 normal matrices while every column is far from optimal (a rough Newton
        # direction costs no iterations there; residuals stay float64).
        low = bool(ops.amin(gap / (1.0 + xp.abs(pobj)), 0) > low_gap) if low_gap else False
        solve = _normal_solver(ops, Theta, K, full, r, K32 if low else None)
        # Elementwise work (most of an iteration on the CPU) runs in place where it can.
        #
        # Predictor (affine scaling): targets -a z, -s w, so rho = rd + z - w = -(b + Q y)
        # (above); with ra = da / a, rs = da / s: dz = -z (1 + ra), dw = w (rs - 1).
        dy, da, ra, rs, tp = _newton(ops, Q, solve, Theta, rp, rho, ia, is_)
        td = xp.minimum(-1.0 - ops.amax(ra, 0), ops.amin(rs, 0) - 1.0)
        ap, ad = ops.clamp(_max_step(ops, tp), hi=1.0), ops.clamp(_max_step(ops, td), hi=1.0)
        zda, wda = z * da, w * da
        ra *= zda
        ra += zda  # -da dz
        rs *= wda
        rs -= wda  # da dw
        # mu_aff = sum((a + ap da)(z + ad dz) + (s - ap da)(w + ad dw)) / 2d, expanded in
        # column sums (a dz = -(a z + z da), s dw = w da - s w).
        mu_aff = ((1.0 - ad) * gap + (ap - ad) * (zda.sum(0) - wda.sum(0))
                  - ap * ad * (ra.sum(0) + rs.sum(0))) / (2 * d)
        sigma = ops.clamp((mu_aff / ops.clamp(mu, lo=1e-300)) ** 3, 0.0, 1.0)
        sm = sigma * mu
        # Corrector (centering + second-order term): targets rxz = sm - a z - da dz,
        # rsw = sm - s w + da dw, kept divided by a and s (in ra, rs).
        ra -= az
        ra += sm
        ra *= ia
        rs -= sw
        rs += sm
        rs *= is_
        rho = rd - ra
        rho += rs
        dy, da, pa, ps, tp = _newton(ops, Q, solve, Theta, rp, rho, ia, is_)
        pa *= z
        ra -= pa  # dz = (rxz - z da) / a
        ps *= w
        rs += ps  # dw = (rsw + w da) / s
        xp.divide(ra, z, out=pa)
        xp.divide(rs, w, out=ps)
        td = xp.minimum(ops.amin(pa, 0), ops.amin(ps, 0))
        ap = ops.clamp(eta * _max_step(ops, tp), hi=1.0)
        ad = ops.clamp(eta * _max_step(ops, td), hi=1.0)
        da *= ap
        a += da
        s -= da
        y = y + ad * dy
        ops.addcmul_(z, ad, ra)
        ops.addcmul_(w, ad, rs)
    return IpmResult(x_out, lam_out, conv, its)
