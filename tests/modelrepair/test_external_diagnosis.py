"""Repairability diagnosis: hand-checked residuals, and the verdicts for layerwise (exact),
joint (beta approximate), weight-decay (W approximate) and under-parameterized networks."""

import json

import numpy as np
import pytest

from modelrepair.external.diagnosis import APPROXIMATE, EXACT, UNDER, diagnose, layer_diagnosis
from modelrepair.training import hidden_features, train_two_layer


def test_layer_diagnosis_hand_checked():
    A = np.array([[1.0], [0.0], [0.0]])  # col(A) = span(e1)
    D = np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    x = layer_diagnosis("W", A, D, n_samples=1)
    assert x.relative_residuals == pytest.approx((1 / np.sqrt(2), 0.0, 0.0))  # zero column -> 0
    assert x.max_abs_residual == 1.0 and x.rank == 1 and x.rows == 3 and x.units == 3
    assert x.params_to_samples == 3.0 and x.n_parameters == 9
    assert x.verdict == APPROXIMATE and x.code == "approximate"
    exact = layer_diagnosis("W", A, D[:, 1:], n_samples=1)
    assert exact.verdict == EXACT and exact.max_relative_residual == 0.0
    under = layer_diagnosis("beta", np.eye(3), D, n_samples=3)  # rows == rank
    assert under.verdict == UNDER and under.code == "under_parameterized"


def _data(n=8, d=24, p=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    return X, y, rng.normal(0, 1 / np.sqrt(d), (d, p)), rng.normal(0, 1 / np.sqrt(p), p)


def test_layerwise_is_exact_and_joint_is_approximate_for_beta():
    X, y, W0, beta0 = _data()
    lw = train_two_layer(X, y, W0, beta0, steps=150, lr=0.05, training="layerwise", beta_start=np.zeros(48))
    d_lw = diagnose(X, W0, lw.W, lw.beta_start, lw.beta, "tanh")
    assert [x.verdict for x in d_lw.layers] == [EXACT, EXACT]
    assert d_lw.exactly_repairable
    assert d_lw.layers[0].max_relative_residual < 1e-10 and d_lw.layers[1].max_relative_residual < 1e-10
    assert d_lw.layers[0].params_to_samples == 24 / 8 and d_lw.layers[1].params_to_samples == 48 / 8

    joint = train_two_layer(X, y, W0, beta0, steps=150, lr=0.05, training="joint")
    d_j = diagnose(X, W0, joint.W, joint.beta_start, joint.beta, "tanh")
    assert [x.verdict for x in d_j.layers] == [EXACT, APPROXIMATE]
    assert not d_j.exactly_repairable
    assert d_j.layers[1].max_relative_residual > 1e-3  # phi(XW) moved during training
    out = d_j.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert [x["code"] for x in out["layers"]] == ["exact", "approximate"]
    assert "relative_residuals" not in out["layers"][0]
    assert len(d_j.to_dict(per_unit=True)["layers"][0]["relative_residuals"]) == 48
    table = d_j.table()
    assert "W " in table and APPROXIMATE in table and table.endswith("exactly repairable (all layers): no")


def _train_weight_decay(X, y, W0, beta0, steps=150, lr=0.05, wd=1e-2):
    """Layerwise GD with L2 weight decay on W (numpy): W shrinks toward 0, off rowspace(X)."""
    n = X.shape[0]
    W, beta = W0.copy(), beta0.copy()
    for _ in range(steps):
        H = X @ W
        A = np.tanh(H)
        g = 2.0 * (A @ beta - y) / n
        grad_W = X.T @ (np.outer(g, beta) * (1 - A * A))
        beta -= lr * (A.T @ g)
        W -= lr * (grad_W + wd * W)
    Phi = hidden_features(X, W, "tanh", 1.0)
    beta = np.zeros_like(beta0)
    for _ in range(steps):
        beta -= lr * (2.0 / n) * Phi.T @ (Phi @ beta - y)
    return W, beta


def test_weight_decay_is_approximate_for_w():
    X, y, W0, beta0 = _data(seed=1)
    W, beta = _train_weight_decay(X, y, W0, beta0)
    d = diagnose(X, W0, W, np.zeros(48), beta, "tanh")
    assert [x.verdict for x in d.layers] == [APPROXIMATE, EXACT]
    assert d.layers[0].max_relative_residual > 1e-2
    # the same training without decay is exact
    W_0, beta_0 = _train_weight_decay(X, y, W0, beta0, wd=0.0)
    assert diagnose(X, W0, W_0, np.zeros(48), beta_0, "tanh").exactly_repairable


def test_under_parameterized_network():
    X, y, W0, beta0 = _data(n=30, d=10, p=20, seed=2)  # d, p <= n: rowspace is everything
    res = train_two_layer(X, y, W0, beta0, steps=20, lr=0.01, beta_start=np.zeros(20))
    d = diagnose(X, W0, res.W, res.beta_start, res.beta, "tanh")
    assert [x.verdict for x in d.layers] == [UNDER, UNDER]
    assert d.layers[0].rank == 10 and d.layers[1].rank == 20


def test_float32_round_off_counts_as_exact():
    """Weights stored in float32 leave an absolute residual ~1e-8: still exact (abs_tol 1e-7)."""
    X, y, W0, beta0 = _data(seed=3)
    res = train_two_layer(X, y, W0, beta0, steps=100, lr=0.05, beta_start=np.zeros(48))
    W32, W032 = res.W.astype(np.float32).astype(float), W0.astype(np.float32).astype(float)
    d = diagnose(X, W032, W32, res.beta_start, res.beta, "tanh")
    assert d.layers[0].max_abs_residual < 1e-7
    assert d.layers[0].verdict == EXACT
