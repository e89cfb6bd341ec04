"""Science sanity through the whole pipeline, and the real colon design."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from jobs_testkit import read_cells, write_config

from jobs.cli import main
from jobs.config import load_default_config
from jobs.manifest import build_manifest, load_manifest
from modelrepair.designs import load_colon


def test_repair_probability_falls_with_eps_for_p_20n(tmp_path: Path) -> None:
    eps = (0.05, 0.3, 0.6, 0.95)
    models = [{"name": "n10-p200", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 200}}]
    cfg = write_config(tmp_path / "s.toml", sweep={"trials": 12, "cells_per_shard": 48, "output": str(tmp_path / "s")},
                       epsilon=eps, models=models)
    assert main(["run", str(cfg), "-q"]) == 0
    ds = read_cells(tmp_path / "s")
    prob = [float(ds["exact_repair"].where(ds.epsilon == e, drop=True).mean()) for e in eps]
    assert prob[0] >= 0.9, prob
    assert prob[-1] <= 0.1, prob
    assert all(a >= b - 0.1 for a, b in zip(prob, prob[1:], strict=False)), prob
    assert prob[0] - prob[-1] >= 0.8
    # exact repairs have errors at round-off level; failed ones do not
    err = ds["max_abs_error"].sel(layer="layer1").values
    ok = ds["exact_repair"].values
    assert err[ok].max() <= 1e-6 and err[~ok].min() > 1e-6


def test_colon_design_loads_and_runs_a_tiny_sweep(tmp_path: Path, colon_paths) -> None:
    x, y = colon_paths
    X, labels = load_colon(x, y)
    assert X.shape == (62, 2000) and labels.shape == (62,)
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    design = {"source": "colon", "p": 30, "data": os.path.relpath(x, cfg_dir), "labels": os.path.relpath(y, cfg_dir),
              "log_transform": True, "standardize": True}
    cfg = write_config(cfg_dir / "colon.toml", sweep={"trials": 2, "cells_per_shard": 2, "output": str(tmp_path / "c")},
                       epsilon=(0.0, 0.05), models=[{"name": "colon-d30", "kind": "linear", "design": design}])
    assert main(["run", str(cfg), "-q"]) == 0
    m = load_manifest(tmp_path / "c")
    assert m.model("colon-d30").spec["design"]["data"] == str(x.resolve())
    ds = read_cells(tmp_path / "c")
    assert ds.sizes["cell"] == 4 and (ds["status"].values == "ok").all()
    eps0 = ds.where(ds.epsilon == 0.0, drop=True)
    assert eps0["exact_repair"].all()
    assert (ds["units_total"].sel(layer="layer1").values == 1).all()
    assert (ds["n_corrupted"].sel(layer="layer1").values[ds.epsilon.values == 0.0] == 0).all()


def test_embedded_default_config() -> None:
    c = load_default_config()
    assert c.name == "default" and c.sweep.trials == 20
    assert [m.design.p for m in c.models] == [100, 200, 500, 1000] and {m.design.n for m in c.models} == {50}
    assert len(c.epsilon) == 21 and c.epsilon[1] == 0.05 and c.epsilon[-1] == 1.0
    assert c.repair.solver == "batched" and c.executor.backend == "local" and c.executor.options["workers"] == 2
    m = build_manifest(c)
    assert m.grid.n_cells == 4 * 21 * 20 and len(m.shards) == 40
    assert np.all(np.diff(c.epsilon) > 0)


def test_example_configs_validate(repo_root: Path, shared_data: Path) -> None:
    from jobs.config import load_config

    small = load_config(repo_root / "examples" / "linear-small.toml")
    assert small.name == "linear-small" and len(small.models) == 2
    colon = load_config(repo_root / "examples" / "linear-colon.toml")
    assert Path(colon.models[0].design.data) == (shared_data / "colon_alon1999_X.csv").resolve()
    assert len(colon.epsilon) == 41 and colon.repair.tolerance == 1e-5
