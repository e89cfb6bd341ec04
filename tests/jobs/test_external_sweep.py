"""External models through the jobs layer: `mrsweep diagnose` (table, JSON), the plan-time
diagnosis in the manifest, the shard attribute and `status` note, and import errors
reported before anything is planned or submitted."""

import json

import numpy as np
import xarray as xr
from jobs_testkit import write_config

from jobs.cli import main
from modelrepair.external.export import write_npz


def _net(training: str, seed: int = 0, n: int = 6, d: int = 16, p: int = 32, steps: int = 60, lr: float = 0.05):
    """Tiny tanh net trained by numpy GD; "layerwise" retrains beta from 0 with W frozen."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    W0, beta0 = rng.normal(0, 1 / np.sqrt(d), (d, p)), rng.normal(0, 1 / np.sqrt(p), p)
    W, beta = W0.copy(), beta0.copy()
    for _ in range(steps):
        A = np.tanh(X @ W)
        g = 2.0 * (A @ beta - y) / n
        W, beta = W - lr * X.T @ (np.outer(g, beta) * (1 - A * A)), beta - lr * A.T @ g
    if training == "joint":
        return X, W0, W, beta0, beta
    Phi, beta = np.tanh(X @ W), np.zeros(p)
    for _ in range(steps):
        beta -= lr * (2.0 / n) * Phi.T @ (Phi @ beta - y)
    return X, W0, W, np.zeros(p), beta


def _config(tmp_path, **models):
    for name, arrays in models.items():
        write_npz(tmp_path / f"{name}.npz", *arrays)
    return write_config(
        tmp_path / "ext.toml", epsilon=(0.0, 0.05), sweep={"trials": 1, "cells_per_shard": 2},
        models=[{"name": name, "kind": "external", "path": f"{name}.npz"} for name in models],
    )  # fmt: skip


def test_diagnose_plan_run_status(tmp_path, capsys):
    cfg = _config(tmp_path, lw=_net("layerwise"), joint=_net("joint"))
    assert main(["diagnose", str(cfg)]) == 0
    out = capsys.readouterr().out
    blocks = out.split("model ")[1:]
    assert blocks[0].startswith("lw: ") and blocks[1].startswith("joint: ")
    assert blocks[0].count("exactly repairable in principle") == 2
    assert "exactly repairable (all layers): yes" in blocks[0]
    beta_line = [ln for ln in blocks[1].splitlines() if ln.startswith("beta")][0]
    assert beta_line.endswith("approximately only (e.g. jointly trained, weight decay, biases not in the row space)")
    assert "exactly repairable (all layers): no" in blocks[1]

    assert main(["diagnose", str(tmp_path / "joint.npz"), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    d = js[str(tmp_path / "joint.npz")]
    assert d["exactly_repairable"] is False
    assert [x["code"] for x in d["layers"]] == ["exact", "approximate"]
    assert len(d["layers"][0]["relative_residuals"]) == 32

    sweep = tmp_path / "sweep"
    assert main(["run", str(cfg), "-o", str(sweep), "--quiet"]) == 0
    manifest = json.loads((sweep / "manifest.json").read_text())
    assert manifest["diagnosis"]["lw"]["exactly_repairable"] is True
    assert manifest["diagnosis"]["joint"]["exactly_repairable"] is False
    shards = sorted((sweep / "shards").glob("*.nc"))
    assert len(shards) == 2
    per_model = {}
    for path in shards:
        with xr.open_dataset(path) as ds:
            model = str(ds["model"].values[0])
            per_model[model] = (json.loads(ds.attrs["diagnosis"]), ds["exact_repair"].values.tolist(),
                                ds["layer_exact_repair"].values.tolist())  # fmt: skip
    assert per_model["joint"][0]["joint"]["layers"][1]["code"] == "approximate"
    assert per_model["lw"][1] == [True, True]  # eps 0 and 0.05: exact
    assert per_model["joint"][2] == [[1, 0], [1, 0]]  # W exact, beta not
    capsys.readouterr()
    assert main(["status", str(sweep)]) == 0
    status = capsys.readouterr().out
    assert "note: model 'joint' is not exactly repairable by its diagnosis (W: exactly repairable in principle; beta: approximately only" in status
    assert "model 'lw'" not in status


def test_bad_import_fails_before_planning(tmp_path, capsys):
    X, W0, W, beta0, beta = _net("layerwise")
    cfg = _config(tmp_path, bad=(X, W0, W.T, beta0, beta))
    assert main(["plan", str(cfg), "-o", str(tmp_path / "sweep")]) == 2
    err = capsys.readouterr().err
    assert "models[0] (bad)" in err and "W has shape (32, 16); expected (d, p) = (16, 32): is it transposed?" in err
    assert not (tmp_path / "sweep" / "manifest.json").exists()
    (tmp_path / "bad.npz").unlink()
    assert main(["diagnose", str(cfg)]) == 2
    assert "bad.npz: network (.npz) file not found" in capsys.readouterr().err
