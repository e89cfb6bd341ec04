"""examples/external/train_outside.py: the plain-PyTorch network it saves imports as kind
"external" (npz == torch checkpoint, bias folded in), is diagnosed as the example says,
and repairs exactly at small eps. (The sweep part of the example is run by hand.)"""

import importlib.util

import numpy as np

from modelrepair.models import RepairSettings, spec_from_dict


def test_example_network_imports_and_repairs(repo_root, tmp_path):
    spec = importlib.util.spec_from_file_location("train_outside", repo_root / "examples/external/train_outside.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--out", str(tmp_path), "--no-run"]) == 0
    assert (tmp_path / "external.toml").read_text() == mod.CONFIG
    base = {"kind": "external", "activation": "tanh", "first_layer_bias": True}
    npz = spec_from_dict({**base, "name": "a", "path": str(tmp_path / "layerwise.npz")}).fit()
    pt = spec_from_dict({**base, "name": "b", "path": str(tmp_path / "layerwise.pt")}).fit()
    for key in ("X", "W0", "W", "beta_start", "beta"):
        assert np.array_equal(getattr(npz, key), getattr(pt, key)), key
    assert npz.X.shape == (mod.N, mod.D + 1) and np.all(npz.X[:, -1] == 1.0)
    assert npz.fit_info["exactly_repairable"] == 1.0
    joint = spec_from_dict({**base, "name": "j", "path": str(tmp_path / "joint.pt")})
    assert [x["code"] for x in joint.diagnose()["layers"]] == ["exact", "approximate"]
    out = pt.repair_cell(0.1, np.random.default_rng(0), RepairSettings())
    assert out.exact_repair and out.layers[0].n_corrupted > 0 and out.layers[0].max_abs_error < 1e-8
