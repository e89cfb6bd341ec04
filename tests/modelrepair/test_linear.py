"""Linear min-norm model: fit, corruption, exact repair, failure at large eps."""

import numpy as np
import pytest

from modelrepair.corruption import CorruptionSpec, corrupt
from modelrepair.errors import DataFileError, SpecError
from modelrepair.models import RepairSettings, spec_from_dict
from modelrepair.models.linear import min_norm_solution


def _fit(n=10, p=200, seed=3):
    spec = spec_from_dict({"kind": "linear", "name": "t", "design": {"n": n, "p": p}})
    return spec.fit(np.random.SeedSequence(seed))


def test_min_norm_solution_interpolates_and_lies_in_rowspace():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 40))
    y = rng.standard_normal(8)
    theta = min_norm_solution(X, y)
    np.testing.assert_allclose(X @ theta, y, atol=1e-10)
    # theta = X^T a: projecting onto rowspace(X) leaves it unchanged
    proj = X.T @ np.linalg.lstsq(X.T, theta, rcond=None)[0]
    np.testing.assert_allclose(proj, theta, atol=1e-12)
    # and it equals the pseudo-inverse solution
    np.testing.assert_allclose(theta, np.linalg.pinv(X) @ y, atol=1e-10)


def test_corruption_mask_rate_and_additive_shift():
    rng = np.random.default_rng(0)
    theta = np.zeros(100_000)
    eta, mask = corrupt(theta, 0.3, CorruptionSpec(), rng)
    assert mask.mean() == pytest.approx(0.3, abs=0.01)
    assert np.all(eta[~mask] == 0.0)
    assert eta[mask].mean() == pytest.approx(1.0, abs=0.02)  # Q = N(1, 1)
    assert eta[mask].std() == pytest.approx(1.0, abs=0.02)
    eta_c, mask_c = corrupt(theta, 0.5, CorruptionSpec(distribution="constant", value=7.0), rng)
    assert set(np.unique(eta_c[mask_c])) == {7.0}
    eta_o, mask_o = corrupt(theta, 0.5, CorruptionSpec(distribution="outlier", scale=1e8), rng)
    assert set(np.unique(np.abs(eta_o[mask_o]))) == {1e8}


@pytest.mark.parametrize("solver", ["highs", "cvxpy"])
def test_exact_repair_at_eps_zero_and_small_eps(solver):
    fitted = _fit()
    settings = RepairSettings(solver=solver, tolerance=1e-6)
    out0 = fitted.repair_cell(0.0, np.random.default_rng(0), settings)
    assert out0.exact_repair and out0.layers[0].n_corrupted == 0
    out = fitted.repair_cell(0.05, np.random.default_rng(1), settings)
    assert out.layers[0].n_corrupted > 0
    assert out.exact_repair


def test_p_much_larger_than_n_repairs_to_1e8():
    fitted = _fit(n=10, p=500)
    out = fitted.repair_cell(0.1, np.random.default_rng(5), RepairSettings(solver="highs"))
    assert out.layers[0].max_abs_error < 1e-8


def test_repair_fails_at_large_eps():
    fitted = _fit()
    out = fitted.repair_cell(0.95, np.random.default_rng(2), RepairSettings(solver="highs"))
    assert out.status == "ok" and not out.exact_repair
    assert out.layers[0].max_abs_error > 1e-3


def test_spec_errors_name_the_field():
    with pytest.raises(SpecError, match=r"model\.design\.p: must be a positive integer"):
        spec_from_dict({"kind": "linear", "design": {"p": 0}})
    with pytest.raises(SpecError, match=r"model\.kind"):
        spec_from_dict({"kind": "quadratic"})
    with pytest.raises(SpecError, match=r"model\.design\.n: expected an integer"):
        spec_from_dict({"kind": "linear", "design": {"n": "ten"}})


def test_colon_design_and_missing_file(colon_paths, tmp_path):
    x_path, y_path = colon_paths
    spec = spec_from_dict(
        {"kind": "linear", "design": {"source": "colon", "p": 300, "data": str(x_path), "labels": str(y_path)}}
    )
    spec.check_data()
    fitted = spec.fit(np.random.SeedSequence(0))
    assert fitted.X.shape == (62, 300)
    assert sorted(np.unique(fitted.y)) == [0.0, 1.0]
    assert fitted.repair_cell(0.1, np.random.default_rng(0), RepairSettings()).exact_repair
    missing = spec_from_dict({"kind": "linear", "design": {"source": "colon", "data": str(tmp_path / "nope.csv")}})
    with pytest.raises(DataFileError, match="nope.csv: design \\(X\\) file not found"):
        missing.check_data()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,x\n")
    with pytest.raises(DataFileError, match="malformed"):
        spec_from_dict({"kind": "linear", "design": {"source": "colon", "data": str(bad)}}).check_data()
