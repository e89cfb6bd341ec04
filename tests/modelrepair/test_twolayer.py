"""Two-layer network: training invariants (row spaces), layer-by-layer repair, modes, cache round trip."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from modelrepair.errors import SpecError  # noqa: E402
from modelrepair.models import RepairSettings, spec_from_dict  # noqa: E402
from modelrepair.models.twolayer import map_labels  # noqa: E402
from modelrepair.training import hidden_features, rowspace_residual  # noqa: E402

N, D, P = 20, 100, 200
FULL = RepairSettings(tolerance=1e-5, mode="full")
EARLY = RepairSettings(tolerance=1e-5, mode="early_stop")


def make_spec(n=N, d=D, **overrides):
    table = {"kind": "twolayer", "design": {"n": n, "p": d}, "hidden": P, "steps": 300, "lr": 0.05}
    table.update(overrides)
    return spec_from_dict(table)


@pytest.fixture(scope="module")
def small():
    """A small net (n=10, d=40, p=30) for the tests that repair many cells."""
    return make_spec(n=10, d=40, hidden=30, lr=0.1).fit(np.random.SeedSequence(3))


@pytest.fixture(scope="module")
def layerwise():
    return make_spec().fit(np.random.SeedSequence(7))


@pytest.fixture(scope="module")
def joint():
    return make_spec(training="joint").fit(np.random.SeedSequence(7))


def test_layerwise_training_stays_in_row_spaces(layerwise):
    m = layerwise
    dW = m.W - m.W0
    assert np.linalg.norm(dW) > 1e-2 * np.linalg.norm(m.W0)  # W really moved
    assert rowspace_residual(m.X.T, dW) < 1e-10
    Phi = hidden_features(m.X, m.W, "tanh", 1.0)
    assert rowspace_residual(Phi.T, m.beta - m.beta_start) < 1e-10
    np.testing.assert_array_equal(m.beta_start, np.zeros(P))  # thesis: beta restarts at 0
    assert m.fit_info["W_rowspace_residual"] < 1e-10
    assert m.fit_info["beta_rowspace_residual"] < 1e-10
    assert m.fit_info["loss_final"] < 1e-6 * m.fit_info["loss_initial"]
    np.testing.assert_allclose(Phi @ m.beta, m.y, atol=1e-3)


def test_joint_training_moves_beta_out_of_the_final_row_space(joint):
    m = joint
    assert rowspace_residual(m.X.T, m.W - m.W0) < 1e-10  # layer 1 still in rowspace(X)
    Phi = hidden_features(m.X, m.W, "tanh", 1.0)
    assert rowspace_residual(Phi.T, m.beta - m.beta0) > 1e-2
    np.testing.assert_array_equal(m.beta_start, m.beta0)


def test_layerwise_net_is_repaired_exactly_at_small_eps(layerwise):
    for trial, eps in enumerate((0.05, 0.1)):
        out = layerwise.repair_cell(eps, np.random.default_rng(trial), FULL)
        assert out.status == "ok"
        assert [layer.name for layer in out.layers] == ["W", "beta"]
        W, beta = out.layers
        assert W.exact and W.units_repaired == P and W.max_abs_error < 1e-7
        assert beta.exact and beta.max_abs_error < 1e-7
        assert W.n_corrupted > 0 and beta.n_corrupted > 0
        assert out.exact_repair


def test_joint_net_beta_is_not_exact_but_close(joint):
    out = joint.repair_cell(0.1, np.random.default_rng(0), FULL)
    W, beta = out.layers
    assert W.exact
    assert not beta.exact and not out.exact_repair
    assert 1e-5 < beta.max_abs_error < 0.1  # corruption itself is N(1, 1)
    assert np.isfinite(beta.mse) and beta.mse < 1e-3


def test_round_trip_through_arrays_gives_identical_repairs(small):
    arrays = {k: np.array(v, copy=True) for k, v in small.to_arrays().items()}
    rebuilt = small.spec.from_arrays(arrays)
    assert rebuilt.fit_info == small.fit_info
    for eps in (0.1, 0.4):
        a = small.repair_cell(eps, np.random.default_rng(3), FULL)
        b = rebuilt.repair_cell(eps, np.random.default_rng(3), FULL)
        assert a.layers == b.layers and a.status == b.status


def test_early_stop_and_full_agree_on_verdicts(small):
    verdicts = []
    for eps in (0.05, 0.2, 0.4, 0.6):
        full = small.repair_cell(eps, np.random.default_rng(11), FULL)
        early = small.repair_cell(eps, np.random.default_rng(11), EARLY)
        verdicts.append(full.exact_repair)
        assert full.exact_repair == early.exact_repair
        assert full.layers[0].exact == early.layers[0].exact
        if full.layers[0].exact:
            assert early.layers[1].exact == full.layers[1].exact
        else:  # early stop: beta not attempted, reported as not repaired
            assert early.extras["beta_attempted"] == 0.0
            assert not early.layers[1].exact and np.isnan(early.layers[1].max_abs_error)
            assert not early.layers[1].attempted and full.layers[1].attempted
            assert early.layers[0].units_repaired <= full.layers[0].units_repaired
    assert verdicts[0] and not verdicts[-1]  # both verdicts were exercised


def test_fit_is_deterministic_and_random_beta_restart():
    spec = make_spec(10, 40, hidden=30, steps=50, beta_init="random")
    a, b = spec.fit(np.random.SeedSequence(5)), spec.fit(np.random.SeedSequence(5))
    for key, value in a.to_arrays().items():
        if not key.startswith("fit_info.train_seconds"):
            np.testing.assert_array_equal(value, b.to_arrays()[key], err_msg=key)
    np.testing.assert_array_equal(a.beta_start, a.beta0)
    assert a.W0.shape == (40, 30) and a.beta0.shape == (30,)
    assert abs(a.W0.std() - 1 / np.sqrt(40)) < 0.01


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_other_activations_and_scaling_repair(activation):
    spec = make_spec(10, 40, activation=activation, output_scaling="inv_sqrt_p", steps=200, lr=0.5, hidden=30)
    m = spec.fit(np.random.SeedSequence(2))
    assert m.fit_info["W_rowspace_residual"] < 1e-10
    assert m.fit_info["beta_rowspace_residual"] < 1e-10
    assert m.fit_info["loss_final"] < m.fit_info["loss_initial"]
    out = m.repair_cell(0.05, np.random.default_rng(0), FULL)
    assert out.exact_repair and out.layers[1].max_abs_error < 1e-7


def test_spec_errors_name_the_field():
    with pytest.raises(SpecError, match=r"model\.activation"):
        spec_from_dict({"kind": "twolayer", "activation": "softplus"})
    with pytest.raises(SpecError, match=r"model\.lr"):
        spec_from_dict({"kind": "twolayer", "lr": 0})
    with pytest.raises(SpecError, match=r"model\.beta_init"):
        spec_from_dict({"kind": "twolayer", "beta_init": "ones"})
    diverging = make_spec(lr=1e6, steps=20, name="big")
    with pytest.raises(SpecError, match=r"big\.lr: training diverged"):
        diverging.fit(np.random.SeedSequence(0))


def test_unavailable_or_bad_device_is_a_spec_error():
    import torch

    with pytest.raises(SpecError, match=r"net\.device: not a torch device"):
        make_spec(device="gpu0", name="net").fit(np.random.SeedSequence(0))
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match=r"net\.device: CUDA is not available"):
            make_spec(device="cuda", name="net").fit(np.random.SeedSequence(0))


def test_label_maps():
    t = np.array([0.0, 1.0, 1.0])
    np.testing.assert_array_equal(map_labels(t, "thesis"), [1.0, 2.0, 2.0])
    np.testing.assert_array_equal(map_labels(t, "raw"), t)
    np.testing.assert_array_equal(map_labels(t, "pm1"), [-1.0, 1.0, 1.0])


def test_spec_counts_parameters_and_is_cacheable():
    spec = make_spec()
    assert spec.cacheable and spec.n_parameters() == D * P + P
    assert spec.content_hash() != make_spec(training="joint").content_hash()


def test_colon_network_is_trained_on_thesis_labels_and_repaired(colon_paths):
    x_path, y_path = colon_paths
    design = {"source": "colon", "p": 100, "data": str(x_path), "labels": str(y_path),
              "log_transform": True, "standardize": True}  # fmt: skip
    spec = spec_from_dict({"kind": "twolayer", "design": design, "hidden": 200, "steps": 200, "lr": 0.015})
    m = spec.fit(np.random.SeedSequence(0))
    assert m.X.shape == (62, 100) and m.W.shape == (100, 200)
    assert sorted(set(m.y)) == [1.0, 2.0] and int(np.sum(m.y == 2.0)) == 40  # 40 tumors -> 2
    assert m.fit_info["W_rowspace_residual"] < 1e-10
    assert m.fit_info["loss_after_joint"] < 0.02 * m.fit_info["loss_initial"]
    tol = RepairSettings(solver="batched", tolerance=1e-5, mode="early_stop")
    assert m.repair_cell(0.0, np.random.default_rng(0), tol).exact_repair
    heavy = m.repair_cell(0.3, np.random.default_rng(0), tol)  # d - n = 38 is too few rows
    assert not heavy.exact_repair and heavy.layers[0].units_repaired < 200
