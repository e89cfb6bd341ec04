"""Lasso negative control: KKT-correct sparse fit, not in rowspace(X), not repairable."""

from __future__ import annotations

import numpy as np
import pytest

from modelrepair.errors import SpecError
from modelrepair.models import RepairSettings, spec_from_dict
from modelrepair.models.lasso import lasso_cd
from modelrepair.training import rowspace_residual

SETTINGS = RepairSettings(tolerance=1e-6, mode="full")
DESIGN = {"n": 20, "p": 120}


def test_coordinate_descent_satisfies_kkt():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 60))
    y = X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(20)
    alpha = 0.1
    theta, sweeps = lasso_cd(X, y, alpha)
    grad = X.T @ (y - X @ theta) / 20
    support = theta != 0
    assert 0 < support.sum() < 20 and sweeps < 10_000
    np.testing.assert_allclose(grad[support], alpha * np.sign(theta[support]), atol=1e-8)
    assert np.all(np.abs(grad[~support]) <= alpha + 1e-8)
    assert set(np.flatnonzero(support)) >= {0, 1, 2}


def test_lasso_is_not_repairable_where_min_norm_is():
    lasso_spec = spec_from_dict({"kind": "lasso", "design": DESIGN, "alpha": 0.05})
    dense_spec = spec_from_dict({"kind": "linear", "design": DESIGN})
    seed = np.random.SeedSequence(21)
    lasso, dense = lasso_spec.fit(seed), dense_spec.fit(seed)
    np.testing.assert_array_equal(lasso.X, dense.X)  # same design and response
    assert 0 < lasso.fit_info["nonzeros"] <= 20
    assert rowspace_residual(lasso.X.T, lasso.theta) > 0.1
    trials = 6
    p_lasso = np.mean([lasso.repair_cell(0.2, np.random.default_rng(t), SETTINGS).exact_repair for t in range(trials)])
    p_dense = np.mean([dense.repair_cell(0.2, np.random.default_rng(t), SETTINGS).exact_repair for t in range(trials)])
    assert p_dense >= 5 / 6
    assert p_lasso == 0.0
    # even uncorrupted, the LAD projection moves a sparse theta
    out = lasso.repair_cell(0.0, np.random.default_rng(0), SETTINGS)
    assert not out.exact_repair and out.layers[0].max_abs_error > 1e-3


def test_round_trip_and_validation():
    spec = spec_from_dict({"kind": "lasso", "design": DESIGN, "alpha": 0.2})
    m = spec.fit(np.random.SeedSequence(1))
    rebuilt = spec.from_arrays(m.to_arrays())
    a = m.repair_cell(0.1, np.random.default_rng(2), SETTINGS)
    assert a.layers == rebuilt.repair_cell(0.1, np.random.default_rng(2), SETTINGS).layers
    with pytest.raises(SpecError, match=r"model\.alpha"):
        spec_from_dict({"kind": "lasso", "alpha": 0})
