"""CNN model kind on tiny MNIST crops: matrix form, training facts, repair verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as tf

from modelrepair.errors import SpecError
from modelrepair.models import spec_from_dict
from modelrepair.models.base import RepairSettings
from modelrepair.models.cnn import CNNSpec, FittedCNN

TOL = 5e-2


def _spec(mnist_dir: Path, **kw) -> CNNSpec:
    base = dict(
        images=str(mnist_dir / "t10k-images-idx3-ubyte.gz"),
        labels=str(mnist_dir / "t10k-labels-idx1-ubyte.gz"),
        n=20, crop=10, filters=4, kernel=5,
        steps_joint=200, steps_dense=200, lr_joint=0.1, lr_dense=0.1,
    )  # fmt: skip
    return CNNSpec(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(mnist_dir: Path) -> FittedCNN:
    """4 filters 5x5 on 10x10 crops, both layers trained: 144 conv columns, 36 features."""
    return _spec(mnist_dir, corrupt="matrix", conv_repair="median").fit(np.random.SeedSequence(0))


@pytest.fixture(scope="module")
def frozen_conv(mnist_dir: Path) -> FittedCNN:
    """2 filters 5x5, pool 1, conv left at its init (steps_joint=0): 72 columns, 72 features."""
    spec = _spec(mnist_dir, filters=2, pool_size=1, steps_joint=0)
    return spec.fit(np.random.SeedSequence(0))


def _with(m: FittedCNN, **changes) -> FittedCNN:
    """The same trained parameters under a spec with other repair options."""
    spec = dataclasses.replace(m.spec, **changes)
    return FittedCNN(spec, m.images, m.y, m.filters0, m.filters, m.beta0, m.beta, dict(m.fit_info))


def _cell(m: FittedCNN, eps: float, mode: str = "full", seed: int = 1):
    return m.repair_cell(eps, np.random.default_rng(seed), RepairSettings(tolerance=TOL, mode=mode))


def test_training_and_matrix_form(trained: FittedCNN) -> None:
    info = trained.fit_info
    assert info["train_accuracy"] == 1.0
    assert info["loss"] < 0.05 and info["loss_joint"] < 0.05
    assert trained.W.shape == (100, 4 * 6 * 6)
    # X_flat @ W reproduces torch's conv, so the dense design is the network's own features
    z = tf.conv2d(torch.from_numpy(trained.images), torch.from_numpy(trained.filters))
    ref = tf.avg_pool2d(torch.tanh(z), 2, 2).reshape(20, -1).numpy()
    assert np.max(np.abs(trained.features_from_matrix(trained.W) - ref)) < 1e-12
    # layerwise: beta - beta0 lies in rowspace(features) to round-off ...
    assert info["dense_rowspace_residual_rel"] < 1e-10
    # ... but the columns of W - W0 do NOT lie in rowspace(X_flat): weight sharing sums
    # patches from every position into each filter gradient (measured ~0.69 here).
    assert info["conv_shift_max"] > 0.1
    assert 0.3 < info["conv_rowspace_residual_rel"] < 1.0


def test_thesis_lad_path_cannot_repair_a_trained_conv_layer(trained: FittedCNN) -> None:
    """eps = 0, nothing corrupted: LAD with A = X_flat^T still misses the trained W."""
    m = _with(trained, conv_repair="lad")
    out = _cell(m, 0.0, mode="early_stop")
    conv = out.layers[0]
    assert out.status == "ok" and not out.exact_repair
    assert not conv.exact and conv.max_abs_error > TOL
    assert conv.n_corrupted == 0


@pytest.mark.parametrize(
    ("eps", "conv_exact", "dense_exact"),
    [(0.0, True, True), (0.1, True, True), (0.6, False, False)],
)
def test_matrix_corruption_median_repair(trained: FittedCNN, eps: float, conv_exact: bool, dense_exact: bool) -> None:
    out = _cell(trained, eps)
    conv, dense = out.layers
    assert (conv.name, dense.name) == ("conv", "dense")
    assert conv.exact is conv_exact and dense.exact is dense_exact
    assert out.exact_repair is (conv_exact and dense_exact)
    if conv_exact:
        assert conv.max_abs_error == 0.0 and conv.units_repaired == 144
        assert out.extras["filter_readback_mean"] == 0.0 == out.extras["filter_readback_median"]
    else:
        assert conv.max_abs_error > 0.3 and out.extras["filter_readback_median"] > 0.3
    if dense_exact:
        assert dense.max_abs_error < 1e-9
    if eps > 0:
        # every matrix entry is a parameter here, structural zeros included
        assert 0.5 * eps * 100 * 144 < out.extras["conv_matrix_entries_corrupted"] < 1.5 * eps * 100 * 144


def test_filter_corruption_defeats_median(trained: FittedCNN) -> None:
    """Corrupted filters are copied into every entry sharing them: the median sees no outlier."""
    m = _with(trained, corrupt="filters")
    out = _cell(m, 0.1)
    assert out.layers[0].n_corrupted > 0 and not out.layers[0].exact
    assert out.extras["filter_readback_median"] > TOL


def test_lad_path_repairs_when_conv_is_in_rowspace(frozen_conv: FittedCNN) -> None:
    """Conv untrained (W - W0 = 0 is in rowspace): thesis LAD path repairs at eps = 0.1."""
    assert frozen_conv.fit_info["conv_shift_max"] == 0.0
    out = _cell(frozen_conv, 0.1)
    conv, dense = out.layers
    assert conv.n_corrupted > 0 and out.extras["conv_matrix_entries_corrupted"] > conv.n_corrupted
    assert out.exact_repair and conv.units_repaired == 72
    assert conv.max_abs_error < 1e-8 and dense.max_abs_error < 1e-8
    assert out.extras["filter_readback_median"] < 1e-8


def test_lad_path_fails_at_large_eps(frozen_conv: FittedCNN) -> None:
    out = _cell(frozen_conv, 0.9, mode="early_stop")
    assert out.status == "ok" and not out.exact_repair
    assert not out.layers[1].exact


def test_arrays_round_trip(trained: FittedCNN) -> None:
    back = trained.spec.from_arrays(trained.to_arrays())
    assert np.array_equal(back.W, trained.W) and np.array_equal(back.beta, trained.beta)
    assert back.fit_info == trained.fit_info
    a, b = _cell(trained, 0.2, seed=5), _cell(back, 0.2, seed=5)
    assert a.layers == b.layers and a.extras == b.extras


@pytest.mark.parametrize(("activation", "pool"), [("sigmoid", "avg"), ("relu", "max"), ("tanh", "max")])
def test_feature_map_variants(mnist_dir: Path, activation: str, pool: str) -> None:
    spec = _spec(mnist_dir, activation=activation, pool=pool, output_activation="sigmoid" if activation == "sigmoid" else "identity", steps_joint=3, steps_dense=3)
    m = spec.fit(np.random.SeedSequence(1))
    if activation == "sigmoid":
        assert set(np.unique(m.y).tolist()) == {0.0, 1.0}
    z = tf.conv2d(torch.from_numpy(m.images), torch.from_numpy(m.filters))
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation](z)
    pooled = (tf.avg_pool2d if pool == "avg" else tf.max_pool2d)(act, 2, 2).reshape(20, -1).numpy()
    assert np.max(np.abs(m.features_from_matrix(m.W) - pooled)) < 1e-12


def test_spec_from_config_table(mnist_dir: Path) -> None:
    table = {"kind": "cnn", "name": "c", "images": "i.gz", "labels": "l.gz", "filters": 20, "kernel": 11}
    spec = spec_from_dict(table)
    assert isinstance(spec, CNNSpec)
    assert spec.conv_index().out_shape == (20, 18, 18)
    assert spec.n_features() == 20 * 9 * 9
    assert spec.n_parameters() == 784 * 6480 + 1620
    with pytest.raises(SpecError, match="model.pool: expected one of 'avg', 'max'"):
        spec_from_dict({**table, "pool": "mean"})
    with pytest.raises(SpecError, match="model.kernel: kernel 29 leaves"):
        spec_from_dict({**table, "kernel": 29})
    with pytest.raises(SpecError, match="images: path"):
        spec_from_dict({"kind": "cnn", "labels": "l.gz"}).check_data()
    assert CNNSpec().kernel == 19  # every field has a default (ModelSpec contract)
    with pytest.raises(SpecError, match="model.filterz: unknown key"):
        spec_from_dict({**table, "filterz": 3})


@pytest.mark.parametrize("preset", ["cnn-thesis.toml", "cnn-reduced.toml"])
def test_presets_hold_the_six_thesis_structures(repo_root: Path, preset: str) -> None:
    import tomllib

    doc = tomllib.loads((repo_root / "examples" / preset).read_text())
    specs = [spec_from_dict(t) for t in doc["models"]]
    assert all(isinstance(s, CNNSpec) for s in specs)
    assert doc["repair"]["tolerance"] == 5e-2
    thesis = [s for s in specs if s.conv_repair == "lad" and s.corrupt == "filters"]
    shapes = [(s.kernel, s.activation, s.pool) for s in thesis]
    assert shapes == [(11, "tanh", "avg"), (15, "tanh", "avg"), (19, "tanh", "avg"),
                      (19, "sigmoid", "avg"), (19, "tanh", "max"), (19, "tanh", "avg")]  # fmt: skip
    k = [s.filters for s in thesis]
    assert k[5] == 2 * k[0] and len(set(k[:5])) == 1
    assert all(s.coding() == ("01" if s.activation == "sigmoid" else "pm1") for s in thesis)
    assert all(s.images.startswith("../../shared/data/mnist/") for s in specs)
    if preset == "cnn-thesis.toml":
        assert k[0] == 20 and doc["sweep"]["trials"] == 20
        assert doc["grid"]["epsilon"] == {"start": 0.0, "stop": 1.0, "step": 0.025}


@pytest.mark.parametrize("design", ["filters_mean", "filters_median"])
def test_dense_design_from_read_back_filters(trained: FittedCNN, design: str) -> None:
    """Dense design rebuilt by convolving with filters read back from W~: same verdicts."""
    out = _cell(_with(trained, dense_design=design), 0.1)
    ref = _cell(trained, 0.1)
    assert out.exact_repair and ref.exact_repair
    assert out.layers[1].max_abs_error < 1e-9
    assert out.layers[0] == ref.layers[0]
