"""Batched LAD: ADMM on all right-hand sides at once, exact finish, LP-dual certificate.

For ``min_u ||B[:, j] - A u||_1`` with one A (d x n) shared by all columns:

1. Thin SVD of A once: Q = orthonormal basis of range(A) (rank r, so duplicated or
   collinear columns are harmless), u = V_r S_r^-1 x.
2. Scale each column by the median |least-squares residual| (robust to huge outliers).
3. Batched ADMM (`admm.py`) in ``dtype`` (float32 by default: the two products per
   iteration dominate and run twice as fast; ADMM only proposes vertices and a starting
   dual, finish and certificate are float64; or float64) on ``device`` (numpy, or
   torch on "cpu"/"cuda"; `choose_backend`); at checkpoints, in float64, the exact
   finish and certificate (`certificate.py`) run on the columns not yet certified;
   certified columns leave the batch.
4. Columns ADMM does not certify quickly (a checkpoint certifies fewer than ``ipm_yield``
   of them; at the first checkpoint judged on a sample: failing repair, non-degenerate
   optima) go to the batched interior-point stage (`ipm.py`), then the same vertex finish
   (with a crossover, `crossover.py`, where the optimum is not unique, and simplex
   pivots where the finish lands on a vertex next to the optimal one) and certificate.
5. Columns still uncertified go to HiGHS (status "exact_lp", or "failed" if HiGHS fails
   too).

Status per column: "certified", "exact_lp" or "failed" (U is NaN there).
"""

from __future__ import annotations

import os
import time

import numpy as np

from modelrepair.lad import LadSolution, register_solver
from modelrepair.lad.admm import admm_init, admm_iterate, dual_estimate
from modelrepair.lad.batched_ops import make_ops
from modelrepair.lad.certificate import certify, duplicate_rows, exact_finish
from modelrepair.lad.ipm import LS_DELTA

#: ADMM iteration counts at which the exact finish + certificate is attempted.
_DEBUG = bool(os.environ.get("MODELREPAIR_LAD_DEBUG"))
_PROBE = 100
CHECKPOINTS = (8, 16, 24, 32, 45, 60, 80, 100, 130, 160, 200, 250, 300, 400, 500)
#: Big batches whose first-checkpoint sample certifies at least ``ipm_yield`` but less than
#: this skip that checkpoint and have their first full one at the next (measured, colon
#: layer, 5 alternated pairs: eps 0.4 0.65 -> 0.62 s, 0.45 1.01 -> 0.94 s, 0.3 unchanged;
#: a checkpoint costs about 20 ADMM iterations, and at iteration 8 near the threshold half
#: of the columns are not at their vertex yet).
SKIP_YIELD = 0.9
#: Where the first checkpoint certifies little (big batches), ADMM runs on to this iteration
#: and certifies once there (if a sample yields at least ``late_yield``) before the IPM.
#: Also where the first sample certifies nothing (far past the threshold): the IPM's start
#: from this iterate saves more than the run-on costs (measured, colon layer, 3 alternated
#: runs each: eps 0.52 / 0.56 / 0.6 / 0.7 / 0.8: 3.13 -> 2.72 / 2.69 -> 2.52 / 2.50 ->
#: 2.42 / 2.39 -> 2.29 / 2.36 -> 2.26 s against the IPM at iteration 8).
LATE_CHECK = 32
#: Batches of <= 4 columns: a checkpoint (exact projection) costs about 5 ADMM iterations
#: there, against ~20 for a big batch (CG), so checking earlier pays (measured: n = 50,
#: p = 5000, 7-10% faster; the colon layer is faster with the first check at 8).
CHECKPOINTS_SMALL = (5, 10, 16, 24, 32, 45, 60, 80, 100, 130, 160, 200, 250, 300, 400, 500)


def range_basis(A: np.ndarray, rank_tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """(Q, T): Q (d x r) orthonormal basis of range(A), T (n x r) with A T = Q.

    Well-conditioned A (LAPACK's estimate of cond_1(A^T A) below 1e3, so cond(A) < ~30):
    Cholesky QR, T = L^-T (a fifth of the eigen-decomposition's time for n = 50). Otherwise
    (cond < 1e4): eigen-decomposition of A^T A (repeated once on Q^T Q when cond > 100,
    CholeskyQR2-like; BLAS-3 only). Otherwise, or if rank-deficient: thin SVD with relative
    rank tolerance.
    """
    from scipy.linalg import lapack

    G = A.T @ A
    if G.size:
        L, info = lapack.dpotrf(G, lower=1, clean=1)
        if info == 0:
            rcond, info = lapack.dpocon(L, float(np.abs(G).sum(0).max()), uplo="L")
            if info == 0 and rcond > 1e-3:
                Li, info = lapack.dtrtri(L, lower=1)
                if info == 0:
                    T = Li.T
                    return A @ T, T
    w, V = np.linalg.eigh(G)
    if w.size and w[0] > 1e-8 * w[-1] > 0:
        T = V / np.sqrt(w)
        Q = A @ T
        if w[0] > 1e-4 * w[-1]:  # cond(A) < 100: Q^T Q = I to ~1e-12 already
            return Q, T
        w2, V2 = np.linalg.eigh(Q.T @ Q)
        T2 = V2 / np.sqrt(w2)
        return np.ascontiguousarray(Q @ T2), T @ T2
    Uf, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > rank_tol * s[0])) if s.size and s[0] > 0 else 0
    return np.ascontiguousarray(Uf[:, :r]), Vt[:r].T / s[:r]


def median0(X: np.ndarray) -> np.ndarray:
    """``np.median(X, axis=0)`` (finite X, at least one row), 4x faster for 1000 x 2000:
    one partition at the middle and a max of the lower half instead of two kth values."""
    n = X.shape[0]
    if n == 0:
        return np.full(X.shape[1:], np.nan)
    h = n // 2
    P = np.partition(X, h, axis=0)
    return P[h] if n % 2 else 0.5 * (P[:h].max(axis=0) + P[h])


def column_scale(Q: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Median |least-squares residual| per column (falls back to max|b|, then 1)."""
    res = np.abs(B - Q @ (Q.T @ B))
    c = median0(res)
    big = np.max(np.abs(B), axis=0) if B.size else np.zeros(B.shape[1])
    c = np.where(c > 1e-12 * big, c, big)
    return np.where(c > 0, c, 1.0)


#: Fewest entries d x m of a batch for which the CPU solver runs in torch when ``backend``
#: is left to choose (measured on the colon layer, d = 1000, 2 cores, AVX-512: numpy is
#: faster up to ~800 columns (its single-threaded elementwise work stays in cache), torch
#: from ~1000 columns on: 2000 columns 0.48 -> 0.39 s at eps 0.1, 0.62 -> 0.49 s at 0.3,
#: 4.5 -> 4.3 s at 0.5).
TORCH_MIN_ENTRIES = 1_000_000


def choose_backend(backend: str | None, device: str, entries: int) -> str:
    """The array library for a batch of ``entries`` = d x m: ``backend`` if given (not
    "auto"); torch off the CPU; on the CPU torch for batches of at least
    `TORCH_MIN_ENTRIES` entries when torch is installed, else numpy."""
    if backend not in (None, "auto"):
        return backend
    if device != "cpu":
        return "torch"
    if entries >= TORCH_MIN_ENTRIES:
        try:
            import torch  # noqa: F401
        except ImportError:
            return "numpy"
        return "torch"
    return "numpy"


@register_solver("batched")
def solve_batched(
    A: np.ndarray,
    B: np.ndarray,
    device: str = "cpu",
    dtype: str = "float32",
    backend: str | None = None,
    max_iter: int = 500,
    threshold: float = 1.0,
    alpha: float = 1.6,
    zero_tol: float = 1e-9,
    fallback: str | None = "highs",
    cg_iters: int = 12,
    rounds: int = 5,
    stall_after: int = 32,
    stall_frac: float = 0.005,
    ipm: bool = True,
    ipm_yield: float = 0.25,
    ipm_tol: float = 1e-11,
    ipm_backend: str = "auto",
    late_yield: float = 0.1,
    **_options,
) -> LadSolution:
    """Batched ADMM + exact finish + LP-dual certificate; HiGHS for the uncertified rest.

    ``backend`` ("numpy", "torch" or None/"auto" = `choose_backend`): numpy for small
    batches on the CPU, torch for big ones and off the CPU (``device="cuda"``).

    ``threshold`` is the ADMM soft-threshold 1/rho in units of the column scale;
    ADMM stops early (``stall_after`` iterations or later) when a checkpoint certifies
    fewer than ``stall_frac`` of the active columns; with ``ipm`` (default) it stops at
    the first checkpoint that certifies fewer than ``ipm_yield`` of the active columns and
    the rest go to the batched interior-point stage (big batches: judged on a sample at
    the first checkpoint; if it is low, ADMM runs on to `LATE_CHECK` and certifies there
    once when a sample yields at least ``late_yield``; below `SKIP_YIELD`, the first full
    checkpoint is the next one) (`ipm.py`, relative gap ``ipm_tol``), whose solutions get
    the same vertex finish and certificate (``ipm_backend``: "numpy", "torch" or "auto",
    see `_ipm_ops`). ``fallback=None`` reports uncertified columns as "failed" instead of
    calling HiGHS.
    """
    t0 = time.perf_counter()
    d, n = A.shape
    m = B.shape[1]
    ops = make_ops(choose_backend(backend, device, d * m), device)
    U = np.full((n, m), np.nan)
    status = np.full(m, "failed", dtype=object)
    Qn, T = range_basis(A)
    r = Qn.shape[1]
    if r == 0:  # A == 0: every u is optimal, objective ||b||_1; lambda = sign(b) certifies.
        U[:] = 0.0
        status[:] = "certified"
        return _result(A, B, U, status, t0)
    scale = column_scale(Qn, B)
    Bn = B / scale
    tau_np = zero_tol * (1.0 + median0(np.abs(Bn)))
    Q64, B64 = ops.asarray(Qn), ops.asarray(Bn)
    Q, Bw = ops.cast(Q64, dtype), ops.cast(B64, dtype)
    # numpy: a transposed view (BLAS takes the transpose flag; a d x r copy costs more than
    # the whole ADMM for one right-hand side: fresh pages); torch: a contiguous copy.
    QT = Q.T.contiguous() if ops.name == "torch" else Q.T
    tau = ops.asarray(tau_np)
    dup_np = duplicate_rows(A)
    dup = [ops.index(g) for g in dup_np]
    X = np.full((r, m), np.nan)
    active = np.arange(m)
    st = admm_init(ops, Q, Bw, threshold)
    done = 0
    x_last = None
    schedule = CHECKPOINTS_SMALL if m <= 4 else CHECKPOINTS
    last = False

    def probe_yield() -> float:
        """Fraction certified on a sample of _PROBE active columns (cheap yield estimate)."""
        pi = np.linspace(0, active.size - 1, _PROBE).astype(int)
        ip = ops.index(pi)
        bp = ops.take_cols(B64, ops.index(active[pi]))
        xp_, _ = exact_finish(ops, Q64, bp, ops.cast(ops.take_cols(st.x, ip), "float64"), dup)
        lp = ops.cast(ops.take_cols(dual_estimate(st, threshold), ip), "float64")
        cp_ = certify(ops, Q64, bp, xp_, lp, tau[ops.index(active[pi])],
                      cg_iters=cg_iters, rounds=rounds, min_free=2 * r, dup=dup)
        return float(np.asarray(ops.to_numpy(cp_.certified), bool).mean())

    for cp in [c for c in schedule if c <= max_iter] or [max_iter]:
        if cp <= done:
            continue
        st = admm_iterate(ops, Q, QT, Bw, st, cp - done, threshold, alpha)
        done = cp
        yp = (probe_yield() if ipm and done == CHECKPOINTS[0] and active.size >= 4 * _PROBE
              else None)
        if yp is not None and yp < ipm_yield:
            # Few certificates yet (near or past the repair threshold): ADMM reaches the
            # vertices of the columns that do repair by about iteration LATE_CHECK
            # (measured, colon eps 0.5); run on to there without checkpoints, certify those
            # once if a sample says there are enough, and give the rest to the IPM (which
            # starts better from there, see LATE_CHECK).
            late = min(LATE_CHECK, max_iter)
            st = admm_iterate(ops, Q, QT, Bw, st, late - done, threshold, alpha)
            done = cp = late
            last = True  # this checkpoint is ADMM's last: the rest go to the IPM
            if probe_yield() < late_yield:
                if _DEBUG:
                    print(f"iter {cp}: probe yield low, all {active.size} to the IPM", flush=True)
                break
        elif yp is not None and yp < SKIP_YIELD and CHECKPOINTS[1] <= max_iter:
            # Many columns not at their vertex yet: a full checkpoint now would leave many
            # for the next one; go on to that one instead.
            st = admm_iterate(ops, Q, QT, Bw, st, CHECKPOINTS[1] - done, threshold, alpha)
            done = cp = CHECKPOINTS[1]
        cols = ops.index(active)
        b64 = ops.take_cols(B64, cols) if active.size < m else B64
        x, _ = exact_finish(ops, Q64, b64, ops.cast(st.x, "float64"), dup)
        lam0 = ops.cast(dual_estimate(st, threshold), "float64")
        cert = certify(ops, Q64, b64, x, lam0, tau[cols], cg_iters=cg_iters, rounds=rounds,
                       min_free=2 * r, dup=dup)
        good = np.asarray(ops.to_numpy(cert.certified), bool)
        x_last = ops.to_numpy(x)[:, ~good]
        if _DEBUG:
            print(f"iter {cp}: active {active.size}, certified {good.sum()}"
                  f" t={time.perf_counter() - t0:.3f}", flush=True)
        # Few certificates per round (non-degenerate optima, failing repair): ADMM would cost
        # more than the IPM (big batches: judged at once) or HiGHS solves it saves.
        big = active.size >= 4 * _PROBE
        low_ipm = last or (ipm and good.sum() < ipm_yield * active.size
                           and (big or cp >= stall_after))
        stalled = cp >= stall_after and good.sum() < max(1.0, stall_frac * active.size)
        if low_ipm or stalled:
            if good.any():
                X[:, active[good]] = ops.to_numpy(x)[:, good]
                status[active[good]] = "certified"
                active = active[~good]
                st = st.take(ops.index(np.flatnonzero(~good)))
            break
        if good.any():
            X[:, active[good]] = ops.to_numpy(x)[:, good]
            status[active[good]] = "certified"
            keep = np.flatnonzero(~good)
            active = active[keep]
            if active.size == 0:
                break
            kidx = ops.index(keep)
            st = st.take(kidx)
            Bw = ops.take_cols(Bw, kidx)
    if active.size and ipm:
        x0 = ops.to_numpy(st.x)  # ADMM's iterate (aligned with active): IPM warm start
        warm = x0.shape[1] == active.size
        x_last = _ipm_stage(ops, Qn, Bn, active, X, status, tau_np, cg_iters, rounds, ipm_tol,
                            x0 if warm else None, dup_np, ipm_backend,
                            ipm_start_delta(done) if warm else LS_DELTA)
        active = active[status[active] != "certified"]
    U_cert = status == "certified"
    U[:, U_cert] = (T @ X[:, U_cert]) * scale[U_cert]
    if active.size and fallback == "highs":
        from modelrepair.lad.batched_fallback import solve_highs_warm

        U0 = None
        if r == n and x_last is not None and x_last.shape[1] == active.size:
            U0 = (T @ x_last) * scale[active]  # the last vertices: warm-start bases
        u_lp, ok = solve_highs_warm(A, B[:, active], U0)
        U[:, active[ok]] = u_lp[:, ok]
        status[active[ok]] = "exact_lp"
    return _result(A, B, U, status, t0)


def ipm_start_delta(admm_iters: int) -> float:
    """The IPM's start offset (`ipm.ipm_lad`'s ``delta``) from ADMM's iterate after
    ``admm_iters`` iterations: 0.02 from `LATE_CHECK` on, else 0.1 (measured on the colon
    layer, see `ipm`: smaller offsets suit better starts, too small ones cost iterations)."""
    return 0.02 if admm_iters >= LATE_CHECK else 0.1


#: Fewest columns for which ``ipm_backend="auto"`` runs the numpy solver's IPM in torch.
IPM_TORCH_MIN_COLS = 64


def _ipm_ops(ops, ipm_backend: str, cols: int):
    """Array ops for the IPM stage. "auto": torch on the CPU for numpy batches of at least
    `IPM_TORCH_MIN_COLS` columns when torch is installed (measured on the colon layer at
    eps 0.5, 2 cores: IPM 3.7 s in torch vs 4.6 s in numpy; its elementwise work runs on
    all cores and it factors each normal matrix once per iteration), else the solver's."""
    if ipm_backend == "auto":
        if ops.name != "numpy" or cols < IPM_TORCH_MIN_COLS:
            return ops
        try:
            return make_ops("torch")
        except ImportError:
            return ops
    return ops if ipm_backend == ops.name else make_ops(ipm_backend)


def _ipm_stage(ops, Qn, Bn, active, X, status, tau_np, cg_iters, rounds, tol, x0=None, dup=(),
               ipm_backend="auto", delta=LS_DELTA):
    """IPM on the columns ``active`` (float64, backend from `_ipm_ops`), then vertex
    finish + certificate (the solver's backend; crossover in numpy).

    Writes certified columns into X/status; returns the vertices of the others (r x k).
    """
    from modelrepair.lad.ipm import ipm_lad

    np_ops = ops if ops.name == "numpy" else make_ops("numpy")
    b = Bn[:, active]
    res = ipm_lad(Qn, b, x0=x0, tol=tol, ops=_ipm_ops(ops, ipm_backend, active.size),
                  delta=delta)
    # Finish + certificate with the solver's own backend (on a GPU they stay on the device).
    Qf, bf, xf, lf, tf = (ops.asarray(v) for v in (Qn, b, res.x, res.lam, tau_np[active]))
    df = [ops.index(g) for g in dup]
    x, _ = exact_finish(ops, Qf, bf, xf, df)
    cert = certify(ops, Qf, bf, x, lf, tf, cg_iters=cg_iters, rounds=rounds, dup=df)
    good = np.asarray(ops.to_numpy(cert.certified), bool)
    x = ops.to_numpy(x)
    bad = np.flatnonzero(~good)
    n_cross = bad.size
    from modelrepair.lad.crossover import purify, simplex_polish

    rescues = (  # one column at a time, numpy; each result must pass the certificate
        # non-unique optimum: the IPM sits inside the optimal face; purify to a vertex
        lambda j: purify(Qn, b[:, j], res.x[:, j], 1e-7),
        # two vertices within the IPM's tolerance of each other: simplex pivots
        lambda j: simplex_polish(Qn, b[:, j], res.x[:, j], dup=dup),
    )
    for rescue in rescues:
        if not bad.size:
            break
        xb = np.stack([rescue(j) for j in bad], axis=1)
        c2 = certify(np_ops, Qn, b[:, bad], xb, res.lam[:, bad], tau_np[active[bad]],
                     cg_iters=cg_iters, rounds=rounds, dup=dup)
        g2 = np.asarray(c2.certified, bool)
        x[:, bad[g2]] = xb[:, g2]
        good[bad[g2]] = True
        bad = bad[~g2]
    if _DEBUG:
        print(f"ipm: {active.size} columns, certified {good.sum()}, crossover {n_cross},"
              f" iterations {np.median(res.iterations) if active.size else 0}", flush=True)
    X[:, active[good]] = x[:, good]
    status[active[good]] = "certified"
    return x[:, ~good]


def _result(A, B, U, status, t0) -> LadSolution:
    obj = np.sum(np.abs(B - A @ np.nan_to_num(U)), axis=0)
    obj[status == "failed"] = np.nan
    return LadSolution(U, status.astype(str), "batched", time.perf_counter() - t0, obj)


def certify_lad(
    A: np.ndarray,
    B: np.ndarray,
    U: np.ndarray,
    lam0: np.ndarray | None = None,
    zero_tol: float = 1e-9,
    cg_iters: int = 25,
    rounds: int = 10,
) -> np.ndarray:
    """Boolean per column: is ``U[:, j]`` provably optimal for ``min_u ||B[:, j] - A u||_1``?

    Builds the LP dual certificate of `certificate.certify` starting from ``lam0`` (d x m;
    zeros if not given). False means "not certified", not necessarily "not optimal"
    (e.g. a non-vertex optimum with fewer than rank(A) zero residuals).
    """
    A = np.asarray(A, float)
    B = np.asarray(B, float).reshape(A.shape[0], -1)
    U = np.asarray(U, float).reshape(A.shape[1], -1)
    ops = make_ops("numpy")
    Q, _ = range_basis(A)
    if Q.shape[1] == 0:
        return np.ones(B.shape[1], bool)
    scale = column_scale(Q, B)
    Bn = B / scale
    X = Q.T @ (A @ U) / scale
    tau = zero_tol * (1.0 + median0(np.abs(Bn)))
    lam = np.zeros_like(Bn) if lam0 is None else np.asarray(lam0, float).reshape(Bn.shape)
    cert = certify(ops, Q, Bn, X, lam, tau, cg_iters=cg_iters, rounds=rounds)
    # x = Q^T A u represents A u only if A u lies in range(Q): always true up to round-off.
    return np.asarray(cert.certified, bool)
