"""Exact finish and LP-dual optimality certificate for batched LAD.

Work in an orthonormal basis ``Q`` (d x r) of range(A): ``min_x ||b - Q x||_1`` has the same
optimal residuals and objective as ``min_u ||b - A u||_1``. A point x is optimal iff some
lambda satisfies (KKT of the LP)

    Q^T lambda = 0,   |lambda_i| <= 1,   lambda_i = sign(r_i) where r_i = (b - Q x)_i != 0.

*Exact finish.* From an approximate x, take the r rows with the smallest |residual| (a
basis S1) and solve ``Q_S1 x = b_S1`` exactly: x is then a vertex of the LP.

*Certificate.* Rows with |r_i| <= tau form the free set F (zero residual up to round-off:
at exact repair about (1 - eps) d rows, far more than r, so lambda is not unique there).
Fix lambda_i = sign(r_i) off F, keep the first-order dual estimate (clipped to [-1, 1])
on F except on r rows S2 of F with the most slack, and solve ``Q_S2^T lambda_S2 = -Q^T
lambda_rest`` exactly. The column is certified when that system is solvable,
``|lambda_S2| <= 1 + box_tol`` and the recomputed ``||Q^T lambda||_inf <= eq_tol``.
Certified means: x is optimal for a right-hand side that differs from b by at most tau on
the rows of F, so the objective is optimal to within |F| * tau.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOX_TOL = 1e-9


@dataclass
class Certificate:
    """Per-column result of `certify`: mask, dual lambda (d x cols), free-row counts."""

    certified: object
    lam: object
    n_free: object


def duplicate_rows(A: np.ndarray) -> list[np.ndarray]:
    """Groups (index arrays, >= 2 rows each) of identical rows of A (numpy).

    Two identical rows in a basis make its r x r system singular (duplicated genes in the
    colon data); `exact_finish` and the basis dual take at most one row of each group.
    Cheap when there are none: one sort of A's first column.
    """
    if A.shape[0] < 2 or A.shape[1] == 0:
        return []
    key = A[:, 0]
    ks = np.sort(key)
    if not np.any(ks[1:] == ks[:-1]):
        return []
    order = np.argsort(key, kind="stable")
    ks = key[order]
    tie = np.flatnonzero(ks[1:] == ks[:-1])
    cand = np.unique(np.concatenate([order[tie], order[tie + 1]]))
    _, inv, cnt = np.unique(A[cand], axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    return [cand[inv == g] for g in np.flatnonzero(cnt > 1)]


def _one_per_group(ops, score, dup):
    """``score`` (rows x cols) with +inf on all but the smallest-score row of each group
    of ``dup`` (ops index arrays), so that a k-smallest selection takes at most one.
    Writes into ``score`` (callers pass a temporary)."""
    if not len(dup):
        return score
    inf = float("inf")
    for g in dup:
        sub = score[g]
        keep = ops.xp.argmin(sub, 0)[None, :]
        out = 0.0 * sub + inf
        ops.scatter(out, keep, ops.gather(sub, keep))
        score[g] = out
    return score


def _rows(ops, Q, idx):
    """Stack of square systems (cols, k, r), contiguous: M[j][i, :] = Q[idx[i, j], :].
    torch on the CPU gathers through numpy's take (2000 x 62 x 62: 8.5 vs 15 ms)."""
    if ops.name == "torch" and Q.device.type == "cpu":
        return ops.xp.from_numpy(np.take(Q.numpy(), idx.T.numpy(), axis=0))
    return Q[idx.T]


#: Bytes of one chunk of float64 square systems on the CPU. glibc serves allocations above
#: 32 MB with fresh pages every time (page faults on first touch); chunks below that reuse
#: freed memory (measured, gather + LU + solve of 2000 systems 62 x 62, torch, 2 cores:
#: 60 ms whole, 38 ms in chunks of 500).
CHUNK_BYTES = 16 << 20


def column_chunks(ops, m: int, bytes_per_col: int) -> list[slice]:
    """Column slices covering range(m), each at most `CHUNK_BYTES` of ``bytes_per_col``
    (one slice off the CPU, where kernel launches, not page faults, cost)."""
    on_cpu = ops.name == "numpy" or ops.device.type == "cpu"
    step = max(1, CHUNK_BYTES // max(1, bytes_per_col)) if on_cpu else max(1, m)
    return [slice(a, min(a + step, m)) for a in range(0, m, step)] or [slice(0, 0)]


def solve_rows(ops, Q, idx, rhs, transpose: bool = False):
    """Solve ``Q[idx[:, j]] x_j = rhs[:, j]`` (the transpose with ``transpose``) for every
    column j, in column chunks (`column_chunks`): (x (k x cols), ok mask)."""
    k, m = idx.shape
    parts = [ops.solve(_rows(ops, Q, idx[:, c]), rhs[:, c], transpose=transpose)
             for c in column_chunks(ops, m, 8 * k * Q.shape[1])]
    if len(parts) == 1:
        return parts[0]
    cat = ops.xp.concatenate
    return cat([x for x, _ in parts], axis=1), cat([ok for _, ok in parts], axis=0)


def project_free(ops, Q, Ff, lam, iters: int, low=None):
    """Move lam on the free rows (mask Ff, 0/1 floats) towards ``Q^T lam = 0``.

    Minimum-norm correction ``lam_F += Q_F w`` with ``(Q_F^T Q_F) w = -Q^T lam`` solved by
    ``iters`` steps of batched conjugate gradients (Q_F^T Q_F = I - Q_N^T Q_N is well
    conditioned while the free set is most of the rows). With ``low = (Q32, Ff32)``
    (float32 copies): two refinement steps, each ``iters // 2`` float32 CG steps on the
    residual ``Q^T lam`` (float32 for the first, float64 for the second; the products,
    which dominate, at twice the speed; each step gains ~6 digits, the float32 floor is
    ~7); the corrections ``Q w`` in float64.
    """
    if low is None:
        return lam + Ff * (Q @ _cg(ops, Q, Ff, -(Q.T @ lam), iters))
    Q32, F32 = low
    k = (iters + 1) // 2
    # Step 1's residual in float32 (it needs ~1e-7 relative accuracy only: step 2
    # recomputes it in float64). The corrections Q w stay float64: float32 rounding of
    # Q w (~1e-8 on a 0.1 correction) is not removed by step 2 and can push a dual
    # entry at the box edge past 1 + BOX_TOL (measured: a column after the IPM).
    h = -(Q32.T @ ops.cast(lam, "float32"))
    lam = lam + Ff * (Q @ ops.cast(_cg(ops, Q32, F32, h, k), "float64"))
    h = ops.cast(-(Q.T @ lam), "float32")
    return lam + Ff * (Q @ ops.cast(_cg(ops, Q32, F32, h, k), "float64"))


def _cg(ops, Q, Ff, h, iters: int):
    """``iters`` batched CG steps for ``(Q^T diag(Ff) Q) w = h`` from w = 0."""
    xp = ops.xp
    w = 0.0 * h
    res, p = h, h
    rs = (res * res).sum(0)
    for _ in range(iters):
        Gp = Q.T @ (Ff * (Q @ p))
        den = (p * Gp).sum(0)
        a = xp.where(den > 0, rs / xp.where(den > 0, den, 1.0), 0.0 * den)
        w = w + a * p
        res = res - a * Gp
        rs_new = (res * res).sum(0)
        beta = xp.where(rs > 0, rs_new / xp.where(rs > 0, rs, 1.0), 0.0 * rs)
        p = res + beta * p
        rs = rs_new
    return w


def certify(
    ops, Q, B, X, lam0, tau, eq_tol: float | None = None, cg_iters: int = 0, rounds: int = 1,
    min_free: int | None = None, dup=(), mixed: bool = True,
) -> Certificate:
    """Try to certify each column x_j of X (r x cols) as optimal for b_j; see module doc."""
    xp = ops.xp
    d, r = Q.shape
    if eq_tol is None:
        eq_tol = 1e-10 * max(1.0, d**0.5)
    R = B - Q @ X
    F = xp.abs(R) <= tau
    n_free = F.sum(0)
    lam = xp.where(F, xp.clip(lam0, -1.0, 1.0), xp.sign(R))
    ok_free = n_free >= r
    cert = np.zeros(lam.shape[1], bool)
    if cg_iters:
        # Projections only where |F| >= min_free (default r + 1: with |F| = r, lambda_F is
        # determined by Q_F^T lambda_F = -Q_N^T lambda_N, which the exact basis dual below
        # solves; measured after the IPM at colon eps 0.5: 1126 of 1398 columns, whose 5
        # rounds of CG cost 0.23 s and certified none). ADMM checkpoints pass 2 r: with |F|
        # close to r, Q_F^T Q_F is ill-conditioned and CG does not converge (measured on the
        # colon layer: such vertices, not yet optimal, never certified). After the IPM, |F|
        # in (r, 2r) does certify.
        Ff = F.to(lam.dtype) if ops.name == "torch" else F.astype(lam.dtype)
        cert, lam = _pocs(ops, Q, Ff, lam, n_free >= max(r + 1, min_free or 0), cg_iters,
                          rounds, eq_tol, mixed)
    rest = np.flatnonzero(~cert)
    if rest.size:
        ir = ops.index(rest)
        c2, l2 = _basis_dual(ops, Q, ops.take_cols(F, ir), ops.take_cols(lam, ir), eq_tol, dup)
        c2 = np.asarray(ops.to_numpy(c2), bool) & np.asarray(ops.to_numpy(ok_free), bool)[rest]
        lam[:, ir] = l2
        cert[rest[c2]] = True
    return Certificate(ops.asarray(cert.astype(float)) > 0.5, lam, n_free)


def _basis_dual(ops, Q, F, lam, eq_tol, dup=()):
    """Exact correction on the r free rows with the most slack: (certified, lam)."""
    xp = ops.xp
    r = Q.shape[1]
    lam = xp.clip(lam, -1.0, 1.0)
    slack = xp.where(F, 1.0 - xp.abs(lam), -1.0 + 0.0 * lam)
    S2 = ops.smallest(_one_per_group(ops, -slack, dup), r)
    ops.scatter(lam, S2, 0.0 * ops.gather(lam, S2))
    g = Q.T @ lam
    x, ok = solve_rows(ops, Q, S2, -g, transpose=True)
    ops.scatter(lam, S2, xp.where(ok[None, :], x, 0.0 * x))
    cert = ok & (_colmax(ops, x) <= 1.0 + BOX_TOL) & (_colmax(ops, Q.T @ lam) <= eq_tol)
    return cert, lam


#: Batches of at most this many columns (numpy) project exactly (one Cholesky factor per
#: column) instead of by CG: for one right-hand side with d = 5000, r = 50 the factor costs
#: less than 3 CG iterations. Big batches keep CG (batched small factorisations in numpy
#: cost more than the CG's matrix products there).
EXACT_COLS = 4


def _exact_projectors(Q, Ff, cols):
    """Cholesky factors of ``Q_F^T Q_F`` per column in ``cols`` (dict; None where not
    positive definite), from the smaller of F and its complement N (``I - Q_N^T Q_N``:
    Q has orthonormal columns)."""
    from scipy.linalg import cho_factor

    d, r = Q.shape
    out = {}
    for j in cols:
        f = Ff[:, j] > 0
        nf = int(f.sum())
        if 2 * nf >= d:
            QN = Q[~f]
            G = np.eye(r) - QN.T @ QN
        else:
            QF = Q[f]
            G = QF.T @ QF
        try:
            out[j] = cho_factor(G, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            out[j] = None
    return out


def _project_exact(Q, f, lam, fac):
    """Minimum-norm correction on the rows of F (mask f) to ``Q^T lam = 0``, exactly."""
    from scipy.linalg import cho_solve

    w = cho_solve(fac, -(Q.T @ lam), check_finite=False)
    return lam + f * (Q @ w)


def _pocs(ops, Q, Ff, lam, ok_free, cg_iters, rounds, eq_tol, mixed=True):
    """Projections onto {Q^T lam = 0, lam off the free set fixed} alternated with the box
    [-1, 1], the free set shrinking (an active-set method for the box-constrained system).

    Round k projects lam on the current free rows (minimum-norm correction), accepts the
    column if the result lies in the box, else clips it and removes the rows it had to
    clip from the free set: they stay at +-1 from then on and the next projection moves
    only the rows with slack. Plain alternating projections (clipped rows free again)
    converge slowly where the box is nearly too small, i.e. close to the repair threshold
    (measured, colon layer, ADMM's vertices at the truth, 5 rounds: eps 0.45: 377 vs 304
    of 382 certified; eps 0.5: 115 vs 34 of 167). Every accepted lam is checked in float64
    (|lam| <= 1, ``||Q^T lam||_inf <= eq_tol``), so a wrong guess of the clipped set only
    costs the certificate, never its validity.

    Projections: exact for small numpy batches (`EXACT_COLS`), else CG, in float32 with
    float64 refinement when ``mixed`` (`project_free`). Columns leave as soon as a
    projection lies in the box. Returns (certified mask, lam that certifies where
    certified, clipped lam elsewhere).
    """
    xp = ops.xp
    m = lam.shape[1]
    cert = np.zeros(m, bool)
    lam1 = lam + 0.0
    Ff = Ff + 0.0  # shrinks per round; the caller's mask stays as it is
    act = np.flatnonzero(np.asarray(ops.to_numpy(ok_free), bool))
    exact_ok = ops.name == "numpy" and m <= EXACT_COLS
    Q32 = ops.cast(Q, "float32") if mixed and not exact_ok else None
    for _ in range(max(1, rounds)):
        if act.size == 0:
            break
        ia = ops.index(act)
        sub_f = ops.take_cols(Ff, ia) if act.size < m else Ff
        sub_l = ops.take_cols(lam1, ia) if act.size < m else lam1
        if exact_ok:
            exact = _exact_projectors(Q, Ff, act)
            lam_p = np.column_stack([
                _project_exact(Q, sub_f[:, k], sub_l[:, k], exact[j]) if exact[j] is not None
                else project_free(ops, Q, sub_f[:, k:k + 1], sub_l[:, k:k + 1], cg_iters)[:, 0]
                for k, j in enumerate(act)])
        else:
            low = (Q32, ops.cast(sub_f, "float32")) if Q32 is not None else None
            lam_p = project_free(ops, Q, sub_f, sub_l, cg_iters, low)
        good = (_colmax(ops, lam_p) <= 1.0 + BOX_TOL) & (_colmax(ops, Q.T @ lam_p) <= eq_tol)
        g = np.asarray(ops.to_numpy(good), bool)
        new = xp.where(good[None, :], lam_p, xp.clip(lam_p, -1.0, 1.0))
        slack = xp.abs(lam_p) < 1.0
        shrunk = sub_f * (slack.to(sub_f.dtype) if ops.name == "torch" else slack)
        if act.size < m:
            lam1[:, ia] = new
            Ff[:, ia] = shrunk
        else:
            lam1, Ff = new, shrunk
        cert[act[g]] = True
        act = act[~g]
    return cert, lam1


def _colmax(ops, X):
    """max |X| per column (NaN -> inf so it never passes a bound)."""
    xp = ops.xp
    A = xp.where(xp.isnan(X), float("inf") + 0.0 * X, xp.abs(X))
    return A.max(0) if ops.name == "numpy" else A.amax(0)


def exact_finish(ops, Q, B, X, dup=()):
    """Vertex through the r smallest-|residual| rows of each column: (X_new, solved mask).

    ``dup``: groups of identical rows (`duplicate_rows`); at most one row of each enters a
    basis. Columns whose basis system is singular keep their old x (mask False).
    """
    xp = ops.xp
    r = Q.shape[1]
    R = B - Q @ X
    S1 = ops.smallest(_one_per_group(ops, xp.abs(R), dup), r)
    x, ok = solve_rows(ops, Q, S1, ops.gather(B, S1))
    return xp.where(ok[None, :], x, X), ok
