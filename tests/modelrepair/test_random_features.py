"""Random-features model: min-norm output layer in rowspace(Phi), exact repair, round trip."""

from __future__ import annotations

import numpy as np

from modelrepair.models import RepairSettings, spec_from_dict
from modelrepair.training import hidden_features, rowspace_residual

SETTINGS = RepairSettings(tolerance=1e-6, mode="full")


def make(**overrides):
    table = {"kind": "random_features", "design": {"n": 20, "p": 15}, "features": 150}
    table.update(overrides)
    spec = spec_from_dict(table)
    return spec, spec.fit(np.random.SeedSequence(4))


def test_fit_interpolates_with_theta_in_rowspace_of_phi():
    spec, m = make()
    assert m.F.shape == (15, 150) and m.theta.shape == (150,)
    Phi = hidden_features(m.X, m.F, "tanh", 1.0)
    np.testing.assert_allclose(Phi @ m.theta, m.y, atol=1e-10)
    assert rowspace_residual(Phi.T, m.theta) < 1e-10
    # min norm: theta = Phi^T (Phi Phi^T)^-1 y
    np.testing.assert_allclose(m.theta, Phi.T @ np.linalg.solve(Phi @ Phi.T, m.y), atol=1e-10)
    assert spec.n_parameters() == 150 and not spec.cacheable


def test_random_features_repair_exactly_at_moderate_eps():
    _, m = make()
    for trial, eps in enumerate((0.0, 0.1, 0.2, 0.2)):
        out = m.repair_cell(eps, np.random.default_rng(trial), SETTINGS)
        assert out.status == "ok" and out.exact_repair, (eps, out.layers)
        assert out.layers[0].name == "theta" and out.layers[0].max_abs_error < 1e-8


def test_heavy_corruption_is_not_repaired():
    _, m = make()
    out = m.repair_cell(0.9, np.random.default_rng(0), SETTINGS)
    assert not out.exact_repair and out.layers[0].max_abs_error > 0.1


def test_round_trip_and_scaling():
    spec, m = make(output_scaling="inv_sqrt_p", activation="relu")
    rebuilt = spec.from_arrays({k: v.copy() for k, v in m.to_arrays().items()})
    a = m.repair_cell(0.15, np.random.default_rng(9), SETTINGS)
    b = rebuilt.repair_cell(0.15, np.random.default_rng(9), SETTINGS)
    assert a.layers == b.layers and a.exact_repair
    Phi = hidden_features(m.X, m.F, "relu", 1 / np.sqrt(150))
    np.testing.assert_allclose(Phi @ m.theta, m.y, atol=1e-9)


def test_min_norm_stays_in_rowspace_for_rank_deficient_features():
    from modelrepair.models.random_features import min_norm_lstsq

    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((10, 40))
    Phi -= Phi.mean(axis=0)  # centred columns: rank 9
    y = 1.0 + rng.standard_normal(10)
    theta = min_norm_lstsq(Phi, y)
    assert rowspace_residual(Phi.T, theta) < 1e-12
    np.testing.assert_allclose(theta, np.linalg.pinv(Phi) @ y, atol=1e-12)
