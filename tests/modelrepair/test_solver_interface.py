"""The LAD interface with the exact backends (HiGHS LP, cvxpy) on hand-checked cases."""

import numpy as np
import pytest

from modelrepair.lad import LadInputError, available_solvers, solve_lad


@pytest.mark.parametrize("solver", ["highs", "cvxpy"])
def test_intercept_only_lad_is_the_median(solver):
    # min_u sum |b_i - u| is attained at the median: 2, with objective |1-2| + 0 + |10-2| = 9.
    A = np.ones((3, 1))
    sol = solve_lad(A, np.array([1.0, 2.0, 10.0]), solver=solver)
    assert sol.status.tolist() == ["exact_lp"]
    assert sol.U[0, 0] == pytest.approx(2.0, abs=1e-7)
    assert sol.objective[0] == pytest.approx(9.0, abs=1e-7)


@pytest.mark.parametrize("solver", ["highs", "cvxpy"])
def test_exact_fit_through_outliers(solver):
    # b = A u* except one gross outlier: LAD ignores it and recovers u* exactly.
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 3))
    u_true = np.array([1.0, -2.0, 0.5])
    b = A @ u_true
    b[4] += 100.0
    sol = solve_lad(A, b, solver=solver)
    assert sol.all_ok
    np.testing.assert_allclose(sol.U[:, 0], u_true, atol=1e-6)


def test_backends_agree_on_a_batch():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 5))
    B = A @ rng.standard_normal((5, 4)) + (rng.random((40, 4)) < 0.2) * rng.normal(1, 1, (40, 4))
    h = solve_lad(A, B, solver="highs")
    c = solve_lad(A, B, solver="cvxpy")
    assert h.all_ok and c.all_ok
    np.testing.assert_allclose(h.objective, c.objective, rtol=1e-6)
    np.testing.assert_allclose(h.U, c.U, atol=1e-5)


def test_nan_and_shape_errors_are_clear():
    A = np.ones((3, 1))
    with pytest.raises(LadInputError, match="NaN or inf"):
        solve_lad(A, np.array([1.0, np.nan, 2.0]), solver="highs")
    with pytest.raises(LadInputError, match="rows"):
        solve_lad(A, np.ones(4), solver="highs")
    with pytest.raises(ValueError, match="unknown LAD solver"):
        solve_lad(A, np.ones(3), solver="nope")
    assert {"highs", "cvxpy"} <= set(available_solvers())
