"""Planning: grid order, shards, seeds independent of sharding, manifest hash and reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from jobs_testkit import write_config

from jobs.cli import main
from jobs.config import load_config
from jobs.manifest import ManifestError, build_manifest, load_manifest
from jobs.plan import Grid, cell_seed, fit_seed, make_shards
from jobs.sweepdir import prepare_sweep


def test_grid_order_and_shards_never_span_models() -> None:
    grid = Grid(("a", "b"), (0.0, 0.5, 1.0), 4)
    assert grid.n_cells == 24
    c = grid.cell(17)  # model b (12..23), rest 5 -> eps index 1, trial 1
    assert (c.model, c.eps_index, c.epsilon, c.trial) == ("b", 1, 0.5, 1)
    shards = make_shards(grid, 5)
    assert [(s.model, s.cell_start, s.cell_stop) for s in shards] == [
        ("a", 0, 5), ("a", 5, 10), ("a", 10, 12), ("b", 12, 17), ("b", 17, 22), ("b", 22, 24)]
    assert [s.shard_id for s in shards][:2] == ["shard-00000", "shard-00001"]
    assert sum(s.n_cells for s in make_shards(grid, 100)) == 24


def test_seeds_do_not_depend_on_shard_size_or_model_position(tmp_path: Path) -> None:
    a = build_manifest(load_config(write_config(tmp_path / "a.toml", sweep={"cells_per_shard": 1})))
    b = build_manifest(load_config(write_config(tmp_path / "b.toml", sweep={"cells_per_shard": 7})))
    assert a.hash != b.hash and len(a.shards) == 24 and len(b.shards) == 4
    assert [m.key for m in a.models] == [m.key for m in b.models]
    # reversed model order: same keys per model name (the key is content-based)
    models = [{"name": "p80", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 80}},
              {"name": "p40", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 40}}]
    c = build_manifest(load_config(write_config(tmp_path / "c.toml", models=models)))
    assert {m.name: m.key for m in c.models} == {m.name: m.key for m in a.models}
    assert all(0 <= m.key < 2**32 for m in a.models)


def test_cell_and_fit_streams_are_distinct() -> None:
    key = 123456789
    fit = fit_seed(3, key).generate_state(4)
    cells = {tuple(cell_seed(3, key, e, t).generate_state(4)) for e in range(5) for t in range(5)}
    assert tuple(fit) not in cells and len(cells) == 25
    # the collision the spawn key prevents: zero padding makes these equal
    assert np.array_equal(np.random.SeedSequence([3, key, 0]).generate_state(4), cell_seed(3, key, 0, 0).generate_state(4))
    # determinism: same inputs, same stream
    assert np.array_equal(cell_seed(3, key, 2, 1).generate_state(2), cell_seed(3, key, 2, 1).generate_state(2))


def test_hash_ignores_executor_and_output_but_not_science(tmp_path: Path) -> None:
    base = build_manifest(load_config(write_config(tmp_path / "x.toml")))
    same = build_manifest(load_config(write_config(tmp_path / "y" / "x.toml",
                                                   sweep={"output": "elsewhere"}, executor={"backend": "local", "workers": 1})))
    assert same.hash == base.hash
    for kwargs in ({"sweep": {"seed": 4}}, {"epsilon": (0.0, 0.3)}, {"repair": {"tolerance": 1e-5}},
                   {"sweep": {"trials": 2}}):
        other = build_manifest(load_config(write_config(tmp_path / "z" / "x.toml", **kwargs)))
        assert other.hash != base.hash, kwargs


def test_manifest_roundtrip_and_atomic_write(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "x.toml"))
    m, what = prepare_sweep(cfg, tmp_path / "sw")
    assert what == "planned"
    doc = json.loads((tmp_path / "sw" / "manifest.json").read_text())
    assert doc["hash"] == m.hash and doc["sweep_name"] == "t"
    assert doc["cells"]["cell_id"] == list(range(24)) and doc["cells"]["trial"][:4] == [0, 1, 2, 0]
    assert doc["shards"][1]["cell_ids"] == {"start": 4, "stop": 8}
    loaded = load_manifest(tmp_path / "sw")
    assert loaded.hash == m.hash and loaded.shards == m.shards and loaded.grid == m.grid
    assert loaded.spec("p80").design.p == 80
    assert loaded.settings().tolerance == 1e-6
    assert not list((tmp_path / "sw").glob("*.tmp-*"))
    m2, what2 = prepare_sweep(cfg, tmp_path / "sw")
    assert what2 == "existing" and m2.created == m.created


def test_changed_config_is_refused_then_new_supersedes(tmp_path: Path, capsys) -> None:
    cfg = write_config(tmp_path / "x.toml", sweep={"output": str(tmp_path / "sw")})
    assert main(["plan", str(cfg)]) == 0
    (tmp_path / "sw" / "shards").mkdir()
    (tmp_path / "sw" / "shards" / "shard-00000.nc").write_text("old")
    write_config(cfg, sweep={"output": str(tmp_path / "sw"), "seed": 9}, epsilon=(0.0, 0.5))
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "sweep.seed" in err and "grid" in err and "--new" in err
    with pytest.raises(ManifestError):
        prepare_sweep(load_config(cfg), tmp_path / "sw")
    assert main(["plan", str(cfg), "--new"]) == 0
    assert load_manifest(tmp_path / "sw").grid.epsilon == (0.0, 0.5)
    moved = list((tmp_path / "sw" / "superseded").glob("*/shards/shard-00000.nc"))
    assert len(moved) == 1 and moved[0].read_text() == "old"
    assert not (tmp_path / "sw" / "shards").exists()
