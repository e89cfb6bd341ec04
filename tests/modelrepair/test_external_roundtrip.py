"""A network trained by the native twolayer kind, exported to every file format and imported
as kind "external", repairs bit-identically (same CellOutcome layers) for the same eps and rng."""

import dataclasses

import numpy as np
import pytest

from modelrepair.external.export import write_csv_prefix, write_npz, write_torch
from modelrepair.models import RepairSettings, spec_from_dict
from modelrepair.models.twolayer import FittedTwoLayer, TwoLayerSpec
from modelrepair.training import train_two_layer

SETTINGS = RepairSettings(solver="highs", tolerance=1e-6)
CELLS = [(0.0, 0), (0.1, 2), (0.6, 3)]


@pytest.fixture(scope="module")
def native():
    spec = spec_from_dict(
        {"kind": "twolayer", "name": "net", "design": {"n": 8, "p": 24}, "hidden": 48,
         "steps": 150, "lr": 0.05, "output_scaling": "inv_sqrt_p"}
    )  # fmt: skip
    return spec.fit(np.random.SeedSequence(7))


@pytest.fixture(scope="module")
def expected(native):
    return _outcomes(native)


def _export(fitted, fmt, tmp_path):
    a = (fitted.X, fitted.W0, fitted.W, fitted.beta_start, fitted.beta)
    if fmt == "npz":
        return {"path": str(write_npz(tmp_path / "net.npz", *a))}
    if fmt in ("csv", "csv_header"):
        return {"path": write_csv_prefix(tmp_path / "net", *a, header=fmt == "csv_header"), "format": "csv"}
    if fmt == "torch":
        return {"path": str(write_torch(tmp_path / "net.pt", *a))}
    write_torch(tmp_path / "trained.pt", *a, init_path=tmp_path / "init.pt")
    return {"path": str(tmp_path / "trained.pt"), "init_path": str(tmp_path / "init.pt")}


def _outcomes(fitted):
    outs = [fitted.repair_cell(eps, np.random.default_rng(seed), SETTINGS) for eps, seed in CELLS]
    return [(o.layers, o.status, o.certified_fraction) for o in outs]


@pytest.mark.parametrize("fmt", ["npz", "csv", "csv_header", "torch", "torch_two_files"])
def test_export_import_repairs_bit_identically(native, expected, fmt, tmp_path):
    files = _export(native, fmt, tmp_path)
    spec = spec_from_dict({"kind": "external", "name": "net", "output_scaling": "inv_sqrt_p", **files})
    spec.check_data()
    imported = spec.fit(np.random.SeedSequence(0))
    for key in ("X", "W0", "W", "beta_start", "beta"):
        assert np.array_equal(getattr(imported, key), getattr(native, key)), key
    assert imported.spec.scale == native.spec.scale == 1 / np.sqrt(48)
    assert _outcomes(imported) == expected
    # sanity of the shared result: exact at eps 0 and 0.05, not at 0.6
    assert [all(layer.exact for layer in e[0]) for e in expected] == [True, True, False]
    assert spec.n_parameters() == 24 * 48 + 48
    assert spec.diagnose()["exactly_repairable"] is True


def test_from_arrays_round_trip(native, expected, tmp_path):
    spec = spec_from_dict({"kind": "external", "name": "net", "output_scaling": "inv_sqrt_p",
                           "path": str(write_npz(tmp_path / "n.npz", native.X, native.W0, native.W, native.beta_start, native.beta))})  # fmt: skip
    fitted = spec.fit()
    again = spec.from_arrays(fitted.to_arrays())
    assert _outcomes(again) == expected
    assert fitted.fit_info["exactly_repairable"] == 1.0


def test_first_layer_bias_is_a_constant_column(tmp_path):
    """A network with bias b, trained natively on X' = [X, 1], repairs identically when
    imported from X, W, b (npz and torch Linear.bias) with first_layer_bias = true."""
    rng = np.random.default_rng(3)
    n, d, p = 8, 20, 40
    X = rng.standard_normal((n, d))
    Xb = np.hstack([X, np.ones((n, 1))])
    y = rng.standard_normal(n)
    W0 = rng.normal(0, 1 / np.sqrt(d), (d + 1, p))
    beta0 = rng.normal(0, 1 / np.sqrt(p), p)
    res = train_two_layer(Xb, y, W0, beta0, steps=150, lr=0.05, beta_start=np.zeros(p))
    native = FittedTwoLayer(TwoLayerSpec(hidden=p), Xb, y, W0, beta0, res.beta_start, res.W, res.beta)
    assert not np.allclose(res.W[-1], W0[-1])  # the bias did train
    expected = _outcomes(native)
    parts = (X, W0[:-1], res.W[:-1], res.beta_start, res.beta, W0[-1], res.W[-1])
    for files in ({"path": str(write_npz(tmp_path / "b.npz", *parts))},
                  {"path": str(write_torch(tmp_path / "b.pt", *parts))}):  # fmt: skip
        spec = spec_from_dict({"kind": "external", "name": "b", "first_layer_bias": True, **files})
        imported = spec.fit()
        assert np.array_equal(imported.X, Xb) and np.array_equal(imported.W, res.W)
        assert _outcomes(imported) == expected
        assert spec.diagnose()["exactly_repairable"] is True


def test_output_bias_is_ignored_and_beta_offset_zero(native, expected, tmp_path):
    """An output Linear.bias is accepted (not repaired); beta_offset="zero" uses 0 as offset."""
    import torch

    from modelrepair.external.export import torch_state

    trained = torch_state(native.W, native.beta, c=0.3)
    initial = torch_state(native.W0, native.beta0, c=0.0)  # the phase-1 beta(0), not 0
    torch.save({"trained": trained, "initial": initial, "X": torch.tensor(native.X)}, tmp_path / "c.pt")
    base = {"kind": "external", "name": "net", "output_scaling": "inv_sqrt_p", "path": str(tmp_path / "c.pt")}
    initial_offset = spec_from_dict(base)
    assert initial_offset.diagnose()["exactly_repairable"] is False  # offset beta(0) is wrong
    zero = spec_from_dict({**base, "beta_offset": "zero"})
    assert zero.diagnose()["exactly_repairable"] is True
    assert _outcomes(zero.fit()) == expected
    assert dataclasses.asdict(zero)["beta_offset"] == "zero"
