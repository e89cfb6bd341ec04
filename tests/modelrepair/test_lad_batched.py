"""Batched LAD solver: agreement with HiGHS, certificate, degenerate inputs, torch path."""

from __future__ import annotations

import numpy as np
import pytest

from modelrepair.lad import LadInputError, available_solvers, solve_lad
from modelrepair.lad.batched import certify_lad


def repair_problem(rng, d, n, m, eps, scale=1.0, outlier=None):
    """A (d x n), B = A V + Bernoulli(eps) x N(1,1) (or x outlier) corruption, V."""
    A = rng.standard_normal((d, n))
    V = rng.standard_normal((n, m)) * scale
    mask = rng.random((d, m)) < eps
    Z = rng.normal(1.0, 1.0, (d, m)) if outlier is None else np.full((d, m), outlier)
    return A, A @ V + mask * Z, V


def lp_objective(A, B):
    return solve_lad(A, B, solver="highs")


def test_registered():
    assert "batched" in available_solvers()


@pytest.mark.parametrize(
    "d,n,m,eps",
    [(30, 3, 4, 0.2), (80, 5, 6, 0.3), (200, 10, 5, 0.1), (120, 1, 3, 0.4), (150, 8, 4, 1.0)],
)
def test_agrees_with_highs_unique(d, n, m, eps):
    rng = np.random.default_rng(d * 1000 + n)
    A, B, _ = repair_problem(rng, d, n, m, eps)
    ours = solve_lad(A, B, solver="batched")
    ref = lp_objective(A, B)
    assert ours.all_ok
    assert set(ours.status) <= {"certified", "exact_lp"}
    # Continuous random data and a full-rank A: the LAD solution is unique.
    np.testing.assert_allclose(ours.U, ref.U, atol=1e-8, rtol=0)
    np.testing.assert_allclose(ours.objective, ref.objective, rtol=1e-9, atol=1e-12)


def test_low_eps_all_certified_and_exact_repair():
    rng = np.random.default_rng(1)
    A, B, V = repair_problem(rng, 300, 12, 40, 0.2)
    sol = solve_lad(A, B, solver="batched", fallback=None)
    assert np.all(sol.status == "certified")
    assert sol.certified_fraction == 1.0
    np.testing.assert_allclose(sol.U, V, atol=1e-9, rtol=0)


def test_non_unique_objective_matches():
    """More columns than rows (n > d): many optimal u, zero objective; and a discrete b."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((20, 30))
    B = rng.standard_normal((20, 3))
    sol = solve_lad(A, B, solver="batched")
    assert sol.all_ok
    np.testing.assert_allclose(sol.objective, 0.0, atol=1e-9)
    # Integer data with a one-column design of ones: the median is an interval.
    A1 = np.ones((6, 1))
    B1 = np.array([[0.0, 1, 2, 3, 4, 5]]).T
    s1 = solve_lad(A1, B1, solver="batched")
    assert s1.all_ok
    assert 2.0 - 1e-9 <= s1.U[0, 0] <= 3.0 + 1e-9
    np.testing.assert_allclose(s1.objective, [9.0], rtol=1e-12)


def test_rank_deficient_duplicated_columns():
    rng = np.random.default_rng(3)
    A0, B, _ = repair_problem(rng, 100, 6, 5, 0.2)
    A = np.hstack([A0, A0[:, :3], 2 * A0[:, [1]]])  # 10 columns, rank 6
    sol = solve_lad(A, B, solver="batched")
    ref = lp_objective(A, B)
    assert sol.all_ok and np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-9)
    # Fitted values are unique even though u is not.
    np.testing.assert_allclose(A @ sol.U, A0 @ solve_lad(A0, B, solver="highs").U, atol=1e-8)


def test_eps_near_one_matches_highs():
    rng = np.random.default_rng(4)
    A, B, _ = repair_problem(rng, 60, 4, 4, 0.95)
    sol = solve_lad(A, B, solver="batched")
    ref = lp_objective(A, B)
    assert sol.all_ok
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-9)


def test_huge_outliers_repaired_exactly():
    rng = np.random.default_rng(5)
    A, B, V = repair_problem(rng, 200, 8, 6, 0.2, outlier=1e8)
    sol = solve_lad(A, B, solver="batched")
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.U, V, atol=1e-8, rtol=0)


def test_no_corruption_and_zero_design():
    rng = np.random.default_rng(6)
    A, B, V = repair_problem(rng, 50, 5, 3, 0.0)
    sol = solve_lad(A, B, solver="batched")
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.U, V, atol=1e-9)
    z = solve_lad(np.zeros((10, 2)), B[:10], solver="batched")
    assert np.all(z.status == "certified")
    np.testing.assert_allclose(z.objective, np.abs(B[:10]).sum(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_rejected(bad):
    A = np.ones((5, 2))
    B = np.ones((5, 1))
    B[2, 0] = bad
    with pytest.raises(LadInputError):
        solve_lad(A, B, solver="batched")
    A[0, 0] = bad
    with pytest.raises(LadInputError):
        solve_lad(A, np.ones(5), solver="batched")


def test_uncertified_without_fallback_is_failed():
    rng = np.random.default_rng(7)
    A, B, _ = repair_problem(rng, 150, 8, 3, 1.0)
    sol = solve_lad(A, B, solver="batched", max_iter=1, fallback=None, ipm=False)
    assert np.all(sol.status == "failed")
    assert np.all(np.isnan(sol.U)) and np.all(np.isnan(sol.objective))
    assert not sol.all_ok


def test_certificate_accepts_optimum_rejects_perturbed():
    rng = np.random.default_rng(8)
    # Non-degenerate (dense noise): the HiGHS vertex has exactly rank(A) zero residuals.
    A = rng.standard_normal((80, 4))
    B = rng.standard_normal((80, 3))
    U = solve_lad(A, B, solver="highs").U
    assert np.all(certify_lad(A, B, U))
    assert not np.any(certify_lad(A, B, U + 1e-6))
    # A different vertex (basis of the first 4 rows): exact on 4 rows but not optimal.
    Uv = np.linalg.solve(A[:4], B[:4])
    assert not np.any(certify_lad(A, B, Uv))
    # Degenerate (exact repair): hundreds of zero residuals.
    A2, B2, V2 = repair_problem(rng, 300, 6, 4, 0.1)
    assert np.all(certify_lad(A2, B2, V2))
    V_bad = V2.copy()
    V_bad[0] += 1e-5
    assert not np.any(certify_lad(A2, B2, V_bad))


def test_torch_cpu_agrees_with_numpy():
    pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    A, B, V = repair_problem(rng, 250, 10, 20, 0.3)
    a = solve_lad(A, B, solver="batched", backend="numpy")
    t = solve_lad(A, B, solver="batched", backend="torch", device="cpu")
    t32 = solve_lad(A, B, solver="batched", backend="torch", dtype="float32")
    for s in (a, t, t32):
        assert np.all(s.status == "certified")
        np.testing.assert_allclose(s.U, V, atol=1e-9)
    np.testing.assert_allclose(t.U, a.U, atol=1e-10)


def test_torch_ops_asarray_takes_numpy_and_tensors():
    """``asarray`` moves numpy arrays and tensors alike to the ops' device and dtype (a
    tensor is not routed through numpy, which a CUDA tensor would refuse)."""
    torch = pytest.importorskip("torch")
    from modelrepair.lad.batched_ops import make_ops

    ops = make_ops("torch", "cpu")
    x = np.arange(6.0).reshape(2, 3)
    for given in (x, torch.tensor(x, dtype=torch.float32), torch.tensor(x).T.contiguous().T):
        got = ops.asarray(given)
        assert got.dtype == torch.float64 and got.device.type == "cpu" and got.is_contiguous()
        np.testing.assert_array_equal(ops.to_numpy(got), x)
    assert ops.asarray(x, "float32").dtype == torch.float32


def test_cuda_unavailable_is_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA"):
        solve_lad(np.ones((4, 1)), np.ones(4), solver="batched", device="cuda")


@pytest.mark.parametrize("eps", [0.2, 0.45, 0.9])
def test_cuda_agrees_with_highs(eps):
    """On a GPU (skipped without one): ADMM, finish, certificate and IPM on the device;
    statuses certified and objectives equal to HiGHS' (repair at 0.2, the late checkpoint
    near the threshold, the IPM at 0.9)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(int(eps * 100))
    A, B, _ = repair_problem(rng, 300, 12, 400, eps)
    sol = solve_lad(A, B, solver="batched", device="cuda", fallback=None)
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("d,n,m,eps", [(60, 4, 6, 0.2), (120, 8, 6, 0.6), (90, 5, 5, 0.95)])
def test_ipm_stage_alone_matches_highs(d, n, m, eps, backend):
    """Batched interior point alone (numpy, and torch: batched Cholesky): objective equal to
    HiGHS' to 1e-9 relative, also where repair fails (eps 0.6, 0.95: non-degenerate
    optima); its vertex finish is certified."""
    from modelrepair.lad.batched import column_scale, range_basis
    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.certificate import certify, exact_finish
    from modelrepair.lad.ipm import ipm_lad

    rng = np.random.default_rng(d + n + m)
    A, B, V = repair_problem(rng, d, n, m, eps)
    Q, _ = range_basis(A)
    scale = column_scale(Q, B)
    if backend == "torch":
        pytest.importorskip("torch")
    res = ipm_lad(Q, B / scale, tol=1e-11, ops=make_ops(backend))
    assert isinstance(res.x, np.ndarray) and isinstance(res.lam, np.ndarray)
    assert res.converged.all()
    assert np.all(np.abs(res.lam) <= 1.0)
    ref = lp_objective(A, B).objective
    obj = np.abs(B / scale - Q @ res.x).sum(0) * scale
    np.testing.assert_allclose(obj, ref, rtol=1e-9)
    ops = make_ops("numpy")
    x, ok = exact_finish(ops, Q, B / scale, res.x)
    cert = certify(ops, Q, B / scale, x, res.lam, np.full(m, 1e-9), cg_iters=6, rounds=10)
    assert ok.all() and np.all(cert.certified)
    # numpy: the vertex objective equals HiGHS' to 1e-12 (as before the torch IPM); torch's
    # IPM ends at a slightly different interior point whose finished vertex was measured
    # 1.6e-12 off on one column: still certified, i.e. optimal up to |F| * tau (1e-9 scaled)
    rtol = 1e-12 if backend == "numpy" else 1e-10
    np.testing.assert_allclose(np.abs(B / scale - Q @ x).sum(0) * scale, ref, rtol=rtol)
    if eps == 0.2:  # repair succeeds: the finished vertex is V itself
        np.testing.assert_allclose(np.linalg.lstsq(A, Q @ x * scale, rcond=None)[0], V, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ipm_float32_start_phase_reaches_the_same_optimum(backend):
    """Normal matrices in float32 while every column is far from optimal (``low_gap``) and
    float64 throughout (``low_gap=0``) converge to the same LP optimum as HiGHS."""
    from modelrepair.lad.batched import column_scale, range_basis
    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.ipm import ipm_lad

    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    A, B, _ = repair_problem(rng, 300, 12, 40, 0.55)
    Q, _ = range_basis(A)
    scale = column_scale(Q, B)
    ref = lp_objective(A, B).objective
    for low_gap in (0.0, 1e-4, 1.0):  # never, the default, from the first iteration on
        res = ipm_lad(Q, B / scale, ops=make_ops(backend), low_gap=low_gap)
        assert res.converged.all(), low_gap
        obj = np.abs(B / scale - Q @ res.x).sum(0) * scale
        np.testing.assert_allclose(obj, ref, rtol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_batched_square_solves_plain_and_transposed(backend):
    """``ops.solve`` (torch: LU of the transpose view + adjoint solve) against numpy's solve,
    for M x = b and M^T x = b; an exactly singular matrix gives ok = False, not a crash."""
    from modelrepair.lad.batched_ops import make_ops

    if backend == "torch":
        pytest.importorskip("torch")
    ops = make_ops(backend)
    rng = np.random.default_rng(21)
    M = rng.standard_normal((5, 4, 4))
    M[3] = 0.0  # singular
    rhs = rng.standard_normal((4, 5))
    for transpose in (False, True):
        x, ok = ops.solve(ops.asarray(M), ops.asarray(rhs), transpose=transpose)
        x, ok = ops.to_numpy(x), np.asarray(ops.to_numpy(ok), bool)
        assert ok.tolist() == [True, True, True, False, True]
        for j in (0, 1, 2, 4):
            Mj = M[j].T if transpose else M[j]
            np.testing.assert_allclose(x[:, j], np.linalg.solve(Mj, rhs[:, j]), rtol=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_square_systems_in_column_chunks_equal_one_batch(backend, monkeypatch):
    """`solve_rows` and the IPM's normal-matrix solver work in column chunks on the CPU
    (`CHUNK_BYTES`); with chunks of 3 columns the results equal one batch (a singular
    system, from a zero row, stays flagged in its chunk)."""
    from modelrepair.lad import certificate
    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.ipm import ipm_lad

    if backend == "torch":
        pytest.importorskip("torch")
    ops = make_ops(backend)
    rng = np.random.default_rng(8)
    Q = np.vstack([np.linalg.qr(rng.standard_normal((30, 4)))[0], np.zeros((1, 4))])
    idx = np.stack([rng.choice(30, 4, replace=False) for _ in range(10)], axis=1)
    idx[1, 6] = 30  # a zero row: singular
    rhs = rng.standard_normal((4, 10))
    B = Q @ rng.standard_normal((4, 10)) + (rng.random((31, 10)) < 0.4) * 3.0
    Qo, io, ro = ops.asarray(Q), ops.index(idx), ops.asarray(rhs)
    whole = [certificate.solve_rows(ops, Qo, io, ro, transpose=t) for t in (False, True)]
    ipm_whole = ipm_lad(Q, B, ops=ops)
    monkeypatch.setattr(certificate, "CHUNK_BYTES", 3 * 8 * 4 * 4)
    assert len(certificate.column_chunks(ops, 10, 8 * 4 * 4)) == 4
    for t, (x0, ok0) in zip((False, True), whole, strict=True):
        x, ok = certificate.solve_rows(ops, Qo, io, ro, transpose=t)
        ok, ok0 = np.asarray(ops.to_numpy(ok), bool), np.asarray(ops.to_numpy(ok0), bool)
        assert ok.tolist() == ok0.tolist() and not ok[6] and ok.sum() == 9
        np.testing.assert_allclose(ops.to_numpy(x)[:, ok], ops.to_numpy(x0)[:, ok0], rtol=1e-12)
    ipm_chunked = ipm_lad(Q, B, ops=ops)
    np.testing.assert_allclose(ipm_chunked.x, ipm_whole.x, atol=1e-12)
    assert ipm_chunked.iterations.tolist() == ipm_whole.iterations.tolist()


def test_normal_matrices_match_explicit_products_on_every_path():
    """Q^T diag(theta_j) Q from one Theta^T K product and a gather of the upper triangle:
    numpy, torch through numpy's take, and torch's own gather (the CUDA path) agree with
    the explicit product."""
    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.ipm import _khatri_rao, _normal_matrices, _symmetric_from_vech

    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((40, 5)))[0]
    Theta = rng.random((40, 7)) + 0.1
    want = np.einsum("ir,ij,is->jrs", Q, Theta, Q)
    ops = make_ops("numpy")
    K, full = _khatri_rao(ops, Q)
    np.testing.assert_allclose(_normal_matrices(ops, Theta, K, full, 5), want, atol=1e-14)
    pytest.importorskip("torch")
    tops = make_ops("torch")
    Kt, full_t = _khatri_rao(tops, tops.asarray(Q))
    flat = tops.asarray(Theta).T @ Kt
    for cpu_take in (True, False):
        got = tops.to_numpy(_symmetric_from_vech(tops, flat, full_t, 5, cpu_take))
        np.testing.assert_allclose(got, want, atol=1e-14)


def test_ipm_backend_auto_uses_torch_for_big_numpy_batches():
    """``ipm_backend="auto"``: torch for numpy batches of >= IPM_TORCH_MIN_COLS columns,
    numpy below; the solution does not depend on it."""
    from modelrepair.lad.batched import IPM_TORCH_MIN_COLS, _ipm_ops
    from modelrepair.lad.batched_ops import make_ops

    pytest.importorskip("torch")
    ops = make_ops("numpy")
    assert _ipm_ops(ops, "auto", IPM_TORCH_MIN_COLS).name == "torch"
    assert _ipm_ops(ops, "auto", IPM_TORCH_MIN_COLS - 1) is ops
    assert _ipm_ops(ops, "numpy", 10**6) is ops
    rng = np.random.default_rng(12)
    A, B, _ = repair_problem(rng, 150, 6, IPM_TORCH_MIN_COLS, 0.9)
    sols = [solve_lad(A, B, solver="batched", fallback=None, ipm_backend=b)
            for b in ("numpy", "torch", "auto")]
    for sol in sols:
        assert np.all(sol.status == "certified")
        np.testing.assert_allclose(sol.objective, sols[0].objective, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ipm_stage_used_when_admm_stalls(backend):
    """eps near 1 (no repair): ADMM certifies little, the IPM stage certifies the rest
    (torch: IPM, finish and certificate all in torch, as on a GPU)."""
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    A, B, _ = repair_problem(rng, 200, 6, 30, 0.9)
    sol = solve_lad(A, B, solver="batched", fallback=None, backend=backend)
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)
    off = solve_lad(A, B, solver="batched", ipm=False)
    np.testing.assert_allclose(off.objective, sol.objective, rtol=1e-9)


def test_crossover_purifies_interior_optimum_to_vertex():
    """Median of 0..5 is the interval [2, 3]: from its midpoint, purify reaches a vertex
    (2 or 3) with the same objective 9; from a non-optimal point it never gets worse."""
    from modelrepair.lad.crossover import purify

    Q = np.ones((6, 1)) / np.sqrt(6.0)
    b = np.arange(6.0)
    x = purify(Q, b, np.array([2.5 * np.sqrt(6.0)]), 1e-9)
    u = x[0] / np.sqrt(6.0)
    assert min(abs(u - 2.0), abs(u - 3.0)) < 1e-12
    np.testing.assert_allclose(np.abs(b - Q @ x).sum(), 9.0, rtol=1e-12)
    rng = np.random.default_rng(5)
    A, B, _ = repair_problem(rng, 40, 3, 1, 0.8)
    Qr, _ = np.linalg.qr(A)
    x0 = Qr.T @ B[:, 0]
    x1 = purify(Qr, B[:, 0], x0, 1e-9)
    assert np.abs(B[:, 0] - Qr @ x1).sum() <= np.abs(B[:, 0] - Qr @ x0).sum() + 1e-12
    assert np.sum(np.abs(B[:, 0] - Qr @ x1) < 1e-10) >= 3  # a vertex: 3 zero residuals


@pytest.mark.parametrize("seed", range(4))
def test_simplex_polish_reaches_the_lp_optimum_and_certifies(seed):
    """Basis descent from the least-squares point: objective equal to HiGHS' (never above
    the starting vertex's), and the certificate accepts the final vertex; with duplicated
    rows in the design the first basis takes one row of each group."""
    from modelrepair.lad.batched_ops import make_ops
    from modelrepair.lad.certificate import certify, duplicate_rows
    from modelrepair.lad.crossover import simplex_polish

    rng = np.random.default_rng(100 + seed)
    A, B, _ = repair_problem(rng, 80, 4, 1, 0.6)
    A[1] = A[0]  # a duplicated row (as duplicated genes in the colon data)
    Q, _ = np.linalg.qr(A)
    b = B[:, 0]
    dup = duplicate_rows(Q)
    x = simplex_polish(Q, b, Q.T @ b, max_pivots=200, dup=dup)
    ref = lp_objective(Q, B).objective[0]
    np.testing.assert_allclose(np.abs(b - Q @ x).sum(), ref, rtol=1e-12)
    cert = certify(make_ops("numpy"), Q, B, x[:, None], np.zeros_like(B),
                   np.array([1e-9 * (1 + np.median(np.abs(b)))]), cg_iters=12, rounds=5, dup=dup)
    assert bool(np.asarray(cert.certified)[0])
    assert np.sum(np.abs(b - Q @ x) < 1e-10) >= 4  # a vertex


def test_ipm_stage_polishes_a_vertex_the_finish_misses(monkeypatch):
    """Where the vertex through the r smallest IPM residuals is not optimal (two vertices
    within the IPM's tolerance) and purification does not help, simplex pivots find the
    optimal one: the column ends certified, with HiGHS' objective."""
    import modelrepair.lad.batched as batched
    import modelrepair.lad.crossover as crossover

    rng = np.random.default_rng(3)
    A, B, _ = repair_problem(rng, 120, 6, 5, 0.7)

    def far_vertex(Q, b, x, ztol):  # the finish and purification both land on a bad vertex
        return x + 0.05

    monkeypatch.setattr(crossover, "purify", far_vertex)
    calls = []
    real_polish = crossover.simplex_polish
    monkeypatch.setattr(crossover, "simplex_polish",
                        lambda *a, **k: calls.append(1) or real_polish(*a, **k))
    real_finish = batched.exact_finish
    monkeypatch.setattr(batched, "exact_finish",
                        lambda ops, Q, B, X, dup=(): real_finish(ops, Q, B, X + 0.05, dup))
    sol = solve_lad(A, B, solver="batched", fallback=None, max_iter=0)
    assert len(calls) >= 1
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)


def test_choose_backend_by_batch_size():
    """numpy for small CPU batches, torch from TORCH_MIN_ENTRIES entries and off the CPU;
    an explicit backend wins."""
    from modelrepair.lad.batched import TORCH_MIN_ENTRIES, choose_backend

    pytest.importorskip("torch")
    assert choose_backend(None, "cpu", TORCH_MIN_ENTRIES - 1) == "numpy"
    assert choose_backend("auto", "cpu", TORCH_MIN_ENTRIES) == "torch"
    assert choose_backend(None, "cuda", 10) == "torch"
    assert choose_backend("numpy", "cpu", 10 * TORCH_MIN_ENTRIES) == "numpy"


def test_duplicate_rows_groups():
    from modelrepair.lad.certificate import duplicate_rows

    A = np.random.default_rng(0).standard_normal((10, 3))
    A[5] = A[2]
    A[7] = A[2]
    A[9] = A[1]
    A[4, 0] = A[3, 0]  # same first entry, different rows: not a duplicate
    groups = sorted(g.tolist() for g in duplicate_rows(A))
    assert groups == [[1, 9], [2, 5, 7]]
    assert duplicate_rows(np.eye(4)[:, :2] + np.arange(4)[:, None]) == []


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_duplicated_rows_certified(backend):
    """Duplicated rows (duplicated genes in the colon data): a basis holding two copies is
    singular; the vertex finish and basis dual take one copy, every column certifies."""
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    A, B, V = repair_problem(rng, 200, 8, 30, 0.2)
    A[100:140] = A[:40]  # 40 duplicated rows, same clean values
    B[100:140] = A[:40] @ V + (rng.random((40, 30)) < 0.2) * rng.normal(1.0, 1.0, (40, 30))
    sol = solve_lad(A, B, solver="batched", backend=backend, fallback=None)
    assert np.all(sol.status == "certified")
    ref = lp_objective(A, B)
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cond", [1.0, 50.0, 3e3, 1e6])
def test_range_basis_orthonormal(cond):
    """Cholesky QR (well conditioned), eigh (twice), SVD (ill conditioned): Q^T Q = I, A T = Q."""
    from modelrepair.lad.batched import range_basis

    rng = np.random.default_rng(3)
    U, _ = np.linalg.qr(rng.standard_normal((400, 12)))
    V, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    A = U @ np.diag(np.logspace(0, np.log10(cond), 12)) @ V.T
    Q, T = range_basis(A)
    assert Q.shape == (400, 12)
    np.testing.assert_allclose(Q.T @ Q, np.eye(12), atol=1e-10)
    np.testing.assert_allclose(A @ T, Q, atol=1e-10)
    Ad = np.hstack([A, A[:, :2]])  # rank-deficient: rank 12
    Q2, T2 = range_basis(Ad)
    assert Q2.shape == (400, 12)
    np.testing.assert_allclose(Ad @ T2, Q2, atol=1e-8)


@pytest.mark.parametrize("shape", [(1, 3), (2, 3), (7, 5), (1000, 40), (999, 40), (5000, 1)])
def test_median0_equals_numpy(shape):
    from modelrepair.lad.batched import median0

    X = np.abs(np.random.default_rng(shape[0]).standard_normal(shape))
    X[: shape[0] // 3] = 0.5  # ties
    np.testing.assert_array_equal(median0(X), np.median(X, axis=0))


def test_certificate_near_threshold_is_sound_and_finds_most_optima():
    """At eps near the repair threshold the true parameters V are optimal for some columns
    and not for others. The shrinking-free-set certificate (`certificate._pocs`) never
    certifies a non-optimal V (soundness: HiGHS finds a strictly lower objective there) and
    certifies at least 90% of the optimal ones (one projection alone: 10 of 48 here)."""
    rng = np.random.default_rng(2026)
    A, B, V = repair_problem(rng, 100, 20, 80, 0.45)
    ref = lp_objective(A, B).objective
    obj_v = np.abs(B - A @ V).sum(0)
    optimal = obj_v <= ref * (1 + 1e-9)
    assert 10 <= optimal.sum() <= 70, optimal.sum()  # both kinds present
    cert = certify_lad(A, B, V)
    assert not np.any(cert & ~optimal)
    assert cert[optimal].mean() >= 0.9, cert[optimal].mean()
    assert certify_lad(A, B, V, rounds=1).sum() < cert.sum()


def test_middling_first_sample_skips_to_the_next_checkpoint(capsys, monkeypatch):
    """Big batch whose first-checkpoint sample certifies between ``ipm_yield`` and
    SKIP_YIELD: no full checkpoint at iteration 8, the first is at 16; objectives equal
    HiGHS'. A batch whose sample certifies more keeps its checkpoint at 8."""
    import modelrepair.lad.batched as batched

    monkeypatch.setattr(batched, "_DEBUG", True)
    rng = np.random.default_rng(8)
    A, B, _ = repair_problem(rng, 100, 20, 4 * batched._PROBE, 0.35)
    sol = solve_lad(A, B, solver="batched", fallback=None)
    out = capsys.readouterr().out
    assert "iter 8:" not in out and f"iter 16: active {B.shape[1]}," in out, out
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)
    rng = np.random.default_rng(8)
    A, B, _ = repair_problem(rng, 150, 10, 4 * batched._PROBE, 0.4)
    solve_lad(A, B, solver="batched", fallback=None)
    assert f"iter 8: active {B.shape[1]}," in capsys.readouterr().out


def test_nothing_repairs_runs_admm_on_then_ipm_without_a_checkpoint(capsys, monkeypatch):
    """Big batch far past the threshold: the first sample certifies nothing; ADMM runs on to
    LATE_CHECK (the IPM's start from there pays for it), whose sample certifies nothing
    either, so no full checkpoint: the IPM solves all, objectives equal HiGHS'."""
    import modelrepair.lad.batched as batched

    monkeypatch.setattr(batched, "_DEBUG", True)
    rng = np.random.default_rng(9)
    A, B, _ = repair_problem(rng, 100, 10, 4 * batched._PROBE, 0.9)
    sol = solve_lad(A, B, solver="batched", fallback=None)
    out = capsys.readouterr().out
    assert f"iter {batched.LATE_CHECK}: probe yield low, all {B.shape[1]} to the IPM" in out, out
    assert "iter 8:" not in out and "iter 16:" not in out and "certified 0" not in out
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)


def test_late_checkpoint_path_certifies_repairing_columns_then_ipm(capsys, monkeypatch):
    """Big batch near the threshold: the first checkpoint's sample yields little, ADMM runs
    on to LATE_CHECK without checkpoints, certifies the repairing columns there once, and
    the IPM solves the rest; objectives equal HiGHS'."""
    import modelrepair.lad.batched as batched

    rng = np.random.default_rng(7)
    A, B, _ = repair_problem(rng, 100, 20, 4 * batched._PROBE, 0.45)
    monkeypatch.setattr(batched, "_DEBUG", True)
    sol = solve_lad(A, B, solver="batched", fallback=None)
    out = capsys.readouterr().out
    assert f"iter {batched.LATE_CHECK}: active {B.shape[1]}" in out, out
    assert "iter 16:" not in out and "ipm:" in out, out
    assert np.all(sol.status == "certified")
    np.testing.assert_allclose(sol.objective, lp_objective(A, B).objective, rtol=1e-9)
